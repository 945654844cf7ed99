"""Checkpoints: atomic saving, refusing corrupt files, and the format marker."""

import numpy as np
import pytest

from chainrule import nn, optim, serialization
from chainrule.errors import CheckpointError
from chainrule.train import History, Trainer, load_checkpoint, save_checkpoint


DATA = (np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32),
        np.random.default_rng(1).integers(0, 2, 64))


def make_trainer(tmp_path):
    model = nn.MLP([3, 8, 2], seed=0)
    return Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters()), batch_size=16,
                   progress=False, checkpoint_dir=tmp_path)


def trained(tmp_path, epochs):
    trainer = make_trainer(tmp_path)
    trainer.fit(DATA, epochs=epochs)
    return trainer


def test_a_crash_while_saving_leaves_the_previous_checkpoint_loadable(tmp_path, monkeypatch):
    trainer = trained(tmp_path, epochs=1)
    path = tmp_path / "last.safetensors"
    before = load_checkpoint(path)

    def crash_halfway(file, payload):
        file.write(payload[: len(payload) // 2])
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(serialization, "_write", crash_halfway)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(DATA, epochs=2)
    after = load_checkpoint(path)
    assert after["epoch"] == before["epoch"] == 1
    for name, value in before["model"].items():
        np.testing.assert_array_equal(after["model"][name], value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.safetensors", "last.safetensors"]


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_a_corrupt_checkpoint_is_refused_naming_the_file(tmp_path, damage):
    trained(tmp_path, epochs=1)
    path = tmp_path / "last.safetensors"
    content = bytearray(path.read_bytes())
    if damage == "truncate":
        content = content[: len(content) // 2]
    elif damage == "flip":
        content[-10] ^= 0xFF  # inside the last array's bytes: caught by the checksum
    else:
        content = b""
    path.write_bytes(bytes(content))
    with pytest.raises(CheckpointError, match="last.safetensors"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="last.safetensors"):
        make_trainer(tmp_path).fit(DATA, epochs=2, resume=True)


def test_a_weights_file_is_not_taken_for_a_training_checkpoint(tmp_path):
    path = tmp_path / "weights.safetensors"
    serialization.save(nn.MLP([2, 2]).state_dict(), path)
    with pytest.raises(CheckpointError, match="weights.safetensors is not a chainrule training checkpoint"):
        load_checkpoint(path)


def test_a_checkpoint_round_trips_nested_state(tmp_path):
    state = {"epoch": 3, "model": {"w": np.arange(4.0)}, "history": [{"loss": 0.5}], "scheduler": None}
    save_checkpoint(state, tmp_path / "c.safetensors")
    loaded = load_checkpoint(tmp_path / "c.safetensors")
    np.testing.assert_array_equal(loaded.pop("model")["w"], np.arange(4.0))
    assert loaded == {"format": "chainrule training checkpoint", "version": 1, "epoch": 3,
                      "history": [{"loss": 0.5}], "scheduler": None}


def test_a_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at .*nothing.safetensors"):
        load_checkpoint(tmp_path / "nothing.safetensors")


def test_every_checkpoint_holds_the_whole_history_though_records_are_described_once(tmp_path):
    history = History()
    for epoch in range(1, 4):
        history.append({"epoch": epoch, "loss": 1.0 / epoch, "per_class_accuracy": [0.5, epoch / 4]})
        plain = history.plain()
        save_checkpoint({"epoch": epoch, "history": plain}, tmp_path / "a.safetensors", tmp_path / "b.safetensors")
        for name in ("a", "b"):
            assert load_checkpoint(tmp_path / f"{name}.safetensors")["history"] == history.records
    assert [p.structure for p in history.plain()] == [p.structure for p in plain]
    assert all(p is q for p, q in zip(history.plain(), plain))  # described once, kept
    history.records = history.records[:1]  # replaced: described again
    assert [p.value for p in history.plain()] == history.records
    with pytest.raises(TypeError, match="plain data"):
        serialization.Plain({"w": np.ones(2)})
