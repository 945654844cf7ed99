"""NumPy's functions that rearrange elements: flipping, rolling, tiling, repeating, splitting, stacking.

All but ``flip`` are composites of the primitives in :mod:`chainrule.ops.shape` (``getitem``,
``reshape``, ``broadcast_to``, ``concatenate``, ``transpose``), which move elements without arithmetic:
their gradients are the transposed moves (scatter-adds, sums over broadcast axes), every order for free,
and no dedicated primitive would be faster. ``flip`` is a primitive because scan rules (``cumsum``'s
VJP) need a reversal on the rules' namespace.
"""

import numpy as _np

from ..core.batching import defreducer
from ..core.primitive import primitive
from ..errors import ShapeError
from .elementwise import where
from .matrix import moveaxis
from .shape import broadcast_to, concatenate, getitem, reshape, transpose


def _shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else _np.shape(x)


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in ((axis,) if isinstance(axis, int) else axis))


def _along(axis, index):
    """An index applying ``index`` along ``axis``, everything else whole."""
    return (slice(None),) * axis + (index,)


def ravel(x):
    """``x`` as one axis (``numpy.ravel``)."""
    return reshape(x, (-1,))


def flatten(x, start_axis=0, end_axis=-1):
    """Axes ``start_axis`` to ``end_axis`` merged into one (all of them by default)."""
    shape = _shape(x)
    if not shape:
        return reshape(x, (1,))
    start, end = start_axis % len(shape), end_axis % len(shape)
    return reshape(x, shape[:start] + (-1,) + shape[end + 1:])


_flip = primitive("flip", lambda xp, x, axis=None: xp.flip(x, axis=axis), saves=())
defreducer(_flip)
_flip.defvjp(lambda ns, g, ans, x, axis=None: ns.flip(g, axis))  # a reversal is its own transpose
_flip.defjvp_linear()


def flip(x, axis=None):
    """``x`` with the order of elements reversed along ``axis`` (every axis when None)."""
    return _flip(x, axis=_axes(axis, len(_shape(x))))


def fliplr(x):
    """Reverse the columns (axis 1)."""
    return flip(x, 1)


def flipud(x):
    """Reverse the rows (axis 0)."""
    return flip(x, 0)


def rot90(x, k=1, axes=(0, 1)):
    """Rotate by 90° ``k`` times in the plane of ``axes``, from the first axis towards the second."""
    k %= 4
    if k == 0:
        return x
    if k == 2:
        return flip(x, axes)
    order = list(range(len(_shape(x))))
    order[axes[0]], order[axes[1]] = order[axes[1]], order[axes[0]]
    if k == 1:
        return transpose(flip(x, axes[1]), tuple(order))
    return flip(transpose(x, tuple(order)), axes[1])


def roll(x, shift, axis=None):
    """Elements shifted by ``shift`` along ``axis``, those leaving one end re-entering at the other;
    over the flattened ``x`` when ``axis`` is None."""
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), _shape(x))
    shifts = (shift,) if isinstance(shift, int) else tuple(shift)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    shifts, axes = _np.broadcast_arrays(shifts, axes)
    out, ndim = x, len(_shape(x))
    for s, a in zip(shifts.tolist(), axes.tolist()):
        n = _shape(x)[a % ndim]
        if n and s % n:
            out = getitem(out, index=_along(a % ndim, (_np.arange(n) - s) % n))
    return out


def rollaxis(x, axis, start=0):
    """Axis ``axis`` moved to before position ``start`` (``numpy.rollaxis``)."""
    ndim = len(_shape(x))
    axis, start = axis % ndim, start + ndim if start < 0 else start
    return moveaxis(x, axis, start - 1 if start > axis else start)


def tile(x, reps):
    """``x`` repeated ``reps`` times along each axis (``numpy.tile``)."""
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    shape = _shape(x)
    ndim = max(len(shape), len(reps))
    shape = (1,) * (ndim - len(shape)) + shape
    reps = (1,) * (ndim - len(reps)) + reps
    spread = tuple(d for pair in zip((1,) * ndim, shape) for d in pair)
    tiled = tuple(d for pair in zip(reps, shape) for d in pair)
    return reshape(broadcast_to(reshape(x, spread), tiled), tuple(r * n for r, n in zip(reps, shape)))


def repeat(x, repeats, axis=None):
    """Each element repeated ``repeats`` times (an int, or one count per element) along ``axis``, of
    the flattened ``x`` when None (``numpy.repeat``)."""
    if axis is None:
        x, axis = ravel(x), 0
    shape = _shape(x)
    axis %= len(shape)
    if isinstance(repeats, int):
        widened = reshape(x, shape[:axis + 1] + (1,) + shape[axis + 1:])
        spread = broadcast_to(widened, shape[:axis + 1] + (repeats,) + shape[axis + 1:])
        return reshape(spread, shape[:axis] + (shape[axis] * repeats,) + shape[axis + 1:])
    return getitem(x, index=_along(axis, _np.repeat(_np.arange(shape[axis]), repeats)))


