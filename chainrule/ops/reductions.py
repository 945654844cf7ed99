"""Reductions and the softmax family, each stable for large inputs."""

import math

from .. import backend
from ..core.batching import defbatch, defreducer, materialize, shift_axis
from ..core.primitive import primitive


def normalize_axes(axis, ndim):
    """``axis`` (None, int or sequence) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim if ndim else a for a in axes))


def _axis_arg(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _kept(ns, y, shape, axis, keepdims):
    """A reduction's result ``y`` with the reduced axes of an input of ``shape`` restored as size 1."""
    if keepdims or axis is None:  # a full reduction's scalar broadcasts as it is
        return y
    axes = normalize_axes(axis, len(shape))
    return ns.reshape(y, shape=tuple(1 if i in axes else n for i, n in enumerate(shape)))


def _count(shape, axis):
    return math.prod(shape[a] for a in normalize_axes(axis, len(shape)))


# The array methods: NumPy's module-level reductions add microseconds of Python per call.
sum = primitive("sum", lambda xp, x, axis=None, keepdims=False:
                xp.asarray(x).sum(axis=_axis_arg(axis), keepdims=keepdims), saves=())
sum.defvjp(lambda ns, g, ans, x, axis=None, keepdims=False:
           ns.broadcast_to(_kept(ns, g, x.shape, axis, keepdims), x.shape))
sum.defjvp_linear()

mean = primitive("mean", lambda xp, x, axis=None, keepdims=False:
                 xp.asarray(x).mean(axis=_axis_arg(axis), keepdims=keepdims), saves=())
mean.defvjp(lambda ns, g, ans, x, axis=None, keepdims=False:
            ns.broadcast_to(_kept(ns, g, x.shape, axis, keepdims), x.shape) / _count(x.shape, axis))
mean.defjvp_linear()


def _chooser_share(ns, ans, x, axis, keepdims):
    """Where ``x`` attains its max (or min): ties share the derivative equally."""
    hits = ns.value(x) == ns.value(_kept(ns, ans, x.shape, axis, keepdims))
    return (hits / hits.sum(axis=_axis_arg(axis), keepdims=True)).astype(x.dtype)


def _chooser_vjp(ns, g, ans, x, axis=None, keepdims=False):
    return _kept(ns, g, x.shape, axis, keepdims) * _chooser_share(ns, ans, x, axis, keepdims)


def _chooser_jvp(ns, t, ans, x, axis=None, keepdims=False):
    return ns.sum(t * _chooser_share(ns, ans, x, axis, keepdims), axis=axis, keepdims=keepdims)


max = primitive("max", lambda xp, x, axis=None, keepdims=False:
                xp.asarray(x).max(axis=_axis_arg(axis), keepdims=keepdims))
max.defvjp(_chooser_vjp).defjvp(_chooser_jvp)

min = primitive("min", lambda xp, x, axis=None, keepdims=False:
                xp.asarray(x).min(axis=_axis_arg(axis), keepdims=keepdims))
min.defvjp(_chooser_vjp).defjvp(_chooser_jvp)


def _var_impl(xp, x, axis=None, keepdims=False, ddof=0):
    return xp.var(x, axis=_axis_arg(axis), keepdims=keepdims, ddof=ddof)


def _centered(ns, x, axis, ddof):
    # d var / dx = 2 (x - mean) / (N - ddof)
    return 2 * (x - ns.mean(x, axis=axis, keepdims=True)) / (_count(x.shape, axis) - ddof)


var = primitive("var", _var_impl, saves=("inputs",))
var.defvjp(lambda ns, g, ans, x, axis=None, keepdims=False, ddof=0:
           _kept(ns, g, x.shape, axis, keepdims) * _centered(ns, x, axis, ddof))
var.defjvp(lambda ns, t, ans, x, axis=None, keepdims=False, ddof=0:
           ns.sum(t * _centered(ns, x, axis, ddof), axis=axis, keepdims=keepdims))


def _logsumexp_impl(xp, x, axis=None, keepdims=False):
    # log Σ e^x = m + log Σ e^(x - m) with m = max x, so no term overflows.
    axis = _axis_arg(axis)
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    out = xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else xp.squeeze(out, axis=axis)


def _logsumexp_weights(ns, ans, x, axis, keepdims):
    return ns.exp(x - _kept(ns, ans, x.shape, axis, keepdims))


logsumexp = primitive("logsumexp", _logsumexp_impl)
logsumexp.defvjp(lambda ns, g, ans, x, axis=None, keepdims=False:
                 _kept(ns, g, x.shape, axis, keepdims) * _logsumexp_weights(ns, ans, x, axis, keepdims))
logsumexp.defjvp(lambda ns, t, ans, x, axis=None, keepdims=False:
                 ns.sum(t * _logsumexp_weights(ns, ans, x, axis, keepdims), axis=axis, keepdims=keepdims))


def _softmax_impl(xp, x, axis=-1):
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def _softmax_rule(ns, g, ans, x, axis=-1):
    # J = diag(s) - s sᵀ is symmetric, so Jᵀg and Jt are one formula: s ⊙ (v - <s, v>).
    return ans * (g - ns.sum(g * ans, axis=axis, keepdims=True))


softmax = primitive("softmax", _softmax_impl, saves=("ans",))
softmax.defvjp(_softmax_rule).defjvp(_softmax_rule)


def _log_softmax_impl(xp, x, axis=-1):
    return x - _logsumexp_impl(xp, x, axis=axis, keepdims=True)


