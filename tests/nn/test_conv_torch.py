"""Convolution and pooling against torch.nn.functional: values, gradients and double backward in
float64, over strides, paddings, dilations, groups, 1-D and 2-D."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops import conv as conv_module

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
TF = torch.nn.functional

CONV_CASES = [
    ((2, 4, 9), (6, 2, 3), dict(stride=2, padding=1, dilation=2, groups=2)),
    ((2, 3, 7, 8), (4, 3, 3, 2), dict(stride=(2, 1), padding=(1, 0))),
    ((2, 4, 7, 8), (4, 1, 3, 3), dict(groups=4, padding="same")),
    ((1, 2, 6, 5), (3, 2, 2, 2), dict(padding="valid", dilation=(2, 1))),
    ((1, 2, 7, 6), (3, 2, 4, 3), dict(padding="same", dilation=(1, 2))),
    # Widening the channels (LeNet's 6 -> 16): the input gradient sums columns back (col2im) instead
    # of convolving with the flipped kernel.
    ((3, 2, 8, 7), (6, 2, 5, 5), dict(padding=1)),
]


def _torch_conv(ndim):
    return {3: TF.conv1d, 4: TF.conv2d, 5: TF.conv3d}[ndim]


def _pair(rng, *shapes):
    arrays = [rng.standard_normal(s) for s in shapes]
    return arrays, [cr.tensor(a, requires_grad=True) for a in arrays], \
        [torch.tensor(a, requires_grad=True) for a in arrays]


def _assert_close(ours, theirs, atol=1e-10):
    np.testing.assert_allclose(getattr(ours, "data", ours), theirs.detach().numpy(), atol=atol, rtol=1e-9)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("x_shape,w_shape,options", CONV_CASES)
def test_conv_values_gradients_and_double_backward_match_torch(x_shape, w_shape, options):
    rng = np.random.default_rng(0)
    _, (x, w, b), (tx, tw, tb) = _pair(rng, x_shape, w_shape, (w_shape[0],))
    y = cr.conv(x, w, b, **options)
    ty = _torch_conv(len(x_shape))(tx, tw, tb, **options)
    _assert_close(y, ty)
    u = rng.standard_normal(ty.shape)
    def loss(x, w):
        return (cr.conv(x, w, b, **options) * u).sum()

    gx, gw = cr.grad(loss, argnums=(0, 1))(x, w)
    tgx, tgw = torch.autograd.grad((ty * torch.tensor(u)).sum(), (tx, tw), create_graph=True)
    _assert_close(gx, tgx)
    _assert_close(gw, tgw)
    # Double backward: the gradient of ⟨gx, gx⟩ + ⟨gw, gw⟩ with respect to x and w.
    g2 = cr.grad(lambda x, w: sum((g * g).sum() for g in cr.grad(loss, argnums=(0, 1))(x, w)),
                 argnums=(0, 1))(x, w)
    t2 = torch.autograd.grad((tgx * tgx).sum() + (tgw * tgw).sum(), (tx, tw))
    for ours, theirs in zip(g2, t2):
        _assert_close(ours, theirs, atol=1e-9)


@pytest.mark.parametrize("x_shape,w_shape,options", [
    ((2, 4, 5, 6), (4, 3, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((2, 4, 5), (4, 1, 3), dict(stride=3, padding=2, output_padding=2, groups=2, dilation=2)),
])
def test_conv_transpose_matches_torch(x_shape, w_shape, options):
    rng = np.random.default_rng(1)
    _, (x, w), (tx, tw) = _pair(rng, x_shape, w_shape)
    function = {3: TF.conv_transpose1d, 4: TF.conv_transpose2d}[len(x_shape)]
    y, ty = cr.conv_transpose(x, w, **options), function(tx, tw, **options)
    _assert_close(y, ty)
    u = rng.standard_normal(ty.shape)
    (y * u).sum().backward()
    (ty * torch.tensor(u)).sum().backward()
    _assert_close(x.grad, tx.grad)
    _assert_close(w.grad, tw.grad)


POOL_CASES = [
    ((2, 3, 9, 8), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 3, 9, 8), dict(kernel_size=(3, 2), stride=2, padding=(1, 1), ceil_mode=True)),
    ((2, 3, 10), dict(kernel_size=3, stride=3, padding=1, ceil_mode=True)),
    ((2, 3, 7, 7), dict(kernel_size=2)),
]


@pytest.mark.parametrize("x_shape,options", POOL_CASES)
def test_max_pool_matches_torch(x_shape, options):
    rng = np.random.default_rng(2)
    _, (x,), (tx,) = _pair(rng, x_shape)
    y = cr.max_pool(x, **options)
    ty = {3: TF.max_pool1d, 4: TF.max_pool2d}[len(x_shape)](tx, **options)
    _assert_close(y, ty)
    u = rng.standard_normal(ty.shape)
    (y * u).sum().backward()
    (ty * torch.tensor(u)).sum().backward()
    _assert_close(x.grad, tx.grad)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("x_shape,options", POOL_CASES)
def test_avg_pool_matches_torch(x_shape, options, count_include_pad):
    rng = np.random.default_rng(3)
    _, (x,), (tx,) = _pair(rng, x_shape)
    y = cr.avg_pool(x, count_include_pad=count_include_pad, **options)
    function = {3: TF.avg_pool1d, 4: TF.avg_pool2d}[len(x_shape)]
    ty = function(tx, count_include_pad=count_include_pad, **options)
    _assert_close(y, ty)
    u = rng.standard_normal(ty.shape)
    (y * u).sum().backward()
    (ty * torch.tensor(u)).sum().backward()
    _assert_close(x.grad, tx.grad)


@pytest.mark.parametrize("output_size", [1, (3, 4), (5, None)])
def test_adaptive_avg_pool_matches_torch(output_size):
    rng = np.random.default_rng(4)
    _, (x,), (tx,) = _pair(rng, (2, 3, 10, 7))
    y, ty = cr.adaptive_avg_pool(x, output_size), TF.adaptive_avg_pool2d(tx, output_size)
    _assert_close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    _assert_close(x.grad, tx.grad)


def test_max_pool_ties_share_the_gradient_like_max():
    x = cr.tensor([[[1.0, 3.0, 3.0, 2.0]]], requires_grad=True)
    cr.max_pool(x, 4).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[0, 0.5, 0.5, 0]]])


def test_chunked_im2col_gives_the_same_results(monkeypatch):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((5, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))

    def run():
        xt, wt = cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)
        y = cr.conv(xt, wt, padding=1, stride=2)
        (y * y).sum().backward()
        return y.data, xt.grad.data, wt.grad.data

    whole = run()
    monkeypatch.setattr(conv_module, "IM2COL_LIMIT_BYTES", 3 * 9 * 9 * 8 * 2)  # two examples a chunk
    assert len(conv_module._batch_chunks(5, 3 * 9 * 9 * 8)) == 3
    for a, b in zip(whole, run()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_float32_stays_float32():
    x = cr.tensor(np.ones((2, 3, 5, 5), np.float32), requires_grad=True)
    w = cr.tensor(np.ones((4, 3, 3, 3), np.float32), requires_grad=True)
    y = cr.max_pool(cr.conv(x, w, padding=1), 2)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32 and w.grad.dtype == np.float32
