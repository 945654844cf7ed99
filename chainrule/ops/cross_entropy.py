"""The mean cross-entropy of integer labels, ignored labels left out, as one primitive.

``cross_entropy(z, y)`` with its default ``reduction="mean"`` is ``Σ_{i kept} CE(z_i, y_i) / #kept``,
where a label equal to ``ignore_index`` is not kept (PyTorch's padding label). Written with the
primitives, it is a chain of nine operations (a mask, the labels with the ignored ones replaced, the
per-row losses, the mask as floats, a product, two sums and a division) and as many VJPs; here it is
one forward and one rule, ``∂/∂z_i = g (softmax(z_i) − onehot(y_i)) / #kept`` for a kept row and 0 for
an ignored one, which a compiled step runs as one row kernel each way (:mod:`chainrule.compile.row_kernels`).
An ignored row adds nothing, even where its logits are not finite; with every label ignored the mean
is NaN (0 / 0), as in PyTorch.
"""

from ..core.batching import defbatch, materialize, shift_axis
from ..core.primitive import primitive
from .elementwise import astype, where
from .reductions import _sce_logits_derivative, _softmax_cross_entropy_impl, softmax_cross_entropy, sum


def _kept(labels, ignore_index):
    return labels != ignore_index if ignore_index is not None else labels == labels


def _mean_impl(xp, logits, labels, axis=-1, ignore_index=-100):
    labels = xp.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"softmax_cross_entropy_mean: labels must be integers, not {labels.dtype}")
    keep = _kept(labels, ignore_index)
    losses = _softmax_cross_entropy_impl(xp, logits, xp.where(keep, labels, 0), axis=axis)
    count = xp.sum(keep).astype(logits.dtype)
    return xp.sum(xp.where(keep, losses, 0)) / count


def _mean_vjp(ns, g, ans, logits, labels, axis=-1, ignore_index=-100):
    # d/dz_i of Σ_kept CE / #kept: (softmax(z_i) - onehot(y_i)) / #kept on kept rows, 0 elsewhere
    # (selected, not multiplied by 0, so that an ignored row of NaN logits gives 0 too).
    keep = _kept(labels, ignore_index)
    safe = ns.where(keep, labels, 0)
    count = ns.sum(ns.astype(keep, dtype=logits.dtype))
    rows = (g / count) * _sce_logits_derivative(ns, logits, safe, axis)
    return ns.where(ns.unsqueeze(keep, axis=axis), rows, 0)


def _mean_jvp(ns, t, ans, logits, labels, axis=-1, ignore_index=-100):
    keep = _kept(labels, ignore_index)
    safe = ns.where(keep, labels, 0)
    rows = ns.sum(_sce_logits_derivative(ns, logits, safe, axis) * t, axis=axis)
    return ns.sum(ns.where(keep, rows, 0)) / ns.sum(ns.astype(keep, dtype=logits.dtype))


softmax_cross_entropy_mean = primitive("softmax_cross_entropy_mean", _mean_impl, saves=("inputs",))
softmax_cross_entropy_mean.__doc__ = """The mean cross-entropy of ``softmax(logits)`` against integer
``labels`` over the labels not equal to ``ignore_index`` (``None``: every label counts).

Example:
    >>> import numpy as np
    >>> from chainrule.ops.cross_entropy import softmax_cross_entropy_mean
    >>> z = np.zeros((3, 4))
    >>> round(softmax_cross_entropy_mean(z, np.array([1, -100, 3])).item(), 4)  # log 4
    1.3863
"""
softmax_cross_entropy_mean.defvjp(_mean_vjp, None)
softmax_cross_entropy_mean.defjvp(_mean_jvp, None)


def _mean_batched(args, dims, size, axis=-1, ignore_index=-100):
    # Each example's mean over its own rows: the per-row losses, masked, summed over every axis but
    # the batch's.
    logits, labels = (materialize(a, d, size) for a, d in zip(args, dims))
    keep = _kept(labels, ignore_index)
    losses = softmax_cross_entropy(logits, where(keep, labels, 0), axis=shift_axis(axis, logits.ndim - 1))
    rows = tuple(range(1, losses.ndim))
    return sum(where(keep, losses, 0), axis=rows) / sum(astype(keep, dtype=logits.dtype), axis=rows)


defbatch(softmax_cross_entropy_mean, _mean_batched)