log_softmax = primitive("log_softmax", _log_softmax_impl, saves=("ans",))
# J = I - 1 sᵀ with s = exp(ans): Jᵀg = g - s Σg and Jt = t - <s, t>.
log_softmax.defvjp(lambda ns, g, ans, x, axis=-1: g - ns.exp(ans) * ns.sum(g, axis=axis, keepdims=True))
log_softmax.defjvp(lambda ns, t, ans, x, axis=-1: t - ns.sum(ns.exp(ans) * t, axis=axis, keepdims=True))


def _check_labels(labels, num_classes, name):
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{name}: labels must lie in [0, {num_classes}), found values from "
                         f"{labels.min()} to {labels.max()}")


def _one_hot_impl(xp, labels, *, num_classes, axis=-1, dtype="float64"):
    labels = xp.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, not {labels.dtype}")
    _check_labels(labels, num_classes, "one_hot")
    encoded = (labels[..., None] == xp.arange(num_classes)).astype(dtype)
    return encoded if axis == -1 else xp.moveaxis(encoded, -1, axis)


one_hot = primitive("one_hot", _one_hot_impl, differentiable=False)


def _integer(labels):
    dtype = labels.dtype if hasattr(labels, "dtype") else backend.asarray(labels).dtype  # a Python int
    return dtype.kind in "iu"


def _target(ns, labels, logits, axis):
    """Labels as a distribution over classes: one-hot rows for integer labels, else as given."""
    if _integer(labels):
        return ns.one_hot(labels, num_classes=logits.shape[axis], axis=axis, dtype=logits.dtype)
    return labels


def _sce_logits_derivative(ns, logits, labels, axis):
    # loss = Σₖ tₖ · (logsumexp(z) - zₖ)  =>  ∂loss/∂z = (Σₖ tₖ) softmax(z) - t, i.e. softmax(z) - onehot(y)
    # for integer labels and any target that sums to one.
    target = _target(ns, labels, logits, axis)
    probs = ns.softmax(logits, axis=axis)
    if _integer(labels):
        return probs - target
    return probs * ns.sum(target, axis=axis, keepdims=True) - target


def _softmax_cross_entropy_impl(xp, logits, labels, axis=-1):
    labels = xp.asarray(labels)
    expected = logits.shape[:axis % logits.ndim] + logits.shape[axis % logits.ndim + 1:]
    if labels.dtype.kind in "iu" and labels.shape != expected:
        raise ValueError(f"integer labels must have the logits' shape without the class axis, "
                         f"{expected}, not {labels.shape}")
    if labels.dtype.kind not in "iu" and labels.shape != logits.shape:
        raise ValueError(f"probability labels must have the logits' shape {logits.shape}, "
                         f"not {labels.shape}")
    if labels.dtype.kind in "iu":
        # -log softmax(z)_y = logsumexp(z) - z_y, with z_y picked, not multiplied by a one-hot row:
        # 0 · (-∞) is NaN where a class is masked.
        _check_labels(labels, logits.shape[axis], "softmax_cross_entropy")
        picked = xp.take_along_axis(logits, xp.expand_dims(labels, axis), axis=axis)
        return xp.squeeze(_logsumexp_impl(xp, logits, axis=axis, keepdims=True) - picked, axis=axis)
    return -_weighted_sum(xp, labels, _log_softmax_impl(xp, logits, axis=axis), axis)


def _weighted_sum(ns, weights, log_probs, axis):
    # Σ w log p with 0 · log 0 = 0: a class of weight 0 adds nothing even when it is masked (log p = -∞).
    return ns.sum(weights * ns.where(weights == 0, 0, log_probs), axis=axis)


def _sce_logits_vjp(ns, g, ans, logits, labels, axis=-1):
    # The fused gradient softmax(z) - onehot(y), scaled by each row's cotangent.
    return ns.unsqueeze(g, axis=axis) * _sce_logits_derivative(ns, logits, labels, axis)


def _sce_labels_vjp(ns, g, ans, logits, labels, axis=-1):
    return -ns.unsqueeze(g, axis=axis) * ns.log_softmax(logits, axis=axis)


softmax_cross_entropy = primitive("softmax_cross_entropy", _softmax_cross_entropy_impl, saves=("inputs",))
softmax_cross_entropy.__doc__ = """Per-example cross-entropy of ``softmax(logits)`` against ``labels``.

Args:
    logits: unnormalised scores, classes along ``axis``.
    labels: integer class indices (the logits' shape without ``axis``) or probabilities (the logits'
        shape).
    axis: the class axis.

Returns:
    ``-Σ_k target_k log softmax(logits)_k`` per example. Its VJP is the fused, stable
    ``(softmax(z) - onehot(y)) * g``; logits of 1000 or more are fine.
"""
softmax_cross_entropy.defvjp(_sce_logits_vjp, _sce_labels_vjp)
softmax_cross_entropy.defjvp(
    lambda ns, t, ans, logits, labels, axis=-1:
        ns.sum(_sce_logits_derivative(ns, logits, labels, axis) * t, axis=axis),
    lambda ns, t, ans, logits, labels, axis=-1: -_weighted_sum(ns, t, ns.log_softmax(logits, axis=axis), axis))


def _sce_batched(args, dims, size, axis=-1):
    logits, labels = (materialize(a, d, size) for a, d in zip(args, dims))
    return softmax_cross_entropy(logits, labels, axis=shift_axis(axis, logits.ndim - 1))


defreducer(sum, mean, max, min, var, logsumexp, softmax, log_softmax, one_hot)
defbatch(softmax_cross_entropy, _sce_batched)
