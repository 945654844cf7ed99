"""Primitives that move elements without changing them: transpose, reshape, broadcasting, squeezing,
joining, indexing. All are linear, so their JVP is the primitive applied to the tangent."""

import operator

import numpy as _np

from .. import backend
from ..core.batching import batch_of, defbatch, lift, materialize, shift_axis
from ..core.primitive import primitive
from ..pytorch_compat import pytorch_keywords
from .reductions import normalize_axes


def _inverse_permutation(axes):
    return tuple(_np.argsort(axes))


def _full_axes(axes, ndim):
    return tuple(range(ndim))[::-1] if axes is None else tuple(a % ndim for a in axes)


_REVERSED = [tuple(range(n - 1, -1, -1)) for n in range(65)]


def _transpose_impl(xp, x, axes=None):
    # The array API's permute_dims (NumPy's transpose under its standard name) wants explicit axes.
    return xp.permute_dims(x, _REVERSED[x.ndim] if axes is None else axes)


transpose = primitive("transpose", _transpose_impl, saves=())
transpose.defvjp(lambda ns, g, ans, x, axes=None:
                 ns.transpose(g, axes=_inverse_permutation(_full_axes(axes, x.ndim))))
transpose.defjvp_linear()


def _swapaxes_impl(xp, x, *, axis1, axis2):
    if xp is _np:  # NumPy's own swapaxes skips building the permutation
        return _np.swapaxes(x, axis1, axis2)
    order = list(range(x.ndim))
    order[axis1], order[axis2] = order[axis2], order[axis1]
    return xp.permute_dims(x, tuple(order))


swapaxes = primitive("swapaxes", _swapaxes_impl, saves=())
swapaxes.defvjp(lambda ns, g, ans, x, axis1, axis2: ns.swapaxes(g, axis1=axis1, axis2=axis2))
swapaxes.defjvp(lambda ns, t, ans, x, axis1, axis2: ns.swapaxes(t, axis1=axis1, axis2=axis2))


def permute(x, *axes):
    """``x`` with its axes reordered (PyTorch's name for :func:`transpose` with ``axes``)."""
    return transpose(x, axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes)


reshape = primitive("reshape", lambda xp, x, *, shape: xp.reshape(x, shape), saves=())
reshape.defvjp(lambda ns, g, ans, x, shape: ns.reshape(g, shape=x.shape))
reshape.defjvp_linear()

broadcast_to = primitive("broadcast_to", lambda xp, x, *, shape: xp.broadcast_to(x, shape), saves=())
broadcast_to.defvjp(lambda ns, g, ans, x, shape: g)  # the reverse pass sums g down to x's shape
broadcast_to.defjvp_linear()

squeeze = primitive("squeeze", lambda xp, x, axis=None: xp.squeeze(x, axis), saves=())
squeeze.defvjp(lambda ns, g, ans, x, axis=None: ns.reshape(g, shape=x.shape))
squeeze.defjvp_linear()

unsqueeze = primitive("unsqueeze", lambda xp, x, *, axis: xp.expand_dims(x, axis), saves=())
unsqueeze.defvjp(lambda ns, g, ans, x, axis: ns.reshape(g, shape=x.shape))
unsqueeze.defjvp_linear()
expand_dims = unsqueeze


def _concatenate_impl(xp, *xs, axis=0):
    return xp.concat(xs, axis=axis)


def _piece(argnum, ns, g, xs, axis):
    """The part of ``g`` that came from input ``argnum`` of a concatenation along ``axis``."""
    axis = axis % g.ndim
    start = sum(_np.shape(x)[axis] for x in xs[:argnum])  # constants may be Python lists
    index = (slice(None),) * axis + (slice(start, start + _np.shape(xs[argnum])[axis]),)
    return ns.getitem(g, index=index)


def _with_zeros(ns, argnum, t, xs):
    return [t if i == argnum else _zero_tangent(ns, x, t) for i, x in enumerate(xs)]


def _zero_tangent(ns, x, t):
    """The tangent of a joined input that has none: zeros of its shape (a constant may be a Python
    number or list, whose zeros take the tangent's dtype)."""
    return ns.zeros_like(x) if hasattr(x, "shape") else backend.xp.zeros(_np.shape(x), dtype=t.dtype)


