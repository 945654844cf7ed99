"""Per-layer gradient norms of 20-layer MLPs, at initialisation and during training."""

import functools

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import load_dataset
from chainrule.train import fit

from .progress import progress
from .report import new_figure, save_figure
from .result import Result, Table

NAME = "vanishing"
TITLE = "Vanishing gradients in deep networks"
CLAIM = ("At initialisation the first-layer gradient of a 20-layer sigmoid MLP is orders of magnitude "
         "smaller than the last layer's, and a naive N(0, 0.01²) initialisation shrinks every ReLU "
         "layer's gradient to nothing; He initialisation keeps them within a factor of 10, tanh with "
         "Xavier and a residual MLP keep them flowing, and those are the networks that learn.")

DEPTH = 20
WIDTH = 64
CONFIGS = {
    "sigmoid, Xavier": dict(activation="sigmoid", init="xavier_normal"),
    "tanh, Xavier": dict(activation="tanh", init="xavier_normal"),
    "ReLU, naive N(0, 0.01²)": dict(activation="relu", init=functools.partial(nn.init.normal_, std=0.01)),
    "ReLU, He": dict(activation="relu", init="kaiming_normal"),
    "residual ReLU": dict(activation="relu", residual=True),
}


def deep_mlp(config, seed):
    """A :data:`DEPTH`-layer MLP (``DEPTH`` weight matrices, hidden width :data:`WIDTH`) on the 64 digit
    pixels, 10 classes, set up as ``CONFIGS[config]``."""
    return nn.MLP([64] + [WIDTH] * (DEPTH - 1) + [10], seed=seed, **CONFIGS[config])


def weight_gradient_norms(model):
    """The Frobenius norm of each weight matrix's gradient, first layer to last, computed in float64
    (the naive initialisation's gradients are so small that their squares underflow float32)."""
    return [float(np.linalg.norm(p.grad.data.astype(np.float64)))
            for _, p in model.named_parameters() if p.ndim == 2]


class GradientRecorder:
    """A training callback that keeps the per-layer weight-gradient norms every ``every`` steps."""

    def __init__(self, every):
        self.every = every
        self.steps, self.norms = [], []

    def on_batch_end(self, trainer, step, logs):
        if step % self.every == 0:
            self.steps.append(step)
            self.norms.append(weight_gradient_norms(trainer.model))


def norms_at_initialisation(model, x, y):
    """Per-layer gradient norms of the mean cross-entropy on the batch ``(x, y)``."""
    loss = cr.softmax_cross_entropy(model(cr.tensor(x)), y).mean()
    loss.backward()
    norms = weight_gradient_norms(model)
    model.zero_grad()
    return norms


