"""PyTorch's ``(values, indices)`` reductions beside NumPy's values-only ones.

``chainrule.max(x, 1)``, ``chainrule.max(x, dim=1)`` and ``x.max(1)`` are PyTorch's calls: they return
the named pair ``(values, indices)``. ``chainrule.max(x, axis=1)`` and ``chainrule.numpy.max(x, 1)`` are
NumPy's: the values alone. The same rule holds for ``min``, ``sort`` and ``median``; ``topk`` and
``kthvalue`` exist only in PyTorch and always return the pair. The values of a pair are gathered at
the indices, so their gradient goes to the chosen element (ties: the first, as PyTorch's), while
NumPy's ``max`` shares the gradient between tied elements.

The indices are computed by primitives with no derivative (``argmax``, ``argmin``, ``argsort``), so a
compiled function records them as operations and recomputes them from each call's input.
"""

import builtins
import collections
import numbers

from .. import backend
from ..core.batching import defreducer
from ..core.primitive import primitive
from .elementwise import maximum as _maximum
from .elementwise import minimum as _minimum
from .reductions import max as _max
from .reductions import min as _min
from .shape import getitem, reshape, squeeze, take_along_axis
from .statistics import median as _median
from .statistics import sort as _sort

_PAIRS = {name: collections.namedtuple(name, ("values", "indices"))
          for name in ("max", "min", "sort", "topk", "kthvalue", "median")}
"""PyTorch's ``torch.return_types``: a tuple that unpacks as ``values, indices`` and names both."""


def _argmax_impl(xp, x, *, axis, keepdims=False):
    return xp.astype(xp.argmax(x, axis=axis, keepdims=keepdims), xp.int64)


def _argmin_impl(xp, x, *, axis, keepdims=False):
    return xp.astype(xp.argmin(x, axis=axis, keepdims=keepdims), xp.int64)


def _argsort_impl(xp, x, *, axis, descending=False):
    # A stable sort of -x keeps equal elements in their order, as PyTorch's stable descending sort.
    return xp.astype(xp.argsort(-x if descending else x, axis=axis, stable=True), xp.int64)


# The first of tied elements, as PyTorch's; ``axis`` is an int (None's flattening is done outside, so
# that a batch axis can be put before it).
arg_max = primitive("argmax", _argmax_impl, differentiable=False)
arg_min = primitive("argmin", _argmin_impl, differentiable=False)
arg_sort = primitive("argsort", _argsort_impl, differentiable=False)
defreducer(arg_max, arg_min, arg_sort)


def _operand(x):
    return x if hasattr(x, "_node") else backend.asarray(x)


def _along(order, axis, start, stop):
    """``order[start:stop]`` along ``axis``, through the engine (a compiled step recomputes it)."""
    return getitem(order, index=(slice(None),) * axis + (slice(start, stop),))


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
        values, order = squeeze(values, axis), squeeze(order, axis)
    return _PAIRS[name](values, order)


def _chosen(name, choose, x, dim, keepdim):
    """The pair of ``x`` at the index ``choose`` (:data:`arg_max`, :data:`arg_min`) picks along ``dim``."""
    x = _operand(x)
    if x.ndim == 0:
        x = reshape(x, (1,))
    axis = _axis(name, dim, x.ndim)
    if x.shape[axis] == 0:
        raise ValueError(f"{name}(): axis {axis} of shape {tuple(x.shape)} is empty")
    order = choose(x, axis=axis, keepdims=True)
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
    return _chosen("max", arg_max, x, axis, keep) if pair else _max(x, axis=axis, keepdims=keep)


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The smallest values: PyTorch's ``(values, indices)`` for a ``dim``, NumPy's values for
    ``axis=`` or no axis; ``min(x, y)`` with a tensor ``y`` is the elementwise :func:`minimum`."""
    if not _is_axis(dim):
        return _minimum(x, dim)
    axis, pair, keep = _spelling("min", dim, axis, keepdim, keepdims)
    return _chosen("min", arg_min, x, axis, keep) if pair else _min(x, axis=axis, keepdims=keep)


def argmax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The index of the largest value along ``dim`` (of the flattened ``x`` when ``None``), an int64
    tensor with no derivative; ties give the first."""
    return _arg("argmax", arg_max, x, dim, keepdim, axis, keepdims)


def argmin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The index of the smallest value along ``dim`` (of the flattened ``x`` when ``None``)."""
    return _arg("argmin", arg_min, x, dim, keepdim, axis, keepdims)


def _arg(name, choose, x, dim, keepdim, axis, keepdims):
    axis, _, keep = _spelling(name, dim, axis, keepdim, keepdims)
    x = _operand(x)
    if axis is not None:
        return choose(x, axis=axis, keepdims=keep)
    index = choose(reshape(x, (-1,)), axis=0)  # of the flattened x
    return reshape(index, (1,) * x.ndim) if keep else index


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
    x = _operand(x)
    axis = _axis("sort", -1 if dim is None else dim, x.ndim)
    return _pair("sort", x, arg_sort(x, axis=axis, descending=bool(descending)), axis, True)


def _ranked(name, x, k, lowest, dim):
    """``x`` as a tensor of at least one dimension and the axis of ``dim``, once ``k`` is checked to be
    an int from ``lowest`` to the length of that axis."""
    x = _operand(x)
    axis = _axis(name, dim, x.ndim)
    n = x.shape[axis] if x.ndim else 1
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or not lowest <= k <= n:
        raise ValueError(f"{name}(): k must be an int from {lowest} to {n} (the length of dim {dim}), not {k!r}")
    return (reshape(x, (1,)) if x.ndim == 0 else x), axis


def topk(x, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (``largest=False``: smallest) elements along ``dim`` and their indices, as
    PyTorch's ``topk``, always in order (``sorted`` is accepted for PyTorch's signature); the gradient
    goes to the chosen elements.

    Example:
        >>> import chainrule as cr
        >>> cr.topk(cr.tensor([1.0, 9.0, 3.0, 7.0]), 2).indices.tolist()
        [1, 3]
    """
    x, axis = _ranked("topk", x, k, 0, dim)
    order = _along(arg_sort(x, axis=axis, descending=bool(largest)), axis, 0, k)
    return _pair("topk", x, order, axis, True)


def kthvalue(x, k, dim=-1, keepdim=False):
    """The ``k``-th smallest element (``k`` from 1) along ``dim`` and its index, as PyTorch's."""
    x, axis = _ranked("kthvalue", x, k, 1, dim)
    order = _along(arg_sort(x, axis=axis), axis, k - 1, k)
    return _pair("kthvalue", x, order, axis, keepdim)


def median(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The median: for a ``dim``, PyTorch's ``(values, indices)`` pair with the lower of the two middle
    elements; for ``axis=`` or no axis, NumPy's value (the mean of the two middle elements)."""
    axis, pair, keep = _spelling("median", dim, axis, keepdim, keepdims)
    if not pair:
        return _median(x, axis=axis, keepdims=keep)
    x = _operand(x)
    if x.ndim == 0:
        x = reshape(x, (1,))
    axis = _axis("median", axis, x.ndim)
    n = x.shape[axis]
    if n == 0:
        raise ValueError(f"median(): axis {axis} of shape {tuple(x.shape)} is empty")
    middle = (n - 1) // 2
    order = _along(arg_sort(x, axis=axis), axis, middle, middle + 1)
    return _pair("median", x, order, axis, keep)
