"""Adagrad."""

from .functional import adagrad_step
from ..validation import check_number
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad; see :func:`~.functional.adagrad_step`.

    Args:
        params: parameters or parameter groups.
        lr: learning rate.
        lr_decay: learning-rate decay per step, >= 0.
        weight_decay: L2 penalty, >= 0.
        initial_accumulator_value: starting value of the sum of squared gradients, >= 0.
        eps: added to the denominator, >= 0.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, defaults)

    def _check(self, group):
        check_number(group["lr"], "lr", 0, owner="Adagrad")
        check_number(group["lr_decay"], "lr_decay", 0, owner="Adagrad")
        check_number(group["weight_decay"], "weight_decay", 0, owner="Adagrad")
        check_number(group["initial_accumulator_value"], "initial_accumulator_value", 0, owner="Adagrad")
        check_number(group["eps"], "eps", 0, owner="Adagrad")

    def _update(self, param, grad, state, group):
        state["step"] = state.get("step", 0) + 1
        state["sum"] = adagrad_step(param, grad, state.get("sum"), step=state["step"], lr=group["lr"],
                                    lr_decay=group["lr_decay"], weight_decay=group["weight_decay"],
                                    initial_accumulator_value=group["initial_accumulator_value"],
                                    eps=group["eps"])
