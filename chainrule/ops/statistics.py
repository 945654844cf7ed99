"""Statistics, norms and orderings with NumPy's names: ``std``, ``ptp``, ``average``, ``norm``,
``sort``, ``partition``.

All are composites. ``std`` is ``sqrt(var)`` with derivative 0 where the variance is zero (as
PyTorch's); ``sort`` and ``partition`` gather ``x`` by the permutation that
orders it, so the gradient goes back through the permutation; ``norm`` reduces with the primitives the
order calls for (a matrix's 2-norm and nuclear norm through the singular values).
"""

import math

import numpy as _np

from .. import backend
from .elementwise import abs as _abs
from .elementwise import sqrt, where
from .reductions import max as _max
from .reductions import min as _min
from .reductions import sum as _sum
from .reductions import mean, var
from .matrix import moveaxis
from .shape import expand_dims, getitem, reshape, squeeze, take_along_axis


def _shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else _np.shape(x)


def _values(x):
    return x.data if hasattr(x, "_node") else backend.asarray(x)


def std(x, axis=None, keepdims=False, ddof=0):
    """The standard deviation, ``sqrt(var(x))`` (``numpy.std``); its derivative is 0 where the variance
    is 0 (a single element, equal elements), as PyTorch's and HIPS autograd's, not ``inf · 0``."""
    v = var(x, axis=axis, keepdims=keepdims, ddof=ddof)
    # sqrt is taken of 1 where v = 0, so no branch of the graph meets 1/sqrt(0), at any order.
    flat = _values(v) == 0
    return where(flat, 0.0, sqrt(where(flat, 1.0, v)))


def ptp(x, axis=None, keepdims=False):
    """The range, ``max − min`` (``numpy.ptp``)."""
    return _max(x, axis=axis, keepdims=keepdims) - _min(x, axis=axis, keepdims=keepdims)


def average(x, axis=None, weights=None, returned=False, keepdims=False):
    """The (weighted) mean over ``axis`` (``numpy.average``); ``weights`` may be a tensor, a 1-d
    ``weights`` applies along a single ``axis``; ``returned`` also gives the sum of the weights."""
    if weights is None:
        out = mean(x, axis=axis, keepdims=keepdims)
        count = _np.prod(_shape(x)) / _np.prod(_shape(out)) if _shape(x) else 1.0
        return (out, backend.asarray(count, dtype=_values(x).dtype)) if returned else out
    w_shape = _shape(weights)
    if w_shape != _shape(x):
        if axis is None or len(w_shape) != 1:
            raise ValueError(f"average: weights of shape {w_shape} differ from x's {_shape(x)}; give 1-d "
                             f"weights with an axis")
        axis_ = axis % len(_shape(x))
        weights = reshape(weights, (-1,) + (1,) * (len(_shape(x)) - 1 - axis_))
    total = _sum(x * weights, axis=axis, keepdims=keepdims)
    weight_sum = _sum(weights * _np.ones(_shape(x)), axis=axis, keepdims=keepdims)
    out = total / weight_sum
    return (out, weight_sum) if returned else out


def _vector_norm(x, ord, axis, keepdims):
    if ord is None or ord == 2:
        return sqrt(_sum(x * x, axis=axis, keepdims=keepdims))
    if ord == math.inf:
        return _max(_abs(x), axis=axis, keepdims=keepdims)
    if ord == -math.inf:
        return _min(_abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:  # the count of non-zeros: piecewise constant
        return _sum((_values(x) != 0).astype(_values(x).dtype), axis=axis, keepdims=keepdims)
    if ord == 1:
        return _sum(_abs(x), axis=axis, keepdims=keepdims)
    return _sum(_abs(x) ** ord, axis=axis, keepdims=keepdims) ** (1.0 / ord)


def _matrix_norm(x, ord, axes, keepdims):
    row, col = axes
    if ord in (None, "fro"):
        return sqrt(_sum(x * x, axis=axes, keepdims=keepdims))
    if ord in (1, -1, math.inf, -math.inf):
        # 1: largest column sum of |x|; inf: largest row sum.
        summed, other = (row, col) if ord in (1, -1) else (col, row)
        sums = _sum(_abs(x), axis=summed, keepdims=True)
        choose = _max if ord > 0 else _min
        out = choose(sums, axis=other, keepdims=True)
    elif ord in (2, -2, "nuc"):
        from .linalg_decomp import svd
        singular = svd(moveaxis(x, (row, col), (-2, -1)), compute_uv=False)
        if ord == "nuc":
            out = _sum(singular, axis=-1)
        else:
            out = (_max if ord == 2 else _min)(singular, axis=-1)
        if keepdims:
            return expand_dims(expand_dims(out, min(axes)), max(axes))
        return out
    else:
        raise ValueError(f"norm: invalid matrix norm order {ord!r}; use None, 'fro', 'nuc', 1, -1, 2, -2, "
                         f"inf or -inf")
    if keepdims:
        return out
    return squeeze(out, axis=axes)


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm (``numpy.linalg.norm``).

    Vector orders: None or 2 (Euclidean), 1, inf, -inf, 0 (count of non-zeros), any other p. Matrix
    orders (2-d ``x`` with ``axis=None``, or ``axis`` a pair): None or 'fro' (Frobenius), 'nuc' (sum of
    singular values), 1, -1 (max/min column sum), inf, -inf (row sums), 2, -2 (largest/smallest singular
    value). The Euclidean norm's derivative at zero is undefined (NaN), as in NumPy's autograd peers.
    """
    ndim = len(_shape(x))
    if axis is None:
        if ord is None:
            out = sqrt(_sum(x * x))
            return reshape(out, (1,) * ndim) if keepdims else out
        axis = tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % ndim for a in axes)
    if len(axes) == 1:
        if isinstance(ord, str):
            raise ValueError(f"norm: order {ord!r} is for matrices; vectors take a number")
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError(f"norm: axis must name one or two axes, not {axis}")


def median(x, axis=None, keepdims=False):
    """The median over ``axis`` (``numpy.median``): the middle of the sorted values, or the mean of the
    two middle ones; the gradient goes to them through the sorting permutation."""
    ndim = len(_shape(x))
    if axis is None:
        out = median(reshape(x, (-1,)), 0)
        return reshape(out, (1,) * ndim) if keepdims else out
    axis %= ndim
    n = _shape(x)[axis]
    middle = getitem(sort(x, axis), index=(slice(None),) * axis + (slice((n - 1) // 2, n // 2 + 1),))
    return mean(middle, axis=axis, keepdims=keepdims)


def sort(x, axis=-1):
    """``x`` sorted along ``axis`` (``None``: flattened); the gradient follows the permutation."""
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    order = _np.argsort(_values(x), axis=axis, kind="stable")
    return take_along_axis(x, order, axis)


def partition(x, kth, axis=-1):
    """``x`` rearranged so that the ``kth`` element is where sorting would put it, smaller ones before
    and larger after (``numpy.partition``); the gradient follows the permutation."""
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    order = _np.argpartition(_values(x), kth, axis=axis)
    return take_along_axis(x, order, axis)
