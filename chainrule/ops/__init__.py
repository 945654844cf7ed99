"""Every primitive, with its forward, JVP and VJP side by side, plus composites built from them."""

from .elementwise import (abs, add, astype, cos, div, erf, exp, expm1, identity, log, log1p, maximum,
                          minimum, mul, neg, pow, relu, sigmoid, sign, sin, sqrt, sub, tanh, where)
from .arrange import (append, array_split, atleast_1d, atleast_2d, atleast_3d, c_, column_stack, dsplit,
                      dstack, flatten, flip, fliplr, flipud, hsplit, hstack, r_, ravel, repeat, roll,
                      rollaxis, rot90, row_stack, select, split, tile, vsplit, vstack)
from .elementwise_more import (arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, cbrt, ceil, clip,
                               conj, conjugate, cosh, deg2rad, degrees, erfc, exp2, floor, floor_divide, fmax,
                               fmin, fmod, hypot, imag, log10, log2, logaddexp, logaddexp2, mod, nan_to_num,
                               rad2deg, radians, real, reciprocal, remainder, round, sinc, sinh, square, tan,
                               trunc)
from .einsum import dot, einsum, inner, kron, outer, tensordot
from .linalg import linear, matmul
from .linalg_decomp import cholesky, det, eigh, inv, pinv, qr, slogdet, solve, svd
from .matrix import cross, diag, diagonal, moveaxis, trace, tril, triu
from .pad import pad
from .reductions import (logsumexp, log_softmax, max, mean, min, one_hot, softmax,
                         softmax_cross_entropy, sum, var)
from .scans import cumprod, cumsum, diff, gradient, prod
from .stateful import keep_mask, running_update
from .statistics import average, median, norm, partition, ptp, sort, std
from .shape import (broadcast_to, concatenate, expand_dims, getitem, permute, reshape, scatter_add,
                    squeeze, stack, swapaxes, take, take_along_axis, transpose, unsqueeze)
from .shape import normalize_index as _normalize_index
from .transfer import transfer
from . import batched_layers as _batched_layers  # noqa: F401  (registers the layers' batching rules)

_getitem_primitive = getitem


def getitem(x, index):
    """``x[index]`` for ints, slices, ``None``, ``...``, boolean masks and integer arrays; the VJP
    scatter-adds, so repeated indices accumulate."""
    return _getitem_primitive(x, index=_normalize_index(index))


clamp = clip
