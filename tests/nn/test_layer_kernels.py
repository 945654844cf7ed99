"""The GELU and layer-norm kernels (chainrule/ops/layer_kernels.py) give the NumPy formulas' numbers:
forward and every cotangent, float32 and float64, NaN and infinities where NumPy puts them; the
primitives' gradients against PyTorch; a compiled GPT-style block agrees with eager mode over steps.
(Finite differences to second order: tests/core/spec_layers.py.)"""

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.mode import BARE
from chainrule.nn import functional as F
from chainrule.ops import gelu as gelu_module
from chainrule.ops import layer_kernels
from chainrule.ops import layer_norm as layer_norm_module

pytestmark = pytest.mark.skipif(not layer_kernels.available(), reason="no C compiler: NumPy alone runs")
RNG = np.random.default_rng(21)
TOLERANCE = {np.float32: 4e-6, np.float64: 1e-13}


def _without_kernels(patch):
    patch.setattr(layer_kernels, "applies", lambda *arrays: False)


def _gelu_both(x, g, approximate):
    """The forward and the rule, once reading the ``Φ(x)`` the forward kept, once computing it."""
    y = gelu_module._gelu(np, x, approximate=approximate)
    kept = gelu_module._slope_times(BARE.ns, g, y, x, approximate=approximate)
    computed = gelu_module._slope_times(BARE.ns, g, None, x, approximate=approximate)
    return y, kept, computed


def _norm_both(x, weight, bias, g, eps=1e-5):
    y = layer_norm_module._layer_norm(np, x, weight, bias, eps=eps)
    wanted = (0, 1, 2) if weight is not None and bias is not None else (0,)
    cotangents = layer_norm_module._vjp(wanted, BARE.ns, g, y, x, weight, bias, eps=eps)
    if len(wanted) == 3:  # the NumPy rule leaves the sums over rows to the engine
        cotangents = (cotangents[0],) + tuple(np.reshape(c, (-1, x.shape[-1])).sum(axis=0) for c in cotangents[1:])
    return (y,) + tuple(cotangents)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_kernels_equal_the_numpy_formula_and_its_rule(monkeypatch, dtype, approximate):
    x = (RNG.standard_normal((5, 33)) * 3).astype(dtype)
    g = RNG.standard_normal(x.shape).astype(dtype)
    ours = _gelu_both(x, g, approximate)
    assert layer_kernels.kept_cdf(ours[0]) is not None
    with monkeypatch.context() as patch:
        _without_kernels(patch)
        theirs = _gelu_both(x, g, approximate)
    assert layer_kernels.kept_cdf(theirs[0]) is None
    with cr.no_grad():  # nothing kept for a backward pass
        assert layer_kernels.kept_cdf(gelu_module._gelu(np, x, approximate=approximate)) is None
    for a, b in zip(ours, theirs, strict=True):
        assert type(a) is np.ndarray and a.dtype == dtype and a.shape == x.shape
        np.testing.assert_allclose(a, b, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_kernels_equal_the_numpy_formula_and_its_rule(monkeypatch, dtype, affine):
    x = (RNG.standard_normal((3, 7, 130)) * 2 + 5).astype(dtype)
    weight, bias = (RNG.standard_normal(130).astype(dtype) if affine else None for _ in range(2))
    g = RNG.standard_normal(x.shape).astype(dtype)
    ours = _norm_both(x, weight, bias, g)
    with monkeypatch.context() as patch:
        _without_kernels(patch)
        theirs = _norm_both(x, weight, bias, g)
    assert len(ours) == (4 if affine else 2)
    for a, b in zip(ours, theirs, strict=True):
        assert type(a) is np.ndarray and a.dtype == dtype and a.shape == b.shape
        scale = np.abs(b).max()
        np.testing.assert_allclose(a, b, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype] * scale)


def test_nan_and_infinities_come_out_where_numpy_puts_them(monkeypatch):
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 3.0], np.float32)
    x = np.stack([special, np.ones(8, np.float32), RNG.standard_normal(8).astype(np.float32)])
    x[1, 2] = np.nan
    g = np.ones_like(x)
    weight, bias = np.ones(8, np.float32), np.zeros(8, np.float32)
    with np.errstate(all="ignore"):
        ours = _gelu_both(x, g, "none") + _gelu_both(x, g, "tanh") + _norm_both(x, weight, bias, g)
        with monkeypatch.context() as patch:
            _without_kernels(patch)
            theirs = _gelu_both(x, g, "none") + _gelu_both(x, g, "tanh") + _norm_both(x, weight, bias, g)
    for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"result {k}")
        finite = np.isfinite(b)
        np.testing.assert_array_equal(a[~finite & ~np.isnan(b)], b[~finite & ~np.isnan(b)])
        np.testing.assert_allclose(a[finite], b[finite], rtol=1e-5, atol=1e-5, err_msg=f"result {k}")
    assert np.isnan(ours[6][0]).all() and np.isnan(ours[6][1]).all()  # a NaN in a row: all of it
    assert ours[0][0, 1] == np.inf and ours[0][0, 3] == 0


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_and_its_gradient_match_pytorch(approximate):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((4, 9)) * 3
    ours = cr.tensor(x, requires_grad=True)
    F.gelu(ours, approximate=approximate).sum().backward()
    theirs = torch.tensor(x, requires_grad=True)
    y = torch.nn.functional.gelu(theirs, approximate=approximate)
    y.sum().backward()
    np.testing.assert_allclose(F.gelu(cr.tensor(x), approximate=approximate).numpy(), y.detach().numpy(),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_and_its_gradients_match_pytorch(dtype):
    torch = pytest.importorskip("torch")
    x = (RNG.standard_normal((2, 5, 16)) * 3 + 1).astype(dtype)
    w, b = RNG.standard_normal(16).astype(dtype), RNG.standard_normal(16).astype(dtype)
    g = RNG.standard_normal(x.shape).astype(dtype)
    ours = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = F.layer_norm(ours[0], (16,), ours[1], ours[2])
    out.backward(gradient=g)
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    expected = torch.nn.functional.layer_norm(theirs[0], (16,), theirs[1], theirs[2])
    expected.backward(torch.tensor(g))
    tolerance = 2e-5 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=tolerance, atol=tolerance)
    for a, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=tolerance, atol=tolerance * 10)


def test_a_compiled_block_with_both_kernels_agrees_with_eager_over_steps_and_replays_exactly():
    def make():
        cr.manual_seed(3)
        norm, up, down = cr.nn.LayerNorm(32), cr.nn.Linear(32, 64), cr.nn.Linear(64, 32)
        params = [*norm.parameters(), *up.parameters(), *down.parameters()]
        optimizer = cr.optim.AdamW(params, lr=1e-2)

        def step(x):
            optimizer.zero_grad()
            h = x + down(F.gelu(up(norm(x))))
            loss = (F.layer_norm(h, (32,)) * h).mean()
            loss.backward()
            optimizer.step()
            return loss
        return step, params
    x = RNG.standard_normal((6, 32)).astype(np.float32)
    losses = {}
    for mode in ("eager", "compiled", "exact"):
        step, params = make()
        run = step if mode == "eager" else cr.compile(step, exact=mode == "exact")
        losses[mode] = [run(x).item() for _ in range(20)]
        if mode != "eager":
            assert "gelu" in str(run.program(x)) and "layer_norm" in str(run.program(x))
    np.testing.assert_allclose(losses["compiled"], losses["eager"], rtol=1e-5, atol=1e-6)
    assert losses["exact"] == losses["eager"]
    assert losses["eager"][-1] < losses["eager"][0]
