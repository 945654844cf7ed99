"""The ``chainrule`` command, end to end: run as a subprocess where the process matters (exit status,
nothing but one line on stderr), called through ``main`` elsewhere to stay fast."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule.cli import main
from chainrule.data import load_dataset
from chainrule.train import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--hidden", "32", "--epochs", "3", "--lr", "0.01"]


def chainrule(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "chainrule", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small run on digits, shared by the tests that read it."""
    directory = tmp_path_factory.mktemp("cli")
    result = chainrule("train", *SMALL, "--out", directory / "run", cwd=directory)
    assert result.returncode == 0, result.stderr
    return directory / "run", result


def test_train_prints_the_test_accuracy_last_and_fills_the_run_directory(trained):
    run, result = trained
    lines = result.stdout.splitlines()
    assert lines[0] == "data: digits, 1293 training / 144 validation / 360 test examples"
    assert lines[1] == "model: MLP 64-32-10, relu; adam lr 0.01, batch 64, 3 epochs"
    accuracy = float(re.fullmatch(r"test accuracy: (\d+\.\d\d)%", lines[-1]).group(1))
    record = json.loads((run / "run.json").read_text())
    assert accuracy == round(100 * record["results"]["test"]["accuracy"], 2)
    assert 85 < accuracy <= 100
    assert {p.name for p in run.iterdir()} == {
        "config.json", "run.json", "standardizer.safetensors", "last.safetensors", "best.safetensors",
        "history.json", "history.csv", "curves.png", "report.md", "steps.jsonl", "flow.jsonl"}
    config = json.loads((run / "config.json").read_text())
    assert (config["data"], config["hidden"], config["epochs"]) == ("digits", [32], 3)
    assert (config["batch_size"], config["lr"], config["loss"]) == (64, 0.01, "cross-entropy")
    history = json.loads((run / "history.json").read_text())
    assert [record["epoch"] for record in history] == [1, 2, 3]
    assert (run / "history.csv").read_text().splitlines()[0] == \
        "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds"
    assert (run / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert f"test accuracy: **{accuracy:.2f}%**" in (run / "report.md").read_text()
    assert load_checkpoint(run / "last.safetensors")["epoch"] == 3
    assert result.stderr == ""  # no progress bars off a terminal


def test_evaluate_rescores_the_best_model_identically(trained):
    run, result = trained
    evaluated = chainrule("evaluate", run, cwd=run.parent)
    assert evaluated.returncode == 0, evaluated.stderr
    assert evaluated.stdout.splitlines()[-1] == result.stdout.splitlines()[-1]
    assert evaluated.stdout.splitlines()[1].startswith("per-class accuracy: 0: ")


def test_predict_writes_the_classes_behind_the_reported_accuracy(trained):
    run, _ = trained
    split = load_dataset("digits")
    np.save(run.parent / "test.npy", split.x_test)
    result = chainrule("predict", run, run.parent / "test.npy", "--out", run.parent / "p.npy", cwd=run.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote 360 predicted classes to {run.parent / 'p.npy'}"
    predictions = np.load(run.parent / "p.npy")
    accuracy = json.loads((run / "run.json").read_text())["results"]["test"]["accuracy"]
    assert predictions.dtype == np.int64 and np.mean(predictions == split.y_test) == pytest.approx(accuracy)


def test_a_user_mistake_in_a_real_process_is_one_line_and_status_1(tmp_path):
    result = chainrule("train", "--data", "cifar", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("chainrule train: error: --data must be one of 'circles', ")
    assert "'digits', 'fashion-mnist', 'mnist1d'" in result.stderr and result.stderr.count("\n") == 1
    assert result.stderr.endswith(", not 'cifar'\n")
    assert not (tmp_path / "runs").exists()


def run_main(capsys, *args):
    status = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("args, message", [
    (["train", "--optimizer", "adamx"],
     "--optimizer must be one of 'sgd', 'adam', 'adamw', 'rmsprop', 'adagrad', not 'adamx' "
     "(did you mean 'adam'?)"),
    (["train", "--epochs", "-3"], "--epochs must be a positive integer, not -3"),
    (["train", "--batch-size", "5000"],
     "--batch-size 5000 is larger than the training part of digits (1293 examples); use 1293 or less"),
    (["train", "--dropout", "1.5"], "--dropout must be a probability in [0, 1), not 1.5"),
    (["train", "--hidden", "64,x"], "--hidden must list layer widths separated by commas"),
    (["train", "--loss", "mse"],
     "--loss must be one of 'cross-entropy', 'hinge' for classification, not 'mse'"),
    (["train", "--momentum", "0.5"], "--momentum applies to the optimizers sgd, rmsprop, not to adam"),
    (["train", "--resume"], "--resume needs --out RUN_DIR"),
    (["train", "--config", "missing.toml"], "missing.toml: No such file or directory"),
    (["evaluate", "no-such-run"], "no run directory at no-such-run"),
    (["predict", "no-such-run", "x.npy"], "no run directory at no-such-run"),
])
def test_bad_values_give_one_line_and_status_1(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    status, out, err = run_main(capsys, *args)
    assert status == 1 and out == ""
    assert err.startswith(f"chainrule {args[0]}: error: ") and err.count("\n") == 1
    assert message in err
    assert not (tmp_path / "runs").exists()


def test_usage_errors_exit_with_status_2(capsys):
    for args in (["train", "--epochs", "ten"], ["frobnicate"], [], ["evaluate"]):
        with pytest.raises(SystemExit) as exit:
            main(args)
        assert exit.value.code == 2
    assert "usage: chainrule" in capsys.readouterr().err


def test_help_lists_the_commands_and_their_flags(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--help"])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    for name in ("train", "evaluate", "predict", "rules", "graph", "experiment", "bench", "examples:"):
        assert name in text
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for flag in ("--data NAME", "--hidden W1,W2,...", "--optimizer NAME", "--resume", "--config FILE",
                 "fashion-mnist", "default 256,256"):
        assert flag in text


def test_rules_prints_the_coverage_table(capsys):
    status, out, _ = run_main(capsys, "rules")
    assert status == 0
    assert out.splitlines()[0].split() == ["primitive", "vjp", "jvp", "higher-order", "batching"]
    assert re.search(r"^exp\s+yes\s+yes\s+yes\s+yes", out, re.MULTILINE)


def interrupt_after_epoch(monkeypatch, epoch):
    """Make training stop with Ctrl-C once ``epoch`` epochs are done."""
    from chainrule.train import Trainer
    run_epoch = Trainer._run_epoch

    def interrupted(trainer, *args):
        if trainer.epoch == epoch:
            raise KeyboardInterrupt
        return run_epoch(trainer, *args)

    monkeypatch.setattr(Trainer, "_run_epoch", interrupted)


def assert_same_weights(run_a, run_b):
    for name in ("last.safetensors", "best.safetensors"):
        a, b = load_checkpoint(run_a / name), load_checkpoint(run_b / name)
        assert a["epoch"] == b["epoch"]
        for key, value in a["model"].items():
            np.testing.assert_array_equal(b["model"][key], value)


def test_an_interrupted_run_resumes_to_the_weights_of_a_straight_run(tmp_path, capsys, monkeypatch):
    settings = ["--hidden", "16", "--dropout", "0.2", "--optimizer", "sgd", "--schedule", "cosine",
                "--epochs", "4", "--quiet"]
    straight = run_main(capsys, "train", *settings, "--out", tmp_path / "straight")
    with monkeypatch.context() as patch:
        interrupt_after_epoch(patch, 2)
        interrupted = run_main(capsys, "train", *settings, "--out", tmp_path / "split")
    assert interrupted == (130, "", f"chainrule train: interrupted; continue with: chainrule train --resume "
                                    f"--out {tmp_path / 'split'}\n")
    assert load_checkpoint(tmp_path / "split" / "last.safetensors")["epoch"] == 2
    resumed = run_main(capsys, "train", "--resume", "--out", tmp_path / "split", "--quiet")
    assert resumed == straight
    assert_same_weights(tmp_path / "straight", tmp_path / "split")


def test_a_resume_can_extend_a_run_with_a_constant_rate(tmp_path, capsys):
    settings = ["--hidden", "16", "--optimizer", "adam", "--quiet"]
    straight = run_main(capsys, "train", *settings, "--epochs", "4", "--out", tmp_path / "straight")
    run_main(capsys, "train", *settings, "--epochs", "2", "--out", tmp_path / "split")
    resumed = run_main(capsys, "train", "--resume", "--epochs", "4", "--out", tmp_path / "split", "--quiet")
    assert resumed == straight
    assert_same_weights(tmp_path / "straight", tmp_path / "split")
    assert json.loads((tmp_path / "split" / "config.json").read_text())["epochs"] == 4


def test_a_resume_refuses_new_epochs_for_a_schedule_that_depends_on_them(tmp_path, capsys):
    run_main(capsys, "train", "--hidden", "8", "--epochs", "1", "--schedule", "cosine", "--out", tmp_path,
             "--quiet")
    status, _, err = run_main(capsys, "train", "--resume", "--epochs", "3", "--out", tmp_path)
    assert status == 1
    assert "the cosine schedule of this run is set for 1 epochs; it cannot resume with --epochs 3" in err


def test_a_resume_may_change_only_the_epochs(tmp_path, capsys):
    status, _, err = run_main(capsys, "train", "--resume", "--out", tmp_path, "--lr", "0.1")
    assert status == 1 and "only --epochs (or --max-iters) may change, not --lr" in err


def test_a_run_directory_holding_a_run_is_refused_unless_forced(trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained[0], run)
    status, _, err = run_main(capsys, "train", *SMALL, "--out", run, "--quiet")
    assert status == 1 and "already holds a run; pass --resume to continue it or --force to replace it" in err
    status, out, _ = run_main(capsys, "train", "--hidden", "8", "--epochs", "1", "--out", run, "--force",
                              "--quiet")
    assert status == 0 and out.startswith("test accuracy: ")
    assert json.loads((run / "config.json").read_text())["hidden"] == [8]


def test_a_corrupt_checkpoint_is_reported_in_one_line(trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained[0], run)
    (run / "best.safetensors").write_bytes((run / "best.safetensors").read_bytes()[:1000])
    status, _, err = run_main(capsys, "evaluate", run)
    assert status == 1 and err.count("\n") == 1
    assert f"cannot load '{run / 'best.safetensors'}'" in err


def test_predict_refuses_rows_of_the_wrong_width(trained, tmp_path, capsys):
    np.save(tmp_path / "wide.npy", np.zeros((5, 30)))
    status, _, err = run_main(capsys, "predict", trained[0], tmp_path / "wide.npy")
    assert status == 1
    assert "the input has shape (5, 30), but the model takes rows of 64 features: shape (n, 64)" in err


def test_predict_takes_a_single_example(trained, tmp_path, capsys):
    np.save(tmp_path / "one.npy", load_dataset("digits").x_test[0])
    status, out, _ = run_main(capsys, "predict", trained[0], tmp_path / "one.npy")
    assert status == 0 and out.startswith("wrote 1 predicted classes")
    assert np.load(tmp_path / "one-predictions.npy").shape == (1,)


def test_a_config_file_sets_defaults_that_flags_override(tmp_path, capsys):
    (tmp_path / "settings.toml").write_text(
        'hidden = [16, 8]\nepochs = 3\nbatch-size = 32\noptimizer = "sgd"\n')
    status, _, _ = run_main(capsys, "train", "--config", tmp_path / "settings.toml", "--epochs", "1",
                            "--out", tmp_path / "run", "--quiet")
    assert status == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (config["hidden"], config["epochs"], config["batch_size"]) == ([16, 8], 1, 32)
    assert (config["optimizer"], config["lr"], config["momentum"]) == ("sgd", 0.05, 0.9)


def test_an_unknown_setting_in_a_config_file_is_named(tmp_path, capsys):
    (tmp_path / "settings.toml").write_text("epochz = 3\n")
    status, _, err = run_main(capsys, "train", "--config", tmp_path / "settings.toml")
    assert status == 1 and "unknown setting(s) epochz; known: data, val_fraction, model, hidden" in err


def test_a_diverging_run_names_the_epoch_and_step(tmp_path, capsys):
    status, _, err = run_main(capsys, "train", "--hidden", "16", "--optimizer", "sgd", "--lr", "1e30",
                              "--out", tmp_path, "--quiet")
    assert status == 1 and err.count("\n") == 1
    assert re.search(r"training diverged: the loss is (nan|inf) at epoch 1, step \d+", err)


def test_regression_prints_the_test_rmse_and_predicts_values(tmp_path, capsys):
    status, out, _ = run_main(capsys, "train", "--data", "curve", "--hidden", "16", "--epochs", "5",
                              "--out", tmp_path / "run", "--quiet")
    assert status == 0 and re.fullmatch(r"test RMSE: [\d.]+\n", out)
    np.save(tmp_path / "x.npy", np.array([[0.25], [0.75]]))
    status, out, _ = run_main(capsys, "predict", tmp_path / "run", tmp_path / "x.npy")
    assert out.startswith("wrote 2 predicted values")
    assert np.load(tmp_path / "x-predictions.npy").shape == (2, 1)


def test_graph_draws_a_trained_model_with_its_parameter_names(trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained[0], run)
    status = main(["graph", str(run), "--examples", "2"])
    source = (run / "graph.dot").read_text()
    assert "0.weight" in source and "linear" in source and "softmax_cross_entropy" in source
    assert "chainrule:" not in source and "runpy" not in source  # no launcher lines as the user's code
    assert not list(run.glob("*.gv")) and not list(Path.cwd().glob("*.gv"))
    if shutil.which("dot"):
        assert status == 0
        assert (run / "graph.svg").read_text().lstrip().startswith("<?xml")
        assert "graph.svg" in capsys.readouterr().out
    else:
        assert status == 1 and not (run / "graph.svg").exists()
        err = capsys.readouterr().err
        assert f"wrote {run / 'graph.dot'} but not {run / 'graph.svg'}" in err and "apt-get install graphviz" in err


def test_graph_labels_come_from_a_user_file_not_the_launcher(trained, tmp_path):
    result = chainrule("graph", trained[0], "--out", tmp_path / "g.svg", cwd=tmp_path)
    source = (tmp_path / "g.dot").read_text()
    assert "runpy" not in source and "chainrule:" not in source and "__main__" not in source
    assert result.returncode == (0 if shutil.which("dot") else 1)


def test_experiment_list_names_every_experiment(capsys):
    assert main(["experiment", "--list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names[:10] == ["softmax", "perceptron", "modes", "vanishing", "overfitting", "momentum",
                     "regularization", "learning-rate", "seeds", "classics"]


def test_ctrl_c_before_the_first_epoch_says_there_is_nothing_to_resume(tmp_path, capsys, monkeypatch):
    interrupt_after_epoch(monkeypatch, 0)
    status, _, err = run_main(capsys, "train", "--hidden", "8", "--out", tmp_path / "run", "--quiet")
    assert (status, err) == (130, f"chainrule train: interrupted; nothing was saved yet, nothing to resume "
                                  f"in {tmp_path / 'run'}\n")
    assert not (tmp_path / "run").exists()  # a failed start leaves nothing that blocks the same command


def kill_at_write(monkeypatch, number):
    """Cut the ``number``-th checkpoint write of the process short, as a kill would."""
    from chainrule import serialization
    write, calls = serialization._write, []

    def killed(file, payload):
        calls.append(1)
        if len(calls) == number:
            file.write(payload[:len(payload) // 2])
            raise KeyboardInterrupt
        write(file, payload)

    monkeypatch.setattr(serialization, "_write", killed)


@pytest.mark.parametrize("number", range(4, 12))
def test_a_kill_at_any_write_resumes_to_the_straight_runs_best_and_last(tmp_path, capsys, number):
    # 4 files before training (config, run, standardizer... ), then best and last per improving epoch.
    settings = ["--hidden", "8", "--epochs", "3", "--lr", "0.01", "--quiet"]
    straight = run_main(capsys, "train", *settings, "--out", tmp_path / "straight")
    with pytest.MonkeyPatch.context() as patch:
        kill_at_write(patch, number)
        status, _, _ = run_main(capsys, "train", *settings, "--out", tmp_path / "killed")
    if status == 0:  # the kill came after the last checkpoint: nothing to resume
        return
    assert status == 130
    assert not list((tmp_path / "killed").glob(".*.tmp"))
    if (tmp_path / "killed" / "last.safetensors").is_file():
        resumed = run_main(capsys, "train", "--resume", "--out", tmp_path / "killed", "--quiet")
    else:
        resumed = run_main(capsys, "train", *settings, "--out", tmp_path / "killed", "--force")
    assert resumed == straight
    assert_same_weights(tmp_path / "straight", tmp_path / "killed")


def test_a_resume_killed_while_rewriting_the_config_can_resume_again(tmp_path, capsys):
    settings = ["--hidden", "8", "--epochs", "2", "--quiet"]
    run_main(capsys, "train", *settings, "--out", tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        kill_at_write(patch, 1)  # config.json is the first file a resume writes
        assert run_main(capsys, "train", "--resume", "--epochs", "3", "--out", tmp_path)[0] == 130
    assert json.loads((tmp_path / "config.json").read_text())["epochs"] == 2
    status, out, _ = run_main(capsys, "train", "--resume", "--epochs", "3", "--out", tmp_path, "--quiet")
    assert status == 0 and out.startswith("test accuracy: ")


def test_the_next_run_removes_temporary_files_of_killed_writes(tmp_path, capsys):
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / ".last.safetensors.0123456789ab.tmp").write_bytes(b"half a checkpoint")
    assert run_main(capsys, "train", "--hidden", "8", "--epochs", "1", "--out", tmp_path, "--quiet")[0] == 0
    assert not list(tmp_path.glob(".*.tmp"))


def test_predict_refuses_rows_with_missing_values_naming_them(trained, tmp_path, capsys):
    x = load_dataset("digits").x_test[:5].copy()
    x[1, 3], x[4, 0] = np.nan, np.inf
    np.save(tmp_path / "holes.npy", x)
    status, _, err = run_main(capsys, "predict", trained[0], tmp_path / "holes.npy")
    assert status == 1 and "2 input row(s) hold NaN or infinite values: row(s) 1, 4" in err
    assert not (tmp_path / "holes-predictions.npy").exists()


def test_evaluate_names_the_directory_it_looked_at(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, err = run_main(capsys, "evaluate", ".")
    assert status == 1 and f"{tmp_path.resolve()} holds no run (no config.json)" in err


def test_a_config_file_holding_a_list_is_one_line(tmp_path, capsys):
    (tmp_path / "list.json").write_text('[{"epochs": 3}]')
    status, _, err = run_main(capsys, "train", "--config", tmp_path / "list.json")
    assert status == 1 and err.count("\n") == 1
    assert "list.json: the settings must be a table of names and values, not a list" in err


def test_dataset_is_an_alias_of_data(tmp_path, capsys):
    status, _, _ = run_main(capsys, "train", "--dataset", "xor", "--hidden", "4", "--epochs", "1",
                            "--out", tmp_path, "--quiet")
    assert status == 0 and json.loads((tmp_path / "config.json").read_text())["data"] == "xor"


def blas_threads_used(monkeypatch, capsys, *args):
    import contextlib

    import threadpoolctl
    seen = []
    monkeypatch.setattr(threadpoolctl, "threadpool_limits",
                        lambda limits: seen.append(limits) or contextlib.nullcontext())
    assert run_main(capsys, *args)[0] == 0
    return seen[0]


def test_blas_threads_default_to_the_usable_cores_and_threads_pins_them_anywhere(monkeypatch, capsys):
    assert blas_threads_used(monkeypatch, capsys, "rules") == len(os.sched_getaffinity(0))
    assert blas_threads_used(monkeypatch, capsys, "--threads", "3", "rules") == 3
    assert blas_threads_used(monkeypatch, capsys, "rules", "--threads", "2") == 2


@pytest.mark.parametrize("args, message", [
    (["--threads", "0", "rules"], "argument --threads: must be a positive number of threads, not '0'"),
    (["train", "--threads", "0"], "argument --threads: must be a positive number of threads, not '0'"),
    (["train", "--hiden", "4"], "unrecognized arguments: --hiden 4; did you mean --hidden?"),
    (["train", "--learnin-rate=3"], "unrecognized argument: --learnin-rate=3"),
])
def test_bad_flags_are_usage_errors_with_a_hint(capsys, args, message):
    with pytest.raises(SystemExit) as exit:
        main(args)
    assert exit.value.code == 2 and message in capsys.readouterr().err


def test_bench_hands_its_flags_to_the_suite(monkeypatch):
    import benchmarks.__main__ as suite
    seen = []
    monkeypatch.setattr(suite, "main", lambda argv: seen.append(argv) or 0)
    assert main(["bench", "--quick", "--only", "overhead", "--threads", "2"]) == 0
    assert seen == [["--quick", "--only", "overhead", "--threads", "2"]]


def test_bench_names_the_extra_it_needs(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "benchmarks.__main__", None)
    status, _, err = run_main(capsys, "bench", "--quick")
    assert status == 1 and 'pip install -e ".[bench]"' in err
