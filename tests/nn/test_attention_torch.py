"""MultiheadAttention and the transformer layers against PyTorch's: a PyTorch state_dict loads, and
outputs and gradients agree in float64; masks; bad input."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ShapeError
from chainrule.nn import GELU
from chainrule.nn.attention import MultiheadAttention
from chainrule.nn.transformer import (LearnedPositionalEmbedding, TransformerDecoderLayer, TransformerEncoder,
                                      TransformerEncoderLayer)

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

RNG = np.random.default_rng(0)
N, L, S, E, H = 2, 4, 5, 8, 2


def load_from(ours, theirs):
    ours.to("float64")
    theirs.double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def compare(out, expected, inputs, torch_inputs, ours, theirs):
    np.testing.assert_allclose(out.data, expected.detach().numpy(), atol=1e-10)
    cotangent = RNG.normal(size=out.shape)
    (out * cotangent).sum().backward()
    expected.backward(torch.tensor(cotangent))
    for mine, reference in zip(inputs, torch_inputs):
        np.testing.assert_allclose(mine.grad.data, reference.grad.numpy(), atol=1e-10)
    theirs_grads = dict(theirs.named_parameters())
    for name, parameter in ours.named_parameters():
        np.testing.assert_allclose(parameter.grad.data, theirs_grads[name].grad.numpy(), atol=1e-10,
                                   err_msg=name)


def pair(*shape):
    value = RNG.normal(size=shape)
    return cr.tensor(value, requires_grad=True), torch.tensor(value, requires_grad=True)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_multihead_attention_matches_pytorch_with_masks(batch_first, need_weights, average):
    theirs = torch.nn.MultiheadAttention(E, H, batch_first=batch_first)
    ours, theirs = load_from(MultiheadAttention(E, H, batch_first=batch_first), theirs)
    layout = (N, L) if batch_first else (L, N)
    (q, tq), (k, tk), (v, tv) = pair(*layout, E), pair(*(N, S) if batch_first else (S, N), E), \
        pair(*(N, S) if batch_first else (S, N), E)
    padding = np.zeros((N, S), bool)
    padding[1, -2:] = True
    attn_mask = RNG.normal(size=(L, S))
    out, weights = ours(q, k, v, key_padding_mask=padding, attn_mask=attn_mask, need_weights=need_weights,
                        average_attn_weights=average)
    expected, expected_weights = theirs(tq, tk, tv, key_padding_mask=torch.tensor(np.where(padding, -np.inf, 0)),
                                        attn_mask=torch.tensor(attn_mask), need_weights=need_weights,
                                        average_attn_weights=average)
    if need_weights:
        np.testing.assert_allclose(weights.data, expected_weights.detach().numpy(), atol=1e-12)
    else:
        assert weights is None and expected_weights is None
    compare(out, expected, (q, k, v), (tq, tk, tv), ours, theirs)


def test_boolean_attention_mask_per_head_and_unbatched_inputs():
    ours, theirs = load_from(MultiheadAttention(E, H), torch.nn.MultiheadAttention(E, H))
    mask = RNG.random((N * H, L, S)) > 0.7
    mask[..., 0] = False  # every query keeps a key (PyTorch gives NaN otherwise)
    (q, tq), (k, tk) = pair(L, N, E), pair(S, N, E)
    out, _ = ours(q, k, k, attn_mask=mask)
    expected, _ = theirs(tq, tk, tk, attn_mask=torch.tensor(mask))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), atol=1e-12)
    single, _ = ours(q.data[:, 0], k.data[:, 0], k.data[:, 0], need_weights=False)
    expected_single, _ = theirs(tq[:, 0], tk[:, 0], tk[:, 0], need_weights=False)
    np.testing.assert_allclose(single.data, expected_single.detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "gelu-tanh"])
def test_encoder_layer_matches_pytorch(norm_first, activation):
    torch_activation = {"relu": "relu", "gelu": "gelu", "gelu-tanh": torch.nn.GELU(approximate="tanh")}
    our_activation = {"relu": "relu", "gelu": "gelu", "gelu-tanh": GELU(approximate="tanh")}
    theirs = torch.nn.TransformerEncoderLayer(E, H, dim_feedforward=16, dropout=0.0, batch_first=True,
                                              norm_first=norm_first, activation=torch_activation[activation])
    ours, theirs = load_from(TransformerEncoderLayer(E, H, dim_feedforward=16, dropout=0.0, batch_first=True,
                                                     norm_first=norm_first,
                                                     activation=our_activation[activation]), theirs)
    x, tx = pair(N, L, E)
    padding = np.zeros((N, L), bool)
    padding[0, -1] = True
    causal = np.triu(np.ones((L, L), bool), 1)
    out = ours(x, src_mask=causal, src_key_padding_mask=padding)
    expected = theirs(tx, src_mask=torch.tensor(causal), src_key_padding_mask=torch.tensor(padding))
    compare(out, expected, (x,), (tx,), ours, theirs)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_pytorch(norm_first):
    theirs = torch.nn.TransformerDecoderLayer(E, H, dim_feedforward=16, dropout=0.0, norm_first=norm_first)
    ours, theirs = load_from(TransformerDecoderLayer(E, H, dim_feedforward=16, dropout=0.0,
                                                     norm_first=norm_first), theirs)
    (x, tx), (memory, tmemory) = pair(L, N, E), pair(S, N, E)
    causal = np.triu(np.ones((L, L), bool), 1)
    out = ours(x, memory, tgt_mask=causal)
    expected = theirs(tx, tmemory, tgt_mask=torch.tensor(causal))
    compare(out, expected, (x, memory), (tx, tmemory), ours, theirs)


def test_encoder_stack_copies_the_layer_and_loads_pytorch_names():
    layer = TransformerEncoderLayer(E, H, dim_feedforward=16, dropout=0.0, batch_first=True)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, H, 16, 0.0, batch_first=True),
                                         2, enable_nested_tensor=False)
    ours, theirs = load_from(TransformerEncoder(layer, 2), theirs)
    assert ours.layers[0].linear1.weight is not ours.layers[1].linear1.weight
    x, tx = pair(N, L, E)
    compare(ours(x), theirs(tx), (x,), (tx,), ours, theirs)


def test_learned_positions_add_one_row_per_position():
    positions = LearnedPositionalEmbedding(6, E, generator=0)
    out = positions(np.zeros((N, L, E), "float32"))
    np.testing.assert_array_equal(out.data[1], positions.weight.data[:L])
    with pytest.raises(ShapeError, match="L <= 6"):
        positions(np.zeros((N, 7, E), "float32"))


def test_bad_input_names_the_shapes():
    with pytest.raises(ValueError, match="embed_dim 10 must be divisible by num_heads 3"):
        MultiheadAttention(10, 3)
    mha = MultiheadAttention(E, H, batch_first=True)
    x = np.zeros((N, L, E), "float32")
    with pytest.raises(ShapeError, match=r"attn_mask has shape \(3, 3\).*\(4, 4\)"):
        mha(x, x, x, attn_mask=np.zeros((3, 3), bool))
    with pytest.raises(ShapeError, match=r"key_padding_mask has shape \(4,\).*\(2, 4\)"):
        mha(x, x, x, key_padding_mask=np.zeros(4, bool))
    with pytest.raises(ShapeError, match=r"query must have shape \(N, L, E\) with E = 8, got \(2, 4, 6\)"):
        mha(x[..., :6], x, x)
