"""Why convolution wins where it does: an MLP and a CNN of similar size on MNIST-1D, with and without
the positions shuffled by one fixed permutation (Greydanus, 2020, "Scaling down deep learning")."""

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.data import load_dataset
from chainrule.nn.cnn import CNN1d, parameter_count

from .progress import progress
from .report import new_figure, save_figure
from .result import Result, Table

NAME = "convolution"
TITLE = "Convolution: locality is the prior that pays"
CLAIM = ("On MNIST-1D the paper's three-layer CNN beats an MLP with about as many parameters; shuffle the "
         "40 positions by one fixed permutation and the CNN's advantage vanishes, while the MLP, blind to "
         "the order of its inputs, learns as before. The first layer's filters and one signal's feature "
         "maps are drawn.")

CNN_CHANNELS = (25, 25, 25)
MLP_SIZES = [40, 50, 50, 10]
STEPS, QUICK_STEPS = 6000, 250
BATCH, LR = 100, 1e-2


def flops(model, input_shape):
    """Multiply-adds times two of one example's forward pass through the convolutions and linear
    layers of ``model`` (activations and pooling are not counted)."""
    total, shape = 0, tuple(input_shape)
    for module in model.modules():
        if isinstance(module, nn.Conv1d):
            length = (shape[-1] + 2 * module.padding[0] - module.kernel_size[0]) // module.stride[0] + 1
            total += 2 * module.in_channels * module.kernel_size[0] * module.out_channels * length
            shape = (module.out_channels, length)
        elif isinstance(module, nn.Linear):
            total += 2 * module.in_features * module.out_features
    return total


def build(kind, seed, permutation=None):
    """The CNN or the MLP; the MLP of a shuffled run gets the same first-layer weights with its columns
    permuted, so that it computes exactly the function of the unshuffled one."""
    if kind == "CNN":
        return CNN1d((1, 40), CNN_CHANNELS, 10, seed=seed)
    model = nn.MLP(MLP_SIZES, seed=seed)
    if permutation is not None:
        model[0].weight.data[...] = model[0].weight.data[:, permutation]
    return model


