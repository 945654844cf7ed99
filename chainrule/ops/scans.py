"""Products and running sums along an axis: ``prod``, ``cumsum``, ``cumprod``, ``diff``, ``gradient``.

``prod``, ``cumsum`` and ``cumprod`` are primitives. The derivative of a product with respect to one
factor is the product of the others; dividing the product by the factor fails where a factor is zero,
so ``prod`` multiplies exclusive running products from both ends instead (exact with zeros, no
division), and ``cumprod`` treats the first zero of each slice apart. ``diff`` and ``gradient`` are
differences of slices, composites.
"""

import numpy as _np

from .. import backend
from ..core.batching import defreducer
from ..core.primitive import primitive
from .reductions import _kept, normalize_axes
from .shape import concatenate, getitem, reshape


def _flat_axis(x, axis):
    """``x`` and an axis to scan: the flattened ``x`` and 0 when ``axis`` is None."""
    return (reshape(x, (-1,)), 0) if axis is None else (x, axis)


def _along(ndim, axis, index):
    return (slice(None),) * (axis % ndim) + (index,)


_cumsum = primitive("cumsum", lambda xp, x, *, axis: xp.cumulative_sum(x, axis=axis), saves=())
# The transpose of a running sum is a running sum from the other end.
_cumsum.defvjp(lambda ns, g, ans, x, axis: ns.flip(ns.cumsum(ns.flip(g, axis), axis=axis), axis))
_cumsum.defjvp_linear()


def _shifted_cumprod(ns, x, axis):
    """Exclusive running products ``[1, x₀, x₀x₁, ...]`` along ``axis``."""
    ones_shape = list(x.shape)
    ones_shape[axis % x.ndim] = 1
    head = backend.xp.ones(tuple(ones_shape), dtype=x.dtype)
    body = ns.getitem(ns.cumprod(x, axis=axis), index=_along(x.ndim, axis, slice(None, -1)))
    return ns.concatenate(head, body, axis=axis)


def _cumprod_vjp(ns, g, ans, x, axis):
    # ∂yⱼ/∂xᵢ = yⱼ / xᵢ for j ≥ i, so the VJP is a reversed running sum of g·y divided by x; at the
    # first zero z of a slice it is the reversed running sum of g·cumprod(x with x_z = 1), and after
    # z it is zero (another zero factor).
    xv = ns.value(x)
    zero = xv == 0
    first_zero = zero & (backend.xp.cumulative_sum(backend.xp.astype(zero, backend.xp.int64), axis=axis) == 1)
    safe_x = ns.where(zero, 1, x)
    reversed_sum = ns.flip(ns.cumsum(ns.flip(g * ans, axis), axis=axis), axis)
    out = ns.where(zero, 0, reversed_sum / safe_x)
    if backend.xp.any(first_zero):
        patched = ns.where(first_zero, 1, x)
        at_zero = ns.flip(ns.cumsum(ns.flip(g * ns.cumprod(patched, axis=axis), axis), axis=axis), axis)
        out = ns.where(first_zero, at_zero, out)
    return out


def _cumprod_jvp(ns, t, ans, x, axis):
    # dyⱼ = Σ_{i ≤ j} tᵢ Π_{k ≤ j, k ≠ i} x_k: before a slice's first zero z that is y · cumsum(t / x);
    # from z on only the term i = z survives, t_z · cumprod(x with x_z = 1).
    zero = ns.value(x) == 0
    if not backend.xp.any(zero):
        return ans * ns.cumsum(t / x, axis=axis)
    zeros_so_far = backend.xp.cumulative_sum(backend.xp.astype(zero, backend.xp.int64), axis=axis)
    first_zero = zero & (zeros_so_far == 1)
    before = ans * ns.cumsum(t / ns.where(zero, 1, x), axis=axis)
    t_at_zero = ns.sum(ns.where(first_zero, t, 0), axis=axis, keepdims=True)
    after = t_at_zero * ns.cumprod(ns.where(first_zero, 1, x), axis=axis)
    return ns.where(zeros_so_far == 0, before, after)


_cumprod = primitive("cumprod", lambda xp, x, *, axis: xp.cumulative_prod(x, axis=axis))
_cumprod.defvjp(_cumprod_vjp).defjvp(_cumprod_jvp)


def _prod_impl(xp, x, axis=None, keepdims=False):
    return xp.prod(x, axis=axis, keepdims=keepdims)


