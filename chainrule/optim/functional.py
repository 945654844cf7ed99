"""Optimiser updates as pure functions on NumPy arrays.

Each function updates ``param`` and its state arrays in place and returns the state, so a training
loop can run without any optimiser object. A state argument given as ``None`` is created on the
first step (SGD's momentum buffer starts as a copy of the gradient, every other state starts at zero,
or at ``initial_accumulator_value`` for Adagrad). The gradient array is never modified.

The arithmetic follows ``torch.optim`` operation for operation, and keeps the parameter's dtype:
hyperparameters are turned into Python floats, which NumPy 2 does not let upcast a float32 array.
"""

import numpy as np

from .. import backend
from ..errors import ShapeError


def _gradient(param, grad, weight_decay):
    """``grad`` as an array of ``param``'s dtype, plus the L2 term ``weight_decay * param``."""
    grad = backend.asarray(grad, dtype=param.dtype)  # on the parameter's device when it is an array there
    if grad.shape != param.shape:
        raise ShapeError(f"gradient of shape {grad.shape} for a parameter of shape {param.shape}")
    if weight_decay != 0:
        grad = grad + weight_decay * param
    return grad


def _zeros_if_none(array, param):
    return np.zeros_like(param) if array is None else array


def sgd_step(param, grad, buf, *, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    r"""One step of stochastic gradient descent with optional momentum (PyTorch's ``SGD``).

    With ``g = grad + weight_decay * param``::

        buf   = g                                   on the first step
        buf   = momentum * buf + (1 - dampening) * g    afterwards
        d     = g + momentum * buf  if nesterov  else  buf    (d = g without momentum)
        param = param - lr * d

    With ``dampening = 0`` this is exactly the lecture's momentum update
    ``v = τ v + g + α w;  w = w − λ v`` (τ = momentum, α = weight_decay, λ = lr, v starting at 0),
    and ``nesterov=True`` is its Nesterov variant ``v = τ v + g + α w;  w = w − λ (g + α w + τ v)``.

    Args:
        param: the parameter array, updated in place.
        grad: its gradient (left unchanged).
        buf: the momentum buffer, or ``None`` before the first step.
        lr: learning rate λ.
        momentum: momentum factor τ (0 for plain gradient descent).
        dampening: dampening of the gradient in the buffer update.
        weight_decay: L2 penalty α, added to the gradient.
        nesterov: use Nesterov momentum.

    Returns:
        The momentum buffer (``None`` when ``momentum`` is 0).
    """
    lr, momentum, dampening = float(lr), float(momentum), float(dampening)
    grad = _gradient(param, grad, float(weight_decay))
    if momentum != 0:
        if buf is None:
            buf = grad.copy(order="K")
        else:
            buf *= momentum
            buf += grad if dampening == 0 else (1 - dampening) * grad
        grad = grad + momentum * buf if nesterov else buf
    param -= lr * grad
    return buf


def _adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, betas, eps, amsgrad):
    beta1, beta2 = float(betas[0]), float(betas[1])
    exp_avg = _zeros_if_none(exp_avg, param)
    exp_avg_sq = _zeros_if_none(exp_avg_sq, param)
    exp_avg += (1 - beta1) * (grad - exp_avg)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * (grad * grad)
    second = exp_avg_sq
    if amsgrad:
        max_exp_avg_sq = _zeros_if_none(max_exp_avg_sq, param)
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second = max_exp_avg_sq
    # Bias corrections folded in as PyTorch does: lr / (1 - β1^t) on the numerator, sqrt(1 - β2^t)
    # under the root, so eps is added to the bias-corrected root.
    step_size = lr / (1 - beta1**step)
    denom = np.sqrt(second) / (1 - beta2**step) ** 0.5
    denom += eps
    param -= step_size * (exp_avg / denom)
    return exp_avg, exp_avg_sq, max_exp_avg_sq


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, step, lr,
              betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
    r"""One step of Adam (Kingma & Ba, 2015), with L2 weight decay added to the gradient.

    With ``g = grad + weight_decay * param`` and ``t = step``::

        m     = β1 m + (1 - β1) g
        v     = β2 v + (1 - β2) g²
        v̂     = max(v̂, v) if amsgrad else v
        param = param - lr / (1 - β1^t) * m / (sqrt(v̂ / (1 - β2^t)) + eps)

    Args:
        param: the parameter array, updated in place.
        grad: its gradient (left unchanged).
        exp_avg: first moment m, or ``None`` before the first step.
        exp_avg_sq: second moment v, or ``None`` before the first step.
        max_exp_avg_sq: running maximum of v (AMSGrad only), or ``None``.
        step: number of this step, counting from 1.
        lr: learning rate.
        betas: decay rates (β1, β2) of the two moments.
        eps: added to the denominator.
        weight_decay: L2 penalty added to the gradient.
        amsgrad: use the AMSGrad variant (Reddi et al., 2018).

    Returns:
        ``(exp_avg, exp_avg_sq, max_exp_avg_sq)``; the last is ``None`` without AMSGrad.
    """
    grad = _gradient(param, grad, float(weight_decay))
    return _adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, float(lr), betas,
                 float(eps), amsgrad)


