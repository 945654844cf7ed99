"""How many BLAS threads a command takes: ``--threads N``, or the cores other processes leave idle."""

import argparse
import os
import time

# The commands whose time goes into BLAS products: they probe for idle cores before choosing threads.
_COMPUTING = ("train", "evaluate", "predict", "generate", "graph", "experiment")


def threads_argument(parser):
    """The flags of the program itself, taken before or after the subcommand."""
    parser.add_argument("--threads", type=_threads, default=argparse.SUPPRESS, metavar="N",
                        help="BLAS threads (default: the cores this process may use that other processes "
                             "leave idle when the command starts, at least 1)")


def threads_for(args):
    """The BLAS threads of a command run without ``--threads``."""
    if getattr(args, "distributed", False):
        return 1  # the ranks share the cores: one thread each (see docs/distributed.md)
    return default_threads() if args.command in _COMPUTING else usable_cores()


def usable_cores():
    """The number of cores this process may run on (its CPU affinity, where the system tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_threads(probe_seconds=0.15):
    """The BLAS threads a command uses by default: the usable cores less those other processes keep
    busy, measured over ``probe_seconds`` from ``/proc/stat`` (all usable cores where it cannot be
    read). OpenBLAS's threads wait for each other actively, so a thread on a core another process
    holds slows every product down (12x measured); a second thread pays only on an idle core."""
    cores = usable_cores()
    if cores == 1:
        return 1
    busy = busy_cores(probe_seconds)
    return cores if busy is None else max(1, min(cores, round(cores - busy)))


def busy_cores(seconds):
    """How many of this process's usable cores other processes kept busy over ``seconds`` (a float),
    or ``None`` where ``/proc/stat`` cannot be read."""
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None

    def times():
        with open("/proc/stat") as stat:
            rows = [line.split() for line in stat if line.startswith("cpu") and not line.startswith("cpu ")]
        # fields: user nice system idle iowait irq softirq steal; idle and iowait are the idle time
        return {int(row[0][3:]): (sum(map(int, row[1:9])), int(row[4]) + int(row[5])) for row in rows
                if allowed is None or int(row[0][3:]) in allowed}
    try:
        before = times()
        time.sleep(seconds)
        after = times()
    except (OSError, ValueError, IndexError):
        return None
    busy = 0.0
    for cpu, (total, idle) in after.items():
        elapsed = total - before[cpu][0]
        if elapsed > 0:
            busy += 1 - (idle - before[cpu][1]) / elapsed
    return busy


def _threads(text):
    try:
        threads = int(text)
    except ValueError:
        threads = 0
    if threads < 1:
        raise argparse.ArgumentTypeError(f"must be a positive number of threads, not {text!r}")
    return threads
