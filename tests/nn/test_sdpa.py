"""scaled_dot_product_attention against PyTorch's: outputs and gradients in float64, masks, causal,
scale, broadcasting; stability; bad input."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.errors import ShapeError

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

RNG = np.random.default_rng(0)
Q, K, V = RNG.normal(size=(2, 3, 4, 8)), RNG.normal(size=(2, 1, 5, 8)), RNG.normal(size=(2, 1, 5, 6))
BOOL = RNG.random((4, 5)) > 0.4
BOOL[2] = False  # a query that may see no key
FLOAT = RNG.normal(size=(3, 4, 5))

CASES = {"plain": {}, "causal": {"is_causal": True}, "scale": {"scale": 0.3},
         "boolean mask": {"attn_mask": BOOL}, "additive mask": {"attn_mask": FLOAT},
         "additive -inf": {"attn_mask": np.where(BOOL, 0.0, -np.inf)}}


@pytest.mark.parametrize("name", CASES)
def test_outputs_and_gradients_match_pytorch(name):
    settings = CASES[name]
    ours = [cr.tensor(a, requires_grad=True) for a in (Q, K, V)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (Q, K, V)]
    out = F.scaled_dot_product_attention(*ours, **settings)
    expected = torch.nn.functional.scaled_dot_product_attention(
        *theirs, **{k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in settings.items()})
    np.testing.assert_allclose(out.data, expected.detach().numpy(), atol=1e-12)
    cotangent = RNG.normal(size=out.shape)
    (out * cotangent).sum().backward()
    expected.backward(torch.tensor(cotangent))
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.data, reference.grad.numpy(), atol=1e-12)


def test_additive_mask_gradient_matches_pytorch():
    mask = cr.tensor(FLOAT, requires_grad=True)
    reference = torch.tensor(FLOAT, requires_grad=True)
    F.scaled_dot_product_attention(Q, K, V, attn_mask=mask).sum().backward()
    torch.nn.functional.scaled_dot_product_attention(*map(torch.tensor, (Q, K, V)), attn_mask=reference
                                                     ).sum().backward()
    np.testing.assert_allclose(mask.grad.data, reference.grad.numpy(), atol=1e-12)


def test_rows_with_every_key_masked_give_zero_output_and_gradients():
    q = cr.tensor(Q, requires_grad=True)
    out = F.scaled_dot_product_attention(q, K, V, attn_mask=BOOL)
    out.sum().backward()
    assert np.all(out.data[..., 2, :] == 0) and np.all(q.grad.data[..., 2, :] == 0)
    assert np.isfinite(q.grad.data).all()


def test_large_scores_stay_finite_in_float32():
    q = cr.tensor((Q * 1e4).astype("float32"), requires_grad=True)
    out = F.scaled_dot_product_attention(q, K.astype("float32"), V.astype("float32"), is_causal=True)
    out.sum().backward()
    assert out.dtype == np.float32 and np.isfinite(out.data).all() and np.isfinite(q.grad.data).all()


def test_dropout_is_inverted_and_reproducible_for_a_seed():
    first = F.scaled_dot_product_attention(Q, K, V, dropout_p=0.5, generator=3).data
    again = F.scaled_dot_product_attention(Q, K, V, dropout_p=0.5, generator=3).data
    np.testing.assert_array_equal(first, again)
    ones = np.ones((1, 64, 4))
    mean = F.scaled_dot_product_attention(ones, ones, ones, dropout_p=0.25, generator=0).data.mean()
    assert abs(mean - 1) < 0.05  # weights 1/64 each, kept ones scaled by 4/3: unchanged on average


def test_second_order_through_attention():
    def loss(q):
        return (F.scaled_dot_product_attention(q, K, V, is_causal=True) ** 2).sum()
    ours = cr.hvp(loss, Q, np.ones_like(Q))

    def torch_loss(q):
        return (torch.nn.functional.scaled_dot_product_attention(q, *map(torch.tensor, (K, V)),
                                                                 is_causal=True) ** 2).sum()
    _, expected = torch.autograd.functional.hvp(torch_loss, torch.tensor(Q), torch.ones_like(torch.tensor(Q)))
    np.testing.assert_allclose(np.asarray(ours), expected.numpy(), atol=1e-9)


def test_a_mask_of_the_wrong_shape_names_both_shapes():
    with pytest.raises(ShapeError, match=r"attn_mask of shape \(4, 4\).*\(2, 3, 4, 5\)"):
        F.scaled_dot_product_attention(Q, K, V, attn_mask=np.ones((4, 4), bool))


def test_mismatched_widths_and_mask_with_causal_are_refused():
    with pytest.raises(ShapeError, match="same last axis"):
        F.scaled_dot_product_attention(Q, K[..., :4], V)
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        F.scaled_dot_product_attention(Q, K, V, attn_mask=BOOL, is_causal=True)
