"""Rosenblatt's perceptron rule against a two-layer MLP trained by backpropagation, on AND, OR and XOR."""

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import load_dataset
from chainrule.train import predict

from .progress import progress
from .report import new_figure, save_figure
from .result import Result, Table

NAME = "perceptron"
TITLE = "The perceptron learns AND and OR, fails on XOR; backpropagation solves it"
CLAIM = ("Rosenblatt's perceptron rule (1957) converges on the linearly separable AND and OR but never "
         "gets more than 3 of XOR's 4 points right; a two-layer MLP trained by backpropagation gets all 4.")

CORNERS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
GATES = {"AND": np.array([0, 0, 0, 1]), "OR": np.array([0, 1, 1, 1]), "XOR": np.array([0, 1, 1, 0])}


class Perceptron:
    """Rosenblatt's perceptron: ŷ = step(w·x + b), trained by w ← w + η(y − ŷ)x, b ← b + η(y − ŷ).

    The rule changes the weights only on mistakes; it reaches zero mistakes in finitely many updates
    exactly when the classes are linearly separable (Novikoff, 1962).

    Args:
        features: the input dimension.
        lr: the step η.

    Example:
        >>> p = Perceptron(2)
        >>> p.fit(CORNERS, GATES["AND"], epochs=20)[-1], p.predict(CORNERS).tolist()
        (0, [0, 0, 0, 1])
    """

    def __init__(self, features, lr=1.0):
        self.w = np.zeros(features)
        self.b = 0.0
        self.lr = lr

    def predict(self, x):
        return (x @ self.w + self.b > 0).astype(int)

    def fit(self, x, y, epochs, rng=None):
        """Sweep the data ``epochs`` times (in a fresh random order when ``rng`` is given), stopping
        after the first sweep without a mistake.

        Returns:
            The number of mistakes in each sweep.
        """
        mistakes = []
        for _ in range(epochs):
            order = rng.permutation(len(x)) if rng is not None else range(len(x))
            count = 0
            for i in order:
                error = y[i] - self.predict(x[i])
                if error:
                    self.w += self.lr * error * x[i]
                    self.b += self.lr * error
                    count += 1
            mistakes.append(count)
            if count == 0:
                break
        return mistakes


def _accuracy(predictions, labels):
    return float(np.mean(predictions == labels))


def train_mlp(x, y, hidden, steps, seed):
    """A 2-``hidden``-2 tanh MLP trained by backpropagation with Adam on the softmax cross-entropy.

    Returns:
        ``(model, loss after each step)``.
    """
    model = nn.MLP([x.shape[1], hidden, 2], activation="tanh", seed=seed)
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    inputs, losses = cr.tensor(x, dtype="float32"), []
    for _ in range(steps):
        loss = cr.softmax_cross_entropy(model(inputs), y).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model, losses


def _mlp_predict(model, x):
    return predict(model, np.asarray(x, dtype=np.float32)).argmax(axis=1)


