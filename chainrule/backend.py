"""The array namespace chainrule computes with.

Every primitive's forward implementation receives this namespace as its first argument (``xp``), so a
different array library that follows the array API (CuPy on a GPU, say) can be swapped in here alone.
"""

import numpy

xp = numpy
ndarray = numpy.ndarray


def asarray(value, dtype=None):
    """Return ``value`` as an array of the backend, without copying when it already is one."""
    return xp.asarray(value, dtype=dtype)
