"""`chainrule train` compiles the training step by default: one line says so, `--no-compile` runs it
eagerly, and a model that cannot be recorded trains eagerly after one line saying why."""

import json

import numpy as np
import pytest

from chainrule import nn
from chainrule.cli import main
from chainrule.train import models
from chainrule.train import trainer as trainer_module
from chainrule.train.checkpoint import load_checkpoint
from chainrule.train.compiled import CompiledStep, cut_to_bucket, length_buckets

SMALL = ["--hidden", "8", "--epochs", "2", "--lr", "0.01"]


def _weights(run, name="last.safetensors"):
    return load_checkpoint(run / name)["model"]


def _steps(run):
    return [json.loads(line)["loss"] for line in (run / "steps.jsonl").read_text().splitlines()]


def test_train_compiles_by_default_and_says_so_in_one_line(tmp_path, capsys):
    assert main(["train", *SMALL, "--dropout", "0.1", "--out", str(tmp_path / "run")]) == 0
    lines = capsys.readouterr().out.splitlines()
    said = [line for line in lines if line.startswith("compile:")]
    assert len(said) == 1 and lines.index(said[0]) == 2  # after the data and model lines
    assert said[0].startswith("compile: the training step is compiled (")
    assert said[0].endswith("--no-compile runs it eagerly")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["compile"] is True


def test_no_compile_trains_eagerly_and_agrees_with_the_compiled_run(tmp_path, capsys, monkeypatch):
    assert main(["train", *SMALL, "--out", str(tmp_path / "compiled"), "--quiet"]) == 0
    with monkeypatch.context() as patch:  # an eager run never makes a compiled step
        patch.setattr(trainer_module, "CompiledStep", None)
        assert main(["train", *SMALL, "--no-compile", "--out", str(tmp_path / "eager")]) == 0
    assert not [line for line in capsys.readouterr().out.splitlines() if line.startswith("compile")]
    assert json.loads((tmp_path / "eager" / "config.json").read_text())["compile"] is False
    # Fused kernels (the Adam update) round differently: float32 rounding, not bit for bit.
    np.testing.assert_allclose(_steps(tmp_path / "compiled"), _steps(tmp_path / "eager"), rtol=1e-5)
    compiled, eager = _weights(tmp_path / "compiled"), _weights(tmp_path / "eager")
    for name in eager:
        np.testing.assert_allclose(compiled[name], eager[name], rtol=1e-4, atol=1e-5, err_msg=name)


class PeekingMLP(nn.Module):
    """An MLP that reads a value it computed in Python (a recording cannot replay that decision)."""

    def __init__(self, sizes):
        super().__init__()
        self.body = nn.MLP(sizes)

    def forward(self, x):
        out = self.body(x)
        return out * 0.5 if float(out.abs().max()) > 1e6 else out


@pytest.fixture
def peeking_model():
    models.register_model("peeking-test", lambda config, info: PeekingMLP([64, 8, info.num_outputs]))
    yield
    del models._MODELS["peeking-test"]


def test_a_model_that_cannot_be_recorded_trains_eagerly_after_one_line_of_why(tmp_path, capsys, peeking_model):
    flags = ["train", "--model", "peeking-test", "--epochs", "2", "--dropout", "0"]
    assert main([*flags, "--out", str(tmp_path / "fallback")]) == 0
    lines = capsys.readouterr().out.splitlines()
    said = [line for line in lines if line.startswith("compile:")]
    assert len(said) == 1 and said[0].startswith("compile: off, training eagerly: ")
    assert "reads the value of a tensor while the step is being recorded" in said[0]
    assert lines[-1].startswith("test accuracy: ")  # the run completed
    assert main([*flags, "--no-compile", "--out", str(tmp_path / "eager"), "--quiet"]) == 0
    # The recording's step was taken back: the run is the eager one, bit for bit, with the same files.
    assert sorted(p.name for p in (tmp_path / "fallback").iterdir()) == \
        sorted(p.name for p in (tmp_path / "eager").iterdir())
    assert _steps(tmp_path / "fallback") == _steps(tmp_path / "eager")
    for name in ("best.safetensors", "last.safetensors"):
        fallback, eager = _weights(tmp_path / "fallback", name), _weights(tmp_path / "eager", name)
        for key in eager:
            np.testing.assert_array_equal(fallback[key], eager[key], err_msg=key)


class FailingMLP(PeekingMLP):
    def forward(self, x):
        raise ValueError("FailingMLP: this model fails at its first step")


def test_a_recording_that_fails_with_an_error_leaves_no_run_directory(tmp_path, capsys):
    models.register_model("failing-test", lambda config, info: FailingMLP([64, 8, info.num_outputs]))
    try:
        run = tmp_path / "nested" / "run"
        with pytest.raises(ValueError, match="fails at its first step"):
            main(["train", "--model", "failing-test", "--epochs", "1", "--out", str(run), "--quiet"])
        assert not (tmp_path / "nested").exists()  # the same command can run again without --force
    finally:
        del models._MODELS["failing-test"]


def test_token_batches_are_cut_to_their_length_bucket():
    ids = np.zeros((3, 60), dtype=np.int64)
    width = length_buckets(ids, 8)
    assert width == 8
    for longest, kept in ((1, 8), (8, 8), (9, 16), (57, 60), (60, 60)):
        ids[:] = 0
        ids[1, :longest] = 5
        assert cut_to_bucket(ids, width).shape == (3, kept)
        assert (cut_to_bucket(ids, width) == ids[:, :kept]).all()


def test_a_compiled_step_after_a_fallback_returns_none(capsys):
    model = PeekingMLP([4, 3, 2])
    from chainrule import optim
    from chainrule.nn import functional as F
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    said = []

    def update(x, y):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    step = CompiledStep(update, model, optimizer, dict, said.append)
    before = [p.data.copy() for p in model.parameters()]
    x, y = np.ones((2, 4), np.float32), np.array([0, 1])
    assert step(x, y) is None and step(x, y) is None
    assert len(said) == 1 and said[0].startswith("compile: off, training eagerly: ")
    for parameter, value in zip(model.parameters(), before):  # the recording's update was taken back
        np.testing.assert_array_equal(parameter.data, value)
