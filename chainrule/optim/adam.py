"""Adam and AdamW."""

from .functional import adam_step, adamw_step
from ..validation import check_number, fail
from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam, with L2 weight decay added to the gradient; see :func:`~.functional.adam_step`.

    Args:
        params: parameters or parameter groups.
        lr: learning rate.
        betas: decay rates of the first and second moments, each in [0, 1).
        eps: added to the denominator, >= 0.
        weight_decay: L2 penalty, >= 0.
        amsgrad: use the AMSGrad variant.
    """

    _step_function = staticmethod(adam_step)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, defaults)

    def _check(self, group):
        name = type(self).__name__
        check_number(group["lr"], "lr", 0, owner=name)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            fail("betas", "a pair (beta1, beta2)", betas, owner=name)
        check_number(betas[0], "betas[0]", 0, 1, owner=name)
        check_number(betas[1], "betas[1]", 0, 1, owner=name)
        check_number(group["eps"], "eps", 0, owner=name)
        check_number(group["weight_decay"], "weight_decay", 0, owner=name)

    def _update(self, param, grad, state, group):
        state["step"] = state.get("step", 0) + 1
        moments = self._step_function(
            param, grad, state.get("exp_avg"), state.get("exp_avg_sq"), state.get("max_exp_avg_sq"),
            step=state["step"], lr=group["lr"], betas=group["betas"], eps=group["eps"],
            weight_decay=group["weight_decay"], amsgrad=group["amsgrad"])
        for key, value in zip(("exp_avg", "exp_avg_sq", "max_exp_avg_sq"), moments):
            if value is not None:
                state[key] = value


class AdamW(Adam):
    """Adam with decoupled weight decay; see :func:`~.functional.adamw_step`.

    Args:
        params: parameters or parameter groups.
        lr: learning rate.
        betas: decay rates of the first and second moments, each in [0, 1).
        eps: added to the denominator, >= 0.
        weight_decay: decoupled decay rate, >= 0.
        amsgrad: use the AMSGrad variant.
    """

    _step_function = staticmethod(adamw_step)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
