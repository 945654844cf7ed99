"""`chainrule train --device`: a run on a device (the fake one, NumPy behind CuPy's rules: see
``chainrule.fake_device``) ends where the same run on the CPU ends, its run directory is read back on
the CPU, and the flag's errors name what is wrong."""

import numpy as np
import pytest

from chainrule import fake_device
from chainrule.cli import main
from chainrule.train import RunConfig, train_run
from chainrule.train.runs import evaluate_run, load_run
from chainrule.train.settings import ConfigError

TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 20
GPT = dict(model="gpt", n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4, max_iters=6,
           eval_interval=3, eval_iters=2, final_eval_iters=2, warmup_iters=2, lr=3e-3)


@pytest.fixture(scope="module", autouse=True)
def fake():
    return fake_device.enable()


def _numbers(results):
    """What a run computed, without how long it took."""
    return {k: v for k, v in results.items() if not k.endswith("seconds")}


def test_an_epoch_run_on_a_device_ends_where_the_cpu_run_ends(tmp_path):
    settings = dict(data="digits", hidden=(16,), epochs=2, batch_size=128, dropout=0.2, optimizer="sgd")
    on_cpu = train_run(RunConfig(**settings), tmp_path / "cpu", progress=False)
    on_fake = train_run(RunConfig(**settings, device="fake"), tmp_path / "fake", progress=False)
    assert _numbers(on_fake["results"]) == _numbers(on_cpu["results"])
    _, _, _, model = load_run(tmp_path / "fake")  # the checkpoint written on the device, read on the CPU
    assert all(type(p.data) is np.ndarray for p in model.parameters())
    assert evaluate_run(tmp_path / "fake")["accuracy"] == on_cpu["results"]["test"]["accuracy"]


def test_an_iteration_run_on_a_device_ends_where_the_cpu_run_ends(tmp_path):
    text = tmp_path / "verse.txt"
    text.write_text(TEXT)
    on_cpu = train_run(RunConfig.from_dict({**GPT, "data": str(text)}), tmp_path / "cpu", progress=False)
    on_fake = train_run(RunConfig.from_dict({**GPT, "data": str(text), "device": "fake"}), tmp_path / "fake",
                        progress=False)
    assert on_fake["results"]["val_loss"] == on_cpu["results"]["val_loss"]


def test_the_device_flag_refuses_what_cannot_run(tmp_path, capsys):
    with pytest.raises(ConfigError, match="unknown device 'tpu'; chainrule's devices are 'cpu', 'cuda'"):
        RunConfig(device="tpu").resolved()
    with pytest.raises(ConfigError, match="--compile records a step for the CPU; train on --device fake "
                                          "with --no-compile"):
        RunConfig(device="fake", compile=True).resolved()
    assert main(["train", "--data", "digits", "--hidden", "8", "--epochs", "1", "--device", "cuda", "--out",
                 str(tmp_path / "run"), "--quiet"]) != 0
    assert "no CUDA device is available" in capsys.readouterr().err


def test_the_help_describes_the_device_flag(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--device NAME" in capsys.readouterr().out
