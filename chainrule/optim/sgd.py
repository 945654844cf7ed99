"""Stochastic gradient descent with momentum."""

from .functional import sgd_step
from ..validation import check_number
from .optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum; see :func:`~.functional.sgd_step`.

    Args:
        params: parameters or parameter groups.
        lr: learning rate.
        momentum: momentum factor, in [0, 1).
        dampening: dampening of the gradient in the momentum buffer, in [0, 1].
        weight_decay: L2 penalty, >= 0.
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening 0).
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov)
        super().__init__(params, defaults)

    def _check(self, group):
        check_number(group["lr"], "lr", 0, owner="SGD")
        momentum = check_number(group["momentum"], "momentum", 0, 1, owner="SGD")
        dampening = check_number(group["dampening"], "dampening", 0, 1, high_open=False, owner="SGD")
        check_number(group["weight_decay"], "weight_decay", 0, owner="SGD")
        if group["nesterov"] and (momentum <= 0 or dampening != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening == 0, "
                             f"got momentum={group['momentum']!r} and dampening={group['dampening']!r}")

    def _update(self, param, grad, state, group):
        buf = sgd_step(param, grad, state.get("momentum_buffer"), lr=group["lr"], momentum=group["momentum"],
                       dampening=group["dampening"], weight_decay=group["weight_decay"],
                       nesterov=group["nesterov"])
        if buf is not None:
            state["momentum_buffer"] = buf
