"""The table of subcommands, and the parser of ``chainrule`` built from it."""

import argparse
import difflib
from pathlib import Path

from .. import __version__
from .threads import threads_argument

COMMANDS = {}

_EXAMPLES = """examples:
  chainrule train                           an MLP on digits: about 97.5% test accuracy in seconds
  chainrule train --data mnist1d --out runs/m1d      MNIST-1D with its own defaults: about 71%
  chainrule train --config settings.toml --lr 3e-4       flags override the file's settings
  chainrule train --out runs/m1d --resume   continue an interrupted run
  chainrule evaluate runs/m1d               score the saved best model on the test split again
  chainrule predict runs/m1d inputs.npy --out predictions.npy
"""


def command(name, summary, add_arguments):
    """Register a subcommand: decorate ``run(args) -> exit status``.

    Args:
        name: the subcommand's name on the command line.
        summary: one line for ``chainrule --help``.
        add_arguments: ``add_arguments(parser)`` adds the subcommand's arguments.
    """
    def register(run):
        COMMANDS[name] = (summary, add_arguments, run)
        return run
    return register


def build_parser():
    """The argument parser of ``chainrule`` with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="chainrule", epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="chainrule: automatic differentiation and deep learning on NumPy, with the "
                    "machinery in sight.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    threads_argument(parser)
    subparsers = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")
    parser.commands = {}
    for name, (summary, add_arguments, run) in COMMANDS.items():
        description = summary[0].upper() + summary[1:] + "."
        subparser = subparsers.add_parser(name, help=summary, description=description)
        add_arguments(subparser)
        if not subparser.get_default("passes_flags_on"):  # bench hands every flag to its suite
            threads_argument(subparser.add_argument_group("program"))
        subparser.set_defaults(run=run)
        parser.commands[name] = subparser
    return parser


def parse(argv):
    """Parse ``argv``; an unknown flag is refused naming the closest known one."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if getattr(args, "passes_flags_on", False):
        args.options, unknown = [*unknown, *args.options], []
    if unknown:
        subparser = parser.commands[args.command]
        known = [flag for action in subparser._actions for flag in action.option_strings]
        flag = unknown[0].split("=")[0]
        close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close and flag.startswith("-") else ""
        subparser.error(f"unrecognized argument{'s' if len(unknown) > 1 else ''}: {' '.join(unknown)}{hint}")
    return args


def run_dir_argument(parser):
    """The RUN_DIR argument of the commands reading a trained run."""
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a directory made by chainrule train")
