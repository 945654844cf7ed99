"""Convolution layers with PyTorch's names, shapes, parameters and initialisation.

``Conv1d/2d/3d`` hold ``weight`` of shape ``(out_channels, in_channels/groups, *kernel_size)`` and
``bias`` ``(out_channels,)``; ``ConvTranspose1d/2d`` hold ``weight`` ``(in_channels,
out_channels/groups, *kernel_size)``. Both start uniform in ``±1/√fan_in`` (PyTorch's
``kaiming_uniform_(a=√5)``), so a PyTorch ``state_dict`` loads as it is and gives the same outputs.

Example:
    >>> import chainrule as cr
    >>> layer = Conv2d(1, 8, kernel_size=3, padding=1, generator=0)
    >>> layer(cr.zeros(2, 1, 28, 28)).shape
    (2, 8, 28, 28)
"""

import math

import numpy as np

from ..core.tensor import unwrap
from ..ops.checks import (check_groups, check_layout, check_output_padding, conv_padding, ints, located,
                          positive_ints)
from ..validation import check_int
from . import functional_conv as F
from . import init as initializers
from .layers import _cast
from .module import Module, Parameter
from .rng import as_generator


class _ConvNd(Module):
    """What convolutions and transposed convolutions share: arguments, parameters, the channel check."""

    transposed = False
    spatial = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", generator=None, dtype="float32", output_padding=0):
        super().__init__()
        name = type(self).__name__
        self.in_channels = check_int(in_channels, "in_channels", owner=name)
        self.out_channels = check_int(out_channels, "out_channels", owner=name)
        self.groups = check_groups(name, groups, in_channels, out_channels)
        if padding_mode != "zeros":
            raise located(f"{name}: padding_mode must be 'zeros', not {padding_mode!r} (pad the input "
                          f"with chainrule.pad for the other modes)", ValueError)
        # The arguments are checked here by the convolution's own checks, so a bad one fails when the
        # layer is built; the convolution applies the same checks to each call.
        axes = range(self.spatial)
        self.kernel_size = positive_ints(kernel_size, axes, name, "kernel_size")
        self.stride = positive_ints(stride, axes, name, "stride")
        self.dilation = positive_ints(dilation, axes, name, "dilation")
        self.padding = padding if isinstance(padding, str) else ints(padding, axes, name, "padding")
        conv_padding(name, self.padding, self.kernel_size, self.stride, self.dilation,
                     allow_same=not self.transposed)
        self.output_padding = check_output_padding(name, output_padding, self.stride)
        self.padding_mode = padding_mode
        if self.transposed:
            shape, fan_in = (in_channels, out_channels // groups), out_channels // groups
        else:
            shape, fan_in = (out_channels, in_channels // groups), in_channels // groups
        fan_in *= math.prod(self.kernel_size)
        self.weight = Parameter(np.zeros(shape + self.kernel_size), dtype=dtype)
        self.bias = Parameter(np.zeros(out_channels), dtype=dtype) if bias else None
        generator = as_generator(generator)
        bound = 1 / math.sqrt(fan_in)
        initializers.uniform_(self.weight, -bound, bound, generator)
        if bias:
            initializers.uniform_(self.bias, -bound, bound, generator)

    def _check(self, x):
        check_layout(self._describe(), np.shape(unwrap(x)), self.spatial, self.in_channels)

    def _describe(self):
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,) * self.spatial:
            text += f", padding={self.padding!r}"
        if self.dilation != (1,) * self.spatial:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self.spatial:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ("" if self.bias is not None else ", bias=False")


class _Conv(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", generator=None, dtype="float32"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, generator, dtype)

    def forward(self, x):
        self._check(x)
        return F.conv(_cast(x, self.weight.dtype), self.weight, self.bias, self.stride, self.padding,
                      self.dilation, self.groups)


class Conv1d(_Conv):
    """A 1-D convolution over ``(N, C, L)`` inputs; see the module docstring."""

    spatial = 1


class Conv2d(_Conv):
    """A 2-D convolution over ``(N, C, H, W)`` inputs; see the module docstring."""

    spatial = 2


class Conv3d(_Conv):
    """A 3-D convolution over ``(N, C, D, H, W)`` inputs; see the module docstring."""

    spatial = 3


class _ConvTranspose(_ConvNd):
    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", generator=None, dtype="float32"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, generator, dtype, output_padding)

    def forward(self, x):
        self._check(x)
        return F.conv_transpose(_cast(x, self.weight.dtype), self.weight, self.bias, self.stride,
                                self.padding, self.output_padding, self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """A 1-D transposed convolution (the gradient of ``Conv1d`` in its input): upsampling by ``stride``."""

    spatial = 1


class ConvTranspose2d(_ConvTranspose):
    """A 2-D transposed convolution (the gradient of ``Conv2d`` in its input): upsampling by ``stride``."""

    spatial = 2
