"""RMSprop."""

from .functional import rmsprop_step
from ..validation import check_number
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop, optionally centered and with momentum; see :func:`~.functional.rmsprop_step`.

    Args:
        params: parameters or parameter groups.
        lr: learning rate.
        alpha: smoothing constant, in [0, 1].
        eps: added to the denominator, >= 0.
        weight_decay: L2 penalty, >= 0.
        momentum: momentum factor, in [0, 1).
        centered: normalise by an estimate of the gradient's variance.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered)
        super().__init__(params, defaults)

    def _check(self, group):
        check_number(group["lr"], "lr", 0, owner="RMSprop")
        check_number(group["alpha"], "alpha", 0, 1, high_open=False, owner="RMSprop")
        check_number(group["eps"], "eps", 0, owner="RMSprop")
        check_number(group["weight_decay"], "weight_decay", 0, owner="RMSprop")
        check_number(group["momentum"], "momentum", 0, 1, owner="RMSprop")

    def _update(self, param, grad, state, group):
        state["step"] = state.get("step", 0) + 1
        arrays = rmsprop_step(param, grad, state.get("square_avg"), state.get("grad_avg"),
                              state.get("momentum_buffer"), lr=group["lr"], alpha=group["alpha"],
                              eps=group["eps"], weight_decay=group["weight_decay"],
                              momentum=group["momentum"], centered=group["centered"])
        for key, value in zip(("square_avg", "grad_avg", "momentum_buffer"), arrays):
            if value is not None:
                state[key] = value
