"""``chainrule bench``, ``experiment`` and ``view``: commands whose work (and, for bench, flags) another
program of the repository takes."""

import argparse
import sys
from pathlib import Path

from ..errors import ChainruleError
from .registry import command


def _bench_arguments(parser):
    parser.add_argument("options", nargs=argparse.REMAINDER,
                        help="options of `python -m benchmarks` (--quick, --only WORKLOAD, --threads N)")
    parser.set_defaults(passes_flags_on=True)


@command("bench", "time chainrule against PyTorch, JAX, HIPS autograd and NumPy (from a source checkout)",
         _bench_arguments)
def _bench(args):
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "benchmarks" / "__main__.py").is_file() and str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))  # an editable install: the suite sits beside the package
    try:
        from benchmarks.__main__ import main as run_benchmarks
    except ModuleNotFoundError as error:
        if error.name not in ("benchmarks", "benchmarks.__main__"):
            raise ChainruleError(f"the benchmark suite needs {error.name}: pip install -e \".[bench]\" "
                                 f"(PyTorch, JAX and HIPS autograd)") from None
        raise ChainruleError("the benchmark suite lives in the source repository's benchmarks/ folder: "
                             "run `chainrule bench` from a checkout installed with "
                             "`pip install -e \".[bench]\"`") from None
    return run_benchmarks(args.options) or 0


def _experiment_arguments(parser):
    from ..experiments.cli import configure_parser
    configure_parser(parser)


@command("experiment", "reproduce a classic claim about backpropagation as a report with tables and "
         "figures", _experiment_arguments)
def _experiment(args):
    from ..experiments.cli import execute
    return execute(args)


def _view_arguments(parser):
    from ..view.command import add_arguments
    add_arguments(parser)


@command("view", "the machinery in the browser: curves, gradient flow, graphs... of runs, live", _view_arguments)
def _view(args):
    from ..view.command import run
    return run(args)
