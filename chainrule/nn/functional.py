"""The functional side of :mod:`chainrule.nn`: activations, layer computations and losses as functions.

Regression is a linear output with squared error, classification is softmax with cross-entropy (which
takes the logits and applies the softmax itself, with the fused, stable gradient); both are one line:

Example:
    >>> import numpy as np
    >>> import chainrule.nn.functional as F
    >>> from chainrule.nn import MLP
    >>> x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    >>> regression = F.mse_loss(MLP([3, 16, 1])(x), np.ones((8, 1), "float32"))
    >>> classification = F.cross_entropy(MLP([3, 16, 4])(x), np.array([0, 1, 2, 3] * 2))
    >>> regression.shape, classification.shape
    ((), ())
"""

import math

import numpy as np

from .. import backend, ops
from ..core.graph import is_recording
from ..core.tensor import Tensor, numeric_array, unwrap
from ..errors import ShapeError
from ..pytorch_compat import module_getattr, pytorch_keywords
from ..validation import check_choice, check_number
from .rng import as_generator
from ..ops import erf, layer_kernels as _layer_kernels
from ..ops.gelu import gelu as _gelu
from ..ops.cross_entropy import softmax_cross_entropy_mean
from ..ops.layer_norm import layer_norm as _layer_norm
from ..ops.checks import check_probability
from ..ops.attention import scaled_dot_product_attention  # noqa: F401  (re-exported)
from .functional_conv import (adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d,  # noqa: F401
                              conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, dropout2d,
                              max_pool1d, max_pool2d)

REDUCTIONS = ("mean", "sum", "none")

# -- activations ----------------------------------------------------------------------------------

sigmoid = ops.sigmoid
tanh = ops.tanh
relu = ops.relu
softmax = ops.softmax
log_softmax = ops.log_softmax
one_hot = ops.one_hot  # PyTorch's F.one_hot; float64 by default here (PyTorch's is int64)


@pytorch_keywords
def step(x):
    """Heaviside's step, the unit of Rosenblatt's perceptron: 1 where ``x > 0``, else 0.

    Its derivative is zero wherever it exists (everywhere but 0), so backpropagation through it
    gives zero gradients, not an error: a perceptron of step units cannot be trained by gradient
    descent, which is why it was trained by the perceptron rule and why smooth activations (sigmoid,
    tanh, ReLU) made multi-layer training possible.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([-1.0, 0.0, 2.0], requires_grad=True)
        >>> y = step(x)
        >>> y.sum().backward()
        >>> y, x.grad
        (tensor([0., 0., 1.], grad_fn=relu), tensor([0., 0., 0.]))
    """
    # sign is piecewise constant, so its rules give zero; relu maps its values {-1, 0, 1} to {0, 0, 1}.
    return ops.relu(ops.sign(x))


@pytorch_keywords
def leaky_relu(x, negative_slope=0.01):
    """``x`` where ``x > 0``, else ``negative_slope * x``."""
    return ops.where(unwrap(x) > 0, x, x * negative_slope)