def run(out_dir, quick=False, seed=0):
    """Run the experiment; see :data:`CLAIM`.

    Args:
        out_dir: where the figures go.
        quick: 4 epochs instead of 15.
        seed: the seed of the weights and of the mini-batches.

    Returns:
        A :class:`~chainrule.experiments.result.Result`.
    """
    epochs = 4 if quick else 15
    data = load_dataset("digits")
    at_init, recorders, histories, models = {}, {}, {}, {}
    for config in progress(CONFIGS, "20-layer MLPs"):
        model = models[config] = deep_mlp(config, seed)
        at_init[config] = norms_at_initialisation(model, data.x_train[:256], data.y_train[:256])
        recorders[config] = GradientRecorder(every=4)
        optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        histories[config] = fit(model, nn.CrossEntropyLoss(), optimizer, (data.x_train, data.y_train),
                                (data.x_test, data.y_test), epochs=epochs, batch_size=64, seed=seed,
                                callbacks=[recorders[config]], progress=False)

    trained = {config: ratio(recorder.norms[-1]) for config, recorder in recorders.items()}
    metrics = {
        "init_norms": at_init,
        "init_ratio": {config: ratio(norms) for config, norms in at_init.items()},
        "trained_ratio": trained,
        "first_epoch_loss": {config: history["loss"][0] for config, history in histories.items()},
        "final_loss": {config: history["loss"][-1] for config, history in histories.items()},
        "test_accuracy": {config: history["val_accuracy"][-1] for config, history in histories.items()},
        # Recorded steps whose first-layer gradient is exactly 0, and the first layer's ReLU units that
        # still fire for some training example at the end: the residual net's ratio of 0 is dead units.
        "zero_first_layer_steps": {config: [step for step, norms in zip(recorder.steps, recorder.norms)
                                            if norms[0] == 0] for config, recorder in recorders.items()},
        "first_layer_alive": {config: first_layer_alive(models[config], data.x_train) for config in CONFIGS},
    }
    tables = [
        Table(f"At initialisation: weight-gradient norms of {DEPTH}-layer MLPs (width {WIDTH}) on 256 digits",
              ["network", "first layer", "last layer", "first / last", "smallest layer", "largest layer"],
              [[config, norms[0], norms[-1], metrics["init_ratio"][config], min(norms), max(norms)]
               for config, norms in at_init.items()]),
        Table(f"After {epochs} epochs of SGD with momentum 0.9 (lr 0.01, batch 64)",
              ["network", "training loss", "test accuracy", "first / last gradient norm"],
              [[config, metrics["final_loss"][config], metrics["test_accuracy"][config], trained[config]]
               for config in CONFIGS]),
    ]
    notes = ["Backpropagation multiplies the error by each layer's Jacobian, W diag(f′(z)). The sigmoid's "
             "slope is at most 1/4, so every layer shrinks the error about fourfold; weights of std 0.01 "
             "shrink both the signal and the error at every layer; He's std √(2/fan_in) makes each ReLU "
             "layer preserve their size, and a residual connection adds an identity path the error "
             "flows through untouched. A loss stuck at ln 10 ≈ 2.30 is a network that learned nothing.",
             "The residual ReLU net's first/last ratio falls to exactly 0 at some steps (drawn as crosses on "
             "the bottom edge, 1e-30): that is the network, not a bug. Its 19 residual blocks add up, so its "
             f"first losses are large (first epoch's mean {metrics['first_epoch_loss']['residual ReLU']:.1f}, "
             "against ln 10 ≈ 2.30 for a guess) and the first SGD steps are big; they leave most "
             "first-layer ReLU units dead (negative for every training example; "
             f"{metrics['first_layer_alive']['residual ReLU']} of {WIDTH} still fire after training), and "
             "a batch of 64 that fires none of the living ones gives the first layer no gradient at all "
             f"(steps {_listed(metrics['zero_first_layer_steps']['residual ReLU'])}). The same network "
             "from the same weights on the same batches in PyTorch loses the same (within 1e-13 over 200 "
             "steps) and has a zero first-layer gradient at the same steps "
             "(tests/experiments/test_vanishing.py)."]

    figures = [_figure(out_dir, at_init, histories, recorders)]

    headline = (f"At initialisation the sigmoid MLP's first-layer gradient is "
                f"{metrics['init_ratio']['sigmoid, Xavier']:.0e} of its last layer's and the naive ReLU's "
                f"are all below {max(at_init['ReLU, naive N(0, 0.01²)']):.0e}, while He's ratio is "
                f"{metrics['init_ratio']['ReLU, He']:.2f}; after {epochs} epochs sigmoid's loss is "
                f"{metrics['final_loss']['sigmoid, Xavier']:.2f} against "
                f"{metrics['final_loss']['ReLU, He']:.2f} for He.")
    return Result(headline, tables, figures, metrics, notes)


def first_layer_alive(model, x):
    """How many first-layer ReLU units are positive for at least one row of ``x``."""
    first = next(m for m in model.modules() if isinstance(m, nn.Linear))
    return int(((x @ first.weight.data.T + first.bias.data) > 0).any(axis=0).sum())


def _listed(steps, most=8):
    shown = ", ".join(map(str, steps[:most]))
    return (shown + ", ..." if len(steps) > most else shown) or "none in this run"


def ratio(norms):
    """The first layer's gradient norm over the last layer's (infinite when the last one is 0)."""
    return norms[0] / norms[-1] if norms[-1] > 0 else float("inf")


def _figure(out_dir, at_init, histories, recorders):
    """Gradient norms per layer at initialisation, training losses, and the first-to-last ratio during
    training."""
    fig, (ax_init, ax_loss, ax_ratio) = new_figure(3, width=4.4)
    layers = np.arange(1, DEPTH + 1)
    for config, norms in at_init.items():
        ax_init.semilogy(layers, np.maximum(norms, 1e-30), "o-", ms=3, label=config)
    ax_init.set(title="at initialisation", xlabel="layer", ylabel="‖∂L/∂W‖", xticks=[1, 5, 10, 15, 20])
    ax_init.legend(fontsize=7)
    for config, history in histories.items():
        ax_loss.semilogy(history["epoch"], history["loss"], "o-", ms=3, label=config)
    ax_loss.axhline(np.log(10), color="gray", lw=0.8, ls=":")
    ax_loss.set(title="training", xlabel="epoch", ylabel="training loss")
    for config, recorder in recorders.items():
        ratios = np.array([ratio(norms) for norms in recorder.norms])
        zero = ratios == 0  # no first-layer gradient at all: a cross on the bottom edge, not a line to 1e-30
        line, = ax_ratio.semilogy(recorder.steps, np.where(zero, np.nan, ratios), lw=1, label=config)
        if zero.any():
            ax_ratio.plot(np.array(recorder.steps)[zero], np.full(zero.sum(), 1e-30), "x", ms=4,
                          color=line.get_color(), clip_on=False)
    ax_ratio.axhspan(0.1, 10, color="green", alpha=0.08)
    ax_ratio.set(title="during training (×: exactly 0)", xlabel="step", ylabel="‖∂L/∂W₁‖ / ‖∂L/∂W₂₀‖")
    fig.tight_layout()
    return save_figure(fig, out_dir, "vanishing")
