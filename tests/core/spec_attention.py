"""Spec-table entries for the attention primitive: plain, masks (boolean, additive, a row with every key
masked), causal, a custom scale, broadcasting over batch and heads, dropout."""

import numpy as np

from chainrule.ops.attention import attention, scaled_dot_product_attention as sdpa
from tests.core.domains import real

KEEP = np.array([[True, False, True, True, False],
                 [False, False, False, False, False],  # a query that sees no key: output zero
                 [True, True, True, False, True]])
ADDITIVE = np.array([[0.0, -np.inf, 0.5, 0.0, -1.0],
                     [0.0, 0.0, -2.0, 0.0, 0.0],
                     [0.3, 0.0, 0.0, -np.inf, 0.0]])
DROPOUT = np.random.default_rng(0).choice([0.0, 2.0], size=(2, 3, 5))

SPECS = {
    "attention": [
        (sdpa, [real(2, 3, 4), real(2, 5, 4), real(2, 5, 3)]),
        (lambda q, k, v: sdpa(q, k, v, attn_mask=KEEP), [real(2, 3, 4), real(2, 5, 4), real(2, 5, 3)]),
        (lambda q, k, v: sdpa(q, k, v, attn_mask=ADDITIVE), [real(3, 4), real(5, 4), real(5, 2)]),
        (lambda q, k, v: sdpa(q, k, v, is_causal=True, scale=0.7),
         [real(2, 4, 3), real(2, 4, 3), real(2, 4, 2)]),
        # heads broadcast against a shared key and value; a differentiable additive mask per query
        (lambda q, k, v, b: sdpa(q, k, v, attn_mask=b), [real(2, 2, 3, 4), real(2, 1, 5, 4), real(5, 3),
                                                         real(3, 5)]),
        (lambda q, k, v: attention(q, k, v, None, None, DROPOUT, scale=0.5),
         [real(2, 3, 4), real(2, 5, 4), real(2, 5, 3)]),
    ],
}
