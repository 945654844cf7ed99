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
    placeholders = [numpy.broadcast_to(numpy.empty(()), s) for s in shapes]  # shapes only, no memory
    return numpy.einsum_path(subscripts, *placeholders, optimize="greedy")[0]


def einsum(namespace, subscripts, *operands):
    """Einstein summation in the array ``namespace`` (the array API standard has none): the one place
    a backend supplies it.

    NumPy: ``numpy.einsum`` along a contraction path found once per subscripts and shapes, so pairwise
    contractions go through BLAS (``tensordot``) without paying for the path search on every call.
    Other namespaces: their own ``einsum`` (CuPy, PyTorch), else ``NotImplementedError``.
    """
    if namespace is numpy:
        if len(operands) == 1:
            return numpy.einsum(subscripts, *operands)
        path = _contraction_path(subscripts, *(tuple(x.shape) for x in operands))
        return numpy.einsum(subscripts, *operands, optimize=path)
    if hasattr(namespace, "einsum"):
        return namespace.einsum(subscripts, *operands)
    raise NotImplementedError(f"einsum: the array namespace {namespace.__name__} has no einsum; add one to "
                              f"chainrule.backend.einsum")


def scatter_add(namespace, out, index, values):
    """``out[index] += values`` with repeated integer indices accumulating, in place: the transpose of
    advanced indexing, which the array API standard lacks.

    NumPy: ``numpy.add.at``. Other namespaces: their ``index_add``-style function would go here.
    """
    if namespace is numpy:
        rows = index[0] if isinstance(index, tuple) and len(index) == 1 else index
        if (isinstance(rows, numpy.ndarray) and rows.dtype.kind in "iu" and out.ndim > 1
                and out.flags.c_contiguous):
            # Whole rows (an embedding's gradient): add.at on the rows' flat positions is about 3x faster
            # than add.at on the rows themselves.
            width = out[0].size
            flat = (rows.reshape(-1, 1) % out.shape[0]) * width + numpy.arange(width)
            numpy.add.at(out.reshape(-1), flat.reshape(-1),
                         numpy.broadcast_to(values, rows.shape + out.shape[1:]).reshape(-1))
            return out
        numpy.add.at(out, index, values)
        return out
    raise NotImplementedError(f"scatter_add: no scatter-add for the array namespace {namespace.__name__}; "
                              f"add one to chainrule.backend.scatter_add")
