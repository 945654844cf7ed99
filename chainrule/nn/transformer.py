"""Transformer blocks with PyTorch's names: encoder and decoder layers (post- or pre-norm), a stack of
encoder layers, and learned positional embeddings.

``TransformerEncoderLayer`` is self-attention then a feed-forward network, each wrapped as
``x + sublayer(x)`` and normalised after (``norm_first=False``, the original transformer's order) or
before (``norm_first=True``, GPT's); ``TransformerDecoderLayer`` adds attention to the encoder's
output (``memory``) between the two. Parameter names match PyTorch's, so state dicts load both ways.
"""

import copy

import numpy as np

from ..core.tensor import unwrap
from ..errors import ShapeError
from .activation import GELU, ReLU
from .attention import MultiheadAttention
from .layers import Dropout, Embedding, LayerNorm, Linear
from .module import Module, ModuleList
from .rng import as_generator


def _activation(activation):
    if activation == "relu":
        return ReLU()
    if activation == "gelu":
        return GELU()
    if callable(activation):
        return activation
    raise ValueError(f"Transformer layer: activation must be 'relu', 'gelu' or a callable (such as "
                     f"nn.GELU(approximate='tanh')), not {activation!r}")


class _Sublayers:
    """What both layers share: the position-wise feed-forward network (linear1, activation, linear2)
    and the self-attention sublayer."""

    def _init_feed_forward(self, d_model, dim_feedforward, dropout, activation, bias, generator):
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, generator=generator)
        self.dropout = Dropout(dropout, generator=generator)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, generator=generator)
        self.activation = _activation(activation)

    def _ff_block(self, x):
        return self.linear2(self.dropout(self.activation(self.linear1(x))))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)


class TransformerEncoderLayer(Module, _Sublayers):
    """Self-attention and a feed-forward network, each with a residual connection and a LayerNorm.

    Args:
        d_model: the width of the inputs and outputs.
        nhead: attention heads.
        dim_feedforward: the feed-forward network's hidden width.
        dropout: dropout after attention, inside and after the feed-forward network.
        activation: ``"relu"``, ``"gelu"`` (exact) or a callable (``nn.GELU(approximate="tanh")``).
        layer_norm_eps: the LayerNorms' eps.
        batch_first: ``(N, L, E)`` inputs instead of ``(L, N, E)``.
        norm_first: normalise before each sublayer (pre-norm) instead of after.
        bias: biases in the linear layers and LayerNorms.
        generator: for the initial weights and the dropout masks.
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True, generator=None):
        super().__init__()
        generator = as_generator(generator)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            generator=generator)
        self._init_feed_forward(d_model, dim_feedforward, dropout, activation, bias, generator)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout, generator=generator)
        self.dropout2 = Dropout(dropout, generator=generator)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self.dropout2(self._ff_block(self.norm2(x)))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self.dropout2(self._ff_block(x)))
        return x


class TransformerDecoderLayer(Module, _Sublayers):
    """Self-attention, attention to the encoder's output (``memory``), and a feed-forward network,
    each with a residual connection and a LayerNorm. Arguments as for
    :class:`TransformerEncoderLayer`."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True, generator=None):
        super().__init__()
        generator = as_generator(generator)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            generator=generator)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, generator=generator)
        self._init_feed_forward(d_model, dim_feedforward, dropout, activation, bias, generator)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout, generator=generator)
        self.dropout2 = Dropout(dropout, generator=generator)
        self.dropout3 = Dropout(dropout, generator=generator)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            x = x + self.dropout3(self._ff_block(self.norm3(x)))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self.dropout3(self._ff_block(x)))
        return x

    def _mha_block(self, x, memory, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, memory, memory, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                need_weights=False, is_causal=is_causal)[0]
        return self.dropout2(x)


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (each with its own weights), then ``norm`` if given.

    Args:
        encoder_layer: a :class:`TransformerEncoderLayer` to copy.
        num_layers: how many layers.
        norm: an optional final LayerNorm (for pre-norm stacks).
    """

    def __init__(self, encoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        return x if self.norm is None else self.norm(x)


class LearnedPositionalEmbedding(Embedding):
    """Adds a learned vector per position to ``(N, L, E)`` inputs (batch first): row ``t`` of
    ``weight`` is position ``t``'s, for ``L`` up to ``num_positions``.

    Args:
        num_positions: the longest sequence.
        embedding_dim: ``E``.
        generator: for the initial values (``N(0, 1)`` as :class:`Embedding`).
    """

    def forward(self, x):
        shape = np.shape(unwrap(x))
        if len(shape) < 2 or shape[-2] > self.num_embeddings or shape[-1] != self.embedding_dim:
            raise ShapeError(f"LearnedPositionalEmbedding({self.num_embeddings}, {self.embedding_dim}): "
                             f"expected (..., L, {self.embedding_dim}) with L <= {self.num_embeddings}, "
                             f"got {shape}")
        return x + super().forward(np.arange(shape[-2]))