def _draw_boundary(ax, predict, x, y, title):
    grid = np.linspace(-0.5, 1.5, 201)
    gx, gy = np.meshgrid(grid, grid)
    regions = predict(np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    ax.contourf(gx, gy, regions, levels=[-0.5, 0.5, 1.5], colors=["#cfe0f3", "#f6d5c5"])
    for label, marker, colour in ((0, "o", "tab:blue"), (1, "s", "tab:red")):
        ax.scatter(*x[y == label].T, marker=marker, s=90, c=colour, edgecolors="black", zorder=3)
    ax.set(title=title, xlim=(-0.5, 1.5), ylim=(-0.5, 1.5), xticks=[0, 1], yticks=[0, 1], aspect="equal")


def run(out_dir, quick=False, seed=0):
    """Run the experiment; see :data:`CLAIM`.

    Args:
        out_dir: where the figures go.
        quick: 20 perceptron sweeps and 300 MLP steps instead of 100 and 1000, on 400 noisy XOR points
            instead of 2000.
        seed: the seed of the sweep orders, the MLP's initialisation and the noisy XOR points.

    Returns:
        A :class:`~chainrule.experiments.result.Result`.
    """
    epochs, steps, samples = (20, 300, 400) if quick else (100, 1000, 2000)
    rng = np.random.default_rng(seed)
    perceptrons, mistakes, accuracy = {}, {}, {}
    for gate, labels in progress(GATES.items(), "perceptron rule"):
        perceptrons[gate] = Perceptron(2)
        mistakes[gate] = perceptrons[gate].fit(CORNERS, labels, epochs, rng)
        accuracy[gate] = _accuracy(perceptrons[gate].predict(CORNERS), labels)
    mlp, mlp_losses = train_mlp(CORNERS, GATES["XOR"], hidden=8, steps=steps, seed=seed)
    mlp_accuracy = _accuracy(_mlp_predict(mlp, CORNERS), GATES["XOR"])

    noisy = load_dataset("xor", seed=seed, n_samples=samples)
    noisy_perceptron = Perceptron(2)
    noisy_perceptron.fit(noisy.x_train, noisy.y_train, epochs, rng)
    noisy_mlp, _ = train_mlp(noisy.x_train, noisy.y_train, hidden=8, steps=steps, seed=seed)
    noisy_accuracy = {"perceptron": _accuracy(noisy_perceptron.predict(noisy.x_test), noisy.y_test),
                      "mlp": _accuracy(_mlp_predict(noisy_mlp, noisy.x_test), noisy.y_test)}

    metrics = {"perceptron_accuracy": accuracy,
               "perceptron_sweeps": {gate: len(m) for gate, m in mistakes.items()},
               "perceptron_converged": {gate: m[-1] == 0 for gate, m in mistakes.items()},
               "mlp_xor_accuracy": mlp_accuracy, "mlp_final_loss": mlp_losses[-1],
               "noisy_xor_accuracy": noisy_accuracy}
    tables = [
        Table(f"The perceptron rule on the four corners (at most {epochs} sweeps)",
              ["gate", "sweeps", "converged", "mistakes in the last sweep", "accuracy", "w", "b"],
              [[gate, len(mistakes[gate]), "yes" if mistakes[gate][-1] == 0 else "no", mistakes[gate][-1],
                accuracy[gate], np.array2string(perceptrons[gate].w), perceptrons[gate].b]
               for gate in GATES]),
        Table("XOR: one layer of step units against two layers trained by backpropagation",
              ["model", "4 corners", f"noisy XOR test set ({len(noisy.y_test)} points)"],
              [["perceptron rule", accuracy["XOR"], noisy_accuracy["perceptron"]],
               [f"MLP 2-8-2 tanh, Adam, {steps} steps", mlp_accuracy, noisy_accuracy["mlp"]]]),
    ]
    notes = ["No line separates XOR's classes, so any linear threshold unit gets at most 3 of the 4 corners "
             "right (Minsky and Papert, 1969). A hidden layer bends the boundary, and backpropagation "
             "finds its weights."]

    figures = [_figure(out_dir, perceptrons, accuracy, mlp, mlp_accuracy, mistakes)]

    headline = (f"The perceptron rule converges on AND in {len(mistakes['AND'])} sweeps and on OR in "
                f"{len(mistakes['OR'])}, but after {len(mistakes['XOR'])} sweeps gets "
                f"{accuracy['XOR']:.0%} of XOR; a 2-8-2 MLP trained by backpropagation gets "
                f"{mlp_accuracy:.0%} ({noisy_accuracy['mlp']:.0%} against "
                f"{noisy_accuracy['perceptron']:.0%} on noisy XOR).")
    return Result(headline, tables, figures, metrics, notes)


def _figure(out_dir, perceptrons, accuracy, mlp, mlp_accuracy, mistakes):
    """The decision boundaries of the perceptrons and the MLP, and the perceptron's mistakes per sweep."""
    fig, axes = new_figure(5, width=3.2, height=3.2)
    for ax, gate in zip(axes[:3], GATES, strict=True):
        _draw_boundary(ax, perceptrons[gate].predict, CORNERS, GATES[gate],
                       f"perceptron, {gate}: {accuracy[gate]:.0%}")
    _draw_boundary(axes[3], lambda x: _mlp_predict(mlp, x), CORNERS, GATES["XOR"],
                   f"MLP (backprop), XOR: {mlp_accuracy:.0%}")
    for gate, counts in mistakes.items():
        axes[4].plot(range(1, len(counts) + 1), counts, "o-", ms=3, label=gate)
    axes[4].set(title="perceptron mistakes per sweep", xlabel="sweep", ylabel="mistakes", ylim=(-0.2, 4.2))
    axes[4].legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out_dir, "perceptron")
