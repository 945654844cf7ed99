"""The README's figures: run every experiment in full mode and copy its first figure to one folder.

Run from the repository root::

    python -m chainrule.experiments.gallery docs/img/experiments

which writes ``docs/img/experiments/<name>.png`` for each experiment, keeps the full reports under
``--reports`` (``experiments/`` by default) and prints each headline.
"""

import argparse
import shutil
import sys
from pathlib import Path

from . import names, run


def make_gallery(dest, reports="experiments", only=None, quick=False, seed=0):
    """Run experiments and copy the first figure of each to ``dest/<name>.png``.

    Args:
        dest: the folder of the figures (created if missing).
        reports: the folder under which each experiment writes ``<name>/report.md`` and its figures.
        only: the names to run; all of them when ``None``.
        quick: use the fast mode (for a trial run; the README shows full mode).
        seed: the seed passed to every experiment.

    Returns:
        ``{name: (headline, figure path)}``.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    made = {}
    for name in only or names():
        result, _ = run(name, Path(reports) / name, quick=quick, seed=seed)
        figure = dest / f"{name}.png"
        shutil.copyfile(result.figures[0], figure)
        made[name] = (result.headline, figure)
        print(f"{name}: {result.headline}\n  -> {figure}", flush=True)
    return made


def main(argv=None):
    """The command line of :func:`make_gallery`; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m chainrule.experiments.gallery",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("dest", nargs="?", default="docs/img/experiments", help="folder of the figures")
    parser.add_argument("--reports", default="experiments", help="folder of the full reports")
    parser.add_argument("--only", nargs="+", choices=names(), metavar="NAME", help="run only these")
    parser.add_argument("--quick", action="store_true", help="fast mode, for a trial run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    make_gallery(args.dest, args.reports, args.only, args.quick, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
