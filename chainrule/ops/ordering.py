"""PyTorch's ``(values, indices)`` reductions beside NumPy's values-only ones.

``chainrule.max(x, 1)``, ``chainrule.max(x, dim=1)`` and ``x.max(1)`` are PyTorch's calls: they return
the named pair ``(values, indices)``. ``chainrule.max(x, axis=1)`` and ``chainrule.numpy.max(x, 1)`` are
NumPy's: the values alone. The same rule holds for ``min``, ``sort`` and ``median``; ``topk`` and
``kthvalue`` exist only in PyTorch and always return the pair. The values of a pair are gathered at
the indices, so their gradient goes to the chosen element (ties: the first, as PyTorch's), while
NumPy's ``max`` shares the gradient between tied elements.
"""

import builtins
import collections
import numbers

import numpy as _np

from .. import backend
from .elementwise import maximum as _maximum
from .elementwise import minimum as _minimum
from .reductions import max as _max
from .reductions import min as _min
from .shape import reshape, squeeze, take_along_axis
from .statistics import median as _median
from .statistics import sort as _sort

_PAIRS = {name: collections.namedtuple(name, ("values", "indices"))
          for name in ("max", "min", "sort", "topk", "kthvalue", "median")}
"""PyTorch's ``torch.return_types``: a tuple that unpacks as ``values, indices`` and names both."""


def _values(x):
    return x.data if hasattr(x, "_node") else backend.asarray(x)


def _indices(array):
    from ..core.tensor import Tensor
    return Tensor(backend.asarray(array, dtype="int64"))


def _spelling(where, dim, axis, keepdim, keepdims):
    """The axis and keepdims of a call, and whether it is PyTorch's (a ``dim``) or NumPy's (``axis=``)."""
    if dim is not None and axis is not None:
        raise TypeError(f"{where}() got both dim={dim!r} and axis={axis!r}; give one: dim (PyTorch's "
                        f"(values, indices) pair) or axis (NumPy's values)")
    if keepdims is not None and keepdim is not False:
        raise TypeError(f"{where}() got both keepdim and keepdims; give one")
    keep = bool(keepdim if keepdims is None else keepdims)
    return (axis, False, keep) if dim is None else (dim, True, keep)


def _axis(where, dim, ndim):
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{where}(): dim must be an int for PyTorch's (values, indices) pair, not {dim!r}; "
                        f"for the values over several axes write axis={dim!r}")
    if not -builtins.max(ndim, 1) <= dim < builtins.max(ndim, 1):
        raise IndexError(f"{where}(): dim {dim} is out of range for a tensor of {ndim} axes")
    return int(dim) % builtins.max(ndim, 1)


def _pair(name, x, order, axis, keepdim):
    """The named pair of ``x`` gathered at ``order`` (indices along ``axis``, the axis kept)."""
    values = take_along_axis(x, order, axis)
    if not keepdim:
        values, order = squeeze(values, axis), _np.squeeze(order, axis)
    return _PAIRS[name](values, _indices(order))


def _chosen(name, choose, x, dim, keepdim):
    x_values = _values(x)
    if x_values.ndim == 0:
        x = reshape(x, (1,))
        x_values = x_values.reshape(1)
    axis = _axis(name, dim, x_values.ndim)
    if x_values.shape[axis] == 0:
        raise ValueError(f"{name}(): axis {axis} of shape {x_values.shape} is empty")
    # argmax/argmin return the first of tied elements, as PyTorch does.
    order = _np.expand_dims(choose(x_values, axis=axis), axis)
    return _pair(name, x, order, axis, keepdim)


def _is_axis(dim):
    return dim is None or isinstance(dim, (numbers.Integral, tuple, list))


def max(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The largest values: PyTorch's ``(values, indices)`` pair for a ``dim`` (``max(x, 1)``,
    ``max(x, dim=1)``), NumPy's values for ``axis=`` or no axis; ``max(x, y)`` with a tensor ``y`` is
    the elementwise :func:`maximum`, as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> values, indices = cr.max(cr.tensor([[1.0, 5.0], [7.0, 2.0]]), 1)
        >>> values.tolist(), indices.tolist()
        ([5.0, 7.0], [1, 0])
    """
    if not _is_axis(dim):
        return _maximum(x, dim)
    axis, pair, keep = _spelling("max", dim, axis, keepdim, keepdims)
    return _chosen("max", _np.argmax, x, axis, keep) if pair else _max(x, axis=axis, keepdims=keep)


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The smallest values: PyTorch's ``(values, indices)`` for a ``dim``, NumPy's values for
    ``axis=`` or no axis; ``min(x, y)`` with a tensor ``y`` is the elementwise :func:`minimum`."""
    if not _is_axis(dim):
        return _minimum(x, dim)
    axis, pair, keep = _spelling("min", dim, axis, keepdim, keepdims)
    return _chosen("min", _np.argmin, x, axis, keep) if pair else _min(x, axis=axis, keepdims=keep)


