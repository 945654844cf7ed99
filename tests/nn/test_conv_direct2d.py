"""The direct 2-D loops (stride 1, few channels) give im2col's numbers: padding on either side, kernels
wider than tall, output channels past a block of 6, both dtypes, LeNet-5's shapes, the input gradient
as a flipped convolution, a non-finite input (the weight gradient falls back to im2col), two threads
(the PyTorch, spec and second-order tests run the direct path on such 2-D convolutions)."""

import numpy as np
import pytest

from chainrule.ops import conv as conv_module
from chainrule.ops import conv_direct2d, winograd

ONE = np.zeros(1, np.float32)
pytestmark = pytest.mark.skipif(not conv_direct2d.applies(ONE, ONE, 1, 1, (1, 1), (1, 1), (1, 1), 1),
                                reason="no C compiler: im2col alone runs")


def _three(x, w, g, options):
    return (conv_module._conv_impl(np, x, w, **options),
            conv_module._conv_transpose_impl(np, g, w, size=x.shape[2:], **options),
            conv_module._conv_weight_impl(np, x, g, kernel_size=w.shape[2:], **options))


def _both_ways(monkeypatch, x, w, g, options):
    """conv, its input gradient and its weight gradient, by the direct loops and by im2col."""
    fast = _three(x, w, g, options)
    monkeypatch.setattr(conv_direct2d, "applies", lambda *args: False)
    slow = _three(x, w, g, options)
    monkeypatch.undo()
    return fast, slow


def _case(rng, n, channels, out_channels, size, kernel, padding, dtype):
    x = rng.normal(size=(n, channels) + size).astype(dtype)
    w = rng.normal(size=(out_channels, channels) + kernel).astype(dtype)
    options = dict(stride=(1, 1), padding=padding, dilation=(1, 1), groups=1)
    out = tuple(conv_module.conv_output_size(s, k, 1, p, 1) for s, k, p in zip(size, kernel, padding))
    g = rng.normal(size=(n, out_channels) + out).astype(dtype)
    return x, w, g, options


def _assert_close(fast, slow, dtype):
    for a, b in zip(fast, slow):
        assert a.shape == b.shape and a.dtype == b.dtype == dtype
        scale = np.abs(b).max()
        np.testing.assert_allclose(a / scale, b / scale, rtol=0, atol=2e-6 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize("seed", range(8))
def test_direct_loops_equal_im2col(monkeypatch, seed):
    rng = np.random.default_rng(seed)
    kernel = tuple(int(k) for k in rng.integers(1, 6, size=2))
    padding = tuple((int(rng.integers(0, k)), int(rng.integers(0, k))) for k in kernel)
    size = tuple(k + int(rng.integers(0, 9)) for k in kernel)
    channels, out_channels = int(rng.integers(1, 5)), int(rng.integers(1, 15))
    dtype = np.float32 if seed % 2 == 0 else np.float64
    x, w, g, options = _case(rng, 3, channels, out_channels, size, kernel, padding, dtype)
    assert conv_direct2d.applies(x, w, channels, out_channels, kernel, (1, 1), (1, 1), 1)
    _assert_close(*_both_ways(monkeypatch, x, w, g, options), dtype)


@pytest.mark.parametrize("layer", [(1, 6, (28, 28), ((2, 2), (2, 2))), (6, 16, (14, 14), ((0, 0), (0, 0)))])
def test_lenet_layers(monkeypatch, layer):
    channels, out_channels, size, padding = layer
    rng = np.random.default_rng(1)
    x, w, g, options = _case(rng, 4, channels, out_channels, size, (5, 5), padding, np.float32)
    fast, slow = _both_ways(monkeypatch, x, w, g, options)
    _assert_close(fast, slow, np.float32)
    # one output by hand: example 0, channel 1, position (3, 4)
    top, left = 3 - padding[0][0], 4 - padding[1][0]
    window = np.pad(x[0], ((0, 0), (5, 5), (5, 5)))[:, top + 5:top + 10, left + 5:left + 10]
    np.testing.assert_allclose(fast[0][0, 1, 3, 4], np.sum(window * w[1]), rtol=1e-5)


def test_non_finite_input_keeps_im2col_weight_gradient(monkeypatch):
    rng = np.random.default_rng(2)
    x, w, g, options = _case(rng, 2, 1, 3, (6, 7), (3, 3), ((1, 1), (1, 1)), np.float64)
    x[0, 0, 2, 3] = np.inf
    assert conv_direct2d.conv_weight(x, g, (3, 3), options["padding"]) is None
    fast, slow = _both_ways(monkeypatch, x, w, g, options)
    np.testing.assert_array_equal(fast[2], slow[2])
    np.testing.assert_array_equal(np.isinf(fast[0]), np.isinf(slow[0]))


def test_other_geometries_are_not_served():
    x = np.zeros((1, 1, 5, 5), np.float32)
    assert not conv_direct2d.applies(x, x, 1, 1, (3, 3), (2, 1), (1, 1), 1)  # stride 2
    assert not conv_direct2d.applies(x, x, 1, 1, (3, 3), (1, 1), (1, 2), 1)  # dilation
    assert not conv_direct2d.applies(x, x, 2, 2, (3, 3), (1, 1), (1, 1), 2)  # groups
    assert not conv_direct2d.applies(x, x, 1, 1, (3,), (1,), (1,), 1)  # 1-D
    assert not conv_direct2d.applies(x, x, 64, 64, (3, 3), (1, 1), (1, 1), 1)  # many channels
    assert not conv_direct2d.applies(x, x.astype(np.float64), 1, 1, (3, 3), (1, 1), (1, 1), 1)


@pytest.mark.parametrize("n", [1, 5])
def test_two_threads_equal_one(monkeypatch, n):
    rng = np.random.default_rng(n)
    x, w, g, options = _case(rng, n, 3, 8, (9, 8), (3, 2), ((1, 0), (1, 1)), np.float32)
    monkeypatch.setattr(conv_direct2d, "SPLIT_MACS", 1)
    results = []
    for threads in (1, 2):
        monkeypatch.setattr(winograd, "workers", lambda: threads)
        results.append(_three(x, w, g, options))
    for one, two in zip(*results):  # the weight gradient: two partial sums added, float32 rounding
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-5)
