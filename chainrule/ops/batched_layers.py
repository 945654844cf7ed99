"""Batching rules of the layer primitives: convolution, pooling, the recurrent scan, attention.

Each folds the vmap batch into the primitive's own batch axis where the weights are shared (one call,
``B·N`` examples); a convolution whose weights differ per example (an ensemble, or the per-example
weight gradient ``conv_weight``) becomes one grouped convolution with ``B·groups`` groups: example
``b``'s channels form its own groups, which see only its own kernels.
"""

from ..core.batching import defbatch, defbroadcasting, defvectorized, lift, materialize
from .attention import attention
from .conv import conv, conv_transpose, conv_weight
from .matrix import moveaxis
from .pooling import _out, max_pool_gather, max_pool_primitive, max_pool_scatter, window_scatter, window_sum
from .recurrent import recurrent_hidden, recurrent_scan
from .shape import broadcast_to, reshape


def _fold(x):
    """``(B, N, ...)`` as ``(B·N, ...)``."""
    return reshape(x, (x.shape[0] * x.shape[1],) + tuple(x.shape[2:]))


def _unfold(y, size):
    return reshape(y, (size, y.shape[0] // size) + tuple(y.shape[1:]))


def _channels_grouped(x):
    """``(B, N, C, ...)`` as ``(N, B·C, ...)``: each example's channels side by side."""
    x = moveaxis(x, 0, 1)
    return reshape(x, (x.shape[0], x.shape[1] * x.shape[2]) + tuple(x.shape[3:]))


def _channels_ungrouped(y, size):
    """``(N, B·O, ...)`` back to ``(B, N, O, ...)``."""
    y = reshape(y, (y.shape[0], size, y.shape[1] // size) + tuple(y.shape[2:]))
    return moveaxis(y, 1, 0)


def _kernel_batched(op):
    """The batching rule of ``conv`` or ``conv_transpose`` (their operand, then the kernels): the examples
    fold into the batch axis, or, when the kernels are batched too, into the channels as groups."""
    def rule(args, dims, size, /, groups, **p):  # p may hold conv_transpose's own `size`
        operand, weight = args
        if dims[1] is None:
            return _unfold(op(_fold(operand), weight, groups=groups, **p), size)
        operand = materialize(operand, dims[0], size)
        out = op(_channels_grouped(operand), _fold(weight), groups=size * groups, **p)
        return _channels_ungrouped(out, size)
    return rule


def _conv_weight_batched(args, dims, size, groups, **p):
    # Per example Σ_n y_n ⋆ x_n: a grouped conv_weight keeps the examples' sums apart.
    x, y = (materialize(a, d, size) for a, d in zip(args, dims))
    out = conv_weight(_channels_grouped(x), _channels_grouped(y), groups=size * groups, **p)
    return _unfold(out, size)


def _window_weights(weights, dim, size, full):
    """Window weights for the folded batch: as they are when they broadcast over the examples' axes,
    else ``(K, N, C, *out)`` per example folded into ``(K, B·N, C, *out)``."""
    if dim is None and weights.ndim - 1 <= len(full) - 2:  # each row broadcasts over spatial axes only
        return weights
    weights = lift(materialize(weights, dim, size), 1 + len(full))
    weights = broadcast_to(weights, (size, weights.shape[1]) + full)
    weights = moveaxis(weights, 0, 1)
    return reshape(weights, (weights.shape[0], size * full[0]) + full[1:])


def _window_sum_batched(args, dims, size, **p):
    x, weights = args
    x = materialize(x, dims[0], size)
    full = tuple(x.shape[1:3]) + _out(tuple(x.shape[1:]), p["kernel_size"], p["stride"], p["padding"],
                                      p["dilation"])
    return _unfold(window_sum(_fold(x), _window_weights(weights, dims[1], size, full), **p), size)


def _window_scatter_batched(args, dims, size, /, **p):
    y, weights = args
    y = materialize(y, dims[0], size)
    full = tuple(y.shape[1:])
    return _unfold(window_scatter(_fold(y), _window_weights(weights, dims[1], size, full), **p), size)


def _max_rule_batched(op):
    """The batching rule of ``max_pool_scatter`` or ``max_pool_gather``: all three operands folded."""
    def rule(args, dims, size, **p):
        return _unfold(op(*(_fold(materialize(a, d, size)) for a, d in zip(args, dims)), **p), size)
    return rule


def _recurrent_scan_batched(args, dims, size, mode="lstm", lengths=None):
    xw, state0, weight_hh, bias_hh = args
    if dims[2] is not None or dims[3] is not None:
        raise NotImplementedError("vmap: recurrent_scan with recurrent weights that differ from example to "
                                  "example is not supported; map over the inputs, not the weights")
    # (B, T, N, G) -> (T, B·N, G): the vmap batch joins the layer's own batch axis.
    xw = materialize(xw, dims[0], size)
    steps, n = xw.shape[1], xw.shape[2]
    folded = reshape(moveaxis(xw, 0, 1), (steps, size * n, xw.shape[3]))
    state0 = _fold(materialize(state0, dims[1], size))
    states = recurrent_scan(folded, state0, weight_hh, bias_hh, mode=mode,
                            lengths=None if lengths is None else list(lengths) * size)
    return moveaxis(reshape(states, (steps, size, n, states.shape[-1])), 1, 0)


defbatch(conv, _kernel_batched(conv))
defbatch(conv_transpose, _kernel_batched(conv_transpose))
defbatch(conv_weight, _conv_weight_batched)
defbatch(window_sum, _window_sum_batched)
defbatch(window_scatter, _window_scatter_batched)
defbatch(max_pool_primitive, lambda args, dims, size, **p: _unfold(max_pool_primitive(_fold(args[0]), **p), size))
defbatch(max_pool_scatter, _max_rule_batched(max_pool_scatter))
defbatch(max_pool_gather, _max_rule_batched(max_pool_gather))
defbatch(recurrent_scan, _recurrent_scan_batched)
defvectorized(recurrent_hidden)
defbroadcasting(attention)  # leading axes of query, key, value and masks broadcast against each other
