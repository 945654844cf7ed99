"""Scaled dot-product attention, ``softmax(q kᵀ · scale + mask) v``, as one primitive with both rules.

With ``s = scale · q kᵀ + bias`` (masked keys set to the dtype's lowest value), ``p = softmax(s)`` over
the keys and ``out = p v``:

- VJP: ``dv = pᵀ g``; ``dp = g vᵀ``; ``ds = p ⊙ (dp − ⟨p, dp⟩)`` (the softmax's Jacobian is
  symmetric); ``dq = scale · ds k``, ``dk = scale · dsᵀ q``, ``dbias = ds``.
- JVP: ``ṡ = scale · (q̇ kᵀ + q k̇ᵀ) + ḃias``; ``ṗ = p ⊙ (ṡ − ⟨p, ṡ⟩)``, the softmax pushforward;
  ``ouṫ = ṗ v + p v̇``.

The node keeps only the inputs: the ``(..., L, S)`` weights are recomputed in the rules (as
FlashAttention does), once per node: one rule serves all the inputs (``defvjp_argnums``). A row whose keys are all
masked has weights zero, so its output and gradients are zero, not NaN.
"""

import math

from .. import backend
from .. import devices
from ..core.primitive import diff, primitive, raw
from ..core.registry import raw_for
from ..core.tensor import unwrap
from ..errors import ShapeError
from . import stateful
from .checks import check_probability


def _all_true(mask):
    """Whether every entry of an array is true; ``False`` (mask anyway) for a tensor whose values are
    not for Python to read (a batched one under vmap)."""
    return not hasattr(mask, "_node") and bool(mask.all())


def _kept_keys(ns, keep, bias, decide):
    """Where a query may look: ``keep`` and the finite entries of an additive mask (``keep`` alone when
    ``decide`` lets it look at the values and none is masked)."""
    if bias is None:
        return keep
    finite = bias > -math.inf  # on a tensor, an operation a compiled step records
    if decide and _all_true(ns.value(finite)):
        return keep
    return finite if keep is None else keep & finite


def _compute_weights(ns, query, key, bias, keep, scale, decide=True):
    """The masked softmax weights. ``decide``: skip the masking where the values show it changes
    nothing (not in the composite, whose masks a compiled step must compute from each batch)."""
    scores = ns.matmul(query, ns.swapaxes(key, axis1=-1, axis2=-2)) * scale
    if bias is not None:
        scores = scores + bias
    keep = _kept_keys(ns, keep, bias, decide)
    if keep is None:
        return ns.softmax(scores, axis=-1)
    # The lowest finite value, not -inf: a row with every key masked then stays finite (and is
    # zeroed below) instead of giving -inf - (-inf) = NaN.
    lowest = backend.xp.finfo(scores.dtype).min  # a NumPy scalar of the scores' dtype, fit for any device
    weights = ns.softmax(ns.where(keep, scores, lowest), axis=-1)
    alive = ns.sum(keep, axis=-1, keepdims=True) > 0
    return weights if decide and _all_true(ns.value(alive)) else weights * alive


def _dropped(weights, dropout):
    return weights if dropout is None else weights * dropout


def _softmax_pushforward(ns, weights, v):
    # J = diag(p) - p pᵀ is symmetric: the same formula pushes tangents forward and pulls cotangents back.
    return weights * (v - ns.sum(weights * v, axis=-1, keepdims=True))


def _transposed(ns, x):
    return ns.swapaxes(x, axis1=-1, axis2=-2)


def _attention_impl(xp, query, key, value, bias, keep, dropout, scale=1.0):
    weights = _compute_weights(raw if xp is backend.xp else raw_for(query), query, key, bias, keep, scale)
    return xp.matmul(_dropped(weights, dropout), value)