_concatenate = primitive("concatenate", _concatenate_impl, saves=())
_concatenate.defvjp_argnum(lambda argnum, ns, g, ans, *xs, axis=0: _piece(argnum, ns, g, xs, axis))
_concatenate.defjvp_argnum(lambda argnum, ns, t, ans, *xs, axis=0:
                           ns.concatenate(*_with_zeros(ns, argnum, t, xs), axis=axis))


@pytorch_keywords
def concatenate(tensors, axis=0):
    """Join a sequence of tensors along an existing axis."""
    return _concatenate(*_sequence(tensors, "concatenate"), axis=axis)


def _stack_impl(xp, *xs, axis=0):
    return xp.stack(xs, axis=axis)


def _stack_slice(argnum, ns, g, axis):
    axis = axis % g.ndim
    return ns.getitem(g, index=(slice(None),) * axis + (argnum, Ellipsis))


_stack = primitive("stack", _stack_impl, saves=())
_stack.defvjp_argnum(lambda argnum, ns, g, ans, *xs, axis=0: _stack_slice(argnum, ns, g, axis))
_stack.defjvp_argnum(lambda argnum, ns, t, ans, *xs, axis=0:
                     ns.stack(*_with_zeros(ns, argnum, t, xs), axis=axis))


@pytorch_keywords
def stack(tensors, axis=0):
    """Join a sequence of same-shaped tensors along a new axis."""
    return _stack(*_sequence(tensors, "stack"), axis=axis)


def _sequence(tensors, where):
    """``tensors`` unless it is one array or tensor, whose rows would silently be joined instead."""
    if hasattr(tensors, "_node") or isinstance(tensors, _np.ndarray):
        raise TypeError(f"{where}() takes a sequence of tensors, not one {type(tensors).__name__}; write "
                        f"{where}([a, b])")
    return tensors


def _is_basic(index):
    return all(isinstance(i, (int, slice, type(None), type(Ellipsis))) for i in index)


def _as_tuple(index):
    return index if isinstance(index, tuple) else (index,)


def _index_on(xp, index):
    """``index`` with its NumPy arrays (positions made on the host) copied to the device of ``xp``."""
    if isinstance(index, tuple):
        return tuple(_index_on(xp, i) for i in index)
    return xp.asarray(index) if isinstance(index, _np.ndarray) else index


getitem = primitive("getitem", lambda xp, x, *, index: x[index] if xp is _np else x[_index_on(xp, index)],
                    saves=())
getitem.defvjp(lambda ns, g, ans, x, index: ns.scatter_add(g, index=index, shape=x.shape))
getitem.defjvp_linear()


def _scatter_add_impl(xp, g, *, index, shape):
    """Zeros of ``shape`` with ``g`` added at ``index``: the transpose of indexing. Repeated integer
    indices accumulate."""
    out = xp.zeros(shape, dtype=g.dtype)
    if xp is not _np:
        index = _index_on(xp, index)
    if _is_basic(_as_tuple(index)):
        out[index] = g
    else:
        backend.scatter_add(xp, out, index, g)
    return out


scatter_add = primitive("scatter_add", _scatter_add_impl, saves=())
scatter_add.defvjp(lambda ns, g, ans, y, index, shape: ns.getitem(g, index=index))
scatter_add.defjvp_linear()


def normalize_index(index):
    """An index with tensors and lists turned into arrays, ready to be a primitive's parameter."""
    def convert(i):
        if hasattr(i, "_node"):
            if i._tangents and any(batch_of(i, level) for level in i._tangents):
                raise NotImplementedError(
                    "vmap: indexing with an index tensor that differs from example to example is not "
                    "supported; for a per-example label use softmax_cross_entropy or one_hot, or move "
                    "the indexing out of the vmapped function")
            return i.data
        if isinstance(i, slice) and any(hasattr(end, "_node") for end in (i.start, i.stop, i.step)):
            return slice(*(None if end is None else operator.index(end) for end in (i.start, i.stop, i.step)))
        if isinstance(i, list):
            return _np.asarray(i)
        return i
    return tuple(convert(i) for i in index) if isinstance(index, tuple) else convert(index)


@pytorch_keywords
def take(x, indices, axis=None):
    """Elements of ``x`` at integer ``indices`` along ``axis`` (of the flattened ``x`` when None)."""
    indices = normalize_index(indices)
    if axis is None:
        return getitem(reshape(x, (-1,)), index=indices)
    return getitem(x, index=(slice(None),) * (axis % len(x.shape)) + (indices,))


