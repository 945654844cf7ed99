"""Convolution, N-D (1-D, 2-D, 3-D by the same code), as three bilinear primitives.

For an input ``x`` of shape ``(N, C, *in)``, a weight ``w`` of shape ``(O, C/groups, *k)`` and an output
``y`` of shape ``(N, O, *out)``, one trilinear form ties the three together::

    T(x, w, y) = Σ y[n, o, p] · w[o, c, κ] · x_pad[n, g(o)·C/groups + c, p·stride + κ·dilation]

``conv(x, w)`` is the ``y`` with ``⟨y', conv(x, w)⟩ = T(x, w, y')``; ``conv_transpose(y, w)`` is the
``x`` with ``⟨x', conv_transpose(y, w)⟩ = T(x', w, y)`` (the input gradient of ``conv``, and PyTorch's
transposed convolution); ``conv_weight(x, y)`` is the ``w`` with ``⟨w', conv_weight(x, y)⟩ =
T(x, w', y)`` (the weight gradient). Each one's VJPs are the other two, and its JVP follows from
bilinearity (``d(a ⋆ b) = da ⋆ b + a ⋆ db``), so all three are differentiable to any order.

The forward passes are Chainer's: the input's windows as a strided view (no copy), copied once into
an im2col matrix, one BLAS product per example and group. ``conv_transpose`` with stride 1 is itself
such a convolution (of ``y`` with the flipped kernel); with larger strides it multiplies first and then
sums the columns back into the image: in one pass by a C loop (:mod:`.conv_kernels`) where a C
compiler is found, else one kernel offset at a time (col2im by slices, never ``np.add.at``). 3x3,
stride-1 convolutions with many channels (both ways, and their weight gradients) use Winograd's
F(2x2, 3x3) instead (:mod:`.winograd`): 16 products of channels in place of im2col's one with 9x the
inner axis. 1-D convolutions with few channels (MNIST-1D's) use direct C loops (:mod:`.conv_direct`)
for all three primitives; 2-D ones with stride 1 and few channels (LeNet-5's) use those of
:mod:`.conv_direct2d` for the forward and the weight gradient, and so for the input gradient (a
flipped stride-1 convolution), with no im2col copy.

Memory: the im2col matrix of ``conv`` and ``conv_weight`` (and the column matrix of
``conv_transpose``) holds ``N · C · prod(k) · prod(out)`` elements, ``prod(k)`` times the output's
size times ``C/O``; above :data:`IM2COL_LIMIT_BYTES` the batch is processed in chunks, so the buffer
never exceeds that limit (or one example's columns, if larger).
"""

import itertools
import math

import numpy as _np
from numpy.lib.stride_tricks import as_strided

from .. import backend
from ..core.primitive import primitive
from . import conv_direct, conv_direct2d, conv_kernels, winograd
from .checks import (check_fits, check_groups, check_output_padding, conv_padding, located,
                     positive_ints)

IM2COL_LIMIT_BYTES = 8 * 2**20
"""The most memory one im2col buffer may take before the batch is split into chunks. 8 MiB keeps a
3x3, 64→64 convolution's step on 32x32 maps at batch 32 within 1.3x PyTorch's added memory (49 MiB
against 114 MiB with 64 MiB chunks) and costs no time: each chunk's product is still large."""


def conv_output_size(size, kernel, stride, padding, dilation):
    """The length of a convolution's (or pooling's) output along one axis of length ``size``, padded by
    ``padding = (before, after)``."""
    return (size + padding[0] + padding[1] - dilation * (kernel - 1) - 1) // stride + 1


def padded(xp, x, padding, fill=0):
    """``x`` with its spatial axes (all but the first two) padded by ``(before, after)`` pairs."""
    if not any(before or after for before, after in padding):
        return x
    shape = x.shape[:2] + tuple(n + before + after for n, (before, after) in zip(x.shape[2:], padding))
    out = xp.full(shape, fill, dtype=x.dtype)
    out[inner(x.shape[2:], padding)] = x
    return out


def inner(size, padding):
    """The index of the unpadded region of a padded ``(N, C, *spatial)`` array."""
    return (slice(None), slice(None)) + tuple(slice(before, before + n)
                                              for n, (before, _) in zip(size, padding))


