"""Ten seeds, one architecture: how much the outcome of training depends on the initialisation."""

import numpy as np

from chainrule import nn, optim
from chainrule.data import load_dataset
from chainrule.train import evaluate, fit

from .progress import progress
from .report import new_figure, save_figure
from .result import Result, Table

NAME = "seeds"
TITLE = "Ten seeds: local minima in small and wide networks"
CLAIM = ("Trained from ten seeds, a small MLP on MNIST-1D ends in minima of clearly different quality, while "
         "a wide one ends lower every time and with a narrower spread of test accuracy: in wide networks "
         "the minima gradient descent finds are nearly equally good.")

SEEDS = 10
NETWORKS = {"small 40-8-8-10": [40, 8, 8, 10], "wide 40-256-256-10": [40, 256, 256, 10]}


def train(sizes, data, subset, epochs, seed):
    """Train one MLP with Adam (lr 3e-3, batch 64); its history, final training loss and test accuracy."""
    model = nn.MLP(sizes, seed=seed)
    train_set = (data.x_train[:subset], data.y_train[:subset])
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=3e-3), train_set,
                  (data.x_test, data.y_test), epochs=epochs, batch_size=64, seed=seed, progress=False)
    return history, evaluate(model, nn.CrossEntropyLoss(), train_set)["loss"], history["val_accuracy"][-1]


def _spread(values):
    values = np.asarray(values)
    return {"mean": float(values.mean()), "std": float(values.std()), "min": float(values.min()),
            "max": float(values.max()), "range": float(values.max() - values.min())}


def run(out_dir, quick=False, seed=0):
    """Run the experiment; see :data:`CLAIM`.

    Args:
        out_dir: where the figures go.
        quick: 1000 training examples instead of all 4000.
        seed: the first of the ten seeds ``seed, seed + 1, ..., seed + 9``.

    Returns:
        A :class:`~chainrule.experiments.result.Result`.
    """
    epochs, subset = (20, 1000) if quick else (20, 4000)
    data = load_dataset("mnist1d")
    seeds = list(range(seed, seed + SEEDS))
    runs = {name: [] for name in NETWORKS}
    for name, s in progress([(name, s) for name in NETWORKS for s in seeds], "seeds"):
        runs[name].append(train(NETWORKS[name], data, subset, epochs, s))

    losses = {name: [loss for _, loss, _ in results] for name, results in runs.items()}
    accuracies = {name: [accuracy for _, _, accuracy in results] for name, results in runs.items()}
    metrics = {"loss": {name: _spread(v) for name, v in losses.items()},
               "accuracy": {name: _spread(v) for name, v in accuracies.items()},
               "losses": losses, "accuracies": accuracies}
    small, wide = NETWORKS
    statistics = ("mean", "std", "min", "max")
    tables = [
        Table(f"Final training loss and test accuracy over seeds {seeds[0]}..{seeds[-1]} (MNIST-1D, {subset} "
              f"training examples, {epochs} epochs)",
              ["network", *(f"loss {k}" for k in statistics), *(f"accuracy {k}" for k in statistics)],
              [[name, *(metrics["loss"][name][k] for k in statistics),
                *(metrics["accuracy"][name][k] for k in statistics)] for name in NETWORKS]),
        Table("Every run",
              ["seed", *(f"{name}: loss" for name in NETWORKS), *(f"{name}: accuracy" for name in NETWORKS)],
              [[s, *(losses[name][i] for name in NETWORKS), *(accuracies[name][i] for name in NETWORKS)]
               for i, s in enumerate(seeds)]),
    ]
    notes = ["The old worry about backpropagation was that gradient descent gets stuck in poor local minima. "
             f"Here the seed alone moves the small network's final training loss by "
             f"{metrics['loss'][small]['range']:.3f} and its test accuracy by "
             f"{100 * metrics['accuracy'][small]['range']:.1f} points, the wide network's by "
             f"{metrics['loss'][wide]['range']:.3f} and {100 * metrics['accuracy'][wide]['range']:.1f} "
             "points. "
             "In high dimensions most critical points are saddles, and the minima that descent reaches in a "
             "wide network are of similar quality (Dauphin et al., 2014; Choromanska et al., 2015)."]

    figures = [_figure(out_dir, losses, accuracies, runs)]

    loss, accuracy = metrics["loss"], metrics["accuracy"]
    headline = (f"Over {SEEDS} seeds the small net's test accuracy spans {accuracy[small]['min']:.1%}–"
                f"{accuracy[small]['max']:.1%} (training loss {loss[small]['min']:.2f}–"
                f"{loss[small]['max']:.2f}); the wide net's spans {accuracy[wide]['min']:.1%}–"
                f"{accuracy[wide]['max']:.1%} (loss {loss[wide]['min']:.3f}–{loss[wide]['max']:.3f}).")
    return Result(headline, tables, figures, metrics, notes)


def _figure(out_dir, losses, accuracies, runs):
    """Final losses and accuracies of every seed, and every seed's training curve."""
    fig, (ax_loss, ax_acc, ax_curves) = new_figure(3, width=4.2)
    for k, name in enumerate(NETWORKS):
        jitter = np.random.default_rng(k).uniform(-0.08, 0.08, SEEDS)
        ax_loss.plot(k + jitter, losses[name], "o", color=f"C{k}", alpha=0.8)
        ax_acc.plot(k + jitter, accuracies[name], "o", color=f"C{k}", alpha=0.8)
        for history, _, _ in runs[name]:
            ax_curves.semilogy(history["epoch"], history["loss"], color=f"C{k}", lw=0.8, alpha=0.7)
        ax_curves.plot([], [], color=f"C{k}", label=name)
    for ax, title in ((ax_loss, "final training loss"), (ax_acc, "test accuracy")):
        ax.set(title=f"{title}, {SEEDS} seeds", xticks=range(len(NETWORKS)), xticklabels=list(NETWORKS),
               xlim=(-0.5, len(NETWORKS) - 0.5))
    ax_curves.set(title="training loss of every seed", xlabel="epoch", ylabel="cross-entropy")
    ax_curves.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out_dir, "seeds")