def array_split(x, indices_or_sections, axis=0):
    """Pieces of ``x`` along ``axis``: ``n`` near-equal sections (the first ones one longer), or cut
    before each of the given indices (``numpy.array_split``)."""
    n = _shape(x)[axis]
    if isinstance(indices_or_sections, int):
        sections = indices_or_sections
        if sections <= 0:
            raise ValueError(f"array_split: the number of sections must be positive, not {sections}")
        size, extra = divmod(n, sections)
        bounds = _np.cumsum([0] + [size + 1] * extra + [size] * (sections - extra)).tolist()
    else:
        bounds = [0] + list(indices_or_sections) + [n]
    axis %= len(_shape(x))
    return [getitem(x, index=_along(axis, slice(start, stop))) for start, stop in zip(bounds, bounds[1:])]


def split(x, indices_or_sections, axis=0):
    """Like :func:`array_split`, but ``n`` sections must divide the axis exactly (``numpy.split``)."""
    if isinstance(indices_or_sections, int) and _shape(x)[axis] % indices_or_sections:
        raise ShapeError(f"split: {indices_or_sections} sections do not divide axis {axis} of length "
                         f"{_shape(x)[axis]} equally; use array_split")
    return array_split(x, indices_or_sections, axis)


def hsplit(x, indices_or_sections):
    """Split along the columns (axis 1; axis 0 of a 1-d ``x``)."""
    return split(x, indices_or_sections, axis=1 if len(_shape(x)) > 1 else 0)


def vsplit(x, indices_or_sections):
    """Split along the rows (axis 0)."""
    return split(x, indices_or_sections, axis=0)


def dsplit(x, indices_or_sections):
    """Split along the depth (axis 2)."""
    return split(x, indices_or_sections, axis=2)


def atleast_1d(*xs):
    """Each input with at least one axis; one input gives one result, several a list."""
    out = [x if len(_shape(x)) >= 1 else reshape(x, (1,)) for x in xs]
    return out[0] if len(out) == 1 else out


def atleast_2d(*xs):
    """Each input with at least two axes (a vector becomes a row)."""
    out = [x if len(_shape(x)) >= 2 else reshape(x, (1, -1)) for x in xs]
    return out[0] if len(out) == 1 else out


def atleast_3d(*xs):
    """Each input with at least three axes: ``(n,)`` becomes ``(1, n, 1)``, ``(m, n)`` ``(m, n, 1)``."""
    def lift(x):
        shape = _shape(x)
        if len(shape) >= 3:
            return x
        return reshape(x, {0: (1, 1, 1), 1: (1, -1, 1), 2: shape + (1,)}[len(shape)])
    out = [lift(x) for x in xs]
    return out[0] if len(out) == 1 else out


def vstack(tensors):
    """Stack along the rows, vectors as rows (``numpy.vstack``)."""
    return concatenate([atleast_2d(t) for t in tensors], axis=0)


row_stack = vstack


def hstack(tensors):
    """Stack along the columns; vectors are joined end to end (``numpy.hstack``)."""
    tensors = [atleast_1d(t) for t in tensors]
    return concatenate(tensors, axis=0 if len(_shape(tensors[0])) == 1 else 1)


def dstack(tensors):
    """Stack along the third axis (``numpy.dstack``)."""
    return concatenate([atleast_3d(t) for t in tensors], axis=2)


def column_stack(tensors):
    """Vectors as columns of a matrix, matrices as they are, joined along axis 1."""
    return concatenate([reshape(t, (-1, 1)) if len(_shape(t)) < 2 else t for t in tensors], axis=1)


def append(x, values, axis=None):
    """``values`` appended to ``x`` along ``axis``; both flattened when None (``numpy.append``)."""
    if axis is None:
        return concatenate([ravel(x), ravel(values)], axis=0)
    return concatenate([x, values], axis=axis)


def select(condlist, choicelist, default=0):
    """Elements from the first choice whose condition holds, else ``default`` (``numpy.select``)."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: {len(condlist)} conditions but {len(choicelist)} choices")
    out = default
    for condition, choice in reversed(list(zip(condlist, choicelist))):
        out = where(_np.asarray(getattr(condition, "data", condition)), choice, out)
    return out


class _Concatenator:
    """``r_`` and ``c_``: join tensors, arrays, numbers and slices (as ``arange``) by indexing syntax."""

    def __init__(self, columns):
        self.columns = columns

    def __getitem__(self, items):
        items = items if isinstance(items, tuple) else (items,)
        if items and isinstance(items[0], str):
            raise NotImplementedError("r_/c_ with a directive string are not supported; use concatenate")
        pieces = []
        for item in items:
            if isinstance(item, slice):
                item = _np.r_[item]
            pieces.append(atleast_1d(item))
        if not self.columns:
            return concatenate(pieces, axis=0)
        return concatenate([reshape(p, (-1, 1)) if len(_shape(p)) == 1 else p for p in pieces], axis=-1)


r_ = _Concatenator(columns=False)
c_ = _Concatenator(columns=True)
