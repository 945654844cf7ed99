"""Optimisers and learning-rate schedules, with PyTorch's interface, on NumPy arrays.

An optimiser updates, in place, the ``.data`` array of each parameter from its ``.grad.data``; the
update rules are pure functions in :mod:`chainrule.optim.functional`.

Example:
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from chainrule import optim
    >>> w = SimpleNamespace(data=np.array([1.0, -2.0]), grad=None)
    >>> opt = optim.SGD([w], lr=0.1, momentum=0.9)
    >>> w.grad = SimpleNamespace(data=2 * w.data)    # gradient of |w|^2
    >>> opt.step()
    >>> w.data
    array([ 0.8, -1.6])
"""

from . import functional, lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "functional", "lr_scheduler"]
