"""Language-model runs under the one run protocol: iterations on a small text, the run directory every
run has (history CSV, curves, best checkpoint), a resume that repeats the history of an uninterrupted
run, the command line (`chainrule train --model gpt`, `generate`, `evaluate`, `graph`, `predict`)
and its errors."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule.cli import main
from chainrule.errors import DataError
from chainrule.train import RunConfig, lm, resume_run, train_run
from chainrule.train.checkpoint import load_checkpoint
from chainrule.train.runs import stream_run_text

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 30
SMALL = dict(n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4, eval_interval=5, eval_iters=2,
             final_eval_iters=2, warmup_iters=3, lr=3e-3)
FLAGS = ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "16", "--max-iters", "4",
         "--eval-interval", "4", "--eval-iters", "1", "--final-eval-iters", "1", "--batch-size", "2",
         "--warmup-iters", "1"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "verse.txt"
    path.write_text(TEXT)
    return path


def config(text_file, **settings):
    return RunConfig.from_dict({"model": "gpt", "data": str(text_file), **SMALL, **settings})


def test_schedule_warms_up_then_decays_to_the_minimum(text_file):
    settings = RunConfig(model="gpt", data=str(text_file)).resolved()
    assert (settings.lr, settings.min_lr, settings.warmup_iters, settings.lr_decay_iters) == (1e-3, 1e-4, 100, 2000)
    assert lm.lr_at(0, settings) == pytest.approx(1e-3 / 101)
    assert lm.lr_at(100, settings) == pytest.approx(1e-3)
    assert lm.lr_at(2000, settings) == pytest.approx(1e-4)
    shorter = RunConfig(model="gpt", data=str(text_file), max_iters=500).resolved()
    assert shorter.lr_decay_iters == 500  # the decay follows --max-iters unless given


def test_a_run_learns_and_leaves_the_files_of_every_run(tmp_path, text_file):
    run = tmp_path / "run"
    record = train_run(config(text_file, max_iters=12), run, progress=False)
    assert record["results"]["val_loss"] < np.log(len(set(TEXT)))  # better than uniform guessing
    assert {p.name for p in run.iterdir()} == {"config.json", "run.json", "last.safetensors", "best.safetensors",
                                               "history.json", "history.csv", "curves.png", "report.md"}
    history = json.loads((run / "history.json").read_text())
    assert [entry["iteration"] for entry in history] == [0, 5, 10, 12]
    assert (run / "history.csv").read_text().splitlines()[0] == "iteration,loss,val_loss,lr,seconds"
    assert (run / "curves.png").read_bytes()[:4] == b"\x89PNG"
    best = min(history, key=lambda entry: entry["val_loss"])["iteration"]
    assert load_checkpoint(run / "best.safetensors")["iteration"] == best == record["results"]["best"]
    assert "validation loss: **" in (run / "report.md").read_text()
    # The run's own config.json is accepted by every command that reads a run.
    saved = RunConfig.from_dict(json.loads((run / "config.json").read_text())).resolved()
    assert saved.options["n_embd"] == 16 and saved.max_iters == 12


def kill_during_write(run, number, *arguments):
    """Train in a child process that kills itself (SIGKILL) halfway through its ``number``-th file write,
    as a power cut would: the temporary file stays behind."""
    script = f"""
