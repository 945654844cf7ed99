"""Data-parallel training under ``mpiexec``: exactness against one process, faults, disagreements."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from chainrule.train.checkpoint import load_checkpoint
from tests.distributed.launch import ROOT, WORKER, environment, mpiexec, run_worker


def one_process(tmp_path, **settings):
    """The worker's weights trained by one plain process (no MPI launcher), batch as given."""
    out = tmp_path / "one.npz"
    subprocess.run([sys.executable, str(WORKER), json.dumps({**settings, "out": str(out)})],
                   env=environment(), check=True, timeout=120, cwd=ROOT)
    return np.load(out)


def assert_same_weights(expected, actual, rtol):
    assert int(actual["step"]) == int(expected["step"]) == 100
    for name in expected.files:
        if name in ("step", "loss"):
            continue
        scale = np.abs(expected[name]).max()
        assert np.abs(actual[name] - expected[name]).max() <= rtol * scale, name


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("processes", [2, 3])
def test_n_processes_train_the_one_process_model(tmp_path, optimizer, processes):
    # 640 rows, global batch 64, 10 epochs: 100 steps, with dropout; 3 ranks hold 22 + 21 + 21 rows.
    expected = one_process(tmp_path, optimizer=optimizer, distributed=False)
    result = run_worker(processes, optimizer=optimizer, out=str(tmp_path / "many.npz"))
    assert result.returncode == 0, result.stderr
    actual = np.load(tmp_path / "many.npz")
    assert_same_weights(expected, actual, rtol=1e-6)
    np.testing.assert_allclose(actual["loss"], expected["loss"], rtol=1e-5)


def test_dropout_seeded_per_rank_is_deterministic(tmp_path):
    runs = [run_worker(2, exact_dropout=False, epochs=2, out=str(tmp_path / f"{run}.npz")) for run in "ab"]
    assert all(run.returncode == 0 for run in runs), runs[0].stderr
    first, second = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    exact = one_process(tmp_path, epochs=2, distributed=False)
    for name in first.files:
        np.testing.assert_array_equal(first[name], second[name])
    assert not np.allclose(first["0.weight"], exact["0.weight"], rtol=1e-4)


def test_resume_with_another_number_of_processes(tmp_path):
    expected = one_process(tmp_path, optimizer="adam", distributed=False)
    checkpoints = str(tmp_path / "run")
    first = run_worker(2, optimizer="adam", epochs=4, checkpoint_dir=checkpoints)
    assert first.returncode == 0, first.stderr
    second = run_worker(3, optimizer="adam", checkpoint_dir=checkpoints, resume=True,
                        out=str(tmp_path / "resumed.npz"))
    assert second.returncode == 0, second.stderr
    assert_same_weights(expected, np.load(tmp_path / "resumed.npz"), rtol=1e-6)


def test_a_rank_that_raises_ends_the_job_naming_it(tmp_path):
    started = time.monotonic()
    result = run_worker(2, raise_on_rank=1, timeout=60)
    assert result.returncode != 0
    assert time.monotonic() - started < 60
    assert "rank 1 of 2" in result.stderr and "a deliberate failure" in result.stderr


def test_a_killed_rank_ends_the_job(tmp_path):
    result = run_worker(2, kill_rank=1, pid_dir=str(tmp_path), timeout=60)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    pid = (tmp_path / "rank1").read_text()
    if "BAD TERMINATION" in output:  # MPICH's launcher names the process by its pid
        assert f"PID {pid} " in output


def test_killing_rank_0_leaves_whole_checkpoints_and_resume_is_exact(tmp_path):
    expected = one_process(tmp_path, optimizer="sgd", distributed=False)
    checkpoints = tmp_path / "run"
    killed = run_worker(2, kill_rank=0, fault_step=57, checkpoint_dir=str(checkpoints), timeout=60)
    assert killed.returncode != 0
    assert load_checkpoint(checkpoints / "last.safetensors")["epoch"] == 5
    resumed = run_worker(2, checkpoint_dir=str(checkpoints), resume=True, out=str(tmp_path / "resumed.npz"))
    assert resumed.returncode == 0, resumed.stderr
    assert_same_weights(expected, np.load(tmp_path / "resumed.npz"), rtol=1e-6)


@pytest.mark.parametrize("processes, statement, expected", [
    (2, "dist.DistributedDataParallel(nn.MLP([4, 8 + dist.rank(), 2]))",
     "DistributedError: the ranks disagree on the model (parameter names, shapes and dtypes): rank 1 "
     "differs from rank 0 ([0]: '0.weight: (8, 4) float32' on rank 0, '0.weight: (9, 4) float32' there)"),
    (3, "dist.check_agreement({'lr': 0.1, 'seed': dist.rank() // 2}, 'configuration')",
     "the ranks disagree on the configuration: rank 2 differs from rank 0 (seed: 0 on rank 0, 1 there); "
     "ranks differing from rank 0: [2]"),
    (2, "dist.DistributedDataParallel(nn.Linear(2, 2)).loader(TensorDataset(np.full((4, 2), dist.rank()), "
        "np.zeros(4)), 2)",
     "the ranks disagree on the training data (contents, batch size, shuffling, seed): rank 1 differs "
     "from rank 0 ([0].arrays[0][2]: '"),
])
def test_ranks_that_disagree_stop_at_the_start(processes, statement, expected):
    # Each rank reports its error in one write: tracebacks written piecewise by several ranks at once
    # interleave in mpiexec's merged stderr.
    code = ("import sys\nimport numpy as np\nfrom chainrule import distributed as dist, nn\n"
            "from chainrule.data import TensorDataset\ndist.init()\n"
            f"try:\n    {statement}\nexcept Exception as error:\n"
            "    sys.stderr.write(f'{type(error).__name__}: {error}\\n')\n    sys.exit(1)\n")
    result = mpiexec(processes, sys.executable, "-c", code, timeout=60)
    assert result.returncode != 0
    assert expected in result.stderr


def test_the_functions_for_hand_written_loops():
    code = """
import json
import numpy as np
from chainrule import distributed as dist, nn
from chainrule.core.tensor import Tensor
comm = dist.init()
model = nn.Linear(3, 2, generator=dist.rank())          # different weights on each rank
dist.broadcast_parameters(model)
for p in model.parameters():
    p.grad = Tensor(np.full(p.shape, dist.rank() + 1.0, np.float32))
dist.allreduce_gradients(model)
sampler = dist.DistributedSampler(range(7), shuffle=True, seed=2)
mine = [float(model.weight.numpy().sum()), [float(p.grad.numpy().mean()) for p in model.parameters()],
        list(sampler)]
everyone = comm.allgather(mine)
if dist.is_root():
    print(json.dumps(everyone))
"""
    result = mpiexec(2, sys.executable, "-c", code, timeout=60)
    assert result.returncode == 0, result.stderr
    (weights0, grads0, shard0), (weights1, grads1, shard1) = json.loads(result.stdout.splitlines()[-1])
    assert weights0 == weights1  # rank 0's weights everywhere
    assert grads0 == grads1 == [1.5, 1.5]  # the mean of 1 and 2
    assert len(shard0) == len(shard1) == 4 and set(shard0 + shard1) == set(range(7))  # padded
