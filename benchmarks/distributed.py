"""Data-parallel scaling: training steps of an MLP at a fixed global batch, on 1 or more MPI ranks.

``python -m benchmarks.distributed [--quick]`` starts, one after the other: 1 rank x 1 BLAS thread,
2 ranks x 1 thread (``mpiexec -n 2``) and 1 rank x 2 threads, each timing the same training step of
MLP B (784-1024-1024-10, SGD with momentum, random data) at global batch 1024, and prints the step
time (median), throughput, speed-up over one rank, and the allreduce's time per step and share.

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


def worker(sizes, batch, steps, warmup):
    """One rank's part: time ``steps`` training steps; rank 0 prints the medians as JSON."""
    from chainrule import distributed as dist
    from chainrule import nn, optim
    from chainrule.core.tensor import Tensor

    comm = dist.init()
    local = len(range(comm.rank, batch, comm.size))
    rng = np.random.default_rng(comm.rank)
    x = rng.normal(size=(local, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], size=local)
    model = nn.MLP(sizes, seed=0)
    ddp = dist.DistributedDataParallel(model)
    ddp.shard.global_rows = batch
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    step_times, reduce_times = [], []
    for step in range(warmup + steps):
        comm.Barrier()
        started, reduced_before = time.perf_counter(), ddp.allreduce_seconds
        optimizer.zero_grad()
        nn.functional.cross_entropy(ddp(Tensor(x)), y).backward()
        ddp.allreduce_gradients()
        optimizer.step()
        if step >= warmup:
            step_times.append(time.perf_counter() - started)
            reduce_times.append(ddp.allreduce_seconds - reduced_before)
    slowest = dist.allreduce_sum(np.eye(comm.size)[comm.rank] * np.median(step_times)).max()
    if comm.rank == 0:
        print(json.dumps({"step_s": float(slowest), "allreduce_s": float(np.median(reduce_times)),
                          "allreduce_bytes": ddp.reducer.nbytes, "steps": steps}))


# -- beyond this machine: a ring-allreduce cost model ---------------------------------------------

NETWORKS = {"10 Gb/s": (10e9, 50e-6), "100 Gb/s": (100e9, 5e-6)}  # bandwidth (bit/s), latency per message
PROCESSES = (8, 64, 512)


def ring_allreduce_seconds(nbytes, processes, bits_per_second, latency, bucket_bytes=25 * 2 ** 20):
    """Time of a ring allreduce of ``nbytes``: a reduce-scatter then an all-gather, each ``p - 1``
    messages of ``nbytes / p``, every bucket paying its own latencies."""
    if processes == 1:
        return 0.0
    buckets = -(-nbytes // bucket_bytes)
    return (2 * (processes - 1) * latency * buckets
            + 2 * (processes - 1) / processes * nbytes * 8 / bits_per_second)


def prediction_models():
    """(name, model, step) for each model: ``step()`` runs one training step at its one-process batch."""
    from chainrule import nn, optim
    from chainrule.core.tensor import Tensor
    from chainrule.nn.cnn import CNN1d
    from chainrule.nn.gpt import GPT, GPTConfig

    rng = np.random.default_rng(0)

    def classifier(model, x, classes):
        optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        y = rng.integers(0, classes, size=len(x))

        def step():
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(Tensor(x)), y).backward()
            optimizer.step()
        return step

    def language_model(model, batch, block, vocab):
        optimizer = optim.AdamW(model.parameters(), lr=1e-3)
        idx, targets = rng.integers(0, vocab, size=(2, batch, block))

        def step():
            optimizer.zero_grad()
            model(idx, targets)[1].backward()
            optimizer.step()
        return step

    mlp = nn.MLP([784, 1024, 1024, 10], seed=0)
    cnn = CNN1d((1, 40), (25, 25, 25), 10, seed=0)
    gpt = GPT(GPTConfig(), generator=0)
    return [("MLP B 784-1024-1024-10, batch 1024", mlp,
             classifier(mlp, rng.normal(size=(1024, 784)).astype(np.float32), 10)),
            ("MNIST-1D CNN (3 x conv1d 25), batch 100", cnn,
             classifier(cnn, rng.normal(size=(100, 1, 40)).astype(np.float32), 10)),
            ("GPT 4 layers x 128, batch 12 x 64 tokens", gpt, language_model(gpt, 12, 64, 65))]


def predict(repeats):
    """Print bytes per step and the predicted step time and efficiency at 8, 64 and 512 processes."""
    from chainrule.distributed import GradientReducer

    header = " | ".join(f"{p} on {net}" for net in NETWORKS for p in PROCESSES)
    print(f"| model | bytes per step | one process | {header} |")
    print("|---" * (3 + len(NETWORKS) * len(PROCESSES)) + "|")
    for name, model, step in prediction_models():
        nbytes = GradientReducer(model.parameters()).nbytes
        step()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            step()
            times.append(time.perf_counter() - started)
        compute = float(np.median(times))
        cells = []
        for bits, latency in NETWORKS.values():
            for processes in PROCESSES:
                total = compute + ring_allreduce_seconds(nbytes, processes, bits, latency)
                cells.append(f"{total * 1e3:.1f} ms ({compute / total:.0%})")
        print(f"| {name} | {nbytes / 1e6:.2f} MB | {compute * 1e3:.1f} ms | {' | '.join(cells)} |")


def measure(ranks, threads, args):
    """Run one configuration in fresh processes; its rank 0's JSON."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "benchmarks.distributed", "--worker", "--steps", str(args.steps),
               "--batch", str(args.batch), "--sizes", args.sizes]
    if ranks > 1:
        mpiexec = Path(sys.executable).with_name("mpiexec")
        command = [str(mpiexec) if mpiexec.is_file() else "mpiexec", "-n", str(ranks), *command]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 timed steps instead of 20")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per configuration")
    parser.add_argument("--batch", type=int, default=1024, help="global batch (default 1024)")
    parser.add_argument("--sizes", default="784,1024,1024,10", help="the MLP's layer widths")
    parser.add_argument("--predict", action="store_true",
                        help="measure one process's step of each model and print the ring-allreduce "
                             "prediction for 8, 64 and 512 processes on 10 and 100 Gb/s networks")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.steps = args.steps or (5 if args.quick else 20)
    if args.predict:
        predict(args.steps)
        return
    sizes = [int(width) for width in args.sizes.split(",")]
    if args.worker:
        worker(sizes, args.batch, args.steps, warmup=2)
        return
    results = {(ranks, threads): measure(ranks, threads, args) for ranks, threads in CONFIGS}
    base = results[CONFIGS[0]]["step_s"]
    print(f"MLP {'-'.join(map(str, sizes))}, global batch {args.batch}, median of {args.steps} steps; "
          f"{results[CONFIGS[0]]['allreduce_bytes'] / 1e6:.2f} MB all-reduced per step\n")
    print("| ranks x threads | step | samples/s | speed-up | allreduce per step | its share |")
    print("|---|---|---|---|---|---|")
    for (ranks, threads), result in results.items():
        step, reduce = result["step_s"], result["allreduce_s"] if ranks > 1 else 0.0
        print(f"| {ranks} x {threads} | {step * 1e3:.1f} ms | {args.batch / step:,.0f} | {base / step:.2f}x "
              f"| {reduce * 1e3:.2f} ms | {reduce / step:.1%} |")


if __name__ == "__main__":
    main()
