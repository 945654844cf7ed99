"""The C max-pool loops give the NumPy path's numbers: the forward, its VJP (scatter) and JVP (gather),
1-3 spatial axes, stride, padding, dilation, ceil_mode's extra padding, ties, -inf and NaN, float32 and
float64, two threads (the PyTorch and spec tests run the C path)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops import pool_kernels, pooling, winograd

TILED_2X2 = {"kernel_size": (2, 2), "stride": (2, 2), "padding": ((0, 0), (0, 0)), "dilation": (1, 1)}
pytestmark = pytest.mark.skipif(not pool_kernels.available(np.zeros((1, 1, 2, 2), np.float32), **TILED_2X2),
                                reason="no C compiler: the NumPy path alone runs")


def _three(x, g, t, geometry):
    y = pooling._max_pool_impl(np, x, **geometry)
    return (y, pooling._max_scatter_impl(np, g, x, y, **geometry),
            pooling._max_gather_impl(np, t, x, y, **geometry))


def _both_ways(monkeypatch, x, g, t, geometry):
    """Forward, scatter and gather by the C loops, then by NumPy."""
    fast = _three(x, g, t, geometry)
    monkeypatch.setattr(pool_kernels, "available", lambda *arrays, **geometry: False)
    slow = _three(x, g, t, geometry)
    monkeypatch.undo()
    return fast, slow


def _assert_same(fast, slow, dtype):
    for a, b in zip(fast, slow):
        assert a.shape == b.shape and a.dtype == b.dtype == dtype
    np.testing.assert_array_equal(fast[0], slow[0])  # the maxima are elements: exactly equal
    for a, b in zip(fast[1:], slow[1:]):  # sums of the same terms, perhaps in another order
        np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-6)


def _geometry(rng, spatial):
    kernel = tuple(int(k) for k in rng.integers(1, 4, size=spatial))
    stride = tuple(int(s) for s in rng.integers(1, 4, size=spatial))
    dilation = tuple(int(d) for d in rng.integers(1, 3, size=spatial))
    size = tuple(d * (k - 1) + 1 + int(rng.integers(0, 6)) for k, d in zip(kernel, dilation))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    x = np.zeros((1, 1) + size)
    return size, pooling.pool_geometry("test", x, kernel, stride, padding, dilation, bool(rng.integers(0, 2)))


@pytest.mark.parametrize("spatial", [1, 2, 3])
@pytest.mark.parametrize("seed", range(6))
def test_c_loops_equal_numpy(monkeypatch, spatial, seed):
    rng = np.random.default_rng(10 * spatial + seed)
    size, geometry = _geometry(rng, spatial)
    dtype = np.float32 if seed % 2 == 0 else np.float64
    x = rng.integers(-2, 3, size=(2, 3) + size).astype(dtype)  # few values: many ties
    x.flat[rng.integers(0, x.size, 3)] = -np.inf
    out = pooling._out(x.shape, **geometry)
    g = rng.normal(size=(2, 3) + out).astype(dtype)
    t = rng.normal(size=x.shape).astype(dtype)
    _assert_same(*_both_ways(monkeypatch, x, g, t, geometry), dtype)


def test_lenet_and_benchmark_shapes(monkeypatch):
    rng = np.random.default_rng(1)
    for shape in [(4, 6, 28, 28), (4, 16, 10, 10), (2, 5, 9, 7)]:
        x = rng.normal(size=shape).astype(np.float32)
        out = pooling._out(x.shape, **TILED_2X2)
        g, t = rng.normal(size=shape[:2] + out).astype(np.float32), rng.normal(size=shape).astype(np.float32)
        fast, slow = _both_ways(monkeypatch, x, g, t, TILED_2X2)
        _assert_same(fast, slow, np.float32)
        np.testing.assert_array_equal(fast[1], slow[1])  # no ties, one term per position: exact


def test_ties_share_equally_and_padding_ties_a_minus_infinite_maximum():
    x = np.array([[[[1, 3], [3, 2]], [[5, 5], [5, 5]]]], np.float64)  # (1, 2, 2, 2)
    y = pooling._max_pool_impl(np, x, **TILED_2X2)
    gx = pooling._max_scatter_impl(np, np.ones_like(y), x, y, **TILED_2X2)
    assert gx.tolist() == [[[[0, 0.5], [0.5, 0]], [[0.25, 0.25], [0.25, 0.25]]]]
    # a window of one -inf element and one of padding: both tie, the element gets half
    geometry = {"kernel_size": (2,), "stride": (2,), "padding": ((1, 1),), "dilation": (1,)}
    x = np.array([[[-np.inf, 4.0]]])
    y = pooling._max_pool_impl(np, x, **geometry)
    assert y.tolist() == [[[-np.inf, 4.0]]]
    assert pooling._max_scatter_impl(np, np.ones_like(y), x, y, **geometry).tolist() == [[[0.5, 1.0]]]
    assert pooling._max_gather_impl(np, np.array([[[2.0, 3.0]]]), x, y, **geometry).tolist() == [[[1.0, 3.0]]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_behaves_as_numpy(monkeypatch, dtype):
    """A NaN maximum propagates, and its window's gradient is NaN (0 / 0, as chainrule.max's); an
    infinite incoming gradient gives NaN where the share is 0 (inf · 0)."""
    x = np.arange(2 * 3 * 4 * 4, dtype=dtype).reshape(2, 3, 4, 4) % 7
    x[0, 1, 0, 1] = np.nan
    g = np.ones((2, 3, 2, 2), dtype)
    g[1, 2, 1, 1] = np.inf
    t = np.ones_like(x)
    t[1, 0, 1, 0] = np.inf  # not its window's maximum: inf · 0
    with np.errstate(invalid="ignore"):
        fast, slow = _both_ways(monkeypatch, x, g, t, TILED_2X2)
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)  # NaN where NumPy has NaN
    y, gx, ty = fast
    assert np.isnan(y[0, 1, 0, 0]) and np.isnan(ty[0, 1, 0, 0]) and np.isnan(gx[0, 1, :2, :2]).all()
    assert np.isnan(gx[1, 2, 2:, 2:]).sum() == 3 and np.isinf(gx[1, 2, 2:, 2:]).sum() == 1
    assert np.isnan(ty[1, 0, 0, 0]) and np.isfinite(np.delete(ty.reshape(6, -1), [1, 3], axis=0)).all()
    assert np.isfinite(np.delete(gx.reshape(6, -1), [1, 5], axis=0)).all()


def test_nan_gradient_through_the_layer():
    x = cr.tensor(np.array([[[[1.0, np.nan], [3.0, 2.0]], [[1.0, 1.0], [0.0, 0.0]]]]), requires_grad=True)
    cr.max_pool(x, 2).sum().backward()
    assert np.isnan(x.grad.data[0, 0]).all()
    assert x.grad.data[0, 1].tolist() == [[0.5, 0.5], [0.0, 0.0]]


@pytest.mark.parametrize("geometry", [TILED_2X2, {"kernel_size": (3, 3), "stride": (2, 2),
                                                  "padding": ((1, 1), (1, 1)), "dilation": (1, 1)}])
def test_two_threads_equal_one(monkeypatch, geometry):
    rng = np.random.default_rng(7)
    x = rng.integers(-3, 4, size=(3, 5, 9, 10)).astype(np.float32)
    out = pooling._out(x.shape, **geometry)
    g, t = rng.normal(size=(3, 5) + out).astype(np.float32), rng.normal(size=x.shape).astype(np.float32)
    monkeypatch.setattr(pool_kernels, "SPLIT_ELEMENTS", 1)
    results = []
    for threads in (1, 2):
        monkeypatch.setattr(winograd, "workers", lambda: threads)
        results.append(_three(x, g, t, geometry))
    for one, two in zip(*results):
        np.testing.assert_array_equal(two, one)


def test_large_windows_and_other_dtypes_use_numpy():
    assert not pool_kernels.available(np.zeros((1, 1, 9, 9)), kernel_size=(9, 9), stride=(1, 1),
                                      padding=((0, 0), (0, 0)), dilation=(1, 1))
    assert not pool_kernels.available(np.zeros((1, 1, 4, 4), np.float16), **TILED_2X2)
    assert not pool_kernels.available(np.zeros((1, 1, 4, 4), np.float32), np.zeros((1, 1, 2, 2)), **TILED_2X2)
    x = np.arange(81.0).reshape(1, 1, 9, 9)
    geometry = {"kernel_size": (9, 9), "stride": (1, 1), "padding": ((0, 0), (0, 0)), "dilation": (1, 1)}
    y = pooling._max_pool_impl(np, x, **geometry)
    assert y.tolist() == [[[[80.0]]]]
    assert pooling._max_scatter_impl(np, np.ones_like(y), x, y, **geometry)[0, 0, 8, 8] == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", [TILED_2X2, {"kernel_size": (3, 3), "stride": (2, 2),
                                                  "padding": ((1, 1), (1, 1)), "dilation": (1, 1)}])
def test_short_rows_in_blocks_equal_numpy(monkeypatch, dtype, geometry):
    """Rows of 2 to 20 outputs (the Fashion-MNIST CNN's are 7 and 14): blocks of 8 or 4 outputs, the last
    one overlapping its neighbour, give NumPy's numbers, with ties, -inf and NaN in the input."""
    rng = np.random.default_rng(4)
    for width in range(4, 41, 3):
        x = rng.integers(-2, 3, size=(2, 3, 6, width)).astype(dtype)
        x.flat[rng.integers(0, x.size, 2)] = -np.inf
        x.flat[rng.integers(0, x.size, 1)] = np.nan
        out = pooling._out(x.shape, **geometry)
        g = rng.normal(size=(2, 3) + out).astype(dtype)
        t = rng.normal(size=x.shape).astype(dtype)
        fast, slow = _both_ways(monkeypatch, x, g, t, geometry)
        for a, b in zip(fast, slow):
            assert a.dtype == b.dtype == dtype
            np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-6,
                                       equal_nan=True)
