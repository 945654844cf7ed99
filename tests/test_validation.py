"""chainrule.validation: one message shape, "OWNER: NAME must be ALLOWED, not VALUE", for every check."""

import math

import numpy as np
import pytest

from chainrule import nn, optim
from chainrule.train import ConfigError, RunConfig
from chainrule.validation import check_bool, check_choice, check_int, check_number


@pytest.mark.parametrize("call, message", [
    (lambda: check_int(0, "n", owner="f"), "f: n must be a positive integer, not 0"),
    (lambda: check_int(True, "n"), "n must be a positive integer, not True"),
    (lambda: check_int(-2, "n", 0), "n must be a non-negative integer, not -2"),
    (lambda: check_int(9, "n", 1, 8), "n must be an integer in [1, 8], not 9"),
    (lambda: check_number(math.nan, "x"), "x must be a number, not nan"),
    (lambda: check_number("1", "x", 0), "x must be a number >= 0, not '1'"),
    (lambda: check_number(0, "x", 0, low_open=True), "x must be a number > 0, not 0"),
    (lambda: check_number(1, "p", 0, 1, what="a probability"), "p must be a probability in [0, 1), not 1"),
    (lambda: check_choice("relux", "activation", ["relu", "tanh"]),
     "activation must be one of 'relu', 'tanh', not 'relux' (did you mean 'relu'?)"),
])
def test_each_check_names_the_argument_the_allowed_values_and_the_value(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == message


def test_checks_return_the_value_and_bool_is_a_type_error():
    assert check_int(np.int64(3), "n") == 3 and type(check_int(np.int64(3), "n")) is int
    assert check_number(np.float32(0.5), "x", 0, 1) == 0.5
    assert check_choice("a", "c", "ab") == "a"
    with pytest.raises(TypeError, match="flag must be True or False, not 1"):
        check_bool(1, "flag")


@pytest.mark.parametrize("call, message", [
    (lambda: nn.Linear(0, 2), "Linear: in_features must be a positive integer, not 0"),
    (lambda: nn.BatchNorm1d(3, momentum=2), r"BatchNorm1d: momentum must be a number in \[0, 1\], not 2"),
    (lambda: nn.MLP([2, 2], dropout=1.0), r"MLP: dropout must be a probability in \[0, 1\), not 1.0"),
    (lambda: optim.SGD([nn.Parameter(np.zeros(2))], lr=-1), "SGD: lr must be a number >= 0, not -1"),
    (lambda: optim.lr_scheduler.StepLR(optim.SGD([nn.Parameter(np.zeros(2))], lr=1), 0),
     "StepLR: step_size must be a positive integer, not 0"),
    (lambda: RunConfig(epochs=0).resolved(), "--epochs must be a positive integer, not 0"),
])
def test_layers_optimisers_and_runs_share_the_shape(call, message):
    with pytest.raises((ValueError, ConfigError), match=message):
        call()