def windows(x, kernel, stride, dilation):
    """The sliding windows of ``x`` (already padded) as a read-only strided view of shape
    ``(N, C, *out, *kernel)``: no copy."""
    spatial = x.shape[2:]
    out = tuple((n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(spatial, kernel, stride, dilation))
    step = x.strides[2:]
    strides = (x.strides[:2] + tuple(t * s for t, s in zip(step, stride))
               + tuple(t * d for t, d in zip(step, dilation)))
    shape = x.shape[:2] + out + tuple(kernel)
    if type(x) is not _np.ndarray:  # an array of another device (CuPy's as_strided has no writeable=)
        return backend.namespace_of(x).lib.stride_tricks.as_strided(x, shape=shape, strides=strides)
    return as_strided(x, shape=shape, strides=strides, writeable=False)


def offsets(kernel, stride, dilation, out):
    """For every kernel offset, the slices of the padded image that it reads for all outputs at once."""
    for offset in itertools.product(*(range(k) for k in kernel)):
        yield offset, (slice(None), slice(None)) + tuple(
            slice(i * d, i * d + s * (o - 1) + 1, s) for i, s, d, o in zip(offset, stride, dilation, out))


def _batch_chunks(n, bytes_per_example):
    size = max(1, IM2COL_LIMIT_BYTES // max(1, bytes_per_example))
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def _over_batch(xp, work, n, bytes_per_example):
    """The results of ``work(chunks)`` over the batch's chunks: one call, or with NumPy arrays and two
    BLAS threads allowed (:func:`.winograd.workers`), two Python threads each taking half the batch
    with one BLAS thread (the window copies, the products and col2im release the GIL), as Winograd
    splits its tiles; two BLAS threads would share only each example's small product."""
    if xp is not _np or n < 2 or winograd.workers() == 1:
        return [work(_batch_chunks(n, bytes_per_example))]
    half = (n + 1) // 2
    chunks = [slice(c.start + start, c.stop + start) for start, size in ((0, half), (half, n - half))
              for c in _batch_chunks(size, bytes_per_example)]
    return winograd.shared(work, chunks)


def _columns(xp, view, groups, examples_inside=False):
    """Copy windows ``(n, C, *out, *k)`` into Chainer's im2col layout ``(n, G, C/G · prod(k), prod(out))``:
    the product with the weight then lands in ``(n, O, *out)`` order, and the copy reads the input in
    rows. ``examples_inside`` gives ``(G, C/G · prod(k), n · prod(out))`` instead, the operand of one
    product over all examples at once."""
    n, channels, d = view.shape[0], view.shape[1], (view.ndim - 2) // 2
    out, kernel = view.shape[2:2 + d], view.shape[2 + d:]
    grouped = view.reshape((n, groups, channels // groups) + out + kernel)
    out_axes, kernel_axes = tuple(range(3, 3 + d)), tuple(range(3 + d, 3 + 2 * d))
    if examples_inside:
        cols = xp.ascontiguousarray(grouped.transpose((1, 2) + kernel_axes + (0,) + out_axes))
        return cols.reshape(groups, -1, n * math.prod(out))
    cols = xp.ascontiguousarray(grouped.transpose((0, 1, 2) + kernel_axes + out_axes))
    return cols.reshape(n, groups, -1, math.prod(out))


def _out_size(shape, kernel, stride, padding, dilation):
    return tuple(conv_output_size(n, k, s, p, d) for n, k, s, p, d in zip(shape[2:], kernel, stride, padding,
                                                                          dilation))


def _conv_impl(xp, x, weight, *, stride, padding, dilation, groups):
    n, out_channels, kernel = x.shape[0], weight.shape[0], weight.shape[2:]
    if winograd.applies(x, weight, out_channels, kernel, stride, padding, dilation, groups):
        return winograd.conv(x, weight, padding)
    if conv_direct.applies(x, weight, x.shape[1], out_channels, kernel, groups):
        return conv_direct.conv(x, weight, conv_output_size(x.shape[2], kernel[0], stride[0], padding[0],
                                                            dilation[0]), stride, padding, dilation)
    if conv_direct2d.applies(x, weight, x.shape[1], out_channels, kernel, stride, dilation, groups):
        return conv_direct2d.conv(x, weight, _out_size(x.shape, kernel, stride, padding, dilation), padding)
    view = windows(padded(xp, x, padding), kernel, stride, dilation)
    out = view.shape[2:2 + len(kernel)]
    w = weight.reshape(groups, out_channels // groups, -1)
    ans = xp.empty((n, out_channels) + out, dtype=xp.result_type(x, weight))
    flat = ans.reshape(n, groups, out_channels // groups, -1)
    def work(chunks):
        for chunk in chunks:
            xp.matmul(w, _columns(xp, view[chunk], groups), out=flat[chunk])

    _over_batch(xp, work, n, x.shape[1] * math.prod(kernel) * math.prod(out) * x.itemsize)
    return ans


def _conv_weight_impl(xp, x, y, *, kernel_size, stride, padding, dilation, groups):
    n, out_channels = y.shape[:2]
    if winograd.applies(x, y, out_channels, kernel_size, stride, padding, dilation, groups):
        return winograd.conv_weight(x, y, padding)
    if conv_direct.applies(x, y, x.shape[1], out_channels, kernel_size, groups):
        return conv_direct.conv_weight(x, y, kernel_size[0], stride, padding, dilation)
    if conv_direct2d.applies(x, y, x.shape[1], out_channels, kernel_size, stride, dilation, groups):
        grad = conv_direct2d.conv_weight(x, y, kernel_size, padding)
        if grad is not None:
            return grad
    view = windows(padded(xp, x, padding), kernel_size, stride, dilation)

    def work(chunks):
        grad = None
        for chunk in chunks:
            cols = _columns(xp, view[chunk], groups, examples_inside=True)  # (G, C/G·K, n·P)
            rows = y[chunk].reshape(-1, groups, out_channels // groups, cols.shape[2] // len(y[chunk]))
            rows = xp.ascontiguousarray(rows.transpose(1, 2, 0, 3)).reshape(groups, out_channels // groups, -1)
            # One product per group over the long axis n·P: the sum over examples is inside the product.
            part = xp.matmul(rows, cols.transpose(0, 2, 1))  # (G, O/G, C/G·K)
            grad = part if grad is None else grad + part
        return grad

    parts = _over_batch(xp, work, n, x.shape[1] * math.prod(kernel_size) * math.prod(y.shape[2:]) * x.itemsize)
    grad = parts[0] if len(parts) == 1 else parts[0] + parts[1]
    return grad.reshape((out_channels, x.shape[1] // groups) + tuple(kernel_size))


def _conv_transpose_impl(xp, y, weight, *, size, stride, padding, dilation, groups):
    n, out_channels, kernel = y.shape[0], weight.shape[0], weight.shape[2:]
    spans = tuple(d * (k - 1) for k, d in zip(kernel, dilation))
    channels = weight.shape[1] * groups
    if conv_direct.applies(y, weight, channels, out_channels, kernel, groups):
        return conv_direct.conv_transpose(y, weight, size[0], stride, padding, dilation)
    if (all(s == 1 for s in stride) and all(before <= span and after <= span
                                            for (before, after), span in zip(padding, spans))
            and (out_channels * math.prod(size) <= 2 * channels * math.prod(y.shape[2:])
                 or conv_direct2d.applies(y, weight, out_channels, channels, kernel, stride, dilation,
                                          groups))):
        # With stride 1 the adjoint is itself a convolution: of y padded by span - padding, with the
        # kernel flipped and its channel axes swapped per group. im2col's copy reads rows, where
        # col2im's sums would write strided slices: worth it unless its columns (O·K per input
        # position) outnumber col2im's (C·K per output position) more than twice, as when a
        # convolution widens the channels (LeNet's 6 -> 16: its adjoint would copy 16·25 rows per
        # pixel where col2im sums 6·25), or unless the direct 2-D loops (no columns) serve it.
        flipped = weight.reshape((groups, out_channels // groups) + weight.shape[1:]).swapaxes(1, 2)
        flipped = flipped[(slice(None),) * 3 + (slice(None, None, -1),) * len(kernel)]
        flipped = flipped.reshape((-1, out_channels // groups) + kernel)
        return _conv_impl(xp, y, flipped, stride=stride, dilation=dilation, groups=groups,
                          padding=tuple((span - before, span - after)
                                        for (before, after), span in zip(padding, spans)))
    dtype = xp.result_type(y, weight)
    fast = conv_kernels.available(y, weight, spatial=len(kernel))
    # (G, C/G·K, O/G): the weight's transpose per group, so each product gives columns for col2im.
    w = weight.reshape(groups, out_channels // groups, -1).transpose(0, 2, 1)
    out = y.shape[2:]
    if fast:
        image = xp.empty((n, channels) + tuple(size), dtype=dtype)
    else:
        full = tuple(s + before + after for s, (before, after) in zip(size, padding))
        image = xp.zeros((n, channels) + full, dtype=dtype)
        grouped_image = image.reshape((n, groups, channels // groups) + full)
    d = len(kernel)

    def work(chunks):
        for chunk in chunks:
            m = y[chunk].shape[0]
            # One long product per group: (C/G·K, O/G) @ (O/G, m·P), the examples side by side.
            rows = y[chunk].reshape(m, groups, out_channels // groups, -1).transpose(1, 2, 0, 3)
            cols = xp.matmul(w, xp.ascontiguousarray(rows).reshape(groups, out_channels // groups, -1))
            if fast:  # the columns (C·K, m·P) summed into the unpadded image in one pass
                conv_kernels.col2im(cols, kernel, out, stride, padding, dilation, into=image[chunk])
                continue
            cols = cols.reshape((groups, channels // groups) + kernel + (m,) + out)
            to_image = (2, 0, 1) + tuple(range(3, d + 3))  # (G, C/G, m, *out) -> (m, G, C/G, *out)
            target = grouped_image[chunk]
            for offset, index in offsets(kernel, stride, dilation, out):
                target[(slice(None),) + index] += cols[(slice(None), slice(None)) + offset].transpose(to_image)

    _over_batch(xp, work, n, channels * math.prod(kernel) * math.prod(out) * y.itemsize)
    return image if fast else image[inner(size, padding)]


conv = primitive("conv", _conv_impl, saves=("inputs",))
conv.__doc__ = """Cross-correlation of ``x`` ``(N, C, *in)`` with ``weight`` ``(O, C/groups, *k)``, as in
PyTorch's ``conv1d/2d/3d`` (no bias; see :func:`chainrule.ops.convolve` for the user-facing form).

Args:
    stride, dilation: one int per spatial axis.
    padding: one ``(before, after)`` pair per spatial axis, zeros.
    groups: channels split into this many independent groups (``groups = C`` is depthwise).
"""
conv.defbilinear(lambda ns, g, ans, x, weight, **p: ns.conv_transpose(g, weight, size=x.shape[2:], **p),
                 lambda ns, g, ans, x, weight, **p: ns.conv_weight(x, g, kernel_size=weight.shape[2:], **p))

conv_transpose = primitive("conv_transpose", _conv_transpose_impl, saves=("inputs",))
conv_transpose.__doc__ = """The adjoint of :data:`conv` in its input: ``y`` ``(N, O, *out)`` and ``weight``
``(O, C/groups, *k)`` to ``(N, C, *size)``. It is PyTorch's ``conv_transpose`` (whose weight layout is
this one), with ``size`` fixing the result's spatial shape (``output_padding``).
"""
conv_transpose.defbilinear(
    lambda ns, g, ans, y, weight, size, **p: ns.conv(g, weight, **p),
    lambda ns, g, ans, y, weight, size, **p: ns.conv_weight(g, y, kernel_size=weight.shape[2:], **p))

conv_weight = primitive("conv_weight", _conv_weight_impl, saves=("inputs",))
conv_weight.__doc__ = """The adjoint of :data:`conv` in its weight: ``x`` ``(N, C, *in)`` and ``y``
``(N, O, *out)`` to ``(O, C/groups, *kernel_size)``, the weight gradient ``Σ_n,p y · windows(x)``."""
conv_weight.defbilinear(
    lambda ns, g, ans, x, y, kernel_size, **p: ns.conv_transpose(y, g, size=x.shape[2:], **p),
    lambda ns, g, ans, x, y, kernel_size, **p: ns.conv(x, g, **p))


# -- the user-facing forms: PyTorch's arguments, checked, with a bias --------------------------------

def convolve(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Convolve ``x`` ``(N, C, *in)`` with ``weight`` ``(O, C/groups, *k)`` and add ``bias`` ``(O,)``:
    PyTorch's ``conv1d/2d/3d`` for any number of spatial axes (``weight.ndim - 2``).

    Args:
        stride, dilation: an int, or one per spatial axis; positive.
        padding: an int, one per axis, one ``(before, after)`` pair per axis, ``"valid"`` (none) or
            ``"same"`` (the output keeps the input's size; stride 1; any extra on the after side).
        groups: a divisor of ``C`` and ``O``; ``groups = C`` is a depthwise convolution.

    Example:
        >>> import chainrule as cr
        >>> cr.conv(cr.ones(1, 1, 5), cr.ones(1, 1, 3), padding="same").tolist()
        [[[2.0, 3.0, 3.0, 3.0, 2.0]]]
    """
    x_shape, w_shape = _shape(x), _shape(weight)
    spatial = _spatial_axes("conv", x_shape, w_shape)
    stride = positive_ints(stride, spatial, "conv", "stride")
    dilation = positive_ints(dilation, spatial, "conv", "dilation")
    groups = check_groups("conv", groups, x_shape[1], w_shape[0])
    if x_shape[1] != w_shape[1] * groups:
        raise located(f"conv: the input has {x_shape[1]} channels but the weight {w_shape} with "
                      f"groups={groups} expects {w_shape[1] * groups}")
    padding = conv_padding("conv", padding, w_shape[2:], stride, dilation)
    check_fits("conv", x_shape[2:], w_shape[2:], padding, dilation)
    out = conv(x, weight, stride=stride, padding=padding, dilation=dilation, groups=groups)
    return out if bias is None else out + _along_channels(bias, len(spatial))


def convolve_transpose(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The transposed convolution of ``x`` ``(N, C_in, *in)`` with ``weight`` ``(C_in, C_out/groups, *k)``
    (PyTorch's ``conv_transpose1d/2d/3d``, same argument order): the gradient of :func:`convolve` with
    respect to its input, so it upsamples by ``stride``. The output has ``(in - 1)·stride − 2·padding +
    dilation·(k − 1) + output_padding + 1`` positions per axis; ``output_padding`` must be smaller than
    ``stride``.
    """
    x_shape, w_shape = _shape(x), _shape(weight)
    spatial = _spatial_axes("conv_transpose", x_shape, w_shape)
    stride = positive_ints(stride, spatial, "conv_transpose", "stride")
    dilation = positive_ints(dilation, spatial, "conv_transpose", "dilation")
    groups = check_groups("conv_transpose", groups, w_shape[0])
    if x_shape[1] != w_shape[0]:
        raise located(f"conv_transpose: the input has {x_shape[1]} channels but the weight {w_shape} "
                      f"expects {w_shape[0]}")
    padding = conv_padding("conv_transpose", padding, w_shape[2:], stride, dilation, allow_same=False)
    extra = check_output_padding("conv_transpose", output_padding, stride)
    size = tuple((n - 1) * s - before - after + d * (k - 1) + e + 1 for n, s, (before, after), d, k, e
                 in zip(x_shape[2:], stride, padding, dilation, w_shape[2:], extra))
    if any(s <= 0 for s in size):
        raise located(f"conv_transpose: an input of shape {x_shape} with padding {padding} gives an "
                      f"empty output {size}")
    out = conv_transpose(x, weight, size=size, stride=stride, padding=padding, dilation=dilation,
                         groups=groups)
    return out if bias is None else out + _along_channels(bias, len(spatial))


def _shape(x):
    return tuple(_np.shape(x.data if hasattr(x, "_node") else x))


def _spatial_axes(where, x_shape, w_shape):
    if len(w_shape) < 3 or len(x_shape) != len(w_shape):
        raise located(f"{where}: expected an input (N, C, *spatial) and a weight with as many axes, got "
                      f"shapes {x_shape} and {w_shape}")
    return range(len(w_shape) - 2)


def _along_channels(bias, spatial):
    from .shape import reshape
    return reshape(bias, (-1,) + (1,) * spatial)
