"""The direct 1-D loops give im2col's numbers: padding, stride, dilation, both dtypes, the MNIST-1D
shapes, a kernel longer than the stride, outputs that read only padding (the PyTorch, spec and
second-order tests run the direct path on 1-D convolutions)."""

import numpy as np
import pytest

from chainrule.ops import conv as conv_module
from chainrule.ops import conv_direct

pytestmark = pytest.mark.skipif(not conv_direct.applies(np.zeros(1, np.float32), np.zeros(1, np.float32),
                                                        1, 1, (1,), 1),
                                reason="no C compiler: im2col alone runs")


def _both_ways(monkeypatch, x, w, g, options):
    """conv, its input gradient and its weight gradient, by the direct loops and by im2col."""
    results = []
    for direct in (True, False):
        if not direct:
            monkeypatch.setattr(conv_direct, "applies", lambda *args: False)
        results.append((conv_module._conv_impl(np, x, w, **options),
                        conv_module._conv_transpose_impl(np, g, w, size=x.shape[2:], **options),
                        conv_module._conv_weight_impl(np, x, g, kernel_size=w.shape[2:], **options)))
    return results


@pytest.mark.parametrize("seed", range(8))
def test_direct_loops_equal_im2col(monkeypatch, seed):
    rng = np.random.default_rng(seed)
    kernel, stride, dilation = (int(v) for v in rng.integers(1, 4, size=3))
    padding = ((int(rng.integers(0, 3)), int(rng.integers(0, 3))),)
    length = dilation * (kernel - 1) + 1 + int(rng.integers(0, 7))
    dtype = np.float32 if seed % 2 == 0 else np.float64
    channels, out_channels = (int(v) for v in rng.integers(1, 20, size=2))
    x = rng.normal(size=(3, channels, length)).astype(dtype)
    w = rng.normal(size=(out_channels, channels, kernel)).astype(dtype)
    options = dict(stride=(stride,), padding=padding, dilation=(dilation,), groups=1)
    out = conv_module.conv_output_size(length, kernel, stride, padding[0], dilation)
    g = rng.normal(size=(3, out_channels, out)).astype(dtype)
    direct, im2col = _both_ways(monkeypatch, x, w, g, options)
    for a, b in zip(direct, im2col):
        assert a.shape == b.shape and a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


def test_mnist1d_layers_and_by_hand(monkeypatch):
    rng = np.random.default_rng(1)
    for channels, length, kernel in ((1, 40, 5), (25, 19, 3), (25, 10, 3)):
        x = rng.normal(size=(100, channels, length)).astype(np.float32)
        w = rng.normal(size=(25, channels, kernel)).astype(np.float32)
        out = (length + 2 - kernel) // 2 + 1
        g = rng.normal(size=(100, 25, out)).astype(np.float32)
        options = dict(stride=(2,), padding=((1, 1),), dilation=(1,), groups=1)
        direct, _ = _both_ways(monkeypatch, x, w, g, options)
        monkeypatch.undo()
        # float32 sums over up to 1,900 terms: both against float64, relative to the largest value
        _, exact = _both_ways(monkeypatch, *(a.astype(np.float64) for a in (x, w, g)), options)
        monkeypatch.undo()
        for a, b in zip(direct, exact):
            assert np.abs(a - b).max() <= 2e-6 * np.abs(b).max()
    # by hand: kernel 2, stride 2, one position of padding before: windows -1..0, 1..2, 3..4
    x = np.array([[[1, 2, 3, 4, 5]]], np.float32)
    w = np.array([[[10, 1]]], np.float32)
    geometry = dict(stride=(2,), padding=((1, 0),), dilation=(1,))
    assert conv_direct.conv(x, w, 3, **geometry).tolist() == [[[1, 23, 45]]]  # 10·0 + 1, 10·2 + 3, 10·4 + 5
    g = np.array([[[1, 2, 3]]], np.float32)
    assert conv_direct.conv_transpose(g, w, 5, **geometry).tolist() == [[[1, 20, 2, 30, 3]]]
    assert conv_direct.conv_weight(x, g, 2, **geometry).tolist() == [[[2*2 + 3*4, 1 + 2*3 + 3*5]]]


def test_limits():
    x = np.zeros((1, 4, 9), np.float32)
    assert conv_direct.applies(x, np.zeros((4, 4, 3), np.float32), 4, 4, (3,), 1)
    assert not conv_direct.applies(x, np.zeros((4, 4, 3), np.float64), 4, 4, (3,), 1)  # two dtypes
    assert not conv_direct.applies(x, np.zeros((4, 2, 3), np.float32), 4, 4, (3,), 2)  # groups
    assert not conv_direct.applies(x, np.zeros((4, 4, 3, 3), np.float32), 4, 4, (3, 3), 1)  # 2-D
    big = conv_direct.MAX_WORK
    assert not conv_direct.applies(x, x, big, 1, (2,), 1)
