"""The ``chainrule experiment`` command: run one experiment, or list them all.

The ``chainrule`` command line registers it from :data:`SUMMARY`, :func:`configure_parser` (its
arguments) and :func:`execute` (its action); :func:`run_cli` runs it on its own, as
``python -m chainrule.experiments`` does.
"""

import argparse

from . import EXPERIMENTS, get, run

SUMMARY = "reproduce a classic claim about backpropagation as a report with tables and figures"
DESCRIPTION = ("Reproduce a classic claim about softmax, backpropagation or training, write a Markdown "
               "report with tables and figures into --out, and print the headline.")


def configure_parser(parser):
    """Add the experiment command's arguments to ``parser`` and return it."""
    choice = parser.add_mutually_exclusive_group(required=True)
    choice.add_argument("name", nargs="?", metavar="NAME", choices=list(EXPERIMENTS),
                        help="the experiment to run: " + ", ".join(EXPERIMENTS))
    choice.add_argument("--list", action="store_true", help="list the experiments")
    parser.add_argument("--out", metavar="DIR", help="output directory (default: experiments/NAME)")
    parser.add_argument("--quick", action="store_true", help="the fast mode the tests use")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default: 0)")
    return parser


def execute(args):
    """Carry out parsed arguments: print the list, or run one experiment and print its headline.

    Returns:
        The exit status, 0.
    """
    if args.list:
        width = max(map(len, EXPERIMENTS))
        for name, experiment in EXPERIMENTS.items():
            print(f"{name:<{width}}  {experiment.TITLE}")
        return 0
    print(f"{get(args.name).TITLE} ({'quick' if args.quick else 'full'} mode, seed {args.seed})", flush=True)
    result, report = run(args.name, args.out, quick=args.quick, seed=args.seed)
    print(result.headline)
    print(f"report: {report}")
    return 0


def run_cli(argv=None):
    """``chainrule experiment`` as a program of its own.

    Args:
        argv: the arguments after ``experiment``; ``sys.argv[1:]`` when ``None``.

    Returns:
        The exit status.
    """
    parser = configure_parser(argparse.ArgumentParser(prog="chainrule experiment", description=DESCRIPTION))
    return execute(parser.parse_args(argv))
