"""Padding, with NumPy's ``pad`` signature.

``constant`` padding is one primitive: its VJP slices the cotangent back out, its JVP pads the tangent
with zeros. The other modes (``edge``, ``reflect``, ``symmetric``, ``wrap``) only repeat elements of the
input, so each is one gather per padded axis (``getitem`` with an integer index), whose VJP scatter-adds:
a composite as fast as a primitive would be, differentiable to any order for free.
"""

import numpy as _np

from ..core.batching import defbatch
from ..core.primitive import primitive
from ..errors import ShapeError
from .shape import getitem

MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def normalize_pad_width(pad_width, ndim):
    """``pad_width`` in any form NumPy accepts (``n``, ``(n,)``, ``(before, after)``, one pair per axis)
    as a tuple of ``(before, after)`` int pairs, one per axis."""
    widths = _np.asarray(pad_width)
    if widths.dtype.kind not in "iu":
        raise TypeError(f"pad: pad_width must hold integers, not {widths.dtype}")
    try:
        widths = _np.broadcast_to(widths, (ndim, 2))
    except ValueError:
        raise ShapeError(f"pad: pad_width of shape {widths.shape} does not fit an input with {ndim} "
                         f"axes; give n, (before, after) or one (before, after) pair per axis") from None
    if (widths < 0).any():
        raise ValueError(f"pad: pad_width must be non-negative, got {widths.tolist()}")
    return tuple((int(before), int(after)) for before, after in widths)


def _inner_slices(pad_width, shape):
    """The region of a padded array that holds the original input."""
    return tuple(slice(before, before + n) for (before, _), n in zip(pad_width, shape))


def _pad_constant_impl(xp, x, *, pad_width, constant_values=0):
    x = xp.asarray(x)
    shape = tuple(n + before + after for n, (before, after) in zip(x.shape, pad_width))
    out = xp.full(shape, constant_values, dtype=x.dtype)
    out[_inner_slices(pad_width, x.shape)] = x
    return out


pad_constant = primitive("pad_constant", _pad_constant_impl, saves=())
pad_constant.defvjp(lambda ns, g, ans, x, pad_width, constant_values=0:
                    ns.getitem(g, index=_inner_slices(pad_width, x.shape)))
pad_constant.defjvp(lambda ns, t, ans, x, pad_width, constant_values=0:
                    ns.pad_constant(t, pad_width=pad_width, constant_values=0))
defbatch(pad_constant, lambda args, dims, size, pad_width, constant_values=0:
         pad_constant(args[0], pad_width=((0, 0),) + tuple(pad_width), constant_values=constant_values))


def _source_index(mode, n, before, after):
    """For each position of an axis of length ``n`` padded by ``before`` and ``after``, the position of
    the input element it repeats."""
    positions = _np.arange(-before, n + after)
    if mode == "edge":
        return _np.clip(positions, 0, n - 1)
    if mode == "wrap":
        return positions % n
    if mode == "reflect":  # mirror about the edge elements: period 2(n - 1)
        if n == 1:
            return _np.zeros_like(positions)
        period = 2 * (n - 1)
        folded = positions % period
        return _np.where(folded < n, folded, period - folded)
    period = 2 * n  # symmetric: mirror about the edges themselves, repeating the edge element
    folded = positions % period
    return _np.where(folded < n, folded, period - 1 - folded)


def pad(x, pad_width, mode="constant", constant_values=0):
    """Pad ``x`` as ``numpy.pad`` does.

    Args:
        x: the tensor.
        pad_width: ``n``, ``(before, after)``, or one ``(before, after)`` pair per axis.
        mode: ``"constant"``, ``"edge"``, ``"reflect"``, ``"symmetric"`` or ``"wrap"``.
        constant_values: the fill value of ``"constant"`` mode (a scalar).

    Example:
        >>> import chainrule as cr
        >>> cr.pad(cr.tensor([1.0, 2.0, 3.0]), (2, 1), mode="reflect")
        tensor([3., 2., 1., 2., 3., 2.])
    """
    shape = tuple(x.shape) if hasattr(x, "shape") else _np.shape(x)
    widths = normalize_pad_width(pad_width, len(shape))
    if mode == "constant":
        if _np.ndim(constant_values) != 0:
            raise ValueError("pad: only a scalar constant_values is supported")
        return pad_constant(x, pad_width=widths, constant_values=constant_values)
    if mode not in MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(MODES)}, not {mode!r}")
    out = x
    for axis, (n, (before, after)) in enumerate(zip(shape, widths)):
        if before == after == 0:
            continue
        if n == 0:
            raise ShapeError(f"pad: cannot pad an empty axis {axis} in mode {mode!r}")
        index = (slice(None),) * axis + (_source_index(mode, n, before, after),)
        out = getitem(out, index=index)
    return out
