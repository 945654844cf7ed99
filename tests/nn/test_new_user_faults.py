"""Bad input found by a new user's fault audit (issue 26): integer attention masks, a recurrent
layer's dropout named in its error."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F


def _qkv():
    rng = np.random.default_rng(0)
    return [cr.tensor(rng.standard_normal((2, 3, 4)).astype(np.float32)) for _ in range(3)]


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_an_integer_attention_mask_is_refused_by_name_as_pytorch_does(dtype):
    q, k, v = _qkv()
    mask = np.tril(np.ones((3, 3))).astype(dtype)
    with pytest.raises(TypeError, match=rf"scaled_dot_product_attention: attn_mask must be boolean \(True: "
                                        rf"may attend\) or floating point .* not {np.dtype(dtype)}; .*astype\(bool\)"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    layer = nn.MultiheadAttention(4, 2, batch_first=True)
    with pytest.raises(TypeError, match=r"MultiheadAttention\(4, 2\): attn_mask must be boolean \(True: may not "
                                        r"attend\)"):
        layer(q, k, v, attn_mask=cr.tensor(mask))
    with pytest.raises(TypeError, match=r"key_padding_mask must be boolean"):
        layer(q, k, v, key_padding_mask=np.zeros((2, 3), dtype))
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):  # PyTorch refuses it too
        torch.nn.functional.scaled_dot_product_attention(*(torch.tensor(t.data) for t in (q, k, v)),
                                                         attn_mask=torch.tensor(mask))


def test_boolean_and_float_masks_still_work():
    q, k, v = _qkv()
    keep = np.tril(np.ones((3, 3), bool))
    by_bool = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
    by_float = F.scaled_dot_product_attention(q, k, v, attn_mask=np.where(keep, 0.0, -np.inf).astype(np.float32))
    np.testing.assert_allclose(by_bool.data, by_float.data, rtol=1e-6)
    np.testing.assert_allclose(by_bool.data, F.scaled_dot_product_attention(q, k, v, is_causal=True).data, rtol=1e-6)


@pytest.mark.parametrize("layer", [nn.LSTM, nn.GRU, nn.RNN])
def test_a_recurrent_layers_dropout_is_named_in_its_error(layer):
    with pytest.raises(ValueError, match=r"dropout must be a probability in \[0, 1\], not 1.5"):
        layer(4, 8, num_layers=2, dropout=1.5)
