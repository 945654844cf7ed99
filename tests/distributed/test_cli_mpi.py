"""`mpiexec -n N chainrule train --distributed`: one writer, the one-process model, resume with
another number of processes, evaluate on the result, and the launch mistakes it refuses."""

import subprocess
import sys

import numpy as np
import pytest

from chainrule.train.checkpoint import load_checkpoint
from tests.distributed.launch import ROOT, environment, mpiexec

SMALL = ["--hidden", "32", "--batch-size", "50", "--quiet"]


def chainrule(*arguments):
    return [sys.executable, "-m", "chainrule", *arguments]


def one_process(run_dir, epochs):
    subprocess.run(chainrule("train", *SMALL, "--epochs", str(epochs), "--out", str(run_dir)),
                   env=environment(), check=True, capture_output=True, timeout=120, cwd=ROOT)
    return load_checkpoint(run_dir / "last.safetensors")


def assert_same_model(expected, actual):
    assert actual["step"] == expected["step"]
    for name, weight in expected["model"].items():
        scale = np.abs(weight).max()
        assert np.abs(actual["model"][name] - weight).max() <= 1e-5 * scale, name


@pytest.fixture(scope="module")
def distributed_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("distributed") / "run"
    result = mpiexec(2, *chainrule("train", "--distributed", *SMALL, "--epochs", "1", "--out", str(run_dir)))
    assert result.returncode == 0, result.stderr
    return run_dir, result


def test_two_processes_write_one_run_of_the_one_process_model(distributed_run, tmp_path):
    run_dir, result = distributed_run
    assert result.stdout.count("test accuracy:") == 1  # rank 0 alone prints
    assert {"config.json", "run.json", "last.safetensors", "best.safetensors", "report.md"} <= \
        {path.name for path in run_dir.iterdir()}
    assert not [path.name for path in run_dir.iterdir() if path.name.endswith(".tmp")]
    assert_same_model(one_process(tmp_path / "one", 1), load_checkpoint(run_dir / "last.safetensors"))
    evaluated = subprocess.run(chainrule("evaluate", str(run_dir)), env=environment(), capture_output=True,
                               text=True, timeout=120, cwd=ROOT)
    assert evaluated.returncode == 0 and evaluated.stdout.splitlines()[-1] == result.stdout.splitlines()[-1]
    np.save(tmp_path / "rows.npy", np.zeros((3, 64)))
    predicted = subprocess.run(chainrule("predict", str(run_dir), str(tmp_path / "rows.npy")),
                               env=environment(), capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert predicted.returncode == 0, predicted.stderr
    assert np.load(tmp_path / "rows-predictions.npy").shape == (3,)


def test_resume_with_three_processes_continues_exactly(distributed_run, tmp_path):
    run_dir, _ = distributed_run
    result = mpiexec(3, *chainrule("train", "--distributed", "--out", str(run_dir), "--resume",
                                   "--epochs", "2", "--quiet"))
    assert result.returncode == 0, result.stderr
    assert_same_model(one_process(tmp_path / "one", 2), load_checkpoint(run_dir / "last.safetensors"))


def test_a_failure_on_rank_0_ends_the_job_naming_the_rank(distributed_run):
    run_dir, _ = distributed_run  # holds a run already: rank 0 refuses to replace it
    result = mpiexec(2, *chainrule("train", "--distributed", *SMALL, "--out", str(run_dir)), timeout=60)
    assert result.returncode != 0
    assert "rank 0 of 2" in result.stderr and "already holds a run" in result.stderr


def test_mpiexec_without_distributed_is_refused(tmp_path):
    result = mpiexec(2, *chainrule("train", *SMALL, "--out", str(tmp_path / "run")), timeout=60)
    assert result.returncode != 0
    assert "mpiexec started 2 processes, but without --distributed" in result.stderr
    assert not (tmp_path / "run").exists()


def test_the_language_model_refuses_distributed(capsys):
    from chainrule.cli import main
    assert main(["train", "--model", "gpt", "--distributed", "--max-iters", "1"]) == 1
    assert "--distributed trains the epoch-based models" in capsys.readouterr().err