@pytorch_keywords
def take_along_axis(x, indices, axis):
    """``out[..., i, ...] = x[..., indices[..., i, ...], ...]`` along ``axis`` (``torch.gather``)."""
    indices = _np.asarray(normalize_index(indices))
    axis = normalize_axes(axis, len(x.shape))[0]
    grids = list(_np.ogrid[tuple(slice(n) for n in indices.shape)])
    grids[axis] = indices
    return getitem(x, index=tuple(grids))


# -- batching rules (see chainrule.core.batching): the batch axis stays in front --------------------

def _transpose_batched(args, dims, size, axes=None):
    x, = args
    rank = x.ndim - 1
    axes = tuple(range(rank))[::-1] if axes is None else tuple(a % rank for a in axes)
    return transpose(x, axes=(0,) + tuple(a + 1 for a in axes))


def _squeeze_batched(args, dims, size, axis=None):
    x, = args
    if axis is None:
        axis = tuple(i + 1 for i, n in enumerate(x.shape[1:]) if n == 1)
    else:
        axis = shift_axis(axis, x.ndim - 1)
    return squeeze(x, axis=axis)


def _as_shape(shape):
    return (shape,) if isinstance(shape, (int, _np.integer)) else tuple(shape)


def _joined_batched(prim):
    def rule(args, dims, size, axis=0):
        return prim(*[materialize(a, d, size) for a, d in zip(args, dims)],
                    axis=shift_axis(axis, max(_np.ndim(a) if d is None else a.ndim - 1
                                              for a, d in zip(args, dims))))
    return rule


def _advanced_axes(index):
    """Where NumPy puts the batch axis of ``x[(slice(None),) + index]``: 0, unless the example's
    advanced indices (arrays, and ints among them) are separated by a slice, ``None`` or ``...``, when
    their broadcast axes go first and the batch axis follows them."""
    kinds = [not isinstance(i, (slice, type(None), type(Ellipsis))) for i in index]
    arrays = [i for i in index if isinstance(i, _np.ndarray)]
    if not arrays:
        return 0
    first, last = kinds.index(True), len(kinds) - 1 - kinds[::-1].index(True)
    if all(kinds[first:last + 1]):
        return 0
    # A boolean mask stands for one index array of its count of True elements.
    shapes = [(int(_np.count_nonzero(i)),) if i.dtype == bool else i.shape for i in arrays]
    return len(_np.broadcast_shapes(*shapes))


def _getitem_batched(args, dims, size, index):
    x, = args
    index = _as_tuple(index)
    out = getitem(x, index=(slice(None),) + index)
    at = _advanced_axes(index)
    return out if at == 0 else _np_moveaxis(out, at, 0)


def _scatter_add_batched(args, dims, size, index, shape):
    g, = args
    index = _as_tuple(index)
    at = _advanced_axes(index)
    if at:
        g = _np_moveaxis(g, 0, at)
    return scatter_add(g, index=(slice(None),) + index, shape=(size,) + tuple(shape))


def _np_moveaxis(x, source, destination):
    order = [a for a in range(x.ndim) if a != source]
    order.insert(destination, source)
    return transpose(x, axes=tuple(order))


defbatch(transpose, _transpose_batched)
defbatch(swapaxes, lambda args, dims, size, axis1, axis2:
         swapaxes(args[0], axis1=shift_axis(axis1, 0), axis2=shift_axis(axis2, 0)))
defbatch(reshape, lambda args, dims, size, shape: reshape(args[0], shape=(size,) + _as_shape(shape)))
defbatch(broadcast_to, lambda args, dims, size, shape:
         broadcast_to(lift(args[0], len(_as_shape(shape))), shape=(size,) + _as_shape(shape)))
defbatch(squeeze, _squeeze_batched)
defbatch(unsqueeze, lambda args, dims, size, axis: unsqueeze(args[0], axis=shift_axis(axis, 0)))
defbatch(_concatenate, _joined_batched(_concatenate))
defbatch(_stack, _joined_batched(_stack))
defbatch(getitem, _getitem_batched)
defbatch(scatter_add, _scatter_add_batched)
