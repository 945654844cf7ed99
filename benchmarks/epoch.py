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
MNIST-1D. chainrule train's loop is the :class:`~chainrule.train.Trainer` that ``chainrule train`` runs,
compiling its step (the command's default), on the same parameters and batch size, shuffling with its
own seed; the validation pass and the checkpoints that the command adds after each epoch are left
out, as no other framework's epoch has them. "chainrule train's loop / PyTorch" is checked against
issue 21's goal on MNIST-1D.
"""

import time

import numpy as np

from benchmarks import models, timing
from benchmarks.report import FRAMEWORK_NAMES, Goal, Table, format_ratio, overall_status, paragraph

FRAMEWORKS = ("chainrule", "compiled", "train", "torch", "jax", "autograd", "numpy")
GOALS = {"compiled": {"mnist1d": 0.6}, "train": {"mnist1d": 0.8}}
"""Issue 14's goal (a compiled epoch) and issue 21's (an epoch of chainrule train's loop): at most this
fraction of PyTorch's epoch, per data set."""
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
    if framework == "train":
        return _trainer_epochs(x, y, models.init_params(sizes), case["epochs"])
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


def _trainer_epochs(x, y, params, epochs):
    """:func:`measure_case` for chainrule train's loop: ``Trainer.fit`` one epoch further each time."""
    import chainrule as cr
    from chainrule.train import Trainer
    model = models.chainrule_mlp(params)
    optimizer = cr.optim.SGD(model.parameters(), lr=models.LEARNING_RATE, momentum=models.MOMENTUM)
    trainer = Trainer(model, cr.nn.CrossEntropyLoss(), optimizer, batch_size=BATCH, compile=True,
                      progress=False)
    train = cr.data.TensorDataset(x, y)
    trainer.fit(train, epochs=1)
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        trainer.fit(train, epochs=trainer.epoch + 1)
        seconds.append(time.perf_counter() - start)
    return timing.summarize(seconds) | {"last_loss": trainer.history["loss"][-1]}


def tables(all_cases, results):
    rows, all_goals = [], []
    for index, case in enumerate(all_cases):
        missing = [m["data_missing"] for m in (results.get(f, index) for f in FRAMEWORKS)
                   if m is not None and "data_missing" in m]
        goals = {f: Goal(f"epoch of {DATA_NAMES[case['data']]} ({FRAMEWORK_NAMES[f]})", "PyTorch",
                         None if missing else results.ratio(f, "torch", index), limits[case["data"]])
                 for f, limits in GOALS.items() if case["data"] in limits}
        all_goals += goals.values()
        goal_cells = ([", ".join(f"{FRAMEWORK_NAMES[f]} {g.target}" for f, g in goals.items()),
                       overall_status(goals.values())] if goals else ["—", "—"])
        if missing:
            rows.append([DATA_NAMES[case["data"]], case["epochs"]] + ["data missing"] * len(FRAMEWORKS)
                        + ["n/a"] * (1 + len(GOALS)) + [missing[0].split(".")[0]] + goal_cells)
            continue
        losses = [m["last_loss"] for m in (results.get(f, index) for f in FRAMEWORKS) if m is not None]
        spread = f"{min(losses):.4f}–{max(losses):.4f}" if losses else "n/a"
        rows.append([DATA_NAMES[case["data"]], case["epochs"]]
                    + [results.time_cell(f, index) for f in FRAMEWORKS]
                    + [format_ratio(results.ratio(f, "torch", index)) for f in ("chainrule", *GOALS)]
                    + [spread] + goal_cells)
    headers = (["data set", "timed epochs"] + [FRAMEWORK_NAMES[f] for f in FRAMEWORKS]
               + [f"{FRAMEWORK_NAMES[f]} / PyTorch" for f in ("chainrule", *GOALS)]
               + ["last epoch's mean loss, lowest–highest", "goal", "status"])
    note = "Seconds per epoch. " + paragraph(__doc__, 1)
    return [Table("Training epochs end to end", note, headers, rows, all_goals)]