import os, signal, sys
from chainrule import serialization
from chainrule.cli import main
calls = []
def killed(file, payload):
    calls.append(1)
    if len(calls) == {number}:
        file.write(payload[:len(payload) // 2]); file.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    file.write(payload)
serialization._write = killed
main(sys.argv[1:])
"""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", script, "--threads", "1", "train", "--out", str(run), "--quiet",
                             *map(str, arguments)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert list(run.glob(".*.tmp"))  # what a kill leaves


def test_a_killed_run_resumes_to_the_history_and_weights_of_a_straight_run(tmp_path, text_file, capsys):
    flags = ["--model", "gpt", "--data", text_file, "--max-iters", "12", "--seed", "3",
             *[f"--{k.replace('_', '-')}={v}" for k, v in SMALL.items()]]
    straight = tmp_path / "straight"
    assert main(["--threads", "1", "train", "--out", str(straight), "--quiet", *map(str, flags)]) == 0
    killed = tmp_path / "killed"
    # Writes: config.json, run.json, then best and last at iterations 0 and 5; the 6th is iteration 5's last.
    kill_during_write(killed, 6, *flags)
    capsys.readouterr()
    assert main(["--threads", "1", "train", "--resume", "--out", str(killed)]) == 0
    out = capsys.readouterr().out
    assert "resumed from " in out and " at iteration " in out, out
    assert not list(killed.glob(".*.tmp"))
    without_time = [{k: v for k, v in entry.items() if k != "seconds"}
                    for entry in json.loads((straight / "history.json").read_text())]
    assert [{k: v for k, v in entry.items() if k != "seconds"}
            for entry in json.loads((killed / "history.json").read_text())] == without_time
    for name in ("last.safetensors", "best.safetensors"):
        a, b = load_checkpoint(straight / name), load_checkpoint(killed / name)
        assert a["iteration"] == b["iteration"]
        for key, value in a["model"].items():
            np.testing.assert_array_equal(b["model"][key], value, err_msg=key)


def test_a_resume_repeats_the_evaluations_of_an_uninterrupted_run(tmp_path, text_file):
    straight = train_run(config(text_file, max_iters=12, lr_decay_iters=12), tmp_path / "straight", progress=False)
    train_run(config(text_file, max_iters=7, lr_decay_iters=12), tmp_path / "part", progress=False)
    lines = []
    resumed = resume_run(tmp_path / "part", max_iters=12, progress=False, log=lines.append)
    assert "resumed from last.safetensors at iteration 7" in lines
    straight_history = json.loads((tmp_path / "straight" / "history.json").read_text())
    part_history = json.loads((tmp_path / "part" / "history.json").read_text())
    assert [e["iteration"] for e in part_history] == [0, 5, 7, 10, 12]
    # iteration 7's extra evaluation draws from the evaluation generator: before it, all agree
    assert [e["val_loss"] for e in part_history[:2]] == [e["val_loss"] for e in straight_history[:2]]
    assert resumed["results"]["done"] == straight["results"]["done"] == 12


def test_command_line_trains_evaluates_and_generates_reproducibly(tmp_path, text_file, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "gpt", "--data", str(text_file), "--out", str(out), "--quiet", *FLAGS]) == 0
    final = capsys.readouterr().out.strip()
    assert final.startswith("validation loss:") and final.endswith("nats per character")
    assert main(["evaluate", str(out)]) == 0
    assert capsys.readouterr().out.strip() == final
    assert main(["generate", str(out), "--prompt", "All:", "--tokens", "25", "--seed", "4", "--top-k", "5"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("All:") and len(first) == len("All:") + 25 + 1
    main(["generate", str(out), "--prompt", "All:", "--tokens", "25", "--seed", "4", "--top-k", "5"])
    assert capsys.readouterr().out == first
    assert main(["graph", str(out), "--out", str(tmp_path / "g.svg"), "--examples", "1"]) in (0, 1)
    assert (tmp_path / "g.dot").read_text().startswith("digraph")


def test_generation_streams_its_characters_one_by_one(tmp_path, text_file):
    out = tmp_path / "run"
    train_run(config(text_file, max_iters=2, warmup_iters=0), out, progress=False)
    pieces = stream_run_text(out, "All:", tokens=10 ** 12)  # a generator: nothing is gathered first
    assert next(pieces) == "All:"
    assert [len(next(pieces)) for _ in range(5)] == [1] * 5


@pytest.mark.parametrize("flags, message", [
    (["--temperature", "0"], "--temperature must be a positive number, not 0"),
    (["--temperature", "-1"], "--temperature must be a positive number, not -1"),
    (["--temperature", "nan"], "--temperature must be a positive number, not nan"),
    (["--tokens", "-5"], "--tokens must be 0 or more characters, not -5"),
    (["--top-k", "-3"], "--top-k must be at least 1, not -3"),
    (["--top-k", "0"], "--top-k must be at least 1, not 0"),
    (["--prompt", "ROMEO:"], "outside the vocabulary"),
])
def test_bad_generation_flags_are_one_line(tmp_path, text_file, capsys, flags, message):
    out = tmp_path / "run"
    train_run(config(text_file, max_iters=1, warmup_iters=0), out, progress=False)
    assert main(["generate", str(out), *flags]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err


def test_each_command_works_on_every_run_or_says_why_not(tmp_path, text_file, capsys):
    lm_run, classifier = tmp_path / "lm", tmp_path / "mlp"
    train_run(config(text_file, max_iters=1, warmup_iters=0), lm_run, progress=False)
    train_run(RunConfig(hidden=(8,), epochs=1), classifier, progress=False)
    np.save(tmp_path / "x.npy", np.zeros((2, 64), np.float32))
    for args, message in ((["predict", lm_run, tmp_path / "x.npy"], "is a language model (--model gpt)"),
                          (["predict", lm_run, "--text", "hi"], "use chainrule generate"),
                          (["generate", classifier], "is not a language model: it is MLP 64-8-10 classifying "
                                                     "digits")):
        assert main([str(arg) for arg in args]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1


def test_bad_prompts_and_flags_are_refused_with_clear_errors(tmp_path, text_file, capsys):
    out = tmp_path / "run"
    train_run(config(text_file, max_iters=1, warmup_iters=0), out, progress=False)
    with pytest.raises(DataError, match="outside the vocabulary.*'EMOR'"):
        "".join(stream_run_text(out, "ROMEO:"))
    with pytest.raises(DataError, match="20 characters, more than the model's context of 16"):
        "".join(stream_run_text(out, "a" * 20))
    assert main(["train", "--model", "gpt", "--epochs", "3", "--out", str(tmp_path / "x")]) == 1
    assert "not --epochs" in capsys.readouterr().err
    assert main(["train", "--model", "gpt", "--n-head", "3", "--data", str(text_file),
                 "--out", str(tmp_path / "y")]) == 1
    assert "not divisible by n_head 3" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()  # a failed start leaves nothing behind
    assert main(["train", "--model", "gpt", "--data", "digits", "--out", str(tmp_path / "z")]) == 1
    assert "--model gpt trains on text: --data shakespeare, news or a text file's path; 'digits' is a data set " \
           "of examples" in capsys.readouterr().err
    assert main(["train", "--data", "shakespeare", "--out", str(tmp_path / "z")]) == 1
    assert "--data shakespeare is a text for language models: use it with --model gpt" in capsys.readouterr().err


def test_a_language_model_run_written_before_the_run_protocol_is_read(tmp_path, text_file):
    old = {"data": str(text_file), "model": "gpt", "n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16,
           "dropout": 0.0, "bias": True, "batch_size": 12, "max_iters": 2000, "lr": 1e-3, "min_lr": 1e-4,
           "warmup_iters": 100, "lr_decay_iters": 2000, "weight_decay": 0.1, "beta1": 0.9, "beta2": 0.99,
           "grad_clip": 1.0, "eval_interval": 250, "eval_iters": 20, "final_eval_iters": 200, "seed": 1337,
           "compile": False}
    settings = RunConfig.from_dict(old).resolved()
    assert settings.betas == (0.9, 0.99) and settings.clip_grad_norm == 1.0 and settings.options["bias"] is True
