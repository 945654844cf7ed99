"""Pooling over windows of the spatial axes (all but the first two), N-D, PyTorch's conventions.

Three primitives share the window geometry of :mod:`chainrule.ops.conv` (``kernel_size``,
``stride``, ``padding`` as ``(before, after)`` pairs, ``dilation``):

- ``window_sum(x, weights)``: ``Σ_κ weights[..., κ] · x_pad[window + κ]`` per output position, linear
  in ``x``; ``weights`` (``(prod(k) or 1, ...)``, each row broadcast against ``(N, C, *out)``) is a constant.
- ``window_scatter(y, weights)``: its adjoint, every output's value spread back over its window
  (col2im by kernel-offset slices).
- ``max_pool(x)``: the largest element of each window (padding counts as ``-inf``; NaN propagates).
  Ties share the derivative equally, as :func:`chainrule.max` does: with ``share = [x = max] / #ties``
  read off the saved input and output (NaN throughout a window whose maximum is NaN, as ``max``'s
  ``0 / 0``), its VJP is ``max_pool_scatter(g, x, y)`` = ``window_scatter(g, share)`` and its JVP
  ``max_pool_gather(t, x, y)`` = ``window_sum(t, share)``: two primitives linear in their first
  argument, each the other's VJP, with ``x`` and ``y`` constants (the share is piecewise constant).
  Where a C compiler is found, all three are one pass each (:mod:`.pool_kernels`); else NumPy
  computes the shares and then the window sum or scatter.

Average pooling is ``window_sum`` with ``1/divisor`` weights; every loop is over kernel offsets, never
over pixels.
"""

import numpy as _np

from ..core.primitive import primitive
from . import pool_kernels
from .checks import check_fits, ints, located, positive_ints
from .conv import conv_output_size, inner, offsets, padded

def _out(shape, kernel_size, stride, padding, dilation):
    return tuple(conv_output_size(n, k, s, p, d)
                 for n, k, s, p, d in zip(shape[2:], kernel_size, stride, padding, dilation))


def _weight_at(weights, i):
    """The weights of kernel offset ``i`` (the same for all offsets when the offset axis has size 1)."""
    return weights[i % weights.shape[0]]


def _window_sum_impl(xp, x, weights, *, kernel_size, stride, padding, dilation):
    x_pad = padded(xp, x, padding)
    out = _out(x.shape, kernel_size, stride, padding, dilation)
    ans = xp.zeros(x.shape[:2] + out, dtype=xp.result_type(x, weights))
    for i, (_, index) in enumerate(offsets(kernel_size, stride, dilation, out)):
        ans += x_pad[index] * _weight_at(weights, i)
    return ans


def _window_scatter_impl(xp, y, weights, *, size, kernel_size, stride, padding, dilation):
    full = tuple(n + before + after for n, (before, after) in zip(size, padding))
    # Windows that never overlap (pooling's usual stride = kernel) own their pixels: each product is
    # written straight into its pixels, and where they also tile the image nothing needs zeroing.
    disjoint = all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel_size, stride, dilation))
    tiled = disjoint and all(s == k and d == 1 and o * s == n for k, s, d, o, n
                             in zip(kernel_size, stride, dilation, y.shape[2:], full))
    dtype = xp.result_type(y, weights)
    image = (xp.empty if tiled else xp.zeros)(y.shape[:2] + full, dtype=dtype)
    part = None if disjoint else xp.empty(y.shape, dtype=dtype)
    for i, (_, index) in enumerate(offsets(kernel_size, stride, dilation, y.shape[2:])):
        if disjoint:
            xp.multiply(y, _weight_at(weights, i), out=image[index])
        else:
            xp.multiply(y, _weight_at(weights, i), out=part)
            image[index] += part
    return image[inner(size, padding)]


def _max_pool_impl(xp, x, *, kernel_size, stride, padding, dilation):
    out = _out(x.shape, kernel_size, stride, padding, dilation)
    if pool_kernels.available(x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation):
        return pool_kernels.max_pool(x, out, kernel_size, stride, padding, dilation)
    x_pad = padded(xp, x, padding, fill=-xp.inf)
    views = [x_pad[index] for _, index in offsets(kernel_size, stride, dilation, out)]
    if len(views) == 1:
        return views[0].copy()
    ans = xp.maximum(views[0], views[1])
    for view in views[2:]:
        xp.maximum(ans, view, out=ans)
    return ans


def _max_share_impl(xp, x, ans, *, kernel_size, stride, padding, dilation):
    """Per kernel offset and output, the share of the derivative: 1/#ties where the window's element is
    its maximum, else 0; shape ``(prod(k), N, C, *out)``."""
    x_pad = padded(xp, xp.asarray(x), padding, fill=-xp.inf)
    top = xp.asarray(ans)
    windows = list(offsets(kernel_size, stride, dilation, top.shape[2:]))
    share = xp.empty((len(windows),) + top.shape, dtype=top.dtype)
    for i, (_, index) in enumerate(windows):
        xp.equal(x_pad[index], top, out=share[i])  # 1.0 where the element is its window's maximum
    ties = xp.add.reduce(share, axis=0)
    if ties.max(initial=1) > 1 or ties.min(initial=1) < 1:  # < 1: a NaN maximum, shares 0 / 0 = NaN
        with _np.errstate(invalid="ignore"):
            share /= ties
    return share


