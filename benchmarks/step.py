"""Workload ``step``: one training step of MLP A and MLP B at several batch sizes.

The step (see :mod:`benchmarks.models`) is the forward pass, the mean softmax cross-entropy, the backward
pass and SGD with momentum 0.9, in float32, from the same initial parameters and on the same batch for
every framework. chainrule's step uses what a user writes: ``nn.MLP``, ``nn.functional.cross_entropy``
and ``optim.SGD``, as PyTorch's uses ``nn.Linear``, ``F.cross_entropy`` and ``optim.SGD``.
"""

from benchmarks import models, timing
from benchmarks.report import FRAMEWORK_NAMES, Goal, Table, format_ratio, overall_status

FRAMEWORKS = ("chainrule", "torch", "jax", "autograd", "numpy")
BATCHES = (32, 128, 1024)
CHECKED_STEPS = 3


def cases(quick):
    """MLP A and B at every batch size; MLP A at batch 128 alone when ``quick``."""
    if quick:
        return [{"model": "A", "batch": 128}]
    return [{"model": model, "batch": batch} for model in ("A", "B") for batch in BATCHES]


def measure_case(framework, case, budget):
    """Time one training step; also record the first steps' losses, which every framework should share."""
    sizes = models.MODELS[case["model"]]
    to_batch, step = models.trainer(framework, models.init_params(sizes))
    batch = to_batch(*models.random_batch(sizes, case["batch"]))
    losses = [float(step(*batch)) for _ in range(CHECKED_STEPS)]
    return timing.measure(lambda: step(*batch), budget) | {"losses": losses}


def goals(case, results, index):
    """Issue 6's goals for a training step: ≤1.0x PyTorch at batch 32; ≤0.9x PyTorch and ≤1.1x the
    NumPy floor at larger batches."""
    where = f"training step, MLP {case['model']}, batch {case['batch']}"
    vs_torch = results.ratio("chainrule", "torch", index)
    if case["batch"] <= 32:
        return [Goal(where, "PyTorch", vs_torch, 1.0)]
    return [Goal(where, "PyTorch", vs_torch, 0.9),
            Goal(where, "NumPy", results.ratio("chainrule", "numpy", index), 1.1)]


def tables(all_cases, results):
    rows, all_goals = [], []
    for index, case in enumerate(all_cases):
        case_goals = goals(case, results, index)
        all_goals += case_goals
        widths = "-".join(map(str, models.MODELS[case["model"]]))
        rows.append([f"{case['model']} {widths}", case["batch"]]
                    + [results.time_cell(framework, index) for framework in FRAMEWORKS]
                    + [format_ratio(results.ratio("chainrule", "torch", index)),
                       format_ratio(results.ratio("chainrule", "numpy", index)),
                       ", ".join(goal.target for goal in case_goals),
                       overall_status(case_goals)])
    headers = (["model", "batch"] + [FRAMEWORK_NAMES[f] for f in FRAMEWORKS]
               + ["chainrule / PyTorch", "chainrule / NumPy", "goal", "status"])
    note = ("Time per training step: forward, mean softmax cross-entropy, backward, SGD with momentum "
            "0.9, float32, ReLU, the same initial parameters and batch for every framework. PyTorch and "
            "chainrule use their `nn` MLP, `cross_entropy` and `optim.SGD`; JAX jits the whole step "
            "(buffers donated); NumPy updates the parameters in place. "
            f"{loss_agreement(all_cases, results)}")
    note = note.rstrip()
    return [Table("Training step", note, headers, rows, all_goals)]


def loss_agreement(all_cases, results):
    """A sentence saying how closely the frameworks' first losses agree (a check that they all run
    the same computation)."""
    differences = []
    for index in range(len(all_cases)):
        runs = [m["losses"] for m in (results.get(f, index) for f in FRAMEWORKS) if m is not None]
        differences += [abs(a - b) / abs(b) for losses in runs[1:]
                        for a, b in zip(losses, runs[0], strict=True)]
    if not differences:
        return ""
    return (f"Check: the losses of the first {CHECKED_STEPS} steps agree across frameworks to a relative "
            f"{max(differences):.1e}.")
