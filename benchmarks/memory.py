"""Workload ``memory``: the peak resident memory one training step adds (MLP B, batch 1024).

The worker builds the model and the batch. Before each measured step it hands the C heap's free memory
back to the system (glibc's ``malloc_trim``, so that memory freed by the previous step does not hide this
step's needs), resets the kernel's high-water mark of resident memory to the current resident size
(``5`` written to ``/proc/self/clear_refs``), runs the step and reads the new high-water mark (``VmHWM`` in
``/proc/self/status``). The difference counts every allocation, NumPy's and the frameworks' own, which
``tracemalloc`` would miss; memory a framework keeps in pools of its own between steps is not counted
again. The first step also allocates what stays (momentum buffers, gradients); a steady step is the
median of later steps. chainrule compiled is chainrule's step passed to ``chainrule.compile``: its first
step is the eager step being recorded, its steady step a replay.
"""

import ctypes
import ctypes.util
import statistics
from pathlib import Path

from benchmarks import models
from benchmarks.report import FRAMEWORK_NAMES, Goal, Table, format_ratio, overall_status, paragraph

FRAMEWORKS = ("chainrule", "compiled", "torch", "jax", "autograd", "numpy")
GOAL = 1.3
REPLAY_GOAL = 1.0
"""Issue 14's goal: a replayed step (``compiled``, steady) adds at most this multiple of NumPy's memory."""
RATIO_FRAMEWORKS = ("chainrule", "compiled", "torch")
PROC_STATUS = Path("/proc/self/status")
PROC_CLEAR_REFS = Path("/proc/self/clear_refs")


def cases(quick):
    """One case in both modes: it takes a few steps only."""
    return [{"model": "B", "batch": 1024}]


def status_kib(field):
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``) as a number of KiB."""
    for line in PROC_STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(f"{field} not found in {PROC_STATUS}")


def release_free_memory():
    """Return the C heap's free pages to the system where the C library can (glibc); else do nothing."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    if hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def peak_added_mib(fn):
    """The peak resident memory, in MiB, that ``fn()`` adds to what the process holds before it."""
    release_free_memory()
    PROC_CLEAR_REFS.write_text("5")
    before = status_kib("VmRSS")
    fn()
    return (status_kib("VmHWM") - before) / 1024


def measure_case(framework, case, budget):
    """The memory added by the first step and, as a median over ``budget.min_repeats`` later steps, by a
    steady one."""
    sizes = models.MODELS[case["model"]]
    to_batch, step = models.trainer(framework, models.init_params(sizes))
    batch = to_batch(*models.random_batch(sizes, case["batch"]))
    first = peak_added_mib(lambda: step(*batch))
    step(*batch)
    steady = [peak_added_mib(lambda: step(*batch)) for _ in range(budget.min_repeats)]
    return {"first_mib": first, "steady_mib": statistics.median(steady)}


def tables(all_cases, results):
    case = all_cases[0]
    rows, all_goals = [], []
    for key, label in (("first_mib", "first step"), ("steady_mib", "steady step")):
        where = f"memory, {label}, MLP B, batch {case['batch']}"
        goals = {"chainrule": Goal(where, "NumPy", results.ratio("chainrule", "numpy", 0, key), GOAL)}
        if key == "steady_mib":
            goals["compiled"] = Goal(where + " (compiled, replayed)", "NumPy",
                                     results.ratio("compiled", "numpy", 0, key), REPLAY_GOAL)
        all_goals += goals.values()
        rows.append([label] + [results.cell(f, 0, key, " MiB") for f in FRAMEWORKS]
                    + [format_ratio(results.ratio(f, "numpy", 0, key)) for f in RATIO_FRAMEWORKS]
                    + [", ".join(f"{name} {goal.target}" for name, goal in goals.items()),
                       overall_status(goals.values())])
    headers = (["step"] + [FRAMEWORK_NAMES[f] for f in FRAMEWORKS]
               + ["chainrule / NumPy", "compiled / NumPy", "PyTorch / NumPy", "goal", "status"])
    note = (paragraph(__doc__, 1) + " JAX compiles its step on the first call, so "
            "its first step includes the compiler's memory.")
    return [Table("Memory added by one training step", note, headers, rows, all_goals)]
