"""Draw the pictures of the README: a small MLP's graph after backward, and the gradient flow of a deep
sigmoid MLP and of a deep ReLU MLP with He initialisation while they train on scikit-learn's digits.

Run ``python -m chainrule.inspect.demo docs/img``; it writes ``gradient-flow-sigmoid.png``,
``gradient-flow-relu.png`` and ``mlp-graph.png`` (without Graphviz's ``dot`` program, the graph's DOT
source ``mlp-graph.dot`` instead, and says how to install Graphviz).
"""

import argparse
import os
import sys

from .callback import GradientFlowCallback
from .graphs import GraphvizNotInstalled, graph
from .plots import plot_gradient_flow

DEPTH, WIDTH, EPOCHS, EVERY, BATCH, LR = 8, 32, 6, 10, 64, 0.1


def digits():
    """scikit-learn's 8x8 digits, features scaled to [0, 1]."""
    from sklearn.datasets import load_digits
    data = load_digits()
    return (data.data / 16).astype("float32"), data.target


def draw_graph(directory, x, y):
    """The graph of one cross-entropy loss of ``MLP([64, 16, 10])`` on 4 digits, after backward."""
    from .. import nn
    from ..nn import functional as F
    model = nn.MLP([64, 16, 10], seed=0)
    picture = graph(lambda inputs, labels: F.cross_entropy(model(inputs), labels), x[:4], y[:4],
                    model=model)
    try:
        picture.render(outfile=os.path.join(directory, "mlp-graph.png"), cleanup=True)
    except GraphvizNotInstalled:
        picture.save(os.path.join(directory, "mlp-graph.dot"))
        raise


def train_and_report(activation, init, x, y):
    """SGD on a deep MLP with :func:`chainrule.train.fit`, a gradient-flow report every ``EVERY`` steps."""
    from .. import nn, optim
    from ..train import fit
    model = nn.MLP([x.shape[1]] + [WIDTH] * (DEPTH - 1) + [10], activation=activation, init=init, seed=0)
    callback = GradientFlowCallback(every=EVERY)
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=LR), (x, y), epochs=EPOCHS,
        batch_size=BATCH, progress=False, callbacks=[callback])
    return callback


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="where to write the pictures")
    directory = parser.parse_args(argv).directory
    os.makedirs(directory, exist_ok=True)
    x, y = digits()
    for activation, init in [("sigmoid", None), ("relu", "kaiming_normal")]:
        callback = train_and_report(activation, init, x, y)
        path = os.path.join(directory, f"gradient-flow-{activation}.png")
        plot_gradient_flow(callback.history, path, title=f"{DEPTH}-layer {activation} MLP "
                           f"({init or 'default'} init), SGD on scikit-learn's digits")
        print(f"wrote {path}; the last report:\n{callback.history[-1][1]}\n")
    try:
        draw_graph(directory, x, y)
    except GraphvizNotInstalled as error:
        sys.exit(f"wrote {os.path.join(directory, 'mlp-graph.dot')} but no picture of it: {error}")
    print(f"wrote {os.path.join(directory, 'mlp-graph.png')}")


if __name__ == "__main__":
    main()
