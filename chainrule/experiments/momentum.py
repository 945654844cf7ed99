"""Plain SGD, momentum, Nesterov and Adam on an ill-conditioned quadratic and on an MNIST-1D MLP."""

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import load_dataset
from chainrule.train import fit

from .progress import progress
from .report import new_figure, save_figure
from .result import Result, Table

NAME = "momentum"
TITLE = "Momentum: SGD, heavy ball, Nesterov and Adam"
CLAIM = ("On an ill-conditioned quadratic, momentum (τ = 0.9) reaches a given loss in fewer steps than plain "
         "SGD, each with its best learning rate; Nesterov and Adam too; on an MNIST-1D MLP momentum "
         "lowers the training loss faster at the same learning rate.")

CONDITION = 100.0
ANGLE = np.pi / 6
START_EIGEN = np.array([-4.0, 0.4])  # far along the flat direction, a little off the valley floor
THRESHOLD = 1e-6  # the loss to reach, relative to the loss at the start
METHODS = {
    "SGD": lambda params, lr: optim.SGD(params, lr=lr),
    "momentum": lambda params, lr: optim.SGD(params, lr=lr, momentum=0.9),
    "Nesterov": lambda params, lr: optim.SGD(params, lr=lr, momentum=0.9, nesterov=True),
    "Adam": lambda params, lr: optim.Adam(params, lr=lr),
}
MLP_RATES = {"SGD": 0.05, "momentum": 0.05, "Nesterov": 0.05, "Adam": 1e-3}


def quadratic():
    """The Hessian A = R diag(1, κ) Rᵀ, rotated by 30° so that no coordinate axis is an eigenvector,
    and the starting point ``R @ START_EIGEN``."""
    rotation = _rotation()
    return rotation @ np.diag([1.0, CONDITION]) @ rotation.T, rotation @ START_EIGEN


def _rotation():
    return np.array([[np.cos(ANGLE), -np.sin(ANGLE)], [np.sin(ANGLE), np.cos(ANGLE)]])


def descend(method, lr, hessian, start, steps):
    """Minimise ½ wᵀAw from ``start`` with one of :data:`METHODS`.

    Returns:
        ``(losses, path)``: the loss before each step and the points visited, stopping early once the
        loss is no longer finite or has grown a millionfold (divergence).
    """
    w = cr.tensor(start.copy(), requires_grad=True)
    optimizer = METHODS[method]([w], lr)
    matrix = cr.tensor(hessian)
    losses, path = [], [w.data.copy()]
    for _ in range(steps):
        loss = 0.5 * (w @ (matrix @ w))
        losses.append(loss.item())
        if not np.isfinite(losses[-1]) or losses[-1] > 1e6 * losses[0]:
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        path.append(w.data.copy())
    return np.array(losses), np.array(path)


def steps_to_threshold(losses):
    """The first step whose loss is below :data:`THRESHOLD` times the first loss, or ``None``."""
    below = np.flatnonzero(losses <= THRESHOLD * losses[0])
    return int(below[0]) if below.size else None


def best_rate(method, hessian, start, rates, steps):
    """The learning rate of the grid that reaches the threshold first (the lowest final loss breaks
    ties and ranks runs that never reach it), with its run."""
    runs = []
    with np.errstate(all="ignore"):
        for lr in rates:
            losses, path = descend(method, lr, hessian, start, steps)
            hit = steps_to_threshold(losses)
            final = losses[-1] if len(losses) == steps and np.isfinite(losses[-1]) else np.inf
            runs.append(((hit if hit is not None else steps, final), lr, losses, path))
    _, lr, losses, path = min(runs, key=lambda run: run[0])
    return lr, losses, path


def train_mnist1d(method, epochs, subset, seed):
    """An MNIST-1D MLP 40-128-128-10 trained with ``method`` at :data:`MLP_RATES`; the history."""
    data = load_dataset("mnist1d")
    model = nn.MLP([40, 128, 128, 10], seed=seed)
    optimizer = METHODS[method](model.parameters(), MLP_RATES[method])
    return fit(model, nn.CrossEntropyLoss(), optimizer, (data.x_train[:subset], data.y_train[:subset]),
               (data.x_test, data.y_test), epochs=epochs, batch_size=100, seed=seed, progress=False)


