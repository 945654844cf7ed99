"""Weights on disk: bit-for-bit round trips, nested checkpoints, atomic writes, clear errors."""

import os

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule import serialization
from chainrule.errors import CheckpointError
from chainrule.serialization import load, save


@pytest.fixture
def path(tmp_path):
    return tmp_path / "model.safetensors"


def test_state_dict_round_trip_is_bit_for_bit(path):
    model = nn.MLP([5, 7, 3], norm="batch", seed=1)
    model(np.random.default_rng(0).normal(size=(4, 5)))  # move the running statistics
    state = model.state_dict()
    save(state, path)
    loaded = load(path)
    assert list(loaded) == list(state)
    for name, value in state.items():
        assert loaded[name].dtype == value.dtype and loaded[name].shape == value.shape
        assert loaded[name].tobytes() == value.tobytes()
    fresh = nn.MLP([5, 7, 3], norm="batch", seed=2)
    fresh.load_state_dict(loaded)
    x = np.ones((2, 5), dtype=np.float32)
    np.testing.assert_array_equal(fresh.eval()(x).data, model.eval()(x).data)


def test_files_are_plain_safetensors_readable_by_other_tools(path):
    from safetensors.numpy import load_file
    state = nn.Linear(3, 2).state_dict()
    save(state, path)
    other = load_file(str(path))
    assert set(other) == {"weight", "bias"}
    np.testing.assert_array_equal(other["weight"], state["weight"])


def test_nested_checkpoints_keep_their_structure(path):
    checkpoint = {"model": {"0.weight": cr.tensor(np.arange(6.0).reshape(2, 3))},
                  "optimizer": {"state": {0: {"momentum": np.ones(2, np.float32)}},
                                "groups": [{"lr": 0.1, "nesterov": True, "name": None}]},
                  "epoch": 3, "history": (0.5, 0.25), "step": np.int64(7)}
    save(checkpoint, path)
    loaded = load(path)
    np.testing.assert_array_equal(loaded["model"]["0.weight"], np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(loaded["optimizer"]["state"][0]["momentum"], np.ones(2))
    assert loaded["optimizer"]["groups"] == [{"lr": 0.1, "nesterov": True, "name": None}]
    assert loaded["epoch"] == 3 and loaded["history"] == (0.5, 0.25) and loaded["step"] == 7


def test_unsavable_values_are_refused_before_anything_is_written(path):
    with pytest.raises(TypeError, match=r"cannot store a set \(at a.b\)"):
        save({"a": {"b": {1, 2}}}, path)
    with pytest.raises(ValueError, match="two entries are both named 'a.b'"):
        save({"a.b": np.zeros(1), "a": {"b": np.zeros(1)}}, path)
    assert not path.exists()


def test_a_crash_while_writing_leaves_the_previous_file_loadable(path, monkeypatch):
    old = {"weight": np.arange(1000, dtype=np.float32)}
    save(old, path)

    def crash_halfway(file, payload):
        file.write(payload[: len(payload) // 2])
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(serialization, "_write", crash_halfway)
    with pytest.raises(KeyboardInterrupt):
        save({"weight": np.zeros(1000, dtype=np.float32)}, path)
    np.testing.assert_array_equal(load(path)["weight"], old["weight"])
    assert os.listdir(path.parent) == [path.name]


def test_saved_files_get_the_usual_permissions(path):
    save({"x": np.zeros(1)}, path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("damage,reason", [
    (lambda data: data[:-10], "not a readable safetensors file"),
    (lambda data: data[:5], "not a readable safetensors file"),
    (lambda data: b"", "not a readable safetensors file"),
    (lambda data: b"weight,bias\n1.0,2.0\n" * 4, "not a readable safetensors file"),
    (lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]), "do not match the checksum"),
])
def test_damaged_files_raise_checkpoint_errors_naming_the_file(path, damage, reason):
    save({"weight": np.linspace(0, 1, 16, dtype=np.float32)}, path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CheckpointError, match=reason) as error:
        load(path)
    assert str(path) in str(error.value)


def test_a_numpy_file_is_not_a_checkpoint(tmp_path):
    foreign = tmp_path / "weights.npy"
    np.save(foreign, np.zeros(3))
    with pytest.raises(CheckpointError, match="weights.npy"):
        load(foreign)


def test_missing_file_and_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load(tmp_path / "absent.safetensors")
    with pytest.raises(CheckpointError, match="cannot write .*dir.safetensors: No such file or directory"):
        save({"x": np.zeros(1)}, tmp_path / "no" / "such" / "dir.safetensors")


def test_a_full_disk_names_the_file_and_keeps_the_previous_one(path, monkeypatch):
    import errno
    save({"weight": np.ones(3)}, path)

    def disk_full(file, payload):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(serialization, "_write", disk_full)
    with pytest.raises(CheckpointError) as info:
        save({"weight": np.zeros(3)}, path)
    assert str(info.value) == f"cannot write {path}: No space left on device; the previous file there is intact"
    np.testing.assert_array_equal(load(path)["weight"], np.ones(3))
    assert os.listdir(path.parent) == [path.name]


def test_temporary_files_of_killed_writes_are_removed_on_request(path):
    save({"x": np.zeros(1)}, path)
    stale = [f".{path.name}.0123456789ab.tmp", ".config.json.abcdefabcdef.tmp"]
    for name in stale + ["notes.tmp"]:
        (path.parent / name).write_bytes(b"half")
    assert serialization.remove_stale_temporaries(path.parent) == sorted(stale)
    assert sorted(os.listdir(path.parent)) == sorted([path.name, "notes.tmp"])
