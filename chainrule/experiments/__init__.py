"""The story of backpropagation, reproduced: each classic claim about softmax, backpropagation and
training as an experiment that writes a Markdown report with its tables and figures.

Run one from the shell with ``chainrule experiment NAME [--out DIR] [--quick] [--seed N]``, or from
Python::

    >>> from chainrule import experiments
    >>> experiments.names()[:3]
    ['softmax', 'perceptron', 'modes']
    >>> experiments.get("overfitting").TITLE
    "Overfitting: Bishop's polynomial curve fitting"

Each experiment is a module with ``NAME``, ``TITLE``, a one-line ``CLAIM`` and
``run(out_dir, quick=False, seed=0)`` returning a :class:`Result`; :func:`run` adds the report.
"""

from pathlib import Path

from . import (attention, classics, convolution, embeddings, learning_rate, momentum, modes, overfitting,
               perceptron, regularization, seeds, sentiment, softmax, transfer, vanishing)
from .report import write_report
from .result import Result, Table

EXPERIMENTS = {module.NAME: module for module in (softmax, perceptron, modes, vanishing, overfitting,
                                                  momentum, regularization, learning_rate, seeds, classics,
                                                  convolution, sentiment, embeddings, attention, transfer)}


def names():
    """The experiment names, in the order of the story."""
    return list(EXPERIMENTS)


def get(name):
    """The experiment module called ``name``.

    Raises:
        ValueError: for an unknown name; the message lists the known ones.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def run(name, out_dir=None, quick=False, seed=0):
    """Run the experiment ``name`` and write its report with its figures into ``out_dir``.

    The BLAS thread pools are limited to one thread while it runs: the experiments' small matrices
    gain nothing from threads, and on a busy machine the threads of two pools wait on each other
    (a small MLP's step measured 0.7 ms with one thread against 2 to 7 ms with two on 2 cores).

    Args:
        name: one of :func:`names`.
        out_dir: the output directory; ``experiments/NAME`` under the working directory by default.
        quick: the fast mode the tests use: smaller sizes and fewer steps, same claim.
        seed: the seed of every random choice the experiment makes.

    Returns:
        ``(result, report_path)``: the :class:`Result` and the path of ``report.md``.
    """
    from threadpoolctl import threadpool_limits

    experiment = get(name)
    out_dir = Path("experiments") / name if out_dir is None else Path(out_dir)
    with threadpool_limits(limits=1):
        result = experiment.run(out_dir, quick=quick, seed=seed)
    return result, write_report(experiment, result, out_dir)


__all__ = ["EXPERIMENTS", "Result", "Table", "get", "names", "run"]
