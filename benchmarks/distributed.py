"""Data-parallel scaling: training steps at a fixed global batch, on 1 or more MPI ranks.

``python -m benchmarks.distributed [--quick] [--model mlp|cnn|gpt ...]`` starts, one after the other:
1 rank x 1 BLAS thread, 2 ranks x 1 thread (``mpiexec -n 2``) and 1 rank x 2 threads, each timing
the same training step at the same global batch (MLP B 784-1024-1024-10 at 1024, the MNIST-1D CNN at
100, the small GPT at 12 x 64 tokens; random data), and prints the step time (median), throughput,
speed-up over one rank, and the allreduce's time per step (waiting for the slower rank included)
and share of the step, and the allreduce alone (the ranks lined up first).

``--predict`` instead measures one process's step of each model and prints the ring-allreduce
prediction for 8, 64 and 512 processes on 10 and 100 Gb/s networks (see docs/distributed.md).

Each configuration runs in its own processes (``--worker``), so the thread settings hold.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CONFIGS = ((1, 1), (2, 1), (1, 2))  # (ranks, BLAS threads per rank)
MODELS = {"mlp": ("MLP B 784-1024-1024-10", 1024), "cnn": ("MNIST-1D CNN, 3 conv1d of 25", 100),
          "gpt": ("GPT 4 layers x 128, 64 tokens", 12)}  # name, global batch
NETWORKS = {"10 Gb/s": (10e9, 50e-6), "100 Gb/s": (100e9, 5e-6)}  # bit/s, latency per message
PROCESSES = (8, 64, 512)


def build(name, rows, seed):
    """``(model, loss_fn)`` for one of :data:`MODELS`, with ``rows`` random examples of this rank."""
    from chainrule import nn
    from chainrule.core.tensor import Tensor
    from chainrule.nn.cnn import CNN1d
    from chainrule.nn.gpt import GPT, GPTConfig

    rng = np.random.default_rng(seed)
    if name == "gpt":
        model = GPT(GPTConfig(), generator=0)
        idx, targets = rng.integers(0, 65, size=(2, rows, 64))
        return model, lambda forward: forward(idx, targets)[1]
    if name == "cnn":
        model, x = CNN1d((1, 40), (25, 25, 25), 10, seed=0), rng.normal(size=(rows, 1, 40))
    else:
        model, x = nn.MLP([784, 1024, 1024, 10], seed=0), rng.normal(size=(rows, 784))
    x, y = Tensor(x.astype(np.float32)), rng.integers(0, 10, size=rows)
    return model, lambda forward: nn.functional.cross_entropy(forward(x), y)


def worker(name, steps, warmup=2):
    """One rank's part: time ``steps`` training steps; rank 0 prints the medians as JSON."""
    from chainrule import distributed as dist
    from chainrule import optim

    comm = dist.init()
    batch = MODELS[name][1]
    model, loss_fn = build(name, len(range(comm.rank, batch, comm.size)), comm.rank)
    ddp = dist.DistributedDataParallel(model)
    ddp.shard.global_rows = batch
    optimizer = optim.AdamW(model.parameters(), lr=1e-3)
    step_times, reduce_times = [], []
    for step in range(warmup + steps):
        comm.Barrier()
        started, reduced_before = time.perf_counter(), ddp.allreduce_seconds
        optimizer.zero_grad()
        loss_fn(ddp).backward()
        ddp.allreduce_gradients()
        optimizer.step()
        if step >= warmup:
            step_times.append(time.perf_counter() - started)
            reduce_times.append(ddp.allreduce_seconds - reduced_before)
    alone = []  # the allreduce by itself, the ranks lined up first: no waiting for a slower rank
    for _ in range(steps):
        comm.Barrier()
        started = time.perf_counter()
        ddp.reducer.allreduce(1.0)
        alone.append(time.perf_counter() - started)
    slowest = dist.allreduce_sum(np.eye(comm.size)[comm.rank] * np.median(step_times)).max()
    if comm.rank == 0:
        print(json.dumps({"step_s": float(slowest), "allreduce_s": float(np.median(reduce_times)),
                          "allreduce_alone_s": float(np.median(alone)),
                          "allreduce_bytes": ddp.reducer.nbytes}))


