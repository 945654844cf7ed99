"""``python -m benchmarks``: run the suite, print the tables, write BENCHMARKS.md and the JSON results."""

import argparse
import json
import shlex
import sys
from pathlib import Path

from benchmarks.report import markdown_table, render_markdown, to_json
from benchmarks.runner import REPO, build_tables, run_suite
from benchmarks.workloads import WORKLOADS

NOTES = REPO / "benchmarks" / "notes.md"
"""Hand-written notes (why a goal is missed, what would close it), appended to the report when present."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time chainrule against PyTorch eager, JAX jit, HIPS autograd and NumPy by hand, each "
                    "framework in its own process with the same thread count.")
    parser.add_argument("--quick", action="store_true", help="fewer cases and repeats (a smoke run)")
    parser.add_argument("--only", choices=list(WORKLOADS), action="append", metavar="WORKLOAD",
                        help=f"run only this workload (repeatable); one of {', '.join(WORKLOADS)}")
    parser.add_argument("--threads", type=int, default=1, help="threads per process (default 1)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results",
                        help="folder for latest.json (default benchmarks/results)")
    parser.add_argument("--render", type=Path, metavar="JSON",
                        help="measure nothing: rewrite the Markdown report from the JSON of an earlier run "
                             "(e.g. after editing benchmarks/notes.md)")
    parser.add_argument("--markdown", type=Path, default=None,
                        help="where to write the Markdown report (default: BENCHMARKS.md at the "
                             "repository's root for a full run, OUT/latest.md for a --quick or --only run)")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.render:
        run = json.loads(args.render.read_text())
        tables = build_tables(run)
    else:
        run, tables = run_suite(args.only or list(WORKLOADS), threads=args.threads, quick=args.quick,
                                command=shlex.join(["python", "-m", "benchmarks", *argv]),
                                log=lambda line: print(line, file=sys.stderr, flush=True))
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "latest.json").write_text(to_json(run, tables))
    partial = run["settings"]["quick"] or list(run["workloads"]) != list(WORKLOADS)
    markdown_path = args.markdown or (args.out / "latest.md" if partial else REPO / "BENCHMARKS.md")
    notes = NOTES.read_text() if NOTES.exists() and not partial else None
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    markdown_path.write_text(render_markdown(run, tables, notes))
    for table in tables:
        print(f"\n{table.title}\n\n{markdown_table(table.headers, table.rows)}")
    print(f"\nwrote {markdown_path}" + ("" if args.render else f" and {args.out / 'latest.json'}"))


if __name__ == "__main__":
    main()