def _vjp(wanted, ns, g, ans, query, key, value, bias, keep, dropout, scale=1.0):
    """The cotangents of the inputs at positions ``wanted``: the weights recomputed once, and the
    scores' cotangent ``ds`` once for all of query, key and bias."""
    weights = _compute_weights(ns, query, key, bias, keep, scale)
    ds = None
    if wanted != (2,):
        ds = _softmax_pushforward(ns, weights, _dropped(ns.matmul(g, _transposed(ns, value)), dropout))
    cotangents = {
        0: lambda: ns.matmul(ds, key) * scale,
        1: lambda: ns.matmul(_transposed(ns, ds), query) * scale,
        2: lambda: ns.matmul(_transposed(ns, _dropped(weights, dropout)), g),
        3: lambda: ds,
    }
    return tuple(cotangents[i]() for i in wanted)


def _jvp(given, ns, tangents, ans, query, key, value, bias, keep, dropout, scale=1.0):
    """The output tangent's term of each input at positions ``given``, the weights recomputed once."""
    weights = _compute_weights(ns, query, key, bias, keep, scale)
    terms = []
    for i, t in zip(given, tangents):
        if i == 2:
            terms.append(ns.matmul(_dropped(weights, dropout), t))
            continue
        scores_tangent = (ns.matmul(t, _transposed(ns, key)) * scale if i == 0 else
                          ns.matmul(query, _transposed(ns, t)) * scale if i == 1 else t)
        terms.append(ns.matmul(_dropped(_softmax_pushforward(ns, weights, scores_tangent), dropout), value))
    return terms


attention = primitive("attention", _attention_impl, saves=("inputs",))
attention.__doc__ = """Attention ``softmax(scale · q kᵀ + bias, keys masked by keep) · dropout @ v``, fused.

Args:
    query: ``(..., L, E)``.
    key: ``(..., S, E)``.
    value: ``(..., S, Ev)``.
    bias: ``None`` or an additive mask broadcastable to ``(..., L, S)`` (differentiable; ``-inf``
        entries mask their keys).
    keep: ``None`` or a boolean mask broadcastable to ``(..., L, S)``, ``True`` where a query may look.
    dropout: ``None`` or a multiplier of the weights broadcastable to ``(..., L, S)`` (inverted
        dropout's ``mask / (1 - p)``); not differentiated.
    scale: the factor of the scores.

Returns:
    ``(..., L, Ev)``; rows with no kept key are zero.
"""
attention.defvjp_argnums(_vjp, argnums=(0, 1, 2, 3))
attention.defjvp_argnums(_jvp, argnums=(0, 1, 2, 3))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, generator=None):
    """Attention with PyTorch's ``scaled_dot_product_attention`` semantics, as one primitive.

    Args:
        query: ``(..., L, E)``; the leading axes (batch, heads) broadcast against key's and value's.
        key: ``(..., S, E)``.
        value: ``(..., S, Ev)``.
        attn_mask: ``None``; a boolean mask (``True``: the query attends to that key) or an additive
            float mask, broadcastable to ``(..., L, S)``.
        dropout_p: the probability of dropping each attention weight (inverted dropout, applied
            whenever ``dropout_p > 0``, as PyTorch's function does; pass 0 in evaluation).
        is_causal: query ``i`` attends to keys ``j <= i`` (the top-left aligned lower triangle, as in
            PyTorch); not together with ``attn_mask``.
        scale: the factor of the scores; ``1/√E`` when ``None``.
        generator: draws the dropout mask (see :mod:`chainrule.nn.rng`).

    Returns:
        ``(..., L, Ev)``. Unlike PyTorch (NaN), a query whose keys are all masked gets output zero and
        zero gradients.

    Example:
        >>> import numpy as np
        >>> q = np.ones((2, 3, 4)); k = np.ones((2, 5, 4)); v = np.arange(10.).reshape(2, 5, 1)
        >>> scaled_dot_product_attention(q, k, v).shape
        (2, 3, 1)
    """
    shapes = [backend.xp.shape(unwrap(x)) for x in (query, key, value)]
    _check_shapes(*shapes)
    (*_, length, width), (*_, keys, _) = shapes[0], shapes[1]
    batch = backend.xp.broadcast_shapes(shapes[0][:-2], shapes[1][:-2], shapes[2][:-2])
    weights_shape = (*batch, length, keys)
    bias = keep = None
    if attn_mask is not None:
        if is_causal:
            raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, "
                             "not both")
        mask_shape = backend.xp.shape(unwrap(attn_mask))
        try:
            if backend.xp.broadcast_shapes(mask_shape, weights_shape) != weights_shape:
                raise ValueError
        except ValueError:
            raise ShapeError(f"scaled_dot_product_attention: attn_mask of shape {mask_shape} does not "
                             f"broadcast to the attention weights' shape (..., L, S) = {weights_shape}"
                             ) from None
        check_mask_dtype(attn_mask, "scaled_dot_product_attention", "attn_mask", "may attend")
        if backend.asarray(unwrap(attn_mask)).dtype == bool:
            keep = backend.asarray(unwrap(attn_mask))  # on its own device: mixing devices is refused later
        else:
            bias = attn_mask
    elif is_causal:
        keep = devices.move(causal_mask(length, keys), devices.device_of(unwrap(query)))
    if scale is None:
        scale = 1 / math.sqrt(width)
    dropout = None
    if dropout_p:
        from ..nn.rng import as_generator
        check_probability(dropout_p, "scaled_dot_product_attention", "dropout_p")
        dtype = backend.xp.result_type(unwrap(query), unwrap(key))
        dropout = stateful.keep_mask(query, p=dropout_p, shape=weights_shape, dtype=dtype,
                                     generator=as_generator(generator))
    return attention(query, key, value, bias, keep, dropout, scale=float(scale))