def measure(name, ranks, threads, steps):
    """Run one configuration in fresh processes; its rank 0's JSON."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "benchmarks.distributed", "--worker", name, "--steps", str(steps)]
    if ranks > 1:
        mpiexec = Path(sys.executable).with_name("mpiexec")
        command = [str(mpiexec) if mpiexec.is_file() else "mpiexec", "-n", str(ranks), *command]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def scaling(names, steps):
    """Print the scaling table of each model."""
    print("| model, global batch | ranks x threads | step | examples/s | speed-up | allreduce per step "
          "| its share | allreduce alone |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        results = {config: measure(name, *config, steps) for config in CONFIGS}
        base = results[CONFIGS[0]]["step_s"]
        title, batch = MODELS[name]
        for (ranks, threads), result in results.items():
            step, reduce = result["step_s"], result["allreduce_s"] if ranks > 1 else 0.0
            alone = result["allreduce_alone_s"] if ranks > 1 else 0.0
            print(f"| {title}, {batch} | {ranks} x {threads} | {step * 1e3:.1f} ms | {batch / step:,.0f} "
                  f"| {base / step:.2f}x | {reduce * 1e3:.2f} ms | {reduce / step:.1%} "
                  f"| {alone * 1e3:.2f} ms |")


# -- beyond this machine: a ring-allreduce cost model ---------------------------------------------

def ring_allreduce_seconds(nbytes, processes, bits_per_second, latency, bucket_bytes=25 * 2 ** 20):
    """Time of a ring allreduce of ``nbytes``: a reduce-scatter then an all-gather, each ``p - 1``
    messages of ``nbytes / p``, every bucket paying its own latencies.

    Example:
        >>> round(ring_allreduce_seconds(10 ** 6, 2, 8e9, 0.0), 6)   # 1 MB each way at 1 GB/s
        0.001
    """
    if processes == 1:
        return 0.0
    buckets = -(-nbytes // bucket_bytes)
    return (2 * (processes - 1) * latency * buckets
            + 2 * (processes - 1) / processes * nbytes * 8 / bits_per_second)


def predict(names, steps):
    """Print bytes per step and the predicted step time and efficiency at 8, 64 and 512 processes."""
    from chainrule import optim
    from chainrule.distributed import GradientReducer

    header = " | ".join(f"{p} on {net}" for net in NETWORKS for p in PROCESSES)
    print(f"| model, batch per process | bytes per step | one process | {header} |")
    print("|---" * (3 + len(NETWORKS) * len(PROCESSES)) + "|")
    for name in names:
        title, batch = MODELS[name]
        model, loss_fn = build(name, batch, 0)
        optimizer = optim.AdamW(model.parameters(), lr=1e-3)
        times = []
        for _ in range(steps + 1):
            started = time.perf_counter()
            optimizer.zero_grad()
            loss_fn(model).backward()
            optimizer.step()
            times.append(time.perf_counter() - started)
        compute, nbytes = float(np.median(times[1:])), GradientReducer(model.parameters()).nbytes
        cells = []
        for bits, latency in NETWORKS.values():
            for processes in PROCESSES:
                total = compute + ring_allreduce_seconds(nbytes, processes, bits, latency)
                cells.append(f"{total * 1e3:.0f} ms ({compute / total:.0%})")
        print(f"| {title}, {batch} | {nbytes / 1e6:.2f} MB | {compute * 1e3:.0f} ms | {' | '.join(cells)} |")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 timed steps instead of 20")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per configuration")
    parser.add_argument("--model", choices=list(MODELS), action="append",
                        help="a model to time (repeatable; default all)")
    parser.add_argument("--predict", action="store_true", help="the cost model for 8-512 processes")
    parser.add_argument("--worker", choices=list(MODELS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    steps = args.steps or (5 if args.quick else 20)
    if args.worker:
        worker(args.worker, steps)
    elif args.predict:
        predict(args.model or list(MODELS), steps)
    else:
        scaling(args.model or list(MODELS), steps)


if __name__ == "__main__":
    main()
