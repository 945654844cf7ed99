"""Multi-head attention with PyTorch's parameters, masks and return values.

``MultiheadAttention(embed_dim, num_heads)`` projects queries, keys and values with one packed
``in_proj_weight`` ``(3·embed_dim, embed_dim)``, attends per head, and mixes the heads with
``out_proj``, so a PyTorch ``state_dict`` loads as it is. Masks follow PyTorch's module convention:
in a boolean ``attn_mask`` or ``key_padding_mask``, ``True`` marks a position that may NOT be attended
(the opposite of ``scaled_dot_product_attention``'s boolean mask); float masks are added to the scores.

Without ``need_weights`` the heads go through the fused attention primitive; with it, the weights are
formed explicitly (as PyTorch does), returned averaged over the heads or per head.
"""

import math

import numpy as np

from .. import backend, ops
from ..core.tensor import Tensor, unwrap
from ..errors import ShapeError
from ..ops.attention import attention_weights, causal_mask, check_mask_dtype
from . import functional as F
from . import init
from .layers import Linear
from .module import Module, Parameter
from .rng import as_generator


class MultiheadAttention(Module):
    """Attention from ``num_heads`` heads of width ``embed_dim // num_heads``, side by side.

    Args:
        embed_dim: the width of queries, keys, values and the output.
        num_heads: the number of heads; must divide ``embed_dim``.
        dropout: the probability of dropping an attention weight in training.
        bias: whether the projections have biases.
        batch_first: inputs and outputs ``(N, L, E)`` instead of ``(L, N, E)``.
        generator: for the initial weights and the dropout masks.
        dtype: the parameters' dtype.

    Example:
        >>> import numpy as np
        >>> mha = MultiheadAttention(8, 2, batch_first=True, generator=0)
        >>> x = np.ones((3, 5, 8), "float32")
        >>> out, weights = mha(x, x, x)
        >>> out.shape, weights.shape
        ((3, 5, 8), (3, 5, 5))
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, batch_first=False, generator=None,
                 dtype="float32"):
        super().__init__()
        if isinstance(num_heads, bool) or not isinstance(num_heads, int) or num_heads < 1:
            raise ValueError(f"MultiheadAttention: num_heads must be a positive int, not {num_heads!r}")
        if isinstance(embed_dim, bool) or not isinstance(embed_dim, int) or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim!r} must be divisible by num_heads "
                             f"{num_heads}")
        F.check_probability(dropout, "MultiheadAttention", "dropout")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        self.generator = as_generator(generator)
        self.in_proj_weight = Parameter(np.zeros((3 * embed_dim, embed_dim)), dtype=dtype)
        init.xavier_uniform_(self.in_proj_weight, generator=self.generator)
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim), dtype=dtype) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, generator=self.generator, dtype=dtype)
        if bias:
            init.zeros_(self.out_proj.bias)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """Attend from ``query`` to ``key``/``value``.

        Args:
            query: ``(L, N, E)`` (``(N, L, E)`` with ``batch_first``, ``(L, E)`` unbatched).
            key, value: ``(S, N, E)`` likewise.
            key_padding_mask: ``(N, S)``; ``True`` (or ``-inf``) marks keys to ignore.
            need_weights: also return the attention weights.
            attn_mask: ``(L, S)`` or ``(N·num_heads, L, S)``; ``True`` marks pairs that may not attend,
                float values are added to the scores.
            average_attn_weights: return the weights averaged over heads ``(N, L, S)``, or per head
                ``(N, num_heads, L, S)``.
            is_causal: without ``attn_mask``, query ``i`` attends to keys ``0..i``.

        Returns:
            ``(output, weights)``, ``weights`` ``None`` unless ``need_weights``.
        """
        shapes = [np.shape(unwrap(x)) for x in (query, key, value)]
        batched = len(shapes[0]) == 3
        query, key, value = (self._batch_major(x, batched) for x in (query, key, value))  # (N, L, E)
        n, length, _ = query.shape
        keys = key.shape[1]
        self._check(shapes, batched)
        q, k, v = (self._heads(ops.linear(x, w, b) if b is not None else ops.matmul(x, ops.transpose(w)))
                   for x, w, b in zip((query, key, value), self._split(self.in_proj_weight),
                                      self._split(self.in_proj_bias)))  # (N, H, L or S, head_dim)
        bias = self._mask(attn_mask, key_padding_mask, n, length, keys, batched)
        if bias is None and is_causal:
            bias = np.where(causal_mask(length, keys), 0.0, -np.inf).astype(self.in_proj_weight.dtype)
        dropout = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            weights = attention_weights(q, k, bias, scale=1 / math.sqrt(self.head_dim))  # (N, H, L, S)
            out = ops.matmul(F.dropout(weights, dropout, True, self.generator), v)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout,
                                                 generator=self.generator)
        out = out.swapaxes(1, 2).reshape(n, length, self.embed_dim)  # the heads side by side
        out = self.out_proj(out)
        if not self.batch_first:
            out = out.swapaxes(0, 1)
        if not batched:
            out = out.reshape(length, self.embed_dim)
        if weights is not None:
            weights = weights.mean(axis=1) if average_attn_weights else weights
            if not batched:
                weights = weights.reshape(weights.shape[1:])
        return out, weights

    def _batch_major(self, x, batched):
        x = x if isinstance(x, Tensor) else Tensor(backend.asarray(x))
        if not batched:
            return x.reshape(1, *x.shape)
        return x if self.batch_first else x.swapaxes(0, 1)

    def _split(self, packed):
        if packed is None:
            return None, None, None
        e = self.embed_dim
        return packed[:e], packed[e:2 * e], packed[2 * e:]

    def _heads(self, x):
        n, length, _ = x.shape
        return x.reshape(n, length, self.num_heads, self.head_dim).swapaxes(1, 2)

    def _check(self, shapes, batched):
        name = f"MultiheadAttention({self.embed_dim}, {self.num_heads})"
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        for which, shape in zip(("query", "key", "value"), shapes):
            if len(shape) != (3 if batched else 2) or shape[-1] != self.embed_dim:
                raise ShapeError(f"{name}: {which} must have shape {layout if batched else '(L, E)'} with "
                                 f"E = {self.embed_dim}, got {shape}")
        if shapes[1][:-1] != shapes[2][:-1]:
            raise ShapeError(f"{name}: key {shapes[1]} and value {shapes[2]} must have the same shape")

    def _mask(self, attn_mask, key_padding_mask, n, length, keys, batched):
        """The masks as one additive float mask broadcastable to ``(N, H, L, S)``, or ``None``."""
        name = f"MultiheadAttention({self.embed_dim}, {self.num_heads})"
        bias = None
        if attn_mask is not None:
            check_mask_dtype(attn_mask, name, "attn_mask", "may not attend")
            shape = np.shape(unwrap(attn_mask))
            allowed = {(length, keys): (length, keys),
                       (n * self.num_heads, length, keys): (n, self.num_heads, length, keys)}
            if shape not in allowed:
                raise ShapeError(f"{name}: attn_mask has shape {shape}, but should be (L, S) = "
                                 f"{(length, keys)} or (N * num_heads, L, S) = "
                                 f"{(n * self.num_heads, length, keys)}")
            bias = _additive(attn_mask, self.in_proj_weight.dtype).reshape(allowed[shape])
        if key_padding_mask is not None:
            check_mask_dtype(key_padding_mask, name, "key_padding_mask", "an ignored key")
            shape = np.shape(unwrap(key_padding_mask))
            expected = (n, keys) if batched else (keys,)
            if shape != expected:
                raise ShapeError(f"{name}: key_padding_mask has shape {shape}, but should be (N, S) = "
                                 f"{expected}")
            padding = _additive(key_padding_mask, self.in_proj_weight.dtype).reshape(n, 1, 1, keys)
            bias = padding if bias is None else bias + padding
        return bias

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"


def _additive(mask, dtype):
    """A boolean mask (``True``: may not attend) as ``-inf``/0 scores; a float mask as it is. Made with
    chainrule's operations, so a compiled step computes it from each batch's mask."""
    if backend.asarray(unwrap(mask)).dtype == bool:
        return ops.astype(ops.where(mask, -np.inf, 0.0), dtype=dtype)
    return mask if isinstance(mask, Tensor) else ops.astype(mask, dtype=dtype)
