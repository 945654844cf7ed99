"""Differentiable linear algebra with NumPy's ``numpy.linalg`` names (``chainrule.linalg``, also
``chainrule.numpy.linalg``). The rules and their caveats are in :mod:`chainrule.ops.linalg_decomp`.

Example:
    >>> import chainrule as cr
    >>> a = cr.tensor([[2.0, 1.0], [1.0, 3.0]])
    >>> cr.grad(lambda a: cr.linalg.det(a))(a)
    tensor([[ 3., -1.],
            [-1.,  2.]])
"""

from numpy.linalg import LinAlgError

from .ops.einsum import tensordot
from .ops.linalg import matmul
from .ops.linalg_decomp import (cholesky, det, eigh, eigvalsh, inv, matrix_power, pinv, qr, slogdet, solve,
                                svd)
from .ops.matrix import cross, diagonal, trace
from .ops.statistics import norm

__all__ = ["LinAlgError", "cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul",
           "matrix_power", "norm", "pinv", "qr", "slogdet", "solve", "svd", "tensordot", "trace"]
