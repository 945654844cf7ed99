"""Activations as modules, and their lookup by name.

Each activation names the :func:`chainrule.nn.init.calculate_gain` entry its weights should be scaled
for (``nonlinearity``), so :class:`chainrule.nn.MLP` can pick the right gain for a named init scheme.
"""

import difflib

from . import functional as F
from .layers import Identity
from .module import Module


class Step(Module):
    """Heaviside's step (1 where ``x > 0``, else 0), the unit of Rosenblatt's perceptron.

    Its derivative is zero almost everywhere, so gradients through it are zero: see
    :func:`chainrule.nn.functional.step`.
    """

    nonlinearity = "linear"

    def forward(self, x):
        return F.step(x)


class Sigmoid(Module):
    """The logistic function ``1 / (1 + e⁻ˣ)``."""

    nonlinearity = "sigmoid"

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """The hyperbolic tangent."""

    nonlinearity = "tanh"

    def forward(self, x):
        return F.tanh(x)


class ReLU(Module):
    """The rectified linear unit ``max(x, 0)``.

    Args:
        inplace: accepted for PyTorch's signature; chainrule never overwrites its input.
    """

    nonlinearity = "relu"

    def __init__(self, inplace=False):
        super().__init__()
        _check_inplace(inplace, "ReLU")

    def forward(self, x):
        return F.relu(x)


class LeakyReLU(Module):
    """``x`` for ``x > 0``, else ``negative_slope · x``.

    Args:
        negative_slope: the slope for negative inputs.
        inplace: accepted for PyTorch's signature; chainrule never overwrites its input.
    """

    nonlinearity = "leaky_relu"

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        _check_inplace(inplace, "LeakyReLU")
        if isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float)):
            raise TypeError(f"LeakyReLU: negative_slope must be a number, not {negative_slope!r}")
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class GELU(Module):
    """The Gaussian error linear unit ``x Φ(x)`` (exact, or its tanh approximation).

    For initialisation it counts as a ReLU (which it approaches away from zero).

    Args:
        approximate: ``"none"`` (exact, through erf) or ``"tanh"``.
    """

    nonlinearity = "relu"

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', not {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class _AlongAxis(Module):
    nonlinearity = "linear"

    def __init__(self, axis=None, dim=None):
        super().__init__()
        if axis is not None and dim is not None:
            raise TypeError(f"{type(self).__name__}: give axis or dim (PyTorch's name), not both")
        axis = -1 if axis is None and dim is None else dim if axis is None else axis
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"{type(self).__name__}: axis must be an int, not {axis!r}")
        self.axis = axis

    def extra_repr(self):
        return f"axis={self.axis}"


class Softmax(_AlongAxis):
    """``softmax`` along ``axis`` (or ``dim``, PyTorch's name; the last axis by default): positive values
    summing to one."""

    def forward(self, x):
        return F.softmax(x, axis=self.axis)


class LogSoftmax(_AlongAxis):
    """``log_softmax`` along ``axis`` (or ``dim``), computed stably."""

    def forward(self, x):
        return F.log_softmax(x, axis=self.axis)


def _check_inplace(inplace, owner):
    if not isinstance(inplace, bool):
        raise TypeError(f"{owner}: inplace must be True or False, not {inplace!r}")


ACTIVATIONS = {"identity": Identity, "step": Step, "sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU,
               "leaky_relu": LeakyReLU, "gelu": GELU, "softmax": Softmax, "log_softmax": LogSoftmax}


def get_activation(activation, **settings):
    """A new activation module from its name (with ``settings`` for its constructor).

    A module is returned as it is and a module class is instantiated, so arguments that take an
    activation accept all three.

    Example:
        >>> get_activation("leaky_relu", negative_slope=0.2)
        LeakyReLU(negative_slope=0.2)
        >>> get_activation("rleu")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: unknown activation 'rleu' (did you mean 'relu'?); known: gelu, identity, ...
    """
    if isinstance(activation, Module):
        return activation
    if isinstance(activation, type) and issubclass(activation, Module):
        return activation(**settings)
    if not isinstance(activation, str):
        raise TypeError(f"an activation must be a name, a Module or a Module class, not {activation!r}")
    key = activation.lower()
    if key not in ACTIVATIONS:
        close = difflib.get_close_matches(key, ACTIVATIONS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown activation {activation!r}{hint}; known: {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[key](**settings)
