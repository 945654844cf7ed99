"""Running the suite: one worker process per (framework, workload), all with the same thread settings."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import environment
from benchmarks.report import Results
from benchmarks.workloads import WORKLOADS

REPO = Path(__file__).resolve().parents[1]
WORKER_TIMEOUT_S = 900


def run_framework(framework, workload, *, threads, quick, extra_env=None):
    """Run ``python -m benchmarks.worker`` for one framework and workload and return what it reports.

    Args:
        framework: a framework name (see :data:`benchmarks.worker.REQUIRED_MODULES`).
        workload: a name from :data:`benchmarks.workloads.WORKLOADS`.
        threads: the thread count pinned for every library in the worker.
        quick: fewer cases and repeats.
        extra_env: more environment variables for the worker.

    Returns:
        The worker's dict: ``status`` ``ok`` with ``cases``, ``missing`` with ``reason``, or ``error``
        with ``reason`` (the last line of its error output) when it crashed.
    """
    command = [sys.executable, "-m", "benchmarks.worker", framework, workload, "--threads", str(threads)]
    command += ["--quick"] if quick else []
    env = os.environ | environment.thread_environment(threads) | (extra_env or {})
    try:
        finished = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                                  timeout=WORKER_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return {"status": "error", "reason": f"timed out after {WORKER_TIMEOUT_S} s"}
    lines = finished.stdout.strip().splitlines()
    if finished.returncode != 0 or not lines:
        errors = finished.stderr.strip().splitlines() or [f"exit status {finished.returncode}"]
        return {"status": "error", "reason": errors[-1]}
    return json.loads(lines[-1])


def run_workload(workload, frameworks, *, threads, quick, extra_env=None, log=None):
    """Every framework on ``workload``, one after the other; ``{framework: worker's dict}``.

    ``log`` is called with a line of progress after each framework (``None``: silent).
    """
    outcomes = {}
    for framework in frameworks:
        start = time.perf_counter()
        outcomes[framework] = run_framework(framework, workload, threads=threads, quick=quick,
                                            extra_env=extra_env)
        if log is not None:
            outcome = outcomes[framework]
            log(f"{workload:>9} {framework:<10} {outcome['status']:<8} {time.perf_counter() - start:6.1f} s"
                + (f"  {outcome['reason']}" if outcome["status"] != "ok" else ""))
    return outcomes


def run_suite(workloads, *, threads, quick, command, extra_env=None, log=None):
    """Run ``workloads`` (names) and describe the run.

    Returns:
        ``(run, tables)``: ``run`` is a JSON-ready dict with the command, machine, versions, commit,
        date, settings, digests of chainrule's source before and after the run and, per workload, its
        cases and every framework's outcome; ``tables`` are the report's tables.
    """
    source_at_start = environment.source_digest(REPO / "chainrule")
    run = {"command": command, "machine": environment.machine(), "versions": environment.versions(),
           "commit": environment.commit(REPO), "date": environment.today(),
           "settings": {"threads": threads, "quick": quick, "cpus": environment.pinned_cpus(threads),
                        "environment": environment.thread_environment(threads)},
           "workloads": {}}
    for name in workloads:
        module = WORKLOADS[name]
        outcomes = run_workload(name, module.FRAMEWORKS, threads=threads, quick=quick,
                                extra_env=extra_env, log=log)
        run["workloads"][name] = {"cases": module.cases(quick), "results": outcomes}
    run["chainrule_source"] = {"at_start": source_at_start,
                               "at_end": environment.source_digest(REPO / "chainrule")}
    return run, build_tables(run)


def build_tables(run):
    """The report's tables for every workload of ``run`` (a fresh run, or one read back from JSON)."""
    return [table for name, content in run["workloads"].items()
            for table in WORKLOADS[name].tables(content["cases"], Results(content["results"]))]
