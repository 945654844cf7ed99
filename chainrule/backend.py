"""The array namespaces chainrule computes with.

Every primitive's forward implementation receives a namespace as its first argument (``xp``): NumPy's
(:data:`xp`) for arrays on the CPU, and, once an array has been placed on another device (see
:mod:`chainrule.devices`), the namespace of its inputs' array type (CuPy's on a GPU).
"""

import functools

import numpy

xp = numpy
ndarray = numpy.ndarray

placed = False
"""Whether any array type besides NumPy's has been placed on a device: until then the engine never
looks at its arrays' types to choose a namespace (the CPU's hot path pays nothing for devices)."""

namespaces = {numpy.ndarray: numpy}
"""Array type -> the namespace that computes on it."""


def place(namespace, array_type):
    """Make ``namespace`` the one that computes on arrays of ``array_type`` (a device was made)."""
    global placed
    namespaces[array_type] = namespace
    placed = placed or namespace is not numpy


def namespace_of(array):
    """The namespace computing on ``array``'s type (NumPy for NumPy arrays, scalars and the rest)."""
    return namespaces.get(type(array), numpy)


def asarray(value, dtype=None):
    """Return ``value`` as an array, without copying when it already is one: a NumPy array, unless it is
    an array of another device already (which stays there)."""
    if placed and type(value) in namespaces:
        return namespaces[type(value)].asarray(value, dtype=dtype)
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


def special(namespace):
    """The special functions (``erf``, ``erfc``) for arrays of ``namespace``, which NumPy lacks: SciPy's
    ``scipy.special`` (whose ufuncs also serve arrays that implement NumPy's ufunc protocol), or
    ``cupyx.scipy.special`` for CuPy's."""
    if namespace.__name__ == "cupy":
        import cupyx.scipy.special
        return cupyx.scipy.special
    import scipy.special
    return scipy.special


def scatter_add(namespace, out, index, values):
    """``out[index] += values`` with repeated integer indices accumulating, in place: the transpose of
    advanced indexing, which the array API standard lacks.

    NumPy: ``numpy.add.at``. CuPy: ``cupyx.scatter_add``. Others: their ``add.at``.
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
    if namespace.__name__ == "cupy":
        import cupyx
        cupyx.scatter_add(out, index, values)
        return out
    if hasattr(getattr(namespace, "add", None), "at"):
        namespace.add.at(out, index, values)
        return out
    raise NotImplementedError(f"scatter_add: no scatter-add for the array namespace {namespace.__name__}; "
                              f"add one to chainrule.backend.scatter_add")
