"""Gradient clipping, applied to ``.grad`` in place between ``backward()`` and the optimiser's step."""

import math

import numpy as np

from .. import backend, devices
from ..core.graph import replayable
from ..core.tensor import Tensor


@replayable
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The norm is taken over every gradient as if concatenated into one vector; when it exceeds
    ``max_norm`` every gradient is multiplied by ``max_norm / (norm + 1e-6)``, so the direction of the
    step is kept (as in PyTorch).

    Args:
        parameters: a tensor or an iterable of tensors; those without a gradient are skipped.
        max_norm: the largest norm allowed, ``>= 0``.
        norm_type: the p of the p-norm, ``> 0``, or ``math.inf`` for the largest absolute value.
        error_if_nonfinite: raise if the norm is NaN or infinite instead of scaling by it.

    Returns:
        The norm before clipping, a 0-d tensor.

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([0.0, 0.0], requires_grad=True)
        >>> (w * cr.tensor([3.0, 4.0])).sum().backward()
        >>> clip_grad_norm_([w], max_norm=1.0).item()
        5.0
        >>> w.grad
        tensor([0.6, 0.8])
    """
    _check_number(max_norm, "max_norm", lower=0)
    _check_number(norm_type, "norm_type", lower=0, strict=True)
    grads = _grads(parameters)
    if not grads:
        return Tensor(np.zeros(()))
    xp = backend.namespace_of(grads[0].data)
    if xp is not np:  # on a device: one copy to the host of every gradient's part, then as on the CPU
        parts = devices.to_host(xp.stack([xp.max(xp.abs(g.data)) if norm_type == math.inf else
                                          _power_sum(xp, g.data, norm_type) for g in grads])).tolist()
        total = max(parts) if norm_type == math.inf else sum(parts) ** (1 / norm_type)
    elif norm_type == math.inf:
        total = max(float(np.max(np.abs(g.data), initial=0)) for g in grads)
    else:
        total = sum(float(_power_sum(np, g.data, norm_type)) for g in grads) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise FloatingPointError(f"clip_grad_norm_: the total {norm_type}-norm of the gradients is {total}; "
                                 f"pass error_if_nonfinite=False to clip anyway")
    scale = min(max_norm / (total + 1e-6), 1.0)
    if scale < 1.0:
        for g in grads:
            g.data = g.data * scale
    return Tensor(backend.asarray(total, dtype=grads[0].dtype))


@replayable
def clip_grad_value_(parameters, clip_value):
    """Clip every gradient element into ``[-clip_value, clip_value]``, in place.

    Args:
        parameters: a tensor or an iterable of tensors; those without a gradient are skipped.
        clip_value: the largest absolute value allowed, ``>= 0``.
    """
    _check_number(clip_value, "clip_value", lower=0)
    for g in _grads(parameters):
        g.data = np.clip(g.data, -clip_value, clip_value).astype(g.dtype)


def _power_sum(xp, a, norm_type):
    """``Σ |a|^p``; for p = 2 on a real array one dot product (no ``|a|`` and ``a²`` arrays made, as
    ``sum(abs(a) ** 2)`` makes), over ``a`` in memory order (a view of a Linear's F-ordered gradient),
    the same on the CPU and on a device; summed in another order, so it agrees to the dtype's rounding."""
    if norm_type == 2 and a.dtype.kind == "f" and a.dtype.itemsize in (4, 8):
        flat = a.ravel(order="K")
        return xp.dot(flat, flat)
    return xp.sum(xp.abs(a) ** norm_type)


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    if callable(parameters):  # a model, or its parameters method not called
        raise TypeError(f"clipping takes the parameters, not "
                        f"{getattr(parameters, '__qualname__', type(parameters).__name__)}; pass "
                        f"model.parameters()")
    return [p.grad for p in parameters if p.grad is not None]


def _check_number(value, name, lower, strict=False):
    ok = (not isinstance(value, bool) and isinstance(value, (int, float))
          and (value > lower if strict else value >= lower))
    if not ok:
        bound = f"> {lower}" if strict else f">= {lower}"
        raise ValueError(f"{name} must be a number {bound}, not {value!r}")