@pytorch_keywords
def gelu(x, approximate="none"):
    """The Gaussian error linear unit ``x Φ(x)``, with ``Φ`` the standard normal distribution function.

    Args:
        x: the input.
        approximate: ``"none"`` for the exact ``x/2 (1 + erf(x/√2))``, ``"tanh"`` for
            ``x/2 (1 + tanh(√(2/π) (x + 0.044715 x³)))``.
    """
    check_choice(approximate, "approximate", ("none", "tanh"), owner="gelu")
    if _layer_kernels.available() and isinstance(unwrap(x), np.ndarray):
        return _gelu(x, approximate=approximate)  # one kernel each way (ops/gelu.py)
    if approximate == "none":  # composed: fused by a compiled step on a device
        return 0.5 * x * (1 + erf(x * (1 / math.sqrt(2))))
    return 0.5 * x * (1 + ops.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


@pytorch_keywords
def softplus(x):
    """``log(1 + eˣ)``, computed without overflow; its derivative is ``sigmoid(x)``."""
    # max(x, 0) + log(1 + e^-|x|); at x = 0 the max's tie gives 1/2 and |x|'s derivative 0: sigmoid(0).
    return ops.maximum(x, 0) + ops.log1p(ops.exp(-ops.abs(x)))


# -- layers ---------------------------------------------------------------------------------------

@pytorch_keywords
def linear(x, weight, bias=None):
    """``x @ weight.T + bias``, with ``weight`` shaped ``(out_features, in_features)`` as in PyTorch
    (one fused primitive when there is a bias)."""
    if bias is None:
        return ops.matmul(x, ops.transpose(weight))
    return ops.linear(x, weight, bias)


@pytorch_keywords
def dropout(x, p=0.5, training=True, generator=None):
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by ``1/(1−p)``,
    so the expected value is unchanged and evaluation needs no rescaling.

    Args:
        x: the input.
        p: the probability of dropping an element, in [0, 1].
        training: when ``False``, ``x`` is returned unchanged.
        generator: see :mod:`chainrule.nn.rng`.
    """
    check_probability(p, "dropout")
    if not training or p == 0:
        return x
    mask = ops.keep_mask(x, p=p, dtype=_float_dtype(unwrap(x)), generator=as_generator(generator))
    return ops.mul(x, mask)


@pytorch_keywords
def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last ``len(normalized_shape)`` axes to zero mean and unit variance, then
    scale by ``weight`` and shift by ``bias``."""
    normalized_shape = _shape_tuple(normalized_shape)
    check_number(eps, "eps", 0, low_open=True, owner="layer_norm")
    shape = np.shape(unwrap(x))
    if shape[len(shape) - len(normalized_shape):] != normalized_shape:
        raise ShapeError(f"layer_norm: input of shape {shape} does not end in normalized_shape "
                         f"{normalized_shape}")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and np.shape(unwrap(value)) != normalized_shape:
            raise ShapeError(f"layer_norm: {name} must have normalized_shape {normalized_shape}, not "
                             f"{np.shape(unwrap(value))}")
    if len(normalized_shape) == 1 and _layer_kernels.available() and isinstance(unwrap(x), np.ndarray):
        return _layer_norm(x, weight, bias, eps=eps)  # one kernel each way (ops/layer_norm.py)
    axes = tuple(range(len(shape) - len(normalized_shape), len(shape)))
    return _affine(_normalize(x, ops.mean(x, axes, keepdims=True), ops.var(x, axes, keepdims=True), eps),
                   weight, bias)


@pytorch_keywords
def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Normalise each feature (axis 1) over the batch and spatial axes of an ``(N, C)``, ``(N, C, L)``
    or ``(N, C, H, W)`` input.

    In training the batch's statistics are used, and the running statistics, when given, move towards
    them in place: ``running = (1 − momentum) running + momentum · batch``, with the unbiased batch
    variance as in PyTorch. Otherwise the running statistics are used.
    """
    check_number(eps, "eps", 0, low_open=True, owner="batch_norm")
    shape = np.shape(unwrap(x))
    if len(shape) < 2:
        raise ShapeError(f"batch_norm: expected an input of shape (N, C) or (N, C, *spatial), got {shape}")
    axes = (0,) + tuple(range(2, len(shape)))
    along_features = (1, shape[1]) + (1,) * (len(shape) - 2)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation needs running_mean and running_var (or training=True)")
        mean = np.reshape(unwrap(running_mean), along_features)
        var = np.reshape(unwrap(running_var), along_features)
        return _affine(_normalize(x, mean, var, eps), _features(weight, along_features),
                       _features(bias, along_features))
    count = math.prod(shape[a] for a in axes)
    if count < 2:
        raise ShapeError(f"batch_norm: training needs more than one value per feature, got an input of "
                         f"shape {shape}")
    mean = ops.mean(x, axes, keepdims=True)
    var = ops.var(x, axes, keepdims=True)
    if running_mean is not None:
        ops.running_update(running_mean, mean, decay=1 - momentum, scale=momentum)
    if running_var is not None:
        ops.running_update(running_var, var, decay=1 - momentum, scale=momentum * count / (count - 1))
    return _affine(_normalize(x, mean, var, eps), _features(weight, along_features),
                   _features(bias, along_features))


def _normalize(x, mean, var, eps):
    return (x - mean) / ops.sqrt(var + eps)


def _affine(x, weight, bias):
    if weight is not None:
        x = x * weight
    return x if bias is None else x + bias


def _features(parameter, shape):
    return None if parameter is None else ops.reshape(parameter, shape)


# -- losses ---------------------------------------------------------------------------------------

@pytorch_keywords
def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
                  axis=-1):
    """Cross-entropy of ``softmax(input)`` against ``target``, through the fused stable primitive
    :func:`chainrule.softmax_cross_entropy` (gradient ``softmax(z) − onehot(y)``).

    Args:
        input: logits, classes along ``axis`` (use ``axis=1`` for PyTorch's ``(N, C, d…)`` layout).
        target: integer class labels (``input``'s shape without ``axis``) or class probabilities
            (``input``'s shape).
        weight: optional per-class weights, shape ``(C,)``: a label ``y`` counts ``weight[y]`` times.
        ignore_index: integer labels equal to it contribute nothing, and are not counted by the mean.
        reduction: ``"mean"`` (over examples, weighted by ``weight[y]`` for labels), ``"sum"`` or
            ``"none"``.
        label_smoothing: ε in [0, 1]: the target becomes ``(1 − ε) target + ε / C``.
        axis: the class axis.

    Example:
        >>> import numpy as np
        >>> round(cross_entropy(np.zeros((2, 4)), np.array([1, 3])).item(), 4)  # log 4
        1.3863
    """
    check_reduction(reduction)
    check_label_smoothing(label_smoothing)
    logits = _tensor(input)
    classes = logits.shape[axis]
    weights = _class_weights(weight, classes, logits.dtype)
    class_weight = None if weights is None else _along(weights, axis, logits.ndim)
    if not _is_integer(target) and np.ndim(unwrap(target)) == logits.ndim - 1:
        raise TypeError(f"cross_entropy: target of shape {np.shape(unwrap(target))} looks like class labels "
                        f"but holds {backend.asarray(unwrap(target)).dtype}; labels must be integers (write "
                        f"target.astype(int)); class probabilities need the logits' shape {logits.shape}")
    if not _is_integer(target):
        target = _cast_like(target, logits)
        if class_weight is None and label_smoothing == 0:
            return _reduce(ops.softmax_cross_entropy(logits, target, axis), reduction)
        return _reduce(_soft_cross_entropy(logits, target, class_weight, label_smoothing, axis), reduction)
    if class_weight is None and label_smoothing == 0 and reduction == "mean":
        # One primitive, forward and VJP each one pass (a compiled step's row kernels), where the
        # masked mean of the per-row losses is nine operations and as many VJPs.
        return softmax_cross_entropy_mean(logits, _checked_labels(target, classes, ignore_index), axis=axis,
                                          ignore_index=ignore_index)
    labels, keep = _labels(target, classes, ignore_index, "cross_entropy")
    if class_weight is None and label_smoothing == 0:
        losses = ops.softmax_cross_entropy(logits, labels, axis)
    else:
        onehot = ops.one_hot(labels, num_classes=classes, axis=axis, dtype=logits.dtype)
        losses = _soft_cross_entropy(logits, onehot, class_weight, label_smoothing, axis)
    return _reduce_labelled(losses, keep, weights, labels, reduction)


def _soft_cross_entropy(logits, target, class_weight, label_smoothing, axis):
    """``Σ_k q_k (−log softmax(z)_k)`` per example, for ``q = weight ⊙ ((1 − ε) target + ε / C)``."""
    q = target
    if label_smoothing:
        q = q * (1 - label_smoothing) + label_smoothing / logits.shape[axis]
    if class_weight is not None:
        q = q * class_weight
    # The fused rule softmax(z) − q holds for a q that sums to one, so write the loss as s · CE(z, q/s)
    # with s = Σ_k q_k (s = 0 only when every weighted class has weight 0: then the loss is 0).
    s = ops.sum(q, axis, keepdims=True)
    safe = ops.where(s == 0, 1, s)
    return ops.squeeze(s, axis) * ops.softmax_cross_entropy(logits, q / safe, axis)


@pytorch_keywords
def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean", axis=-1):
    """Negative log-likelihood ``−input[y]`` of integer labels, for log-probabilities ``input``
    (``log_softmax`` output); arguments as :func:`cross_entropy`."""
    check_reduction(reduction)
    log_probs = _tensor(input)
    classes = log_probs.shape[axis]
    weights = _class_weights(weight, classes, log_probs.dtype)
    labels, keep = _labels(target, classes, ignore_index, "nll_loss")
    picked = ops.take_along_axis(log_probs, ops.unsqueeze(labels, axis=axis), axis)
    losses = -ops.squeeze(picked, axis)
    if weights is not None:
        losses = losses * _per_example(weights, labels)
    return _reduce_labelled(losses, keep, weights, labels, reduction)


@pytorch_keywords
def mse_loss(input, target, reduction="mean"):
    """Squared error ``(input − target)²``: the loss of regression with a linear output."""
    check_reduction(reduction)
    _check_same_shape("mse_loss", input, target)
    difference = _tensor(input) - _cast_like(target, input)
    return _reduce(difference * difference, reduction)


@pytorch_keywords
def l1_loss(input, target, reduction="mean"):
    """Absolute error ``|input − target|``."""
    check_reduction(reduction)
    _check_same_shape("l1_loss", input, target)
    return _reduce(ops.abs(_tensor(input) - _cast_like(target, input)), reduction)


@pytorch_keywords
def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction="mean"):
    """Binary cross-entropy of ``sigmoid(input)`` against targets in [0, 1], stable for any logit.

    Args:
        input: logits ``x``.
        target: ``y``, same shape as ``input``.
        weight: optional weight of each element (broadcast against ``input``).
        pos_weight: optional weight ``p`` of the positive term (per class, broadcast on the last axis).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        ``−w (p y log σ(x) + (1 − y) log(1 − σ(x)))``, computed as ``(1 − y) x + (1 + (p − 1) y)
        softplus(−x)``, which never takes the log of an underflowed sigmoid.
    """
    check_reduction(reduction)
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    input, target = _tensor(input), _cast_like(target, input)
    log_weight = 1 if pos_weight is None else 1 + (_cast_like(pos_weight, input) - 1) * target
    losses = (1 - target) * input + log_weight * softplus(-input)
    if weight is not None:
        losses = losses * _cast_like(weight, input)
    return _reduce(losses, reduction)


@pytorch_keywords
def hinge_loss(input, target, margin=1.0, reduction="mean", axis=-1):
    """The multi-class SVM loss of Weston and Watkins: ``Σ_{j≠y} max(0, s_j − s_y + margin)`` per example.

    Every wrong class scoring within ``margin`` of the right one adds to the loss. PyTorch's
    ``MultiMarginLoss`` is this divided by the number of classes.

    Args:
        input: class scores ``s``, classes along ``axis``.
        target: integer labels ``y``.
        margin: the margin Δ (1 by default; the scale of the scores makes its value arbitrary).
        reduction: ``"mean"`` (over examples), ``"sum"`` or ``"none"``.
        axis: the class axis.
    """
    check_reduction(reduction)
    scores = _tensor(input)
    classes = scores.shape[axis]
    labels, _ = _labels(target, classes, None, "hinge_loss")
    correct = ops.take_along_axis(scores, ops.unsqueeze(labels, axis=axis), axis)
    wrong = 1 - ops.one_hot(labels, num_classes=classes, axis=axis, dtype=scores.dtype)
    return _reduce(ops.sum(ops.relu(scores - correct + margin) * wrong, axis), reduction)


# -- helpers --------------------------------------------------------------------------------------

def check_reduction(reduction):
    """Raise unless ``reduction`` is one of :data:`REDUCTIONS`."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS))}, not {reduction!r}")


def check_label_smoothing(label_smoothing):
    """Raise unless ``label_smoothing`` is a number in [0, 1]."""
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) \
            or not 0 <= label_smoothing <= 1:
        raise ValueError(f"label_smoothing must be a number in [0, 1], not {label_smoothing!r}")


def _reduce(losses, reduction):
    if reduction == "none":
        return losses
    return ops.sum(losses) if reduction == "sum" else ops.mean(losses)


def _reduce_labelled(losses, keep, weights, labels, reduction):
    """Reduce per-example losses of labels: ignored ones count zero, the mean divides by the total
    weight of the kept labels (their number when unweighted), as PyTorch does."""
    masked = isinstance(keep, Tensor) or not keep.all()
    if masked:
        keep = ops.astype(keep, dtype=losses.dtype)
        losses = losses * keep
    if reduction != "mean":
        return _reduce(losses, reduction)
    if weights is not None:
        return ops.sum(losses) / ops.sum(_per_example(weights, labels) * keep)
    # The number of kept labels (in the losses' dtype when masked: the bits of dividing by float(N)).
    return ops.sum(losses) / (ops.sum(keep) if masked else float(np.sum(keep)))


def _per_example(weights, labels):
    """Each label's class weight, gathered by an operation (so a compiled step gathers each batch's)."""
    return Tensor(weights)[labels]


def _checked_labels(target, classes, ignore_index):
    """Integer labels (a tensor stays one: a compiled step reads each batch's) after checking that the
    kept ones name a class."""
    labels = backend.asarray(unwrap(target))
    _check_labels(labels, classes, ignore_index, "cross_entropy")
    return target if isinstance(target, Tensor) else labels


def _check_labels(labels, classes, ignore_index, where):
    """The mask of the kept labels, after checking that they name a class."""
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{where}: target must be integer class labels, not {labels.dtype}")
    keep = labels != ignore_index if ignore_index is not None else np.ones(labels.shape, bool)
    bad = keep & ((labels < 0) | (labels >= classes))
    if bad.any():
        allowed = f"[0, {classes})" + ("" if ignore_index is None else f" or ignore_index={ignore_index}")
        found = sorted(set(labels[bad].tolist()))
        raise ValueError(f"{where}: target labels must lie in {allowed}, found {found}")
    return keep


def _labels(target, classes, ignore_index, where):
    """Integer labels with ignored entries replaced by 0, and the mask of the kept ones."""
    labels = backend.asarray(unwrap(target))
    keep = _check_labels(labels, classes, ignore_index, where)
    if ignore_index is not None and is_recording():  # masks as operations: each replay masks its batch
        target = target if isinstance(target, Tensor) else Tensor(labels)
        keep = target != ignore_index
        return ops.where(keep, target, 0), keep
    if keep.all():
        return labels, keep
    return np.where(keep, labels, 0), keep


def _class_weights(weight, classes, dtype):
    """Per-class weights as an array of shape ``(classes,)``, or None."""
    if weight is None:
        return None
    weight = backend.asarray(unwrap(weight), dtype=dtype)
    if weight.shape != (classes,):
        raise ShapeError(f"weight must have one entry per class, shape ({classes},), not {weight.shape}")
    return weight


def _along(vector, axis, ndim):
    """``vector`` reshaped to lie along ``axis`` of an ``ndim``-dimensional array."""
    shape = [1] * ndim
    shape[axis] = vector.size
    return vector.reshape(shape)


def _check_same_shape(where, input, target):
    input_shape, target_shape = (np.shape(numeric_array(unwrap(value), None, where))
                                 for value in (input, target))
    if input_shape != target_shape:
        raise ShapeError(f"{where}: input of shape {input_shape} and target of shape {target_shape} "
                         f"differ (broadcasting them is almost always a bug; reshape one of them)")


def _cast_like(value, like):
    """``value`` in the floating dtype of ``like``, so a float64 target does not turn a float32
    model's gradients into float64."""
    dtype = _float_dtype(unwrap(like))
    if isinstance(value, Tensor):
        return value if value.dtype == dtype else ops.astype(value, dtype=dtype)
    return backend.asarray(value, dtype=dtype)


def _float_dtype(array):
    dtype = backend.asarray(array).dtype
    return dtype if dtype.kind == "f" else np.dtype("float32")


def _is_integer(value):
    return backend.asarray(unwrap(value)).dtype.kind in "iu"


def _shape_tuple(shape):
    return (shape,) if isinstance(shape, int) else tuple(shape)


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


_INSTEAD = {
    "binary_cross_entropy": "binary_cross_entropy_with_logits(logits, target), which takes the logits "
                            "and never takes the log of an underflowed sigmoid",
    "sigmoid_focal_loss": "binary_cross_entropy_with_logits with weight=",
    "multi_margin_loss": "hinge_loss(input, target) / number of classes",
}


def __getattr__(name):
    module_getattr(globals(), name, _INSTEAD)
