"""Workload ``epoch``: seconds per epoch of training an MLP on a real data set, end to end.

An epoch shuffles the training set, cuts it into batches of 128 (the last one smaller), turns each
batch into the framework's inputs and runs the training step of the ``step`` workload on it, adding up
the loss as a training loop that reports it would. Every framework starts from the same parameters and
sees the same batches in the same order. After one warm-up epoch, each epoch is timed on its own.
MNIST-1D (4,000 examples of 40 features) trains an MLP 40-256-256-10; Fashion-MNIST (60,000 images of
784 pixels scaled to [0, 1]) trains MLP A, 784-256-256-10. The data come from ``chainrule.data``;
chainrule's loop is written with the core API. chainrule compiled runs chainrule's step passed to
``chainrule.compile``: the warm-up epoch records it twice (the full batches' shape and the last, smaller
batch's), the timed epochs replay it; "compiled / PyTorch" is checked against issue 14's goal on
MNIST-1D.
"""

import time

import numpy as np

from benchmarks import models, timing
from benchmarks.report import FRAMEWORK_NAMES, Goal, Table, format_ratio, paragraph

FRAMEWORKS = ("chainrule", "compiled", "torch", "jax", "autograd", "numpy")
COMPILED_GOALS = {"mnist1d": 0.6}
"""Issue 14's goal: a compiled epoch at most this fraction of PyTorch's, per data set."""
HIDDEN = (256, 256)
BATCH = 128
DATA_NAMES = {"mnist1d": "MNIST-1D", "fashion-mnist": "Fashion-MNIST"}


def cases(quick):
    """Three timed epochs of MNIST-1D and Fashion-MNIST; one of MNIST-1D alone when ``quick``."""
    if quick:
        return [{"data": "mnist1d", "epochs": 1}]
    return [{"data": "mnist1d", "epochs": 3}, {"data": "fashion-mnist", "epochs": 3}]


def measure_case(framework, case, budget):
    """Seconds per epoch (median over the timed epochs) and the mean loss of the last epoch, or
    ``{"data_missing": reason}`` when the data set cannot be found."""
    from chainrule.data import load_dataset
    from chainrule.errors import DataError
    try:
        data = load_dataset(case["data"])
    except DataError as error:
        return {"data_missing": str(error)}
    x, y = data.x_train.reshape(len(data.x_train), -1), data.y_train
    sizes = (x.shape[1], *HIDDEN, data.num_classes)
    to_batch, step = models.trainer(framework, models.init_params(sizes))
    order_rng = np.random.default_rng(0)

    def epoch():
        total, batches = 0.0, 0
        order = order_rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            rows = order[start:start + BATCH]
            total += float(step(*to_batch(x[rows], y[rows])))
            batches += 1
        return total / batches

    epoch()
    seconds, losses = [], []
    for _ in range(case["epochs"]):
        start = time.perf_counter()
        losses.append(epoch())
        seconds.append(time.perf_counter() - start)
    return timing.summarize(seconds) | {"last_loss": losses[-1]}


def tables(all_cases, results):
    rows, all_goals = [], []
    for index, case in enumerate(all_cases):
        missing = [m["data_missing"] for m in (results.get(f, index) for f in FRAMEWORKS)
                   if m is not None and "data_missing" in m]
        goal = None
        if case["data"] in COMPILED_GOALS:
            goal = Goal(f"epoch of {DATA_NAMES[case['data']]} (compiled)", "PyTorch",
                        None if missing else results.ratio("compiled", "torch", index),
                        COMPILED_GOALS[case["data"]])
            all_goals.append(goal)
        goal_cells = [goal.target, goal.status] if goal else ["—", "—"]
        if missing:
            rows.append([DATA_NAMES[case["data"]], case["epochs"]] + ["data missing"] * len(FRAMEWORKS)
                        + ["n/a", "n/a", missing[0].split(".")[0]] + goal_cells)
            continue
        losses = [m["last_loss"] for m in (results.get(f, index) for f in FRAMEWORKS) if m is not None]
        spread = f"{min(losses):.4f}–{max(losses):.4f}" if losses else "n/a"
        rows.append([DATA_NAMES[case["data"]], case["epochs"]]
                    + [results.time_cell(f, index) for f in FRAMEWORKS]
                    + [format_ratio(results.ratio(f, "torch", index)) for f in ("chainrule", "compiled")]
                    + [spread] + goal_cells)
    headers = (["data set", "timed epochs"] + [FRAMEWORK_NAMES[f] for f in FRAMEWORKS]
               + ["chainrule / PyTorch", "compiled / PyTorch", "last epoch's mean loss, lowest–highest",
                  "goal (compiled)", "status"])
    note = "Seconds per epoch. " + paragraph(__doc__, 1)
    return [Table("Training epochs end to end", note, headers, rows, all_goals)]