def attention_weights(query, key, bias=None, keep=None, scale=None):
    """The weights ``softmax(scale · q kᵀ + bias)`` over the kept keys, ``(..., L, S)``, as a
    differentiable composite (for when the weights themselves are wanted; the attention primitive
    never stores them). Masks as for :func:`attention`; rows with no kept key are zero."""
    scale = 1 / math.sqrt(backend.xp.shape(unwrap(query))[-1]) if scale is None else scale
    return _compute_weights(diff, query, key, bias, keep, scale, decide=False)


def check_mask_dtype(mask, where, name, true_means):
    """Refuse a mask that is neither boolean nor floating point, as PyTorch does: a 0/1 integer mask
    would otherwise be added to the scores, and the boolean conventions differ between
    ``scaled_dot_product_attention`` (``True``: may attend) and ``MultiheadAttention`` (``True``: may
    not), so guessing would be wrong half the time."""
    dtype = backend.asarray(unwrap(mask)).dtype
    if dtype.kind not in "bf":
        raise TypeError(f"{where}: {name} must be boolean (True: {true_means}) or floating point (added to "
                        f"the scores, -inf masks), not {dtype}; for a 0/1 mask write mask.astype(bool) or "
                        f"mask == 1 with that meaning")


def causal_mask(length, keys=None):
    """The boolean ``(length, keys)`` lower triangle: query ``i`` sees keys ``0..i``."""
    keys = length if keys is None else keys
    return backend.xp.tril(backend.xp.ones((length, keys), dtype=bool))


def _check_shapes(query, key, value):
    where = "scaled_dot_product_attention"
    if len(query) < 2 or len(key) < 2 or len(value) < 2:
        raise ShapeError(f"{where}: query, key and value need at least 2 axes (..., L, E), got shapes "
                         f"{query}, {key}, {value}")
    if query[-1] != key[-1]:
        raise ShapeError(f"{where}: query {query} and key {key} must have the same last axis (E)")
    if key[-2] != value[-2]:
        raise ShapeError(f"{where}: key {key} and value {value} must have the same number of keys (S)")
    try:
        backend.xp.broadcast_shapes(query[:-2], key[:-2], value[:-2])
    except ValueError:
        raise ShapeError(f"{where}: the leading (batch) axes of query {query}, key {key} and value "
                         f"{value} do not broadcast") from None