def _tiled(size, kernel_size, stride, padding, dilation):
    """Whether every input position lies in exactly one window (pooling's usual stride = kernel)."""
    out = _out((0, 0) + tuple(size), kernel_size, stride, padding, dilation)
    return all(s == k and d == 1 and o * s == n + before + after for k, s, d, o, n, (before, after)
               in zip(kernel_size, stride, dilation, out, size, padding))


def _max_scatter_impl(xp, g, x, ans, *, kernel_size, stride, padding, dilation):
    p = {"kernel_size": kernel_size, "stride": stride, "padding": padding, "dilation": dilation}
    if pool_kernels.available(g, x, ans, **p):
        return pool_kernels.max_pool_scatter(g, x, ans, **p, tiled=_tiled(x.shape[2:], **p))
    return _window_scatter_impl(xp, g, _max_share_impl(xp, x, ans, **p), size=x.shape[2:], **p)


def _max_gather_impl(xp, t, x, ans, *, kernel_size, stride, padding, dilation):
    p = {"kernel_size": kernel_size, "stride": stride, "padding": padding, "dilation": dilation}
    if pool_kernels.available(t, x, ans, **p):
        return pool_kernels.max_pool_gather(t, x, ans, **p)
    return _window_sum_impl(xp, t, _max_share_impl(xp, x, ans, **p), **p)


window_sum = primitive("window_sum", _window_sum_impl, saves=("inputs",))
window_sum.__doc__ = """``Σ_κ weights[..., κ] · x_pad[window + κ]`` for every window; see the module."""
window_sum.defvjp(lambda ns, g, ans, x, weights, **p: ns.window_scatter(g, weights, size=x.shape[2:], **p),
                  None)
window_sum.defjvp(lambda ns, t, ans, x, weights, **p: ns.window_sum(t, weights, **p), None)

window_scatter = primitive("window_scatter", _window_scatter_impl, saves=("inputs",))
window_scatter.__doc__ = """The adjoint of ``window_sum``: each value times its weights, summed into its
window of a zero image of spatial shape ``size``."""
window_scatter.defvjp(lambda ns, g, ans, y, weights, size, **p: ns.window_sum(g, weights, **p), None)
window_scatter.defjvp(lambda ns, t, ans, y, weights, size, **p: ns.window_scatter(t, weights, size=size, **p),
                      None)

max_pool_primitive = primitive("max_pool", _max_pool_impl)
max_pool_primitive.__doc__ = """The maximum of each window; ties share the derivative equally."""
max_pool_primitive.defvjp(lambda ns, g, ans, x, **p: ns.max_pool_scatter(g, ns.value(x), ns.value(ans), **p))
max_pool_primitive.defjvp(lambda ns, t, ans, x, **p: ns.max_pool_gather(t, ns.value(x), ns.value(ans), **p))

max_pool_scatter = primitive("max_pool_scatter", _max_scatter_impl, saves=("inputs",))
max_pool_scatter.__doc__ = """``max_pool``'s VJP at ``x`` (pooled to ``y``): ``g`` ``(N, C, *out)`` spread
over each window's maxima (ties share it), an array of ``x``'s shape. Linear in ``g``; ``x``, ``y``
constants."""
max_pool_scatter.defvjp(lambda ns, gg, ans, g, x, y, **p: ns.max_pool_gather(gg, x, y, **p), None, None)
max_pool_scatter.defjvp(lambda ns, t, ans, g, x, y, **p: ns.max_pool_scatter(t, x, y, **p), None, None)

max_pool_gather = primitive("max_pool_gather", _max_gather_impl, saves=("inputs",))
max_pool_gather.__doc__ = """``max_pool``'s JVP at ``x`` (pooled to ``y``): per window, the tangent ``t``
(``x``'s shape) at its maxima, averaged over ties. The adjoint of ``max_pool_scatter``."""
max_pool_gather.defvjp(lambda ns, gg, ans, t, x, y, **p: ns.max_pool_scatter(gg, x, y, **p), None, None)
max_pool_gather.defjvp(lambda ns, tt, ans, t, x, y, **p: ns.max_pool_gather(tt, x, y, **p), None, None)


# -- the user-facing forms ------------------------------------------------------------------------

def max_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """The maximum over each ``kernel_size`` window of ``x`` ``(N, C, *spatial)`` (PyTorch's
    ``max_pool1d/2d/3d``; the number of spatial axes is ``len(kernel_size)``, or ``x.ndim - 2`` for an
    int). ``stride`` defaults to ``kernel_size``; ``padding`` (at most half the kernel) counts as
    ``-inf``; ``ceil_mode`` keeps a last, partial window."""
    geometry = pool_geometry("max_pool", x, kernel_size, stride, padding, dilation, ceil_mode)
    return max_pool_primitive(x, **geometry)


