"""The array namespace chainrule computes with.

Every primitive's forward implementation receives this namespace as its first argument (``xp``), so a
different array library that follows the array API (CuPy on a GPU, say) can be swapped in here alone.
"""

import functools

import numpy

xp = numpy
ndarray = numpy.ndarray


def asarray(value, dtype=None):
    """Return ``value`` as an array of the backend, without copying when it already is one."""
    return xp.asarray(value, dtype=dtype)


@functools.lru_cache(maxsize=1024)
def _contraction_path(subscripts, *shapes):
    return numpy.einsum_path(subscripts, *(numpy.broadcast_to(numpy.empty(()), s) for s in shapes), optimize="greedy")[0]


def einsum(subscripts, *operands):
    """Einstein summation on the backend's arrays (the array API standard has none).

    NumPy: ``numpy.einsum`` along a contraction path found once per subscripts and shapes, so pairwise
    contractions go through BLAS (``tensordot``) without paying for the path search on every call.
    """
    if len(operands) == 1:
        return numpy.einsum(subscripts, *operands)
    path = _contraction_path(subscripts, *(tuple(x.shape) for x in operands))
    return numpy.einsum(subscripts, *operands, optimize=path)
