"""The attention kernels: a compiled step computes a causal or unmasked attention and its VJP in C,
agreeing with eager mode to the dtype's rounding; other masks and ``exact=True`` keep NumPy's path."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.compile import attention_kernel, c_backend
from chainrule.core.primitive import raw
from chainrule.ops import attention as ops_attention
from chainrule.nn import functional as F

pytestmark = pytest.mark.skipif(c_backend.unavailable() is not None, reason="no C compiler")

RNG = np.random.default_rng(31)
RTOL = {np.float32: 3e-6, np.float64: 1e-13}


def _inputs(dtype, batch=(2, 3), length=5, keys=5, width=4, width_v=6):
    """q, k, v as the GPT makes them: views of one (batch, length, 3 heads' features) array, heads
    swapped in front of the rows (strided, not contiguous)."""
    def strided(rows, features):
        x = RNG.standard_normal((batch[0], rows, batch[1], features)).astype(dtype)
        return x.swapaxes(1, 2)
    return strided(length, width), strided(keys, width), strided(keys, width_v)


def _step(dtype, **options):
    w = [cr.tensor(np.ones(1, dtype), requires_grad=True) for _ in range(3)]

    def step(q, k, v, g):
        out = F.scaled_dot_product_attention(q * w[0], k * w[1], v * w[2], **options)
        out.backward(gradient=g)
        return (out, *[x.grad for x in w])
    return step, w


def _compare(dtype, inputs, fused=True, **options):
    step, w = _step(dtype, **options)
    q, k, v = inputs
    g = RNG.standard_normal(q.shape[:-1] + v.shape[-1:]).astype(dtype)
    compiled = cr.compile(step)
    for _ in range(2):  # recorded, then replayed
        for x in w:
            x.grad = None
        got = [np.asarray(t.data).copy() for t in compiled(q, k, v, g)]
    for x in w:
        x.grad = None
    want = [t.data for t in step(q, k, v, g)]
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(b).max())
    listing = str(compiled.program(q, k, v, g))
    assert ("fused attention" in listing and "fused vjp attention[0, 1, 2]" in listing) == fused
    return got


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("causal", [True, False])
def test_a_causal_or_unmasked_attention_and_its_vjp_agree_with_eager_mode(dtype, causal):
    _compare(dtype, _inputs(dtype), is_causal=causal)


@pytest.mark.parametrize("length, keys", [(7, 4), (3, 9)])
def test_more_or_fewer_queries_than_keys(length, keys):
    _compare(np.float32, _inputs(np.float32, length=length, keys=keys), is_causal=True)


def test_a_prefix_mask_with_an_empty_row_gives_zeros_there():
    keep = np.array([[True, True, False, False], [False] * 4, [True] * 4])
    out = _compare(np.float64, _inputs(np.float64, length=3, keys=4), attn_mask=keep)[0]
    np.testing.assert_array_equal(out[:, :, 1], 0)


def test_a_mask_that_is_not_a_prefix_stays_numpy():
    keep = ~ops_attention.causal_mask(5)  # the keys after each query
    keep[-1, 0] = True
    _compare(np.float32, _inputs(np.float32), fused=False, attn_mask=keep)


def test_an_additive_mask_stays_numpy():
    bias = np.where(ops_attention.causal_mask(5), 0.0, -np.inf).astype(np.float32)
    _compare(np.float32, _inputs(np.float32), fused=False, attn_mask=bias)


def test_exact_keeps_the_numpy_attention():
    step, _ = _step(np.float32, is_causal=True)
    q, k, v = _inputs(np.float32)
    g = np.ones(q.shape[:-1] + v.shape[-1:], np.float32)
    compiled = cr.compile(step, exact=True)
    compiled(q, k, v, g)
    assert "fused attention" not in str(compiled.program(q, k, v, g))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_kernels_with_a_dropout_multiplier_agree_with_the_primitives_rules(dtype):
    q, k, v = _inputs(dtype, length=6, keys=6)
    keep, scale = ops_attention.causal_mask(6), 0.37
    drop = (RNG.random(q.shape[:-1] + (6,)) > 0.25).astype(dtype) / dtype(0.75)
    g = RNG.standard_normal(q.shape[:-1] + v.shape[-1:]).astype(dtype).swapaxes(1, 2).copy().swapaxes(1, 2)
    lengths = attention_kernel.prefix_lengths(keep, 6, 6)
    lib = attention_kernel.library(dtype, q.shape[-1], v.shape[-1])
    forward = attention_kernel._forward(lib, lengths, scale, q.shape, v.shape[-1], dtype)
    backward = attention_kernel._backward(lib, lengths, scale, q.shape, k.shape, v.shape, dtype, (2, 0, 1))
    want = ops_attention._attention_impl(np, q, k, v, None, keep, drop, scale)
    np.testing.assert_allclose(forward(q, k, v, None, keep, drop), want, rtol=RTOL[dtype], atol=RTOL[dtype])
    want = ops_attention._vjp((2, 0, 1), raw, g, None, q, k, v, None, keep, drop, scale)
    for a, b in zip(backward(g, None, q, k, v, None, keep, drop), want):
        np.testing.assert_allclose(a, b, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(b).max())


def test_prefix_lengths_of_masks():
    assert attention_kernel.prefix_lengths(None, 2, 3).tolist() == [3, 3]
    assert attention_kernel.prefix_lengths(ops_attention.causal_mask(3, 2), 3, 2).tolist() == [1, 2, 2]
    assert attention_kernel.prefix_lengths(np.array([True, True, False]), 2, 3).tolist() == [2, 2]
    assert attention_kernel.prefix_lengths(np.array([[False, True]]), 1, 2) is None
    assert attention_kernel.prefix_lengths(np.ones((2, 2)), 2, 2) is None  # not boolean
