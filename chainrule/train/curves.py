"""Learning curves: loss and accuracy (or RMSE), training against validation, drawn to a PNG file."""

import io
import json
import os
import subprocess
import sys
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


_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
from matplotlib.figure import Figure  # the slow import, done while the parent trains
from chainrule.train.curves import plot_history
from chainrule.train.history import History
order = sys.stdin.read()
if order:
    order = json.loads(order)
    plot_history(History.from_json(order["history"]), order["path"], order["title"], order["best_epoch"])
"""


class CurvesPainter:
    """Draws a run's learning curves in a child process started before the training: the child
    imports Matplotlib (about a second) on another core while the model trains, and draws while the
    run scores its test set. Use it as a context manager: leaving it waits for the drawing, or draws
    in this process if the child could not start or failed; leaving on an error ends the child."""

    def __init__(self):
        self.order = None
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        try:
            self.child = subprocess.Popen([sys.executable, "-c", _CHILD, root], stdin=subprocess.PIPE,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:
            self.child = None

    def plot(self, history_json, path, title=None, best_epoch=None):
        """Draw the history saved at ``history_json`` (by :meth:`History.to_json`) to ``path``, as
        :func:`plot_history` does; done when the painter is left."""
        self.order = {"history": str(history_json), "path": str(path), "title": title, "best_epoch": best_epoch}
        if self.child is not None:
            try:
                self.child.stdin.write(json.dumps(self.order).encode())
                self.child.stdin.close()
            except OSError:  # the child died: drawn here on leaving
                pass

    def __enter__(self):
        return self

    def __exit__(self, error_type, *details):
        child, self.child = self.child, None
        if child is not None:
            if not child.stdin.closed:
                child.stdin.close()  # an empty order: the child exits without drawing
            child.wait()
        if error_type is None and self.order is not None and (child is None or child.returncode != 0):
            from .history import History
            order = self.order
            plot_history(History.from_json(order["history"]), order["path"], order["title"], order["best_epoch"])
