"""Spec-table entries for convolution and pooling: a grid over stride, padding (symmetric, per side,
"same"), dilation, groups (depthwise included), odd sizes, 1-D and 2-D."""

import numpy as np

import chainrule as cr
from chainrule.ops import pooling
from chainrule.ops.conv import conv_weight
from tests.core.domains import real

PAIR = ((1, 0), (0, 2))
WEIGHTS_1D = np.random.default_rng(1).uniform(0.5, 1.5, (2, 2, 3, 3))  # (offsets, N, C, out)


# The max-pool's rules as primitives: x (with ties) and its pooled y are constants, the gradient or the
# tangent the argument. A 2-D grid of windows that tile x, and overlapping 1-D windows with padding.
TILED = {"kernel_size": (2, 2), "stride": (2, 2), "padding": ((0, 0), (0, 0)), "dilation": (1, 1)}
OVERLAPPING = {"kernel_size": (3,), "stride": (2,), "padding": ((1, 1),), "dilation": (1,)}
POOL_X_2D = np.random.default_rng(2).integers(-2, 3, (2, 3, 4, 6)).astype(float)
POOL_X_1D = np.random.default_rng(3).integers(-2, 3, (2, 2, 8)).astype(float)
POOL_Y_2D = pooling.max_pool_primitive(POOL_X_2D, **TILED).data
POOL_Y_1D = pooling.max_pool_primitive(POOL_X_1D, **OVERLAPPING).data


def _upsample(y, w):
    return cr.conv_transpose(y, w, stride=2, padding=1, output_padding=1)


def _grouped_upsample(y, w):
    return cr.conv_transpose(y, w, stride=3, dilation=2, groups=2)


SPECS = {
    "conv": [
        (cr.conv, [real(2, 3, 7), real(4, 3, 3)]),
        (lambda x, w: cr.conv(x, w, stride=2, padding=1, dilation=2), [real(2, 2, 9), real(3, 2, 2)]),
        (lambda x, w: cr.conv(x, w, padding="same", groups=2), [real(1, 4, 6), real(2, 2, 4)]),
        (lambda x, w: cr.conv(x, w, stride=(2, 1), padding=PAIR), [real(2, 2, 5, 4), real(3, 2, 3, 2)]),
        (lambda x, w: cr.conv(x, w, groups=3, dilation=(1, 2)), [real(1, 3, 5, 6), real(3, 1, 2, 2)]),
        (lambda x, w, b: cr.conv(x, w, b, padding=1), [real(2, 2, 3, 3), real(2, 2, 3, 3), real(2)]),
    ],
    "conv_transpose": [
        (_upsample, [real(2, 3, 3, 2), real(3, 2, 3, 3)]),
        (_grouped_upsample, [real(1, 4, 3), real(4, 1, 2)]),
    ],
    "conv_weight": [
        (lambda x, y: conv_weight(x, y, kernel_size=(3,), stride=(2,), padding=((1, 0),), dilation=(1,),
                                  groups=1), [real(2, 3, 7), real(2, 2, 3)]),
        (lambda x, y: conv_weight(x, y, kernel_size=(2, 2), stride=(1, 1), padding=((0, 0), (1, 1)),
                                  dilation=(1, 1), groups=2), [real(1, 2, 3, 3), real(1, 4, 2, 4)]),
    ],
    "max_pool": [
        (lambda x: cr.max_pool(x, 2), [real(2, 3, 4, 5)]),
        (lambda x: cr.max_pool(x, 3, stride=2, padding=1, ceil_mode=True), [real(1, 2, 8)]),
        (lambda x: cr.max_pool(x, (2, 3), stride=1, dilation=(2, 1)), [real(1, 2, 5, 5)]),
    ],
    "max_pool_scatter": [
        (lambda g: pooling.max_pool_scatter(g, POOL_X_2D, POOL_Y_2D, **TILED), [real(2, 3, 2, 3)]),
        (lambda g: pooling.max_pool_scatter(g, POOL_X_1D, POOL_Y_1D, **OVERLAPPING), [real(2, 2, 4)]),
    ],
    "max_pool_gather": [
        (lambda t: pooling.max_pool_gather(t, POOL_X_2D, POOL_Y_2D, **TILED), [real(2, 3, 4, 6)]),
        (lambda t: pooling.max_pool_gather(t, POOL_X_1D, POOL_Y_1D, **OVERLAPPING), [real(2, 2, 8)]),
    ],
    "window_sum": [
        (lambda x: cr.avg_pool(x, 3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
         [real(2, 2, 6, 7)]),
        (lambda x: pooling.window_sum(x, WEIGHTS_1D, kernel_size=(2,), stride=(2,), padding=((0, 1),),
                                      dilation=(1,)), [real(2, 3, 5)]),
    ],
    "window_scatter": [
        (lambda y: pooling.window_scatter(y, WEIGHTS_1D, size=(5,), kernel_size=(2,), stride=(2,),
                                          padding=((0, 1),), dilation=(1,)), [real(2, 3, 3)]),
    ],
}
