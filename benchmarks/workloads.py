"""The workloads, in the order the report shows them.

Each workload module provides ``FRAMEWORKS`` (the frameworks it runs), ``cases(quick)`` (a list of
JSON-ready dicts), ``measure_case(framework, case, budget)`` (run in a worker; a dict, or ``None`` where
the framework does not run that case) and ``tables(cases, results)`` (the report's
:class:`~benchmarks.report.Table` objects).
"""

from benchmarks import compiled, epoch, gpt, memory, modes, overhead, recurrent, step, vision, vmap

WORKLOADS = {"step": step, "overhead": overhead, "compiled": compiled, "modes": modes, "memory": memory,
             "epoch": epoch, "recurrent": recurrent, "gpt": gpt, "vision": vision, "vmap": vmap}
