"""Matrix structure with NumPy's names: diagonals, traces, triangles, cross products.

Each is a composite of primitives that move elements (``transpose``, ``getitem``, ``scatter_add``,
``where``), so their gradients are the transposed moves and every order comes for free; none does
arithmetic a dedicated primitive could do faster.
"""

import numpy as _np

from ..errors import ShapeError
from .elementwise import sub, where
from .reductions import sum as _sum
from .shape import getitem, scatter_add, stack, transpose


def _shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else _np.shape(x)


def moveaxis(x, source, destination):
    """``x`` with axes ``source`` moved to positions ``destination`` (``numpy.moveaxis``)."""
    ndim = len(_shape(x))
    source = [source] if isinstance(source, int) else list(source)
    destination = [destination] if isinstance(destination, int) else list(destination)
    if len(source) != len(destination):
        raise ValueError(f"moveaxis: source {source} and destination {destination} differ in length")
    source = [s % ndim for s in source]
    destination = [d % ndim for d in destination]
    order = [a for a in range(ndim) if a not in source]
    for d, s in sorted(zip(destination, source)):
        order.insert(d, s)
    return x if order == list(range(ndim)) else transpose(x, tuple(order))


def _diagonal_index(n_rows, n_cols, offset):
    length = max(0, min(n_rows + min(offset, 0), n_cols - max(offset, 0)))
    steps = _np.arange(length)
    return steps - min(offset, 0), steps + max(offset, 0)


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The diagonal of ``x`` over ``axis1`` and ``axis2``, as the last axis (``numpy.diagonal``)."""
    moved = moveaxis(x, (axis1, axis2), (-2, -1))
    rows, cols = _diagonal_index(*_shape(moved)[-2:], offset)
    return getitem(moved, index=(Ellipsis, rows, cols))


def trace(x, offset=0, axis1=0, axis2=1):
    """The sum along a diagonal (``numpy.trace``)."""
    return _sum(diagonal(x, offset, axis1, axis2), axis=-1)


def diag(v, k=0):
    """A 1-d ``v`` put on the ``k``-th diagonal of a square matrix, or the ``k``-th diagonal of a 2-d
    ``v`` (``numpy.diag``)."""
    shape = _shape(v)
    if len(shape) == 2:
        return diagonal(v, k)
    if len(shape) != 1:
        raise ShapeError(f"diag: v must be 1-d or 2-d, not of shape {shape}")
    n = shape[0] + abs(k)
    rows, cols = _diagonal_index(n, n, k)
    return scatter_add(v, index=(rows, cols), shape=(n, n))


def _triangle(x, mask):
    shape = _shape(x)
    if len(shape) < 2:
        raise ShapeError(f"triu/tril: x must have at least 2 axes, not shape {shape}")
    return where(mask, x, 0)


def tril(x, k=0):
    """``x`` with the elements above the ``k``-th diagonal zeroed, over its last two axes."""
    return _triangle(x, _np.tri(*_shape(x)[-2:], k=k, dtype=bool))


def triu(x, k=0):
    """``x`` with the elements below the ``k``-th diagonal zeroed, over its last two axes."""
    return _triangle(x, ~_np.tri(*_shape(x)[-2:], k=k - 1, dtype=bool))


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 3-vectors along an axis (``numpy.cross``); 2-vectors give the scalar
    ``a₀b₁ − a₁b₀``."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
    n_a, n_b = _shape(a)[-1], _shape(b)[-1]
    if n_a != n_b or n_a not in (2, 3):
        raise ShapeError(f"cross: both vectors must have 2 or 3 components along the axis, not {n_a} "
                         f"and {n_b}")

    def part(x, i):
        return getitem(x, index=(Ellipsis, i))
    if n_a == 2:
        return sub(part(a, 0) * part(b, 1), part(a, 1) * part(b, 0))
    components = [sub(part(a, (i + 1) % 3) * part(b, (i + 2) % 3),
                      part(a, (i + 2) % 3) * part(b, (i + 1) % 3)) for i in range(3)]
    return moveaxis(stack(components, axis=-1), -1, axisc)
