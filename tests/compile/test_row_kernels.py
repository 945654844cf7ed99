"""Row kernels (softmax, log-softmax, cross-entropy, mean and variance along the last axis): a compiled
step computes them in C, agreeing with eager mode to the dtype's rounding, with NaN and infinities where
NumPy puts them; ``exact=True`` keeps the NumPy operations."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.compile import c_backend
from chainrule.nn import functional as F

pytestmark = pytest.mark.skipif(c_backend.unavailable() is not None, reason="no C compiler")

RNG = np.random.default_rng(23)
RTOL = {np.float32: 2e-6, np.float64: 1e-13}


def _special(dtype):
    """Rows of ordinary values, then a NaN, a +inf, a whole row of -inf and a -inf among finite values."""
    x = RNG.standard_normal((6, 7)).astype(dtype)
    x[1, 2], x[2, 3], x[3], x[4, 0] = np.nan, np.inf, -np.inf, -np.inf
    return x


def _compare(step, args, dtype, name, weight):
    compiled = cr.compile(step)
    with np.errstate(all="ignore"):
        for _ in range(2):  # recorded, then replayed
            weight.grad = None
            got = [np.asarray(t.data).copy() for t in compiled(*args)]
        weight.grad = None
        want = [t.data for t in step(*args)]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        np.testing.assert_allclose(g, w, rtol=RTOL[dtype], atol=RTOL[dtype])
    assert f"fused {name}" in str(compiled.program(*args))
    return compiled


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_and_log_softmax_and_their_vjps_agree_with_eager_mode(name, dtype):
    w = cr.tensor(np.ones(7, dtype), requires_grad=True)

    def step(x, g):
        out = getattr(cr, name)(x * w, axis=-1)
        out.backward(gradient=g)
        return out, w.grad
    compiled = _compare(step, (_special(dtype), RNG.standard_normal((6, 7)).astype(dtype)), dtype, name, w)
    assert "fused vjp " + name in str(compiled.program(_special(dtype), np.ones((6, 7), dtype)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_and_its_gradient_agree_with_eager_mode(dtype):
    w = cr.tensor(np.ones(7, dtype), requires_grad=True)

    def step(x, y):
        loss = F.cross_entropy(x * w * 10, y, reduction="none")
        loss.sum().backward()
        return loss, w.grad
    x = RNG.standard_normal((6, 7)).astype(dtype)
    _compare(step, (x, RNG.integers(0, 7, 6)), dtype, "softmax_cross_entropy", w)
    x[1, 2], x[2] = np.nan, np.inf  # NaN rows as in NumPy
    _compare(step, (x, RNG.integers(0, 7, 6)), dtype, "softmax_cross_entropy", w)


def test_exact_keeps_the_numpy_softmax():
    def step(x):
        return cr.softmax(cr.tensor(x) * 2.0, axis=-1)
    compiled = cr.compile(step, exact=True)
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    compiled(x)
    np.testing.assert_array_equal(compiled(x).numpy(), step(x).numpy())
    assert "fused" not in str(compiled.program(x))


def test_a_softmax_over_another_axis_stays_a_numpy_call():
    def step(x):
        return cr.softmax(cr.tensor(x) * 2.0, axis=0)
    compiled = cr.compile(step)
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    compiled(x)
    np.testing.assert_allclose(compiled(x).numpy(), step(x).numpy(), rtol=1e-6)
    assert "fused softmax" not in str(compiled.program(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_layer_norms_statistics_and_their_vjps_agree_with_eager_mode(dtype):
    w = cr.tensor(np.ones(7, dtype), requires_grad=True)

    def norm(h):  # composed, as F.layer_norm is on a device (on the CPU it is one primitive, its own kernels)
        return (h - cr.mean(h, axis=-1, keepdims=True)) / cr.sqrt(cr.var(h, axis=-1, keepdims=True) + 1e-5)

    def step(x, g):
        out = norm(x * w) + cr.var(x * w, axis=-1, ddof=1)[..., None]
        out.backward(gradient=g)
        return out, w.grad
    x = _special(dtype)[None].repeat(2, axis=0)
    compiled = _compare(step, (x, RNG.standard_normal(x.shape).astype(dtype)), dtype, "mean", w)
    listing = str(compiled.program(x, x))
    assert all(f"fused {name}" in listing for name in ("var", "vjp mean[0]", "vjp var[0]"))


def test_a_mean_over_every_axis_stays_a_numpy_call():
    # Regression: mean's default axis (None: every axis) was taken for the last one.
    def step(x):
        return cr.mean(cr.tensor(x) * 2.0)
    compiled = cr.compile(step)
    x = RNG.standard_normal((9, 2)).astype(np.float32)
    compiled(x)
    assert compiled(x).shape == ()
    np.testing.assert_allclose(compiled(x).numpy(), step(x).numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("labels", [[0, 6, 2, 3, 1, 5], [0, -100, 2, -100, 1, 5], [-100] * 6],
                         ids=["all kept", "two ignored", "all ignored"])
def test_the_mean_cross_entropy_and_its_gradient_are_one_row_kernel_each_and_agree_with_eager_mode(labels, dtype):
    # F.cross_entropy's mean with ignore_index is one primitive: one kernel forward, one backward, where
    # the masked mean made of the primitives was nine operations and their VJPs. An ignored row adds
    # nothing even with NaN logits; every label ignored gives NaN (0 / 0), as in PyTorch.
    w = cr.tensor(np.ones(7, dtype), requires_grad=True)

    def step(x, y):
        loss = F.cross_entropy(x * w * 3, y)
        loss.backward()
        return loss, w.grad
    x = RNG.standard_normal((6, 7)).astype(dtype)
    x[1, 3] = np.nan  # in a row ignored in the second case
    compiled = _compare(step, (x, np.array(labels)), dtype, "softmax_cross_entropy_mean", w)
    ops = [op.name for op in compiled.program(x, np.array(labels)).ops]
    assert {"fused softmax_cross_entropy_mean", "fused vjp softmax_cross_entropy_mean[0]"} <= set(ops)
    assert not {"not_equal (!=)", "where", "astype", "sum", "div"} & set(ops)
    with np.errstate(all="ignore"):
        value = compiled(x, np.array(labels))[0].item()
    assert np.isnan(value) == (labels[1] != -100 or labels == [-100] * 6)


def test_the_mean_cross_entropy_kernel_matches_finite_differences():
    w = cr.tensor(RNG.standard_normal(5), requires_grad=True)
    x, y = RNG.standard_normal((4, 5)), np.array([4, -1, 0, 2])

    def loss(v):
        return F.cross_entropy(x * v, y, ignore_index=-1)

    def step(v):
        value = loss(v)
        value.backward()
        return value, v.grad
    compiled = cr.compile(step)
    for _ in range(3):  # recorded, then replayed
        w.grad = None
        _, gradient = compiled(w)
    assert "fused vjp softmax_cross_entropy_mean[0]" in str(compiled.program(w))
    step_size = 1e-6
    numeric = [(loss(w.data + step_size * e).item() - loss(w.data - step_size * e).item()) / (2 * step_size)
               for e in np.eye(5)]
    np.testing.assert_allclose(gradient.data, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_bias_gradient_outside_a_fused_loop_is_a_column_sum_kernel_equal_to_numpys(dtype):
    # vjp linear[2] after a GELU's VJP (which no elementwise loop takes) sums the cotangent over its
    # leading axes: row by row, as NumPy adds them, so the bits are NumPy's.
    layer = cr.nn.Linear(5, 3, generator=0, dtype=dtype)

    def step(x):
        layer.zero_grad()
        F.gelu(layer(x)).sum().backward()
        return layer.bias.grad
    x = RNG.standard_normal((2, 9, 5)).astype(dtype)
    compiled = cr.compile(step)
    compiled(x)
    got = compiled(x).data.copy()
    np.testing.assert_array_equal(got, step(x).data)
    assert "fused vjp linear[2]" in str(compiled.program(x))
