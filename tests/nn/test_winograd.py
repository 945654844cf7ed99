"""Winograd's F(2x2, 3x3) gives im2col's numbers (float64 to 1e-12, float32 to 1e-5 relative) for the
forward pass, the input gradient and the weight gradient: every padding up to 2 a side, odd sizes,
chunks that split tile rows and examples; its derivatives to second order; PyTorch's values in
float32 at the benchmark's 64 channels."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops import conv as conv_module
from chainrule.ops import blas_threads, winograd
from chainrule.testing import check_grads

pytestmark = pytest.mark.skipif(winograd._library() is None, reason="no C compiler: im2col alone runs")


def _three(x, w, g, padding):
    options = dict(stride=(1, 1), padding=padding, dilation=(1, 1), groups=1)
    return (conv_module._conv_impl(np, x, w, **options),
            conv_module._conv_transpose_impl(np, g, w, size=x.shape[2:], **options),
            conv_module._conv_weight_impl(np, x, g, kernel_size=(3, 3), **options))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(6))
def test_winograd_equals_im2col(monkeypatch, dtype, seed):
    rng = np.random.default_rng(seed)
    padding = tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(2))
    size = tuple(int(s) for s in rng.integers(3, 10, size=2))
    n, channels, out_channels = int(rng.integers(1, 4)), int(rng.integers(1, 5)), int(rng.integers(1, 5))
    x = rng.normal(size=(n, channels) + size).astype(dtype)
    w = rng.normal(size=(out_channels, channels, 3, 3)).astype(dtype)
    out = tuple(s + a + b - 2 for s, (a, b) in zip(size, padding))
    g = rng.normal(size=(n, out_channels) + out).astype(dtype)
    direct = _three(x, w, g, padding)
    monkeypatch.setattr(winograd, "MIN_CHANNELS", 1)
    monkeypatch.setattr(winograd, "CHUNK_TILES", int(rng.integers(1, 8)))  # chunks split tile rows
    assert winograd.applies(x, w, out_channels, (3, 3), (1, 1), padding, (1, 1), 1)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for ours, theirs in zip(_three(x, w, g, padding), direct):
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype == dtype
        np.testing.assert_allclose(ours, theirs, **tol)


def test_applies_only_where_it_is_exact_and_wins():
    x, w = np.zeros((1, 64, 8, 8), np.float32), np.zeros((64, 64, 3, 3), np.float32)
    same = ((1, 1), (1, 1))
    assert winograd.applies(x, w, 64, (3, 3), (1, 1), same, (1, 1), 1)
    assert not winograd.applies(x, w, 64, (3, 3), (2, 2), same, (1, 1), 1)       # stride
    assert not winograd.applies(x, w, 64, (3, 3), (1, 1), same, (2, 2), 1)       # dilation
    assert not winograd.applies(x, w, 64, (3, 3), (1, 1), same, (1, 1), 2)       # groups
    assert not winograd.applies(x, w, 64, (5, 5), (1, 1), same, (1, 1), 1)       # kernel
    assert not winograd.applies(x, w, 64, (3, 3), (1, 1), ((3, 3), (1, 1)), (1, 1), 1)
    assert not winograd.applies(x, w, 16, (3, 3), (1, 1), same, (1, 1), 1)       # few channels
    assert not winograd.applies(x, w.astype(np.float64), 64, (3, 3), (1, 1), same, (1, 1), 1)


def test_winograd_gradients_to_second_order(monkeypatch):
    monkeypatch.setattr(winograd, "MIN_CHANNELS", 1)
    rng = np.random.default_rng(7)
    x, w = rng.normal(size=(2, 2, 5, 4)), rng.normal(size=(3, 2, 3, 3))
    check_grads(lambda x, w: cr.conv(x, w, padding=1), (x, w), order=2)
    check_grads(lambda x, w: cr.conv(x, w, padding=((0, 2), (1, 0))), (x, w), order=2)


def test_winograd_float32_matches_torch_at_64_channels():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 64, 9, 10)).astype(np.float32)
    w = (rng.normal(size=(64, 64, 3, 3)) / 24).astype(np.float32)
    assert winograd.applies(x, w, 64, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    xt, wt = cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)
    y = cr.conv(xt, wt, padding=1)
    (y * y).mean().backward()
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, padding=1)
    (ty * ty).mean().backward()
    for ours, theirs in ((y.data, ty), (xt.grad.data, tx.grad), (wt.grad.data, tw.grad)):
        theirs = theirs.detach().numpy()
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5 * np.abs(theirs).max())


def test_two_threads_give_one_threads_numbers(monkeypatch):
    """Two Python threads, each with half of the tiles (one BLAS thread each), then the BLAS threads
    restored: the same forward pass and weight gradient."""
    monkeypatch.setattr(winograd, "MIN_CHANNELS", 1)
    monkeypatch.setattr(winograd, "CHUNK_TILES", 5)
    rng = np.random.default_rng(9)
    x, w = rng.normal(size=(3, 4, 9, 7)), rng.normal(size=(5, 4, 3, 3))
    g = rng.normal(size=(3, 5, 9, 7))
    padding = ((1, 1), (1, 1))
    monkeypatch.setattr(winograd, "workers", lambda: 1)
    one = winograd.conv(x, w, padding), winograd.conv_weight(x, g, padding)
    before = [c.num_threads for c in blas_threads.controllers()]
    monkeypatch.setattr(winograd, "workers", lambda: 2)
    two = winograd.conv(x, w, padding), winograd.conv_weight(x, g, padding)
    np.testing.assert_array_equal(one[0], two[0])  # each tile computed alike, by either thread
    np.testing.assert_allclose(one[1], two[1], rtol=1e-12, atol=1e-12)  # the sum split in two
    assert [c.num_threads for c in blas_threads.controllers()] == before
