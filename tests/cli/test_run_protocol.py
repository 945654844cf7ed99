"""The run protocol seen from the command line: the help and the defaults come from one table, the
best epoch is the one with the best score the user reads, a log gets one line per epoch, a resumed
run says where it resumed, and the BLAS threads default leaves busy cores alone."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule.cli import threads as blas_threads
from chainrule.cli import main
from chainrule.train import Monitor, RunConfig
from chainrule.train.build import best_metric
from chainrule.train.models import available_models, get_model
from chainrule.train.settings import DATA_DEFAULTS, DEFAULTS, describe_default

REPO = Path(__file__).resolve().parents[2]


def train_help(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_the_help_shows_the_defaults_the_runs_apply(capsys):
    text = train_help(capsys)
    assert "--model cnn: 15 (mnist1d 150, digits 40, fashion-mnist 12)" in text
    assert RunConfig(model="cnn", data="mnist1d").resolved().epochs == 150
    assert RunConfig(model="cnn", data="digits").resolved().epochs == 40
    assert "--norm KIND normalisation after each hidden layer: none, batch, layer (default none; --model cnn: " \
           "batch)" in text
    assert RunConfig(model="cnn").resolved().norm == "batch"  # the default shown is the one applied
    for name in ("shakespeare", "news", "digits", "sentiment", "mnist1d"):
        assert name in text.split("--dataset NAME")[1].split("(default")[0]


@pytest.mark.parametrize("model", available_models())
def test_every_default_in_the_help_is_the_one_a_run_resolves(model):
    entry = get_model(model)
    data = entry.defaults.get("data", DEFAULTS["data"])
    config = RunConfig(model=model, data=data).resolved()
    for name, value in DEFAULTS.items():
        resolved = getattr(config, name)
        if value is None or resolved is None or name in ("data", "model"):
            continue
        expected = {**DEFAULTS, **DATA_DEFAULTS.get(data, {}), **entry.defaults,
                    **entry.data_defaults.get(data, {})}[name]
        assert resolved == (tuple(expected) if isinstance(expected, list) else expected), name
        shown = describe_default(name)
        assert (f"--model {model}: " in shown) == (name in entry.defaults or any(
            name in values for values in entry.data_defaults.values())), name


def test_a_classifier_keeps_the_epoch_with_the_best_validation_accuracy():
    assert best_metric("classification", True) == "val_accuracy"
    assert best_metric("regression", True) == "val_rmse"
    assert best_metric("language-model", True) == "val_loss"
    assert best_metric("classification", False) == "loss"
    monitor = Monitor("val_accuracy", tiebreak="val_loss")
    records = [{"val_accuracy": 0.70, "val_loss": 0.60}, {"val_accuracy": 0.76, "val_loss": 0.70},
               {"val_accuracy": 0.76, "val_loss": 0.65}, {"val_accuracy": 0.76, "val_loss": 0.66}]
    assert [monitor.update(epoch, record) for epoch, record in enumerate(records, 1)] == [True, True, True, False]
    assert monitor.best_epoch == 3  # the lowest validation loss breaks the tie


def test_a_run_scores_the_epoch_of_the_best_validation_accuracy(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--hidden", "8", "--epochs", "6", "--lr", "0.05", "--out", str(run), "--quiet"]) == 0
    history = json.loads((run / "history.json").read_text())
    best = max(history, key=lambda record: (record["val_accuracy"], -record["val_loss"]))["epoch"]
    record = json.loads((run / "run.json").read_text())
    assert record["results"]["best"] == best and record["results"]["monitor"] == "val_accuracy"


def test_a_log_gets_one_line_per_epoch_and_a_resume_says_where_it_resumed(tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "chainrule", "--threads", "1", "train", "--out", str(run)]
    first = subprocess.run([*command, "--hidden", "8", "--epochs", "2"], capture_output=True, text=True, env=env,
                           timeout=300)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[2].startswith("compile: the training step is compiled (")  # by default, in one line
    assert [line.split(":")[0] for line in lines[3:5]] == ["epoch 1/2", "epoch 2/2"]
    assert "val_accuracy" in lines[3] and lines[3].endswith(" s")
    resumed = subprocess.run([*command, "--resume", "--epochs", "3"], capture_output=True, text=True, env=env,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    lines = resumed.stdout.splitlines()
    assert "resumed from last.safetensors at epoch 2" in lines
    assert [line.split(":")[0] for line in lines if line.startswith("epoch ")] == ["epoch 3/3"]


@pytest.mark.parametrize("cores, busy, threads", [(2, 0.05, 2), (2, 0.97, 1), (2, 1.9, 1), (4, 1.0, 3),
                                                  (2, None, 2), (1, 0.0, 1)])
def test_blas_threads_default_to_the_cores_others_leave_idle(monkeypatch, cores, busy, threads):
    monkeypatch.setattr(blas_threads, "usable_cores", lambda: cores)
    monkeypatch.setattr(blas_threads, "busy_cores", lambda seconds: busy)
    assert blas_threads.default_threads() == threads


def test_busy_cores_sees_a_process_spinning_on_a_core():
    if not os.path.exists("/proc/stat") or not hasattr(os, "sched_getaffinity"):
        pytest.skip("needs /proc/stat")
    core = min(os.sched_getaffinity(0))
    spinner = subprocess.Popen([sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{core}}})\nwhile True: pass"])
    try:
        import time
        time.sleep(0.3)
        busy = blas_threads.busy_cores(0.3)
    finally:
        spinner.kill()
        spinner.wait()
    assert busy >= 0.8  # the spinner's core, and whatever else this machine runs


def test_the_threads_default_is_one_per_rank_with_distributed(monkeypatch):
    args = type("Args", (), {"distributed": True, "command": "train"})()
    assert blas_threads.threads_for(args) == 1
    rules = type("Args", (), {"command": "rules"})()
    np.testing.assert_equal(blas_threads.threads_for(rules), blas_threads.usable_cores())
