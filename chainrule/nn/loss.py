"""Losses as modules: each keeps its settings and calls its function in
:mod:`chainrule.nn.functional` as ``loss(input, target)``.

Example:
    >>> import numpy as np
    >>> loss = CrossEntropyLoss(label_smoothing=0.1)
    >>> loss
    CrossEntropyLoss(reduction='mean', weight=None, ignore_index=-100, label_smoothing=0.1, axis=-1)
    >>> round(loss(np.zeros((2, 3)), np.array([0, 2])).item(), 4)  # log 3
    1.0986
"""

from ..pytorch_compat import pytorch_keywords
from . import functional as F
from .module import Module


class _Loss(Module):
    """A loss function with its settings, which stay readable and settable as attributes."""

    function = None

    def __init__(self, reduction, **settings):
        super().__init__()
        F.check_reduction(reduction)
        self._settings = ("reduction", *settings)
        self.reduction = reduction
        for name, value in settings.items():
            setattr(self, name, value)

    def forward(self, input, target):
        return type(self).function(input, target, **{name: getattr(self, name) for name in self._settings})

    def extra_repr(self):
        return ", ".join(f"{name}={getattr(self, name)!r}" for name in self._settings)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits against labels or probabilities; see
    :func:`chainrule.nn.functional.cross_entropy`."""

    function = staticmethod(F.cross_entropy)

    @pytorch_keywords
    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0, axis=-1):
        F.check_label_smoothing(label_smoothing)
        super().__init__(reduction, weight=weight, ignore_index=ignore_index,
                         label_smoothing=label_smoothing, axis=axis)


class NLLLoss(_Loss):
    """Negative log-likelihood of labels under log-probabilities; see
    :func:`chainrule.nn.functional.nll_loss`."""

    function = staticmethod(F.nll_loss)

    @pytorch_keywords
    def __init__(self, weight=None, ignore_index=-100, reduction="mean", axis=-1):
        super().__init__(reduction, weight=weight, ignore_index=ignore_index, axis=axis)


class MSELoss(_Loss):
    """Mean squared error; see :func:`chainrule.nn.functional.mse_loss`."""

    function = staticmethod(F.mse_loss)

    @pytorch_keywords
    def __init__(self, reduction="mean"):
        super().__init__(reduction)


class L1Loss(_Loss):
    """Mean absolute error; see :func:`chainrule.nn.functional.l1_loss`."""

    function = staticmethod(F.l1_loss)

    @pytorch_keywords
    def __init__(self, reduction="mean"):
        super().__init__(reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, stable for any logit; see
    :func:`chainrule.nn.functional.binary_cross_entropy_with_logits`."""

    function = staticmethod(F.binary_cross_entropy_with_logits)

    @pytorch_keywords
    def __init__(self, weight=None, pos_weight=None, reduction="mean"):
        super().__init__(reduction, weight=weight, pos_weight=pos_weight)


class HingeLoss(_Loss):
    """The multi-class SVM margin loss (Weston–Watkins); see
    :func:`chainrule.nn.functional.hinge_loss`."""

    function = staticmethod(F.hinge_loss)

    @pytorch_keywords
    def __init__(self, margin=1.0, reduction="mean", axis=-1):
        super().__init__(reduction, margin=margin, axis=axis)