def argmax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The index of the largest value along ``dim`` (of the flattened ``x`` when ``None``), an int64
    tensor with no derivative; ties give the first."""
    axis, _, keep = _spelling("argmax", dim, axis, keepdim, keepdims)
    return _indices(_np.argmax(_values(x), axis=axis, keepdims=keep))


def argmin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The index of the smallest value along ``dim`` (of the flattened ``x`` when ``None``)."""
    axis, _, keep = _spelling("argmin", dim, axis, keepdim, keepdims)
    return _indices(_np.argmin(_values(x), axis=axis, keepdims=keep))


_LAST = object()  # NumPy's default axis of sort, -1; axis=None flattens


def sort(x, dim=None, descending=None, stable=False, *, axis=_LAST):
    """``x`` sorted: PyTorch's ``(values, indices)`` for a ``dim`` or ``descending=`` (``sort(x, 1)``,
    ``sort(x, descending=True)``), NumPy's sorted values for ``axis=`` or neither (``sort(x)``,
    along the last axis). The gradient follows the permutation."""
    if descending is None and dim is None:
        return _sort(x, -1 if axis is _LAST else axis)
    if axis is not _LAST:
        raise TypeError("sort(): descending= and dim= are PyTorch's and return (values, indices); axis= is "
                        "NumPy's and returns the values: give dim with descending")
    axis = _axis("sort", -1 if dim is None else dim, _values(x).ndim)
    x_values = _values(x)
    # A stable sort of -x keeps equal elements in their order, as PyTorch's stable descending sort.
    order = _np.argsort(-x_values if descending else x_values, axis=axis, kind="stable")
    return _pair("sort", x, order, axis, True)


def topk(x, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (``largest=False``: smallest) elements along ``dim`` and their indices, as
    PyTorch's ``topk``, always in order (``sorted`` is accepted for PyTorch's signature); the gradient
    goes to the chosen elements.

    Example:
        >>> import chainrule as cr
        >>> cr.topk(cr.tensor([1.0, 9.0, 3.0, 7.0]), 2).indices.tolist()
        [1, 3]
    """
    x_values = _values(x)
    axis = _axis("topk", dim, x_values.ndim)
    n = x_values.shape[axis] if x_values.ndim else 1
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or not 0 <= k <= n:
        raise ValueError(f"topk(): k must be an int from 0 to {n} (the length of dim {dim}), not {k!r}")
    if x_values.ndim == 0:
        x, x_values = reshape(x, (1,)), x_values.reshape(1)
    order = _np.argsort(-x_values if largest else x_values, axis=axis, kind="stable")
    order = _np.take(order, _np.arange(k), axis=axis)
    return _pair("topk", x, order, axis, True)


def kthvalue(x, k, dim=-1, keepdim=False):
    """The ``k``-th smallest element (``k`` from 1) along ``dim`` and its index, as PyTorch's."""
    x_values = _values(x)
    axis = _axis("kthvalue", dim, x_values.ndim)
    n = x_values.shape[axis] if x_values.ndim else 1
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or not 1 <= k <= n:
        raise ValueError(f"kthvalue(): k must be an int from 1 to {n} (the length of dim {dim}), not {k!r}")
    if x_values.ndim == 0:
        x, x_values = reshape(x, (1,)), x_values.reshape(1)
    order = _np.take(_np.argsort(x_values, axis=axis, kind="stable"), [k - 1], axis=axis)
    return _pair("kthvalue", x, order, axis, keepdim)


def median(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The median: for a ``dim``, PyTorch's ``(values, indices)`` pair with the lower of the two middle
    elements; for ``axis=`` or no axis, NumPy's value (the mean of the two middle elements)."""
    axis, pair, keep = _spelling("median", dim, axis, keepdim, keepdims)
    if not pair:
        return _median(x, axis=axis, keepdims=keep)
    x_values = _values(x)
    if x_values.ndim == 0:
        x, x_values = reshape(x, (1,)), x_values.reshape(1)
    axis = _axis("median", axis, x_values.ndim)
    n = x_values.shape[axis]
    if n == 0:
        raise ValueError(f"median(): axis {axis} of shape {x_values.shape} is empty")
    order = _np.take(_np.argsort(x_values, axis=axis, kind="stable"), [(n - 1) // 2], axis=axis)
    return _pair("median", x, order, axis, keep)
