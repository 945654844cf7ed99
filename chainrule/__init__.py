"""chainrule: automatic differentiation and deep learning on NumPy, with the machinery in sight.

Example:
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2., 4.])
"""

from .core.graph import enable_grad, is_grad_enabled, no_grad
from .core.primitive import REGISTRY as _REGISTRY
from .core.tensor import Tensor
from .ops import tensor_methods as _tensor_methods  # noqa: F401  (attaches its operators and methods)
from . import numpy as _numpy  # noqa: F401  (attaches Tensor.__array_function__: numpy.sum(t) and so on)
from .creation import (arange, empty, eye, from_numpy, full, linspace, multinomial, ones, ones_like, rand,
                       randint, randn, randperm, tensor, zeros, zeros_like)
from .ops import (abs, add, astype, broadcast_to, clamp, concatenate, cos, div, erf, exp,
                  expand_dims, expm1, getitem, linear, log, log1p, log_softmax, logsumexp, matmul,
                  maximum, mean, minimum, mul, neg, one_hot, permute, pow, relu, reshape,
                  scatter_add, sigmoid, sign, sin, softmax, softmax_cross_entropy, sqrt, squeeze, stack,
                  sub, sum, swapaxes, take, take_along_axis, tanh, transpose, unsqueeze, var, where)
from .ops import concatenate as cat  # PyTorch's name
from .ops.arrange import (append, array_split, atleast_1d, atleast_2d, atleast_3d, c_, column_stack, dsplit,
                          dstack, flatten, flip, fliplr, flipud, hsplit, hstack, r_, ravel, repeat, roll,
                          rollaxis, rot90, row_stack, select, split, tile, vsplit, vstack)
from .ops.elementwise_more import (arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, cbrt, ceil,
                                   clip, conj, conjugate, cosh, deg2rad, degrees, erfc, exp2, floor,
                                   floor_divide, fmax, fmin, fmod, hypot, imag, log10, log2, logaddexp,
                                   logaddexp2, mod, nan_to_num, rad2deg, radians, real, reciprocal, remainder,
                                   round, sinc, sinh, square, tan, trunc)
from .ops.einsum import dot, einsum, inner, kron, outer, tensordot
from .ops.matrix import cross, diag, diagonal, moveaxis, trace, tril, triu
from .ops.pad import pad
from .ops.scans import cumprod, cumsum, diff, gradient, prod
from .ops.statistics import average, norm, partition, ptp, std
from .ops.ordering import argmax, argmin, kthvalue, max, median, min, sort, topk  # (values, indices) for a dim
from .ops.comparison import allclose, isclose
from .ops.conv import convolve as conv, convolve_transpose as conv_transpose
from .ops.pooling import adaptive_avg_pool, avg_pool, max_pool
from .transforms import grad, hessian, hvp, jacfwd, jacrev, jvp, value_and_grad, vjp
from .vectorize import vmap
from .tree import tree_flatten, tree_map, tree_unflatten
from .coverage import rules
from .serialization import load, save
from . import data, inspect, nn, optim, testing
from . import linalg
from . import cuda
from .devices import Device, device
from .compile import compile
from .nn.rng import manual_seed
from . import pytorch_compat as _pytorch_compat
from .pytorch_compat import accept_pytorch_keywords as _accept_pytorch_keywords
from .pytorch_compat import module_getattr as _module_getattr
from numpy import (complex64, complex128, float16, float32, float64,  # dtype=chainrule.float32, as torch's
                   int8, int16, int32, int64, uint8)
from numpy import bool_ as bool  # noqa: A001  PyTorch's aliases: torch.bool, torch.float, torch.long...
float, double, half = float32, float64, float16  # noqa: A001
int, long, short = int32, int64, int16  # noqa: A001
cfloat, cdouble = complex64, complex128

_accept_pytorch_keywords(globals())  # dim=/keepdim= on every function taking an axis, as PyTorch's
_pytorch_compat.PUBLIC = globals()  # its hints name chainrule's functions


def __getattr__(name):
    _module_getattr(globals(), name)

__version__ = "0.1.0"