def run(out_dir, quick=False, seed=0):
    """Run the experiment; see :data:`CLAIM`.

    Args:
        out_dir: where the figures go.
        quick: a grid of 8 learning rates and 400 steps instead of 29 and 600; the MLP for 4 epochs on
            1000 examples instead of 40 epochs on all 4000.
        seed: the seed of the MLP's initialisation and of its mini-batches.

    Returns:
        A :class:`~chainrule.experiments.result.Result`.
    """
    hessian, start = quadratic()
    rates = np.geomspace(1e-3, 3.0, 8 if quick else 29)
    steps = 400 if quick else 600
    epochs, subset = (4, 1000) if quick else (40, 4000)
    runs = {method: best_rate(method, hessian, start, rates, steps)
            for method in progress(METHODS, "quadratic")}
    hits = {method: steps_to_threshold(losses) for method, (_, losses, _) in runs.items()}
    histories = {method: train_mnist1d(method, epochs, subset, seed)
                 for method in progress(METHODS, "MNIST-1D")}

    metrics = {
        "steps_to_threshold": hits,
        "best_lr": {method: float(lr) for method, (lr, _, _) in runs.items()},
        "mlp_final_loss": {method: history["loss"][-1] for method, history in histories.items()},
        "mlp_test_accuracy": {method: history["val_accuracy"][-1] for method, history in histories.items()},
    }
    tables = [
        Table(f"Quadratic with condition number {CONDITION:g}: steps until the loss falls below "
              f"{THRESHOLD:g} of its start, each method at its best learning rate of {len(rates)} "
              f"(log-spaced from 1e-3 to 3)",
              ["method", "learning rate", "steps to threshold", f"loss after {steps} steps"],
              [[method, lr, hits[method] if hits[method] is not None else f"> {steps}", losses[-1]]
               for method, (lr, losses, _) in runs.items()]),
        Table(f"MNIST-1D, MLP 40-128-128-10, {subset} training examples, {epochs} epochs, batch 100",
              ["method", "learning rate", "final training loss", "test accuracy"],
              [[method, MLP_RATES[method], metrics["mlp_final_loss"][method],
                metrics["mlp_test_accuracy"][method]] for method in METHODS]),
    ]
    notes = ["Plain SGD's learning rate is capped by the steepest direction (lr < 2/κ here), so it crawls "
             "along the flattest; momentum accumulates the consistent component of the gradient and "
             "damps the oscillating one, so the flat direction speeds up at the same stability limit."]

    figures = [_figure(out_dir, runs, histories)]

    def reached(method):
        return f"{hits[method]} steps" if hits[method] is not None else f"more than {steps} steps"

    headline = (f"To cut the quadratic's loss {1 / THRESHOLD:,.0f}-fold: SGD {reached('SGD')}, momentum "
                f"{reached('momentum')}, Nesterov {reached('Nesterov')}, Adam {reached('Adam')}; on MNIST-1D "
                f"after {epochs} epochs the training loss is {metrics['mlp_final_loss']['SGD']:.2f} with SGD "
                f"and {metrics['mlp_final_loss']['momentum']:.2f} with momentum.")
    return Result(headline, tables, figures, metrics, notes)


def _figure(out_dir, runs, histories):
    """The quadratic's loss curves, the first steps in its eigenbasis, and the MLP's training loss."""
    fig, (ax_loss, ax_path, ax_mlp) = new_figure(3, width=4.3)
    for method, (lr, losses, _) in runs.items():
        ax_loss.semilogy(losses / losses[0], label=f"{method} (lr {lr:.3g})")
    ax_loss.axhline(THRESHOLD, color="gray", lw=0.8, ls=":")
    ax_loss.set(title=f"quadratic, κ = {CONDITION:g}", xlabel="step", ylabel="loss / initial loss",
                ylim=(1e-12, 10))
    ax_loss.legend(fontsize=7)
    shown = 60
    rotation = _rotation()
    gu, gv = np.meshgrid(np.linspace(-4.3, 0.6, 200), np.linspace(-0.6, 0.6, 200))
    ax_path.contour(gu, gv, 0.5 * (gu ** 2 + CONDITION * gv ** 2), levels=np.geomspace(0.01, 20, 12),
                    colors="lightgray", linewidths=0.7)
    for (method, (_, _, path)), marker in zip(runs.items(), "os^d", strict=True):
        ax_path.plot(*(path[:shown] @ rotation).T, marker=marker, ms=2.5, lw=0.8, label=method)
    ax_path.plot(0, 0, "k*", ms=10)
    ax_path.set(title=f"the first {shown} steps, in the eigenbasis", xlabel="flat direction (eigenvalue 1)",
                ylabel=f"steep direction ({CONDITION:g})", xlim=(-4.3, 0.6), ylim=(-0.6, 0.6))
    ax_path.legend(fontsize=7)
    for method, history in histories.items():
        ax_mlp.semilogy(history["epoch"], history["loss"], "o-", ms=3, label=method)
    ax_mlp.set(title="MNIST-1D MLP", xlabel="epoch", ylabel="training loss")
    ax_mlp.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out_dir, "momentum")
