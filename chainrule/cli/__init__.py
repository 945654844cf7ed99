"""The ``chainrule`` command.

Each subcommand is two functions registered with :func:`command` (``registry.py``): one adds its
arguments to its parser, the other runs it with the parsed arguments and returns the exit status. To
add one, in one of this package's modules (imported below, in the order ``--help`` lists them)::

    def _hello_arguments(parser):
        parser.add_argument("name", help="who to greet")

    @command("hello", "greet someone", _hello_arguments)
    def _hello(args):
        print(f"hello, {args.name}")
        return 0

The modules: ``registry.py`` (the table of subcommands and the parser built from it), ``threads.py``
(how many BLAS threads a command takes), ``training.py`` (train and --resume), ``scoring.py``
(evaluate, predict), ``inspecting.py`` (rules, graph), ``generating.py`` (generate), ``delegated.py``
(bench, experiment, view: commands whose flags another program's parser reads).

Exit status: 0 on success, 2 for a malformed command line (argparse), 1 for a bad value, missing or
broken data, a missing or corrupt checkpoint, with one line on standard error.
"""

import contextlib
import sys

from ..errors import ChainruleError
# The command modules register their subcommands on import, in the order --help lists them.
from . import training  # noqa: F401, I001
from . import scoring  # noqa: F401
from . import inspecting  # noqa: F401
from . import generating  # noqa: F401
from . import delegated  # noqa: F401
from .registry import COMMANDS, build_parser, command, parse
from .threads import busy_cores, default_threads, threads_for, usable_cores

__all__ = ["COMMANDS", "build_parser", "busy_cores", "command", "default_threads", "main", "usable_cores"]


def main(argv=None):
    """Run the ``chainrule`` command with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    from threadpoolctl import threadpool_limits
    args = parse(argv)
    try:
        threads = getattr(args, "threads", None) or threads_for(args)
        with threadpool_limits(limits=threads), _processes_fail_together(args):
            return args.run(args)
    except (ChainruleError, OSError) as error:
        message = " ".join(_describe(error).split())
        print(f"chainrule {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"chainrule {args.command}: interrupted{getattr(args, 'on_interrupt', lambda: '')()}",
              file=sys.stderr)
        return 130


def _processes_fail_together(args):
    """With --distributed, join the MPI job first, so that a failure on any rank ends every rank."""
    if not getattr(args, "distributed", False):
        return contextlib.nullcontext()
    from ..distributed import abort_on_error, init
    init()
    return abort_on_error()


def _describe(error):
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror}"
    return str(error)