def avg_pool(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
             divisor_override=None):
    """The mean over each ``kernel_size`` window of ``x`` (PyTorch's ``avg_pool1d/2d/3d``): zero
    ``padding`` counts in the divisor when ``count_include_pad``; ``ceil_mode``'s extra positions never
    do; ``divisor_override`` replaces the divisor."""
    geometry = pool_geometry("avg_pool", x, kernel_size, stride, padding, 1, ceil_mode)
    shape = _np.shape(x.data if hasattr(x, "_node") else x)
    if divisor_override is not None:
        weights = _np.full((1,), 1 / divisor_override)
    else:
        weights = 1 / _divisor(shape[2:], geometry, count_include_pad)[None]
    return window_sum(x, weights.astype(_dtype(x)), **geometry)


def _divisor(size, geometry, count_include_pad):
    """How many elements each window averages: PyTorch's count, padding included or not, never the
    extra positions of ``ceil_mode``."""
    padding = geometry["padding"]
    if count_include_pad:
        counted = tuple(n + 2 * before for n, (before, _) in zip(size, padding))
        padding = tuple((0, after - before) for before, after in padding)
    else:
        counted = size
    ones = _np.ones((1, 1) + counted)
    return _window_sum_impl(_np, ones, _np.ones(1), **{**geometry, "padding": padding})[0, 0]


def _dtype(x):
    dtype = _np.result_type(x.data if hasattr(x, "_node") else x)
    return dtype if dtype.kind == "f" else _np.float64


def adaptive_avg_pool(x, output_size):
    """The mean over PyTorch's adaptive windows (``floor(i·n/m)`` to ``ceil((i+1)·n/m)``) so the spatial
    shape becomes ``output_size`` (an int or one per axis, ``None`` to keep an axis); ``1`` is global
    average pooling."""
    from .shape import transpose
    from .linalg import matmul
    shape = _np.shape(x.data if hasattr(x, "_node") else x)
    spatial = len(shape) - 2
    sizes = (output_size,) * spatial if isinstance(output_size, int) or output_size is None else output_size
    if len(sizes) != spatial or any(s is not None and (not isinstance(s, int) or s <= 0) for s in sizes):
        raise located(f"adaptive_avg_pool: output_size must be a positive int or {spatial} of them "
                      f"(None keeps an axis), not {output_size!r}", ValueError)
    out = x
    for axis, (n, m) in enumerate(zip(shape[2:], sizes)):
        if m is None or m == n:
            continue
        # Averaging along one axis is a product with a constant (n, m) matrix on that axis.
        moved = transpose(out, _swap(len(shape), 2 + axis))
        out = transpose(matmul(moved, _adaptive_matrix(n, m, _dtype(x))), _swap(len(shape), 2 + axis))
    return out


def _swap(ndim, axis):
    axes = list(range(ndim))
    axes[axis], axes[-1] = axes[-1], axes[axis]
    return tuple(axes)


def _adaptive_matrix(n, m, dtype):
    matrix = _np.zeros((n, m), dtype=dtype)
    for i in range(m):
        start, stop = (i * n) // m, -((-(i + 1) * n) // m)
        matrix[start:stop, i] = 1 / (stop - start)
    return matrix


def pool_geometry(where, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Checked window geometry: ``kernel_size``, ``stride``, ``dilation`` per axis and ``padding`` as
    ``(before, after)`` pairs, ``after`` grown for ``ceil_mode``'s last window."""
    shape = _np.shape(x.data if hasattr(x, "_node") else x)
    axes = range(len(kernel_size) if isinstance(kernel_size, (tuple, list)) else len(shape) - 2)
    if len(shape) != len(axes) + 2 or not axes:
        raise located(f"{where}: expected an input (N, C, *spatial) with {len(axes)} spatial axes, got "
                      f"shape {shape}")
    kernel = positive_ints(kernel_size, axes, where, "kernel_size")
    stride = kernel if stride is None or stride == [] else positive_ints(stride, axes, where, "stride")
    dilation = positive_ints(dilation, axes, where, "dilation")
    pads = ints(padding, axes, where, "padding")
    if any(p < 0 or 2 * p > k for p, k in zip(pads, kernel)):
        raise located(f"{where}: padding must lie in [0, kernel_size / 2], got {padding!r} for "
                      f"kernel_size {kernel}", ValueError)
    pairs = tuple((p, p) for p in pads)
    check_fits(where, shape[2:], kernel, pairs, dilation)
    if ceil_mode:
        pairs = tuple((p, p + _ceil_extra(n, k, s, p, d))
                      for n, k, s, p, d in zip(shape[2:], kernel, stride, pads, dilation))
    return {"kernel_size": kernel, "stride": stride, "padding": pairs, "dilation": dilation}


def _ceil_extra(n, k, s, p, d):
    """Padding after the input that ``ceil_mode`` adds: one more window when it would start inside the
    input or its left padding."""
    span = n + 2 * p - d * (k - 1) - 1
    count = -(-span // s) + 1
    if (count - 1) * s >= n + p:
        count -= 1
    return max(0, (count - 1) * s - span)

