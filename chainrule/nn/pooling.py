"""Pooling layers, ``Flatten`` and ``Dropout2d``, with PyTorch's names and arguments.

Example:
    >>> import chainrule as cr
    >>> MaxPool2d(2)(cr.zeros(4, 8, 28, 28)).shape, Flatten()(cr.zeros(4, 8, 7, 7)).shape
    ((4, 8, 14, 14), (4, 392))
"""

import numpy as np

from .. import ops
from ..core.tensor import unwrap
from ..ops.checks import located
from . import functional_conv as F
from .layers import Dropout
from .module import Module


class _Pool(Module):
    spatial = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.ceil_mode = kernel_size, stride, padding, ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, "
                f"padding={self.padding}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_Pool):
    """The maximum of each window of ``(N, C, L)`` inputs (ties share the gradient)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation = dilation

    def forward(self, x):
        return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class MaxPool2d(MaxPool1d):
    """The maximum of each window of ``(N, C, H, W)`` inputs (ties share the gradient)."""

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class AvgPool1d(_Pool):
    """The mean of each window of ``(N, C, L)`` inputs."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad

    def forward(self, x):
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AvgPool2d(AvgPool1d):
    """The mean of each window of ``(N, C, H, W)`` inputs."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class AdaptiveAvgPool1d(Module):
    """The mean over adaptive windows: the length becomes ``output_size``."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool1d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(AdaptiveAvgPool1d):
    """The mean over adaptive windows: ``(H, W)`` becomes ``output_size`` (``1``: global pooling)."""

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)


class Flatten(Module):
    """Flattens axes ``start_dim`` to ``end_dim`` into one (by default all but the batch axis)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        shape = np.shape(unwrap(x))
        start, end = self.start_dim % len(shape), self.end_dim % len(shape)
        if start > end:
            raise located(f"Flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim} for "
                          f"an input of shape {shape}")
        return ops.reshape(x, shape[:start] + (-1,) + shape[end + 1:])

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout2d(Dropout):
    """Zero whole channels with probability ``p`` in training mode (see
    :func:`chainrule.nn.functional.dropout2d`); the identity in evaluation mode."""

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training, self.generator)
