"""Metrics on a model's outputs: accuracy and per-class accuracy for classifiers, RMSE for regression.

All functions take NumPy arrays (or anything ``numpy.asarray`` accepts) and return Python numbers.
"""

import numpy as np

from ..core.tensor import unwrap

# What each task is scored by, besides the loss: the one place that decides it.
SCORES = {"classification": "accuracy", "regression": "rmse"}
SCORE_LABELS = {"accuracy": "accuracy", "rmse": "RMSE"}


def score_name(task):
    """The metric that scores ``task``: ``"accuracy"`` for classification, ``"rmse"`` for regression."""
    return SCORES[task]


def score_line(scores, prefix="test ", bold=""):
    """``scores``' headline as text, e.g. ``"test accuracy: 97.50%"`` or ``"test RMSE: 0.1234"``
    (``bold="**"`` wraps the number for Markdown)."""
    name = next(name for name in SCORE_LABELS if name in scores)
    value = f"{scores[name]:.2%}" if name == "accuracy" else f"{scores[name]:.4g}"
    return f"{prefix}{SCORE_LABELS[name]}: {bold}{value}{bold}"


def predicted_classes(outputs):
    """The class each row of ``outputs`` predicts.

    Args:
        outputs: scores of shape ``(n, num_classes)``; a single score per row (shape ``(n,)`` or
            ``(n, 1)``) is read as a binary classifier's margin, class 1 when positive.

    Returns:
        An int64 array of shape ``(n,)``.

    Example:
        >>> predicted_classes([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0]])
        array([1, 0])
        >>> predicted_classes([[-0.5], [0.7]])
        array([0, 1])
    """
    outputs = np.asarray(outputs)
    if outputs.ndim == 1 or outputs.shape[-1] == 1:
        return (outputs.reshape(len(outputs)) > 0).astype(np.int64)
    return outputs.argmax(axis=-1)


def accuracy(outputs, labels):
    """The fraction of rows whose predicted class equals the label.

    Example:
        >>> accuracy([[0.1, 2.0], [3.0, 0.0], [0.0, 1.0]], [1, 0, 0])
        0.6666666666666666
    """
    return float(np.mean(predicted_classes(outputs) == np.asarray(labels)))


def per_class_accuracy(outputs, labels, num_classes):
    """The accuracy on the examples of each class (recall per class).

    Args:
        outputs: scores, as for :func:`predicted_classes`.
        labels: integer labels of shape ``(n,)``.
        num_classes: the number of classes.

    Returns:
        A list of ``num_classes`` floats; ``nan`` for a class with no examples.

    Example:
        >>> per_class_accuracy([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], [0, 1, 1], num_classes=3)
        [1.0, 0.5, nan]
    """
    labels = np.asarray(labels)
    hits = predicted_classes(outputs) == labels
    counts = np.bincount(labels, minlength=num_classes)
    correct = np.bincount(labels, weights=hits, minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (correct / counts).tolist()


def rmse(outputs, targets):
    """The root of the mean squared error.

    Example:
        >>> rmse([[1.0], [2.0]], [[1.0], [4.0]])
        1.4142135623730951
    """
    errors = np.asarray(outputs, dtype=np.float64) - np.asarray(targets, dtype=np.float64)
    return float(np.sqrt(np.mean(errors ** 2)))


class EpochMetrics:
    """Running totals over the batches of one pass: the mean loss, and accuracy or RMSE.

    Args:
        task: ``"classification"`` (reports ``loss`` and ``accuracy``) or ``"regression"``
            (``loss`` and ``rmse``).

    Example:
        >>> totals = EpochMetrics("classification")
        >>> totals.update(0.5, [[2.0, 0.0], [0.0, 1.0]], [0, 0])
        >>> totals.update(0.2, [[2.0, 0.0]], [0])
        >>> totals.result()
        {'loss': 0.4, 'accuracy': 0.6666666666666666}
    """

    def __init__(self, task):
        self.task = task
        self.score = score_name(task)
        self.count = 0
        self.loss_sum = 0.0
        self.score_sum = 0.0

    def update(self, loss, outputs, targets):
        """Add one batch: its mean ``loss`` (a float), the model's ``outputs`` and the ``targets``."""
        n = len(targets)
        self.count += n
        self.loss_sum += loss * n
        if self.score == "accuracy":  # the count of hits: accuracy(outputs, targets) * n, exactly
            hits = predicted_classes(outputs) == np.asarray(unwrap(targets))
            self.score_sum += int(np.count_nonzero(hits))
        else:
            self.score_sum += rmse(outputs, targets) ** 2 * n

    def result(self):
        """The metrics so far, as a dict of floats."""
        mean_score = self.score_sum / self.count
        score = mean_score if self.score == "accuracy" else float(np.sqrt(mean_score))
        return {"loss": self.loss_sum / self.count, self.score: score}
