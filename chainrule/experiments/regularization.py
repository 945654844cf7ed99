"""Regularisers on a network trained from 200 digits: the gap between training and test."""

import numpy as np

from chainrule import nn, optim
from chainrule.data import load_dataset
from chainrule.train import EarlyStopping, evaluate, fit

from .progress import progress
from .report import new_figure, save_figure
from .result import Result, Table

NAME = "regularization"
TITLE = "Regularisation on 200 digits"
CLAIM = ("Trained on 200 digits, an MLP memorises them (100% training accuracy, training loss near 0) and "
         "does clearly worse on the other 1597; L2 weight decay, dropout, early stopping and batch "
         "normalisation each narrow the gap between training and test loss.")

TRAIN_SIZE = 200
WEIGHT_DECAY = 1e-3
DROPOUT = 0.5
PATIENCE = 10
CONFIGS = {
    "none": {},
    f"L2 (weight decay {WEIGHT_DECAY:g})": {"weight_decay": WEIGHT_DECAY},
    f"dropout {DROPOUT:g}": {"dropout": DROPOUT},
    f"early stopping (patience {PATIENCE})": {"early_stopping": True},
    "batch normalisation": {"norm": "batch"},
}


class TestScores:
    """A training callback that scores the model on held-out data after every epoch."""

    def __init__(self, x, y):
        self.data = (x, y)
        self.loss, self.accuracy = [], []

    def on_epoch_end(self, trainer, epoch, logs):
        scores = evaluate(trainer.model, trainer.loss, self.data)
        self.loss.append(scores["loss"])
        self.accuracy.append(scores["accuracy"])


def train(config, split, width, epochs, seed):
    """Train an MLP 64-``width``-``width``-10 with Adam under one of :data:`CONFIGS`.

    Early stopping holds out the last fifth of the training digits as its validation set and restores
    the weights of the epoch with the lowest validation loss.

    Returns:
        ``(model, history, test scores per epoch)``.
    """
    options = CONFIGS[config]
    x_train, y_train, x_test, y_test = split
    model = nn.MLP([64, width, width, 10], dropout=options.get("dropout", 0.0), norm=options.get("norm"),
                   seed=seed)
    optimizer = optim.Adam(model.parameters(), lr=1e-3, weight_decay=options.get("weight_decay", 0.0))
    scores = TestScores(x_test, y_test)
    kwargs = dict(epochs=epochs, batch_size=32, seed=seed, callbacks=[scores], progress=False)
    if options.get("early_stopping"):
        cut = len(x_train) * 4 // 5
        history = fit(model, nn.CrossEntropyLoss(), optimizer, (x_train[:cut], y_train[:cut]),
                      (x_train[cut:], y_train[cut:]), early_stopping=EarlyStopping("val_loss", PATIENCE),
                      **kwargs)
    else:
        history = fit(model, nn.CrossEntropyLoss(), optimizer, (x_train, y_train), **kwargs)
    return model, history, scores


def run(out_dir, quick=False, seed=0):
    """Run the experiment; see :data:`CLAIM`.

    Args:
        out_dir: where the figures go.
        quick: width 128 for 40 epochs instead of width 256 for 150.
        seed: the seed of the choice of the 200 digits, the weights, dropout and the mini-batches.

    Returns:
        A :class:`~chainrule.experiments.result.Result`.
    """
    width, epochs = (128, 100) if quick else (256, 150)
    digits = load_dataset("digits")
    x = np.concatenate([digits.x_train, digits.x_test])
    y = np.concatenate([digits.y_train, digits.y_test])
    order = np.random.default_rng(seed).permutation(len(x))
    chosen, rest = order[:TRAIN_SIZE], order[TRAIN_SIZE:]
    split = (x[chosen], y[chosen], x[rest], y[rest])

    rows, curves, histories, scores = [], {}, {}, {}
    for config in progress(CONFIGS, "regularisers"):
        model, histories[config], curves[config] = train(config, split, width, epochs, seed)
        fitted = evaluate(model, nn.CrossEntropyLoss(), (split[0], split[1]))
        tested = evaluate(model, nn.CrossEntropyLoss(), (split[2], split[3]))
        scores[config] = {"epochs": len(histories[config]["loss"]),
                          "train_accuracy": fitted["accuracy"], "test_accuracy": tested["accuracy"],
                          "accuracy_gap": fitted["accuracy"] - tested["accuracy"],
                          "train_loss": fitted["loss"], "test_loss": tested["loss"],
                          "loss_gap": tested["loss"] - fitted["loss"]}
        rows.append([config, *scores[config].values()])

    best = max(scores, key=lambda config: scores[config]["test_accuracy"])
    tables = [Table(f"MLP 64-{width}-{width}-10, Adam (lr 1e-3, batch 32), {TRAIN_SIZE} training digits, "
                    f"{len(rest)} test digits; scores of the final (for early stopping: the restored) model",
                    ["regulariser", "epochs", "train accuracy", "test accuracy", "accuracy gap",
                     "train loss", "test loss", "loss gap"], rows)]
    none = scores["none"]
    narrower = [config for config in CONFIGS if scores[config]["loss_gap"] < none["loss_gap"]]
    accuracy_shift = max(abs(scores[config]["accuracy_gap"] - none["accuracy_gap"]) for config in CONFIGS)
    notes = [f"Without regularisation the training loss falls to {none['train_loss']:.1e} while the test "
             f"loss stays at {none['test_loss']:.2f}: the network has memorised its {TRAIN_SIZE} digits. "
             f"{len(narrower)} of the {len(CONFIGS) - 1} regularisers narrow the gap between training and "
             f"test loss; the accuracy gap moves by at most {100 * accuracy_shift:.1f} points, since most "
             f"of it comes from having only {TRAIN_SIZE} examples. The best test accuracy here is {best}'s, "
             f"{scores[best]['test_accuracy']:.1%}."]

    figures = [_figure(out_dir, curves, histories)]

    metrics = {"scores": scores, "best": best}
    with_each = "; ".join(f"{scores[c]['loss_gap']:.2f} with {c}" for c in CONFIGS if c != "none")
    headline = (f"Without regularisation: {none['train_accuracy']:.0%} on the {TRAIN_SIZE} training digits, "
                f"{none['test_accuracy']:.1%} on the rest; the gap between test and training loss is "
                f"{none['loss_gap']:.2f} without regularisation; {with_each}.")
    return Result(headline, tables, figures, metrics, notes)


def _figure(out_dir, curves, histories):
    """Test accuracy, and test against training loss, of every configuration."""
    fig, (ax_acc, ax_loss) = new_figure(2, width=5.0)
    for k, (config, curve) in enumerate(curves.items()):
        epochs_run = np.arange(1, len(curve.accuracy) + 1)
        ax_acc.plot(epochs_run, curve.accuracy, color=f"C{k}", label=config)
        ax_loss.semilogy(epochs_run, curve.loss, color=f"C{k}")
        ax_loss.semilogy(epochs_run, histories[config]["loss"], color=f"C{k}", ls=":")
    ax_acc.set(title="test accuracy", xlabel="epoch", ylabel="accuracy", ylim=(0.8, 1.0))
    ax_acc.legend(fontsize=7)
    ax_loss.set(title="test loss (solid), training loss (dotted)", xlabel="epoch", ylabel="cross-entropy")
    fig.tight_layout()
    return save_figure(fig, out_dir, "regularization")
