"""Layer normalisation over the last axis as one primitive, with its rules beside it.

Over each row of ``n`` values: ``μ = mean(x)``, ``σ² = mean((x − μ)²)``, ``r = 1/√(σ² + ε)``,
``x̂ = (x − μ) r``, ``y = x̂ w + b`` (``w``, ``b``: ``None`` or of length ``n``).

- VJP, with ``ĝ = g w``: ``dx = r (ĝ − mean(ĝ) − x̂ mean(ĝ x̂))``; ``dw = g x̂`` and ``db = g``, summed
  over the rows by the engine (the kernel sums them itself).
- JVP: ``ẏ = w r (ẋ − mean(ẋ) − x̂ mean(ẋ x̂)) + ẇ x̂ + ḃ``.

The node keeps only the inputs: the rules recompute ``μ`` and ``r`` (one pass over a row in cache).
Written on ``ns``, the rules serve every order. On float32 and float64 NumPy arrays with a C compiler,
the forward and the first-order VJP are one kernel pass each (:mod:`.layer_kernels`), where NumPy
makes about eight forward and ten back. :func:`chainrule.nn.functional.layer_norm` calls it for one
normalised axis.
"""

from ..core.batching import defbatch, lift, materialize
from ..core.primitive import diff, primitive
from . import layer_kernels


def _statistics(ns, x, eps):
    """``(x̂, r)`` of each row (``r`` with a trailing axis of 1)."""
    centred = x - ns.mean(x, axis=-1, keepdims=True)
    rstd = 1 / ns.sqrt(ns.mean(centred * centred, axis=-1, keepdims=True) + eps)
    return centred * rstd, rstd


def _fast(*arrays):
    return layer_kernels.applies(*arrays)


def _layer_norm(xp, x, weight, bias, eps=1e-5):
    """``(x − mean) / √(var + eps) · weight + bias`` over the last axis of ``x`` (``weight`` and
    ``bias``: ``None`` or of the last axis' length).

    Example:
        >>> import numpy as np
        >>> from chainrule.ops.layer_norm import layer_norm
        >>> layer_norm(np.array([1.0, 2.0, 3.0]), None, None, eps=0.0).numpy().round(4).tolist()
        [-1.2247, 0.0, 1.2247]
    """
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and value.shape != x.shape[-1:]:
            raise ValueError(f"{name} must have the last axis' shape {x.shape[-1:]}, not {value.shape}")
    if _fast(x, weight, bias) and x.ndim:
        return layer_kernels.layer_norm(x, weight, bias, eps)
    mean = xp.mean(x, axis=-1, keepdims=True)
    y = (x - mean) / xp.sqrt(xp.var(x, axis=-1, keepdims=True) + eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def _vjp(wanted, ns, g, ans, x, weight, bias, eps=1e-5):
    if g.shape == x.shape and _fast(g, x, weight) and x.ndim:
        found = layer_kernels.layer_norm_vjp(g, x, weight, eps, wanted)
        return tuple(found[i] for i in wanted)
    x_hat, rstd = _statistics(ns, x, eps)
    cotangents = []
    for i in wanted:
        if i == 0:
            scaled = g if weight is None else g * weight
            cotangents.append(rstd * (scaled - ns.mean(scaled, axis=-1, keepdims=True)
                                      - x_hat * ns.mean(scaled * x_hat, axis=-1, keepdims=True)))
        else:
            cotangents.append(g * x_hat if i == 1 else g)
    return tuple(cotangents)


def _jvp(given, ns, tangents, ans, x, weight, bias, eps=1e-5):
    x_hat, rstd = _statistics(ns, x, eps)
    terms = []
    for i, t in zip(given, tangents, strict=True):
        if i == 0:
            term = rstd * (t - ns.mean(t, axis=-1, keepdims=True)
                           - x_hat * ns.mean(t * x_hat, axis=-1, keepdims=True))
            terms.append(term if weight is None else term * weight)
        else:
            terms.append(t * x_hat if i == 1 else t)
    return tuple(terms)


layer_norm = primitive("layer_norm", _layer_norm, saves=("inputs",))
layer_norm.defvjp_argnums(_vjp, argnums=(0, 1, 2))
layer_norm.defjvp_argnums(_jvp, argnums=(0, 1, 2))


def _batched(args, dims, size, eps=1e-5):
    """Batched ``x`` alone: the rows are rows still. A batched weight or bias (one per example): the
    formula, each lifted to broadcast against its example."""
    x, weight, bias = args
    if dims[1] is None and dims[2] is None:
        return layer_norm(materialize(x, dims[0], size), weight, bias, eps=eps)
    x = materialize(x, dims[0], size)
    x_hat, _ = _statistics(diff, x, eps)
    rank = x.ndim - 1
    y = x_hat if weight is None else x_hat * (weight if dims[1] is None else lift(weight, rank))
    return y if bias is None else y + (bias if dims[2] is None else lift(bias, rank))


defbatch(layer_norm, _batched)
