"""The C col2im loop gives the NumPy path's numbers: padding, stride, dilation, groups,
1-3 spatial axes, both column layouts, chunked batches (the PyTorch and spec tests run the C path)."""

import numpy as np
import pytest

from chainrule.ops import conv as conv_module
from chainrule.ops import conv_kernels

pytestmark = pytest.mark.skipif(not conv_kernels.available(np.zeros(1, np.float32)),
                                reason="no C compiler: the NumPy path alone runs")


def _three_ways(monkeypatch, x, w, g, options):
    """conv, its input gradient and its weight gradient, by the C loops and by NumPy."""
    size, kernel = x.shape[2:], w.shape[2:]
    results = []
    for fast in (True, False):
        if not fast:
            monkeypatch.setattr(conv_kernels, "available", lambda *arrays, spatial=1: False)
        results.append((conv_module._conv_impl(np, x, w, **options),
                        conv_module._conv_transpose_impl(np, g, w, size=size, **options),
                        conv_module._conv_weight_impl(np, x, g, kernel_size=kernel, **options)))
    return results


@pytest.mark.parametrize("spatial", [1, 2, 3])
@pytest.mark.parametrize("seed", range(4))
def test_c_loops_equal_numpy(monkeypatch, spatial, seed):
    rng = np.random.default_rng(10 * spatial + seed)
    groups = int(rng.integers(1, 3))
    kernel = tuple(int(k) for k in rng.integers(1, 4, size=spatial))
    stride = tuple(int(s) for s in rng.integers(1, 3, size=spatial))
    dilation = tuple(int(d) for d in rng.integers(1, 3, size=spatial))
    padding = tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(spatial))
    size = tuple(d * (k - 1) + 1 + int(rng.integers(0, 5)) for k, d in zip(kernel, dilation))
    dtype = np.float32 if seed % 2 == 0 else np.float64
    x = rng.normal(size=(3, 2 * groups) + size).astype(dtype)
    w = rng.normal(size=(3 * groups, 2) + kernel).astype(dtype)
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    out = tuple(conv_module.conv_output_size(*a) for a in zip(size, kernel, stride, padding, dilation))
    g = rng.normal(size=(3, 3 * groups) + out).astype(dtype)
    fast, slow = _three_ways(monkeypatch, x, w, g, options)
    for a, b in zip(fast, slow):
        assert a.shape == b.shape and a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-6)


def test_mnist1d_shapes_and_chunks(monkeypatch):
    """Stride 2 with padding (col2im into an unpadded image), in chunks of two examples."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 4, 19)).astype(np.float32)
    w = rng.normal(size=(6, 4, 3)).astype(np.float32)
    g = rng.normal(size=(5, 6, 10)).astype(np.float32)
    monkeypatch.setattr(conv_module, "IM2COL_LIMIT_BYTES", 2 * 4 * 3 * 10 * 4)
    options = dict(stride=(2,), padding=((1, 1),), dilation=(1,), groups=1)
    fast, slow = _three_ways(monkeypatch, x, w, g, options)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    # the first output, by hand: positions -1, 0, 1 of the input (the first one is padding)
    expected = np.einsum("ck,ck->", w[0][:, 1:], x[0][:, :2])
    np.testing.assert_allclose(fast[0][0, 0, 0], expected, rtol=1e-5)


def test_col2im_by_hand():
    # a kernel of 2, stride 2, one position of padding before: windows over positions -1..0, 1..2, 3..4
    cols = np.array([[0, 2, 4, 0, 20, 40], [1, 3, 5, 10, 30, 50]], np.float32)  # (C·K, N·P), N = 2
    image = conv_kernels.col2im(cols, (2,), (3,), (2,), ((1, 0),), (1,), into=np.full((2, 1, 5), 7, np.float32))
    assert image.tolist() == [[[1, 2, 3, 4, 5]], [[10, 20, 30, 40, 50]]]  # the padding's column dropped
    overlapping = conv_kernels.col2im(np.ones((3, 3), np.float32), (3,), (3,), (1,), ((1, 1),), (1,),
                                      into=np.empty((1, 1, 3), np.float32))
    assert overlapping.tolist() == [[[2, 3, 2]]]  # each position summed over the windows holding it
