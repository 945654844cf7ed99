"""Shape errors raised by layers and losses end with the user's line, as the engine's own do."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.errors import ShapeError


def _assert_user_line(error):
    message = str(error.value)
    assert message.count("\n  at ") == 1, message
    assert f"{__file__}:" in message and "lambda" in message.splitlines()[-1], message


@pytest.mark.parametrize("call", [
    lambda: nn.Linear(3, 2)(np.ones((4, 5))),
    lambda: nn.MLP([3, 4, 2])(np.ones((4, 5))),
    lambda: F.mse_loss(cr.ones(3), cr.ones(4)),
    lambda: nn.MSELoss()(cr.ones(3), cr.ones(4)),
    lambda: F.l1_loss(cr.ones(3), cr.ones(3, 1)),
    lambda: F.binary_cross_entropy_with_logits(cr.ones(3), cr.ones(4)),
    lambda: F.cross_entropy(cr.ones((2, 3)), np.array([0, 1]), weight=np.ones(4)),
    lambda: F.layer_norm(cr.ones((2, 3)), 4),
    lambda: nn.BatchNorm1d(3)(cr.ones((2, 4))),
    lambda: F.batch_norm(cr.ones((3,)), None, None, training=True),
    lambda: nn.Residual(nn.Linear(3, 2))(cr.ones((2, 3))),
    lambda: cr.ones(2, 3) @ cr.ones(2, 3),
])
def test_shape_errors_name_the_users_line(call):
    with pytest.raises(ShapeError) as error:
        call()
    _assert_user_line(error)


def test_the_users_line_is_added_once_when_an_error_is_rebuilt():
    error = ShapeError("broken")
    again = ShapeError(str(error))
    assert str(again).count("\n  at ") == 1
