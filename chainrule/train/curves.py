"""Learning curves: loss and accuracy (or RMSE), training against validation, drawn to a PNG file."""

import io
from pathlib import Path

from ..serialization import write_atomic
from .metrics import SCORE_LABELS

_PANELS = (("loss", "loss"), *SCORE_LABELS.items())


def plot_history(history, path, title=None, best_epoch=None):
    """Draw one panel per metric the history holds (loss, then accuracy or RMSE), each with the
    training curve and, when recorded, the validation curve.

    Uses Matplotlib's object interface with no pyplot, so it needs no display and leaves the global
    backend alone.

    Args:
        history: a :class:`~chainrule.train.History`.
        path: the image file to write (PNG by its suffix).
        title: a title above the panels.
        best_epoch: an epoch to mark with a vertical line (the one whose weights were kept).

    Returns:
        The Matplotlib ``Figure``.
    """
    from matplotlib.figure import Figure  # imported here: a third of a second that only plots pay

    panels = [(metric, label) for metric, label in _PANELS if metric in history]
    figure = Figure(figsize=(5 * len(panels), 4), layout="constrained")
    epochs = history["epoch"]
    for axes, (metric, label) in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels,
                                     strict=True):
        axes.plot(epochs, history[metric], marker=".", label="training")
        if f"val_{metric}" in history:
            axes.plot(epochs, history[f"val_{metric}"], marker=".", label="validation")
        if best_epoch is not None:
            axes.axvline(best_epoch, color="grey", linestyle="--", linewidth=1, label="best epoch")
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        axes.legend()
    if title:
        figure.suptitle(title)
    save_figure(figure, path, dpi=100)
    return figure


def save_figure(figure, path, **options):
    """Write a Matplotlib figure to ``path`` atomically, in the format its suffix names (PNG when it
    has none); ``options`` go to ``Figure.savefig``."""
    image = io.BytesIO()
    figure.savefig(image, format=Path(path).suffix[1:] or "png", **options)
    write_atomic(path, image.getvalue())
