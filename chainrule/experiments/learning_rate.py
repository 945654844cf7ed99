"""The learning rate: too large diverges, too small crawls, and a decaying schedule does better."""

import numpy as np

from chainrule import nn, optim
from chainrule.data import load_dataset
from chainrule.train import DivergedError, fit

from .progress import progress
from .report import new_figure, save_figure
from .result import Result, Table

NAME = "learning-rate"
TITLE = "The learning rate"
CLAIM = ("With plain SGD on an MNIST-1D MLP, a learning rate too large diverges, one too small crawls, and "
         "a rate too large to hold constant, decayed to zero by a cosine schedule, ends lower and "
         "generalises better than any of the constant rates.")

CONFIGS = {
    "too large: 10": (10.0, False),
    "constant 1": (1.0, False),
    "constant 0.1": (0.1, False),
    "too small: 0.001": (0.001, False),
    "cosine from 1 to 0": (1.0, True),
}
BATCH = 32
CEILING = 30.0  # the top of the loss plot, where a diverged run is marked


class StepLosses:
    """A training callback that keeps the loss of every step."""

    def __init__(self):
        self.losses = []

    def on_batch_end(self, trainer, step, logs):
        self.losses.append(logs["loss"])


def train(config, data, epochs, seed):
    """Train an MLP 40-128-128-10 with SGD under one of :data:`CONFIGS`.

    Returns:
        ``(per-step losses, history or None if it diverged, the step whose loss was not finite)``.
    """
    lr, decay = CONFIGS[config]
    model = nn.MLP([40, 128, 128, 10], seed=seed)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs) if decay else None
    steps = StepLosses()
    try:
        with np.errstate(all="ignore"):
            history = fit(model, nn.CrossEntropyLoss(), optimizer, (data.x_train, data.y_train),
                          (data.x_test, data.y_test), epochs=epochs, batch_size=BATCH, scheduler=schedule,
                          seed=seed, callbacks=[steps], progress=False)
    except DivergedError:
        return steps.losses, None, len(steps.losses) + 1
    return steps.losses, history, None


def _smooth(values, width):
    """The running mean over ``width`` values (shorter at the start)."""
    sums = np.cumsum(np.insert(np.asarray(values, dtype=float), 0, 0.0))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - width, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)


def run(out_dir, quick=False, seed=0):
    """Run the experiment; see :data:`CLAIM`.

    Args:
        out_dir: where the figures go.
        quick: 10 epochs instead of 30.
        seed: the seed of the weights and of the mini-batches.

    Returns:
        A :class:`~chainrule.experiments.result.Result`.
    """
    epochs = 10 if quick else 30
    data = load_dataset("mnist1d")
    steps_per_epoch = -(-len(data.x_train) // BATCH)
    runs = {config: train(config, data, epochs, seed) for config in progress(CONFIGS, "learning rates")}

    def final(config, key):
        history = runs[config][1]
        return history[key][-1] if history is not None else float("nan")

    metrics = {
        "initial_loss": {config: losses[0] for config, (losses, _, _) in runs.items()},
        "diverged_at": {config: at for config, (_, _, at) in runs.items()},
        "final_loss": {config: final(config, "loss") for config in CONFIGS},
        "test_accuracy": {config: final(config, "val_accuracy") for config in CONFIGS},
    }
    rows = []
    for config, (losses, history, at) in runs.items():
        lr, decay = CONFIGS[config]
        outcome = f"diverged: loss not finite at step {at}" if at else (
            "crawls" if metrics["final_loss"][config] > 0.8 * losses[0] else "trains")
        rows.append([config, "cosine" if decay else "constant", lr, losses[0], metrics["final_loss"][config],
                     metrics["test_accuracy"][config], outcome])
    tables = [Table(f"SGD on MNIST-1D (MLP 40-128-128-10, batch {BATCH}, {epochs} epochs)",
                    ["run", "schedule", "initial lr", "first loss", "final training loss", "test accuracy",
                     "outcome"], rows)]
    notes = ["A step larger than about 2 / (the curvature) overshoots further each time, and the loss blows "
             "up; a tiny step is stable but makes no progress. A large rate explores quickly but keeps "
             "bouncing around the minimum at the scale of its own noise; decaying it lets the iterates "
             "settle, which is why schedules that start high and end low usually win."]

    figures = [_figure(out_dir, runs, steps_per_epoch)]

    loss, accuracy = metrics["final_loss"], metrics["test_accuracy"]
    constant_best = max(("constant 1", "constant 0.1"), key=accuracy.get)
    headline = (f"lr 10 diverges (loss not finite at step {metrics['diverged_at']['too large: 10']}), "
                f"lr 0.001 crawls from {metrics['initial_loss']['too small: 0.001']:.2f} to "
                f"{loss['too small: 0.001']:.2f}; cosine decay from 1 reaches training loss "
                f"{loss['cosine from 1 to 0']:.3f} and {accuracy['cosine from 1 to 0']:.1%} test accuracy, "
                f"against {loss[constant_best]:.3f} and {accuracy[constant_best]:.1%} for the best constant "
                f"rate ({constant_best}).")
    return Result(headline, tables, figures, metrics, notes)


def _figure(out_dir, runs, steps_per_epoch):
    """Training losses (divergences marked), the learning rate of each epoch, and test accuracy."""
    fig, (ax_loss, ax_lr, ax_acc) = new_figure(3, width=4.4)
    for k, (config, (losses, history, at)) in enumerate(runs.items()):
        finite = np.asarray(losses, dtype=float)
        epochs_axis = np.arange(1, len(finite) + 1) / steps_per_epoch
        ax_loss.semilogy(epochs_axis, _smooth(finite, 20), color=f"C{k}", lw=1, label=config)
        if at:
            ax_loss.plot(epochs_axis[-1], CEILING, "x", color=f"C{k}", ms=9, mew=2, clip_on=False)
            ax_loss.annotate(f"loss not finite at step {at}", (epochs_axis[-1], CEILING), xytext=(8, -12),
                             textcoords="offset points", fontsize=7, color=f"C{k}")
        if history is not None:
            ax_lr.semilogy(history["epoch"], history["lr"], "o-", ms=3, color=f"C{k}", label=config)
        else:
            ax_lr.semilogy([1], [CONFIGS[config][0]], "x", ms=7, color=f"C{k}", label=config)
        if history is not None:
            ax_acc.plot(history["epoch"], history["val_accuracy"], "o-", ms=3, color=f"C{k}", label=config)
    ax_loss.set(title="training loss (running mean of 20 steps)", xlabel="epoch", ylabel="cross-entropy",
                ylim=(None, CEILING))
    ax_loss.legend(fontsize=7)
    ax_lr.set(title="learning rate in each epoch", xlabel="epoch", ylabel="lr")
    ax_acc.set(title="test accuracy", xlabel="epoch", ylabel="accuracy")
    fig.tight_layout()
    return save_figure(fig, out_dir, "learning_rate")
