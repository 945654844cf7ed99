"""Workload ``compiled``: chainrule's compiled step (:func:`chainrule.compile`) against chainrule eager,
PyTorch eager, JAX jit and NumPy by hand, on the training steps of :mod:`benchmarks.step` and the tiny
graph of :mod:`benchmarks.overhead`.

The compiled step is the eager step's own function passed to ``chainrule.compile``: the first calls
record it (the timing's warm-up), the timed ones replay it.

The workloads ``vision``, ``recurrent``, ``gpt``, ``memory`` and ``epoch`` run the compiled step too
(framework ``compiled``), against :data:`EAGER_GOAL` or goals of their own.
"""

from benchmarks import models, overhead, timing
from benchmarks.report import FRAMEWORK_NAMES, Goal, Table, format_ratio, overall_status

FRAMEWORKS = ("chainrule", "compiled", "torch", "jax", "numpy")
# Issue 14's goals: (case, peer, limit) for the compiled step.
GOALS = {("A", 32): [("jax", 1.1), ("torch", 0.6)], ("A", 128): [("torch", 0.8), ("numpy", 1.0)],
         ("B", 1024): [("numpy", 0.98)], ("tiny", 1): [("torch", 0.25)]}
EAGER_GOAL = round(1 / 1.3, 3)
"""Issue 14's goal for the CNN, recurrent and GPT steps (workloads ``vision``, ``recurrent``, ``gpt``): the
compiled step at least 1.3x faster than chainrule eager, i.e. at most this fraction of its time."""


def eager_goal(where, results, index):
    """The :data:`EAGER_GOAL` of case ``index`` of a workload that runs ``chainrule`` and ``compiled``."""
    return Goal(where + " (compiled)", "chainrule eager", results.ratio("compiled", "chainrule", index),
                EAGER_GOAL)


def cases(quick):
    """MLP A at batch 32 and 128, MLP B at 1024, the 1-element tiny graph (A at 128 and the tiny graph
    alone when ``quick``)."""
    steps = [("A", 128)] if quick else [("A", 32), ("A", 128), ("B", 1024)]
    return [{"model": m, "batch": b} for m, b in steps] + [{"graph": "tiny", "size": 1}]


def measure_case(framework, case, budget):
    """Time one training step, or one forward and backward of the tiny graph."""
    if "graph" in case:
        if framework == "compiled":
            return _compiled_tiny(case, budget)
        return overhead.measure_case(framework, case, budget)
    sizes = models.MODELS[case["model"]]
    to_batch, step = models.trainer(framework, models.init_params(sizes))
    batch = to_batch(*models.random_batch(sizes, case["batch"]))
    return timing.measure(lambda: step(*batch), budget)


def _compiled_tiny(case, budget):
    import chainrule as cr
    a, b = (cr.tensor(v, requires_grad=True) for v in overhead.inputs(case))
    step = cr.compile(lambda: (a * b + a).sum().backward())
    return timing.measure(step, budget)


def describe(case):
    if "graph" in case:
        return overhead.describe(case)
    return f"MLP {case['model']} {'-'.join(map(str, models.MODELS[case['model']]))}, batch {case['batch']}"


def tables(all_cases, results):
    rows, all_goals = [], []
    for index, case in enumerate(all_cases):
        key = ("tiny", case["size"]) if "graph" in case else (case["model"], case["batch"])
        case_goals = [Goal(describe(case), FRAMEWORK_NAMES[peer], results.ratio("compiled", peer, index), limit)
                      for peer, limit in GOALS.get(key, [])]
        all_goals += case_goals
        rows.append([describe(case)] + [results.time_cell(f, index) for f in FRAMEWORKS]
                    + [format_ratio(results.ratio("compiled", "chainrule", index)),
                       format_ratio(results.ratio("compiled", "torch", index)),
                       ", ".join(g.target for g in case_goals) or "—", overall_status(case_goals)])
    headers = (["step"] + [FRAMEWORK_NAMES[f] for f in FRAMEWORKS]
               + ["compiled / eager", "compiled / PyTorch", "goal", "status"])
    note = ("The same training steps as the step table (forward, cross-entropy, backward, SGD with momentum, "
            "float32) and the tiny graph, with chainrule's step recorded once by `chainrule.compile` and "
            "replayed with fused kernels (the eager results to float32 rounding), without Tensor or Node "
            "objects or the graph walk. "
            "The compiled CNN, LSTM, GRU and GPT steps are in the vision, recurrent and GPT tables (column "
            "\"compiled / eager\"), the replayed step's memory in the memory table, compiled epochs in the "
            "epoch table.")
    return [Table("Compiled step", note, headers, rows, all_goals)]