def train(model, kind, x_train, y_train, steps, seed):
    """Adam at ``LR`` on random batches of ``BATCH`` (the paper's recipe); returns the training loss
    every 100 steps."""
    shape = (-1, 1, 40) if kind == "CNN" else (-1, 40)
    x_train = x_train.reshape(shape)
    optimizer = optim.Adam(model.parameters(), lr=LR)
    rng = np.random.default_rng(seed)
    losses = []
    for step in progress(range(steps), f"{kind}"):
        batch = rng.choice(len(y_train), BATCH, replace=False)
        loss = F.cross_entropy(model(x_train[batch]), y_train[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0:
            losses.append(float(loss.data))
    return losses


def accuracy(model, kind, x, y):
    with cr.no_grad():
        logits = model(x.reshape((-1, 1, 40) if kind == "CNN" else (-1, 40))).data
    return float(np.mean(logits.argmax(axis=1) == y))


def run(out_dir, quick=False, seed=0):
    """Train the CNN and the MLP on MNIST-1D as it is and with its positions shuffled; see :data:`CLAIM`.

    Args:
        out_dir: where the figures go.
        quick: :data:`QUICK_STEPS` training steps instead of :data:`STEPS`.
        seed: the weights, the batches and the permutation.
    """
    split = load_dataset("mnist1d")
    x_train, x_test = split.x_train.astype(np.float32), split.x_test.astype(np.float32)
    permutation = np.random.default_rng(seed).permutation(40)
    steps = QUICK_STEPS if quick else STEPS
    results, models, curves = {}, {}, {}
    for data in ("original", "shuffled"):
        order = np.arange(40) if data == "original" else permutation
        for kind in ("CNN", "MLP"):
            model = build(kind, seed, permutation if data == "shuffled" else None)
            curves[kind, data] = train(model, kind, x_train[:, order], split.y_train, steps, seed)
            results[kind, data] = accuracy(model, kind, x_test[:, order], split.y_test)
            models[kind, data] = model

    cnn, mlp = models["CNN", "original"], models["MLP", "original"]
    sizes = {"CNN": (parameter_count(cnn), flops(cnn, (1, 40))),
             "MLP": (parameter_count(mlp), flops(mlp, (40,)))}
    metrics = {
        "accuracy": {f"{kind} {data}": value for (kind, data), value in results.items()},
        "parameters": {kind: size[0] for kind, size in sizes.items()},
        "flops": {kind: size[1] for kind, size in sizes.items()},
        "cnn_advantage": {data: results["CNN", data] - results["MLP", data]
                          for data in ("original", "shuffled")},
        "mlp_shuffle_gap": abs(results["MLP", "original"] - results["MLP", "shuffled"]),
        "steps": steps,
    }
    tables = [
        Table(f"Test accuracy after {steps} steps (Adam {LR:g}, batch {BATCH}, 4000 training examples, "
              f"1000 test)", ["model", "parameters", "FLOPs / example", "original", "shuffled"],
              [[kind, sizes[kind][0], sizes[kind][1], f"{results[kind, 'original']:.1%}",
                f"{results[kind, 'shuffled']:.1%}"] for kind in ("CNN", "MLP")]),
    ]
    advantage = metrics["cnn_advantage"]
    notes = [
        f"With {sizes['CNN'][0]:,} parameters the CNN scores {results['CNN', 'original']:.1%} on the "
        f"original signals, {advantage['original'] * 100:+.1f} points over the MLP's "
        f"{results['MLP', 'original']:.1%} ({sizes['MLP'][0]:,} parameters). Its filters slide along the "
        f"signal, so a pattern is detected wherever it falls: each weight is used at every position, "
        f"which is why it spends {sizes['CNN'][1] / sizes['MLP'][1]:.1f}x the MLP's FLOPs per example on "
        f"as many weights.",
        f"Shuffled, the CNN falls to {results['CNN', 'shuffled']:.1%} "
        f"({(results['CNN', 'shuffled'] - results['CNN', 'original']) * 100:+.1f} points): neighbouring "
        f"positions no longer belong together, and its advantage over the MLP is "
        f"{advantage['shuffled'] * 100:+.1f} points. The MLP, started from the same weights with its first "
        f"layer's columns permuted, computes the same function and ends within "
        f"{metrics['mlp_shuffle_gap'] * 100:.2f} points of its unshuffled run (only the order of "
        f"floating-point sums differs).",
    ]
    figures = [_accuracy_figure(results, out_dir), _filters_figure(cnn, x_test, split.y_test, out_dir),
               _curves_figure(curves, out_dir)]
    headline = (f"CNN {results['CNN', 'original']:.1%} vs MLP {results['MLP', 'original']:.1%} on MNIST-1D; "
                f"with positions shuffled, CNN {results['CNN', 'shuffled']:.1%} vs MLP "
                f"{results['MLP', 'shuffled']:.1%}: the CNN's edge comes from locality.")
    return Result(headline, tables, figures, metrics, notes)


def _accuracy_figure(results, out_dir):
    fig, ax = new_figure()
    positions = np.arange(2)
    for offset, kind in ((-0.2, "CNN"), (0.2, "MLP")):
        heights = [results[kind, data] * 100 for data in ("original", "shuffled")]
        ax.bar(positions + offset, heights, 0.4, label=kind)
    ax.set(xticks=positions, xticklabels=["original", "shuffled positions"], ylabel="test accuracy (%)",
           ylim=(0, 100), title="MNIST-1D")
    ax.legend()
    return save_figure(fig, out_dir, "convolution_accuracy")


def _filters_figure(cnn, x_test, y_test, out_dir):
    """The first layer's 25 filters, and one test signal with its first-layer feature maps."""
    fig, (ax_filters, ax_signal, ax_maps) = new_figure(3, width=4.0, height=3.2)
    weights = cnn.convs[0].weight.data[:, 0, :]
    order = np.argsort(weights.argmax(axis=1))
    ax_filters.imshow(weights[order], cmap="RdBu_r", aspect="auto", vmin=-np.abs(weights).max(),
                      vmax=np.abs(weights).max())
    ax_filters.set(title="first-layer filters (sorted by peak)", xlabel="tap", ylabel="filter")
    example = int(np.flatnonzero(y_test == 3)[0])
    signal = x_test[example]
    ax_signal.plot(signal, color="black")
    ax_signal.set(title=f"a test signal (digit {y_test[example]})", xlabel="position")
    with cr.no_grad():
        maps = F.relu(cnn.convs[0](signal.reshape(1, 1, 40))).data[0]
    ax_maps.imshow(maps[order], cmap="viridis", aspect="auto")
    ax_maps.set(title="its first-layer feature maps (ReLU)", xlabel="position (stride 2)", ylabel="filter")
    fig.tight_layout()
    return save_figure(fig, out_dir, "convolution_filters")


def _curves_figure(curves, out_dir):
    fig, ax = new_figure()
    for (kind, data), losses in curves.items():
        ax.plot(np.arange(len(losses)) * 100, losses, label=f"{kind}, {data}",
                linestyle="-" if data == "original" else "--")
    ax.set(xlabel="step", ylabel="training loss (one batch)", yscale="log", title="training")
    ax.legend()
    return save_figure(fig, out_dir, "convolution_training")
