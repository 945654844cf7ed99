"""One framework on one workload, in a process of its own; prints its measurements as one JSON line.

Usage: ``python -m benchmarks.worker FRAMEWORK WORKLOAD [--quick] [--threads N]``. The runner sets the
thread environment variables before starting it; this process binds itself to N CPUs before importing
the framework and sets PyTorch's thread count. The output is
``{"status": "ok", "cases": [...]}`` with one entry per case of the workload (``null`` where the framework
does not run that case), or ``{"status": "missing", "reason": ...}`` when the framework is not installed.
"""

import argparse
import importlib
import json
import os
import sys

from benchmarks import environment, timing
from benchmarks.workloads import WORKLOADS

REQUIRED_MODULES = {"chainrule": "chainrule", "compiled": "chainrule", "train": "chainrule", "torch": "torch",
                    "jax": "jax", "autograd": "autograd", "numpy": "numpy"}
"""The module each framework needs; when it cannot be imported the framework is reported missing."""

BENCH_EXTRA = "pip install 'chainrule[bench]' installs every framework"


def run(framework, workload, quick, threads):
    """Measure every case of ``workload`` for ``framework``; the dict printed as JSON."""
    cpus = environment.pinned_cpus(threads)
    if cpus is not None:
        os.sched_setaffinity(0, cpus)
    try:
        library = importlib.import_module(REQUIRED_MODULES[framework])
    except ImportError as error:
        return {"status": "missing", "reason": str(error)}
    if framework == "torch":
        library.set_num_threads(threads)
    module = WORKLOADS[workload]
    budget = timing.QUICK if quick else timing.FULL
    try:
        return {"status": "ok",
                "cases": [module.measure_case(framework, case, budget) for case in module.cases(quick)]}
    except ImportError as error:  # a case that needs another framework (PyTorch's initial weights, say)
        return {"status": "missing", "reason": f"{workload} needs {error.name or 'a module'} here, which is "
                                               f"not installed ({BENCH_EXTRA})"}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__.split("\n")[0])
    parser.add_argument("framework", choices=sorted(REQUIRED_MODULES))
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--quick", action="store_true", help="fewer cases and repeats")
    parser.add_argument("--threads", type=int, default=1,
                        help="the CPUs to bind to and PyTorch's thread count (default 1)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.framework, args.workload, args.quick, args.threads)))


if __name__ == "__main__":
    sys.exit(main())