def adamw_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, step, lr,
               betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
    r"""One step of AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay.

    The parameter is first shrunk, ``param = param * (1 - lr * weight_decay)``, and then takes a plain
    Adam step (see :func:`adam_step`) on the unmodified gradient, so the decay is not rescaled by the
    adaptive denominator.

    Args:
        param: the parameter array, updated in place.
        grad: its gradient (left unchanged).
        exp_avg: first moment, or ``None`` before the first step.
        exp_avg_sq: second moment, or ``None`` before the first step.
        max_exp_avg_sq: running maximum of the second moment (AMSGrad only), or ``None``.
        step: number of this step, counting from 1.
        lr: learning rate.
        betas: decay rates (β1, β2) of the two moments.
        eps: added to the denominator.
        weight_decay: decoupled decay rate.
        amsgrad: use the AMSGrad variant.

    Returns:
        ``(exp_avg, exp_avg_sq, max_exp_avg_sq)``; the last is ``None`` without AMSGrad.
    """
    lr = float(lr)
    grad = _gradient(param, grad, 0.0)
    param *= 1 - lr * float(weight_decay)
    return _adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, betas, float(eps), amsgrad)


def rmsprop_step(param, grad, square_avg, grad_avg=None, buf=None, *, lr, alpha=0.99, eps=1e-8,
                 weight_decay=0.0, momentum=0.0, centered=False):
    r"""One step of RMSprop (Hinton, lecture 6e), as PyTorch's ``RMSprop``.

    With ``g = grad + weight_decay * param``::

        s     = α s + (1 - α) g²
        ḡ     = α ḡ + (1 - α) g                 (centered only)
        r     = sqrt(s - ḡ²) + eps  if centered  else  sqrt(s) + eps
        buf   = momentum * buf + g / r;  param = param - lr * buf    if momentum > 0
        param = param - lr * g / r                                   otherwise

    Args:
        param: the parameter array, updated in place.
        grad: its gradient (left unchanged).
        square_avg: running mean s of g², or ``None`` before the first step.
        grad_avg: running mean ḡ of g (centered only), or ``None``.
        buf: momentum buffer (momentum > 0 only), or ``None``.
        lr: learning rate.
        alpha: smoothing constant α.
        eps: added to the denominator.
        weight_decay: L2 penalty added to the gradient.
        momentum: momentum factor.
        centered: divide by an estimate of the gradient's variance instead of its second moment.

    Returns:
        ``(square_avg, grad_avg, buf)``; unused entries are ``None``.
    """
    lr, alpha, eps, momentum = float(lr), float(alpha), float(eps), float(momentum)
    grad = _gradient(param, grad, float(weight_decay))
    square_avg = _zeros_if_none(square_avg, param)
    square_avg *= alpha
    square_avg += (1 - alpha) * (grad * grad)
    if centered:
        grad_avg = _zeros_if_none(grad_avg, param)
        grad_avg += (1 - alpha) * (grad - grad_avg)
        avg = np.sqrt(square_avg - grad_avg * grad_avg)
    else:
        avg = np.sqrt(square_avg)
    avg += eps
    if momentum > 0:
        buf = _zeros_if_none(buf, param)
        buf *= momentum
        buf += grad / avg
        param -= lr * buf
    else:
        param -= lr * (grad / avg)
    return square_avg, grad_avg, buf


def adagrad_step(param, grad, state_sum, *, step, lr, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10):
    r"""One step of Adagrad (Duchi et al., 2011), as PyTorch's ``Adagrad``.

    With ``g = grad + weight_decay * param`` and ``t = step``::

        S     = S + g²                     (S starts at initial_accumulator_value)
        param = param - lr / (1 + (t - 1) lr_decay) * g / (sqrt(S) + eps)

    Args:
        param: the parameter array, updated in place.
        grad: its gradient (left unchanged).
        state_sum: the accumulated squared gradients S, or ``None`` before the first step.
        step: number of this step, counting from 1.
        lr: learning rate.
        lr_decay: learning-rate decay per step.
        weight_decay: L2 penalty added to the gradient.
        initial_accumulator_value: starting value of S (used when ``state_sum`` is ``None``).
        eps: added to the denominator.

    Returns:
        The accumulator S.
    """
    grad = _gradient(param, grad, float(weight_decay))
    if state_sum is None:
        state_sum = np.full_like(param, float(initial_accumulator_value))
    clr = float(lr) / (1 + (step - 1) * float(lr_decay))
    state_sum += grad * grad
    std = np.sqrt(state_sum)
    std += float(eps)
    param -= clr * (grad / std)
    return state_sum
