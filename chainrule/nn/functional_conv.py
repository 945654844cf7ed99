"""Convolution, pooling and channel dropout as functions, with PyTorch's names and arguments
(``chainrule.nn.functional.conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1,
groups=1)`` and so on); re-exported by :mod:`chainrule.nn.functional`."""

import numpy as np

from .. import ops
from ..core.tensor import unwrap
from ..ops.checks import check_layout, check_probability, located
from ..ops.conv import convolve, convolve_transpose
from ..ops.pooling import adaptive_avg_pool, avg_pool, max_pool
from .rng import as_generator

conv = convolve
conv_transpose = convolve_transpose


def _spatial(where, input, spatial):
    check_layout(where, np.shape(unwrap(input)), spatial)
    return input


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of ``(N, C, L)`` with ``weight`` ``(O, C/groups, k)``; see :func:`chainrule.conv`."""
    return convolve(_spatial("conv1d", input, 1), weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of ``(N, C, H, W)`` with ``weight`` ``(O, C/groups, kH, kW)``."""
    return convolve(_spatial("conv2d", input, 2), weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution of ``(N, C, D, H, W)`` with ``weight`` ``(O, C/groups, kD, kH, kW)``."""
    return convolve(_spatial("conv3d", input, 3), weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution, ``weight`` ``(C_in, C_out/groups, k)``."""
    return convolve_transpose(_spatial("conv_transpose1d", input, 1), weight, bias, stride, padding,
                              output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution, ``weight`` ``(C_in, C_out/groups, kH, kW)``."""
    return convolve_transpose(_spatial("conv_transpose2d", input, 2), weight, bias, stride, padding,
                              output_padding, groups, dilation)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """The maximum of each window of an ``(N, C, L)`` input; ties share the gradient."""
    return max_pool(_spatial("max_pool1d", input, 1), _one(kernel_size), _one(stride), _one(padding),
                    _one(dilation), ceil_mode)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """The maximum of each window of an ``(N, C, H, W)`` input; ties share the gradient."""
    return max_pool(_spatial("max_pool2d", input, 2), _two(kernel_size), _two(stride), padding, dilation,
                    ceil_mode)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """The mean of each window of an ``(N, C, L)`` input."""
    return avg_pool(_spatial("avg_pool1d", input, 1), _one(kernel_size), _one(stride), _one(padding),
                    ceil_mode, count_include_pad)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """The mean of each window of an ``(N, C, H, W)`` input."""
    return avg_pool(_spatial("avg_pool2d", input, 2), _two(kernel_size), _two(stride), padding, ceil_mode,
                    count_include_pad, divisor_override)


def adaptive_avg_pool1d(input, output_size):
    """The mean over adaptive windows, so the length becomes ``output_size``."""
    return adaptive_avg_pool(_spatial("adaptive_avg_pool1d", input, 1), _one(output_size))


def adaptive_avg_pool2d(input, output_size):
    """The mean over adaptive windows, so ``(H, W)`` becomes ``output_size`` (``1``: global pooling)."""
    return adaptive_avg_pool(_spatial("adaptive_avg_pool2d", input, 2), output_size)


def dropout2d(input, p=0.5, training=True, generator=None):
    """Zero whole channels of an ``(N, C, *spatial)`` input with probability ``p`` and scale the rest by
    ``1/(1 − p)``: neighbouring pixels are correlated, so dropping single ones regularises little."""
    check_probability(p, "dropout2d")
    if not training or p == 0:
        return input
    data = unwrap(input)
    shape = np.shape(data)
    if len(shape) < 3:
        raise located(f"dropout2d: expected an input (N, C, *spatial), got shape {shape}")
    mask = ops.keep_mask(input, p=p, shape=shape[:2] + (1,) * (len(shape) - 2),
                         generator=as_generator(generator))
    return ops.mul(input, mask)


def _one(value):
    """A 1-D size as a one-element tuple (so 1-D pooling never spreads over other axes)."""
    return (value,) if isinstance(value, int) else value


def _two(value):
    return (value, value) if isinstance(value, int) else value