def _others_product(ns, x, axis):
    """For each element, the product of the other elements of its slices over ``axis``: exclusive
    running products from the left times those from the right (no division, exact with zeros)."""
    if 0 in x.shape:  # no elements: nothing to differentiate (and no slice to scan)
        return backend.xp.zeros(x.shape, x.dtype)
    axes = normalize_axes(axis, x.ndim)
    kept = [a for a in range(x.ndim) if a not in axes]
    moved = ns.transpose(x, axes=tuple(kept) + axes)
    flat = ns.reshape(moved, shape=tuple(x.shape[a] for a in kept) + (-1,))
    others = _shifted_cumprod(ns, flat, -1) * ns.flip(_shifted_cumprod(ns, ns.flip(flat, -1), -1), -1)
    others = ns.reshape(others, shape=moved.shape)
    return ns.transpose(others, axes=tuple(_np.argsort(tuple(kept) + axes)))


prod = primitive("prod", _prod_impl)
prod.defvjp(lambda ns, g, ans, x, axis=None, keepdims=False:
            _kept(ns, g, x.shape, axis, keepdims) * _others_product(ns, x, axis))
prod.defjvp(lambda ns, t, ans, x, axis=None, keepdims=False:
            ns.sum(t * _others_product(ns, x, axis), axis=axis, keepdims=keepdims))
prod.__doc__ = """The product of elements over ``axis`` (``numpy.prod``); gradients are exact where
elements are zero."""


def cumsum(x, axis=None):
    """Running sums along ``axis``, of the flattened ``x`` when None (``numpy.cumsum``)."""
    x, axis = _flat_axis(x, axis)
    return _cumsum(x, axis=axis)


def cumprod(x, axis=None):
    """Running products along ``axis``, of the flattened ``x`` when None (``numpy.cumprod``); gradients
    are exact where elements are zero (first order)."""
    x, axis = _flat_axis(x, axis)
    return _cumprod(x, axis=axis)


def diff(x, n=1, axis=-1, prepend=None, append=None):
    """The ``n``-th differences along ``axis``: ``out[i] = x[i + 1] − x[i]``, repeated (``numpy.diff``)."""
    ndim = len(x.shape) if hasattr(x, "shape") else _np.ndim(x)
    if prepend is not None or append is not None:
        ends = [_np.broadcast_to(e, _end_shape(x, axis)) if _np.ndim(e) == 0 else e
                for e in (prepend, append)]
        x = concatenate([p for p in (ends[0], x, ends[1]) if p is not None], axis=axis)
    for _ in range(n):
        x = getitem(x, index=_along(ndim, axis, slice(1, None))) - getitem(x, index=_along(ndim, axis,
                                                                                      slice(None, -1)))
    return x


def _end_shape(x, axis):
    shape = list(_np.shape(x) if not hasattr(x, "shape") else x.shape)
    shape[axis] = 1
    return tuple(shape)


def gradient(f, *varargs, axis=None, edge_order=1):
    """Derivative estimates of sampled values ``f`` (``numpy.gradient``): central differences inside,
    one-sided differences of ``edge_order`` (1 or 2) at the ends; ``varargs`` gives one scalar
    spacing for all axes or one per axis (coordinate arrays are not supported).

    Returns:
        One tensor for a single axis, else a list, one per axis.
    """
    ndim = len(f.shape) if hasattr(f, "shape") else _np.ndim(f)
    axes = normalize_axes(axis, ndim)
    spacings = list(varargs) or [1.0]
    if len(spacings) == 1:
        spacings = spacings * len(axes)
    if len(spacings) != len(axes) or any(_np.ndim(h) != 0 for h in spacings):
        raise NotImplementedError("gradient: give one scalar spacing, or one per axis; coordinate arrays "
                                  "are not supported")
    if edge_order not in (1, 2):
        raise ValueError(f"gradient: edge_order must be 1 or 2, not {edge_order}")
    out = [_gradient_along(f, a, ndim, h, edge_order) for a, h in zip(axes, spacings)]
    return out[0] if len(out) == 1 else out


def _gradient_along(f, axis, ndim, h, edge_order):
    n = f.shape[axis]
    if n < edge_order + 1:
        raise ValueError(f"gradient: axis {axis} has {n} samples; edge_order {edge_order} needs at least "
                         f"{edge_order + 1}")

    def at(index):
        return getitem(f, index=_along(ndim, axis, index))
    inside = (at(slice(2, None)) - at(slice(None, -2))) / (2 * h)
    if edge_order == 1:
        first = (at(slice(1, 2)) - at(slice(0, 1))) / h
        last = (at(slice(-1, None)) - at(slice(-2, -1))) / h
    else:
        first = (-1.5 * at(slice(0, 1)) + 2 * at(slice(1, 2)) - 0.5 * at(slice(2, 3))) / h
        last = (0.5 * at(slice(-3, -2)) - 2 * at(slice(-2, -1)) + 1.5 * at(slice(-1, None))) / h
    return concatenate([first, inside, last], axis=axis)


defreducer(_cumsum, _cumprod, prod)
