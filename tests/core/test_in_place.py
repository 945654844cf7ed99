"""In-place operators as PyTorch users write them: the hand-written SGD step, w.grad.zero_()."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import GraphError, ShapeError


def test_hand_written_sgd_step_keeps_the_leaf():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(3):
        (w * w).sum().backward()
        with cr.no_grad():
            w -= 0.25 * w.grad
        w.grad.zero_()
    assert w.requires_grad and w.is_leaf
    assert w.tolist() == [0.125, 0.25] and w.grad.tolist() == [0, 0]


def test_a_leaf_that_requires_grad_is_not_changed_in_place_while_recording():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(GraphError, match=r"-= would change a leaf that requires grad in place.*no_grad"):
        w -= 1
    assert w.tolist() == [1, 2]


def test_plain_tensors_change_in_place_and_aliases_see_it():
    x = cr.ones(2, 3)
    alias = x
    x += 1
    x *= 3
    x /= 2
    x -= cr.ones(3)
    assert alias is x and x.tolist() == [[2, 2, 2], [2, 2, 2]] and x.dtype == np.float32


def test_recorded_results_are_replaced_so_gradients_stay_right():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    b += a
    total = cr.zeros(2, dtype="float64")
    total += b  # a plain tensor taking a recorded value becomes a recorded result
    total.sum().backward()
    assert a.grad.tolist() == [3, 3] and total.tolist() == [3, 6]


def test_in_place_keeps_shape_and_dtype():
    with pytest.raises(ShapeError, match=r"\+=: the result has shape \(1, 2\), but in place it must keep"):
        x = cr.ones(2)
        x += cr.ones(1, 2)
    with pytest.raises(TypeError, match=r"\+=: the result is float64, which cannot be stored in place in a "
                                        r"int64 tensor"):
        i = cr.tensor([1, 2])
        i += 0.5
    with pytest.raises(ValueError, match=r"read-only view .* x.clone\(\)"):
        view = cr.ones(3).expand(2, 3)
        view += 1


def test_fill_and_zero():
    x = cr.ones(2, 3)
    assert x.fill_(7).tolist() == [[7] * 3] * 2 and x.zero_().tolist() == [[0] * 3] * 2
    with pytest.raises(TypeError, match=r"fill_\(\) takes a number"):
        x.fill_(np.ones(3))
    with pytest.raises(GraphError, match=r"fill_\(\) on a tensor that is part of a graph"):
        (cr.ones(2, requires_grad=True) * 2).fill_(0)
