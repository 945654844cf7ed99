"""Initialisers: fill a weight in place with values scaled so signals keep their size through the layers.

For a weight of shape ``(fan_out, fan_in)``:

- Xavier/Glorot: ``Var(w) = gain² · 2 / (fan_in + fan_out)``, balancing the forward and backward pass
  for units that are linear near zero (tanh, sigmoid).
- He/Kaiming: ``Var(w) = gain² / fan``; with ReLU's gain √2 it undoes ReLU halving the second moment.

A uniform ``U(-b, b)`` has variance ``b² / 3``, so its bound is ``b = √3 · std``. Every function takes a
``generator`` (a ``numpy.random.Generator``, an int seed, or ``None`` for the shared default, see
:mod:`chainrule.nn.rng`), changes the tensor's values in place and returns the tensor.

Example:
    >>> import chainrule as cr
    >>> from chainrule.nn import init
    >>> w = cr.zeros(256, 512)
    >>> _ = init.kaiming_normal_(w, nonlinearity="relu", generator=0)
    >>> round(float(w.data.std()) * 512 ** 0.5, 1)   # std = √2 / √fan_in
    1.4
"""

import math
import numbers

from ..core.tensor import unwrap
from .rng import as_generator


def calculate_gain(nonlinearity, param=None):
    """The recommended scale factor for weights feeding ``nonlinearity`` (PyTorch's table).

    Args:
        nonlinearity: one of ``"linear"``, ``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"leaky_relu"``,
            ``"selu"``.
        param: the negative slope of ``"leaky_relu"`` (default 0.01).

    Returns:
        1 for linear and sigmoid, 5/3 for tanh, √2 for ReLU, √(2 / (1 + slope²)) for leaky ReLU,
        3/4 for SELU.
    """
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: param (the negative slope) must be a number, not {param!r}")
        return math.sqrt(2.0 / (1 + slope ** 2))
    gains = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 0.75}
    if nonlinearity not in gains:
        raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}; known: "
                         f"{', '.join(sorted([*gains, 'leaky_relu']))}")
    return gains[nonlinearity]


def _fill(tensor, values):
    unwrap(tensor)[...] = values
    return tensor


def _fans(tensor):
    """(fan_in, fan_out) of a weight shaped (out, in, *receptive field)."""
    shape = unwrap(tensor).shape
    if len(shape) < 2:
        raise ValueError(f"fan_in and fan_out need a weight with at least 2 dimensions, got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor, mode):
    fan_in, fan_out = _fans(tensor)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', not {mode!r}")
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with ``U(a, b)``."""
    if not a <= b:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}")
    shape = unwrap(tensor).shape
    return _fill(tensor, as_generator(generator).uniform(a, b, shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with ``N(mean, std²)``."""
    if not std >= 0:
        raise ValueError(f"normal_: std must be >= 0, not {std}")
    shape = unwrap(tensor).shape
    return _fill(tensor, as_generator(generator).normal(mean, std, shape))


def constant_(tensor, val):
    """Fill with the number ``val``."""
    if isinstance(val, bool) or not isinstance(val, numbers.Real):
        raise TypeError(f"constant_: val must be a number, not {val!r}")
    return _fill(tensor, val)


def zeros_(tensor):
    """Fill with zeros."""
    return _fill(tensor, 0)


def ones_(tensor):
    """Fill with ones."""
    return _fill(tensor, 1)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: ``U(-b, b)`` with ``b = gain · √(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: ``N(0, std²)`` with ``std = gain · √(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: ``U(-b, b)`` with ``b = √3 · gain / √fan``.

    Args:
        tensor: the weight, shaped ``(fan_out, fan_in, ...)``.
        a: the negative slope when ``nonlinearity="leaky_relu"`` (0 gives ReLU's gain √2).
        mode: ``"fan_in"`` keeps the forward signal's variance, ``"fan_out"`` the gradient's.
        nonlinearity: a name for :func:`calculate_gain`.
        generator: see :mod:`chainrule.nn.rng`.
    """
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return uniform_(tensor, -math.sqrt(3.0) * std, math.sqrt(3.0) * std, generator)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: ``N(0, std²)`` with ``std = gain / √fan``; arguments as :func:`kaiming_uniform_`."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)


SCHEMES = ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal")


def get_initializer(init, nonlinearity=None, param=None):
    """The weight initialiser a layer's ``init`` argument asks for, as ``f(weight, generator=...)``.

    Args:
        init: a callable ``f(weight, generator=...)`` (returned as it is, e.g.
            ``functools.partial(init.normal_, std=0.01)``), or a scheme name: ``"xavier_uniform"``,
            ``"xavier_normal"``, ``"kaiming_uniform"``, ``"kaiming_normal"``.
        nonlinearity: the activation that follows the layer, for the gain (a :func:`calculate_gain`
            name); ``None`` means ``"linear"`` for Xavier and ``"relu"`` for Kaiming (He et al.).
        param: the leaky ReLU slope, when that is the nonlinearity.
    """
    if callable(init):
        return init
    if init not in SCHEMES:
        raise ValueError(f"unknown init {init!r}; known: {', '.join(SCHEMES)}, or a callable "
                         f"f(weight, generator=...)")
    if init.startswith("xavier"):
        gain = calculate_gain(nonlinearity or "linear", param)
        fill = xavier_uniform_ if init == "xavier_uniform" else xavier_normal_
        return lambda weight, generator=None: fill(weight, gain, generator)
    nonlinearity = nonlinearity or "relu"
    calculate_gain(nonlinearity, param)  # an unknown name fails here, not when a layer is built
    fill = kaiming_uniform_ if init == "kaiming_uniform" else kaiming_normal_
    return lambda weight, generator=None: fill(weight, param or 0.0, "fan_in", nonlinearity, generator)
