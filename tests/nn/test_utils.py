"""Gradient clipping by norm and by value."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn.utils import clip_grad_norm_, clip_grad_value_


def parameters_with_grads(*grads):
    parameters = []
    for g in grads:
        p = cr.tensor(np.zeros_like(g, dtype=np.float32), requires_grad=True)
        p.grad = cr.tensor(np.asarray(g, dtype=np.float32))
        parameters.append(p)
    return parameters


def test_clip_grad_norm_scales_all_gradients_together():
    a, b = parameters_with_grads([3.0, 0.0], [[4.0]])
    total = clip_grad_norm_(iter([a, b]), max_norm=1.0)
    assert total.item() == pytest.approx(5.0)
    np.testing.assert_allclose(a.grad.data, [0.6, 0.0], rtol=1e-5)
    np.testing.assert_allclose(b.grad.data, [[0.8]], rtol=1e-5)
    assert a.grad.dtype == np.float32


def test_the_2_norm_of_many_float32_gradients_agrees_with_float64():
    # The 2-norm is a dot product per gradient, summed in another order
    # than np.sum: it agrees to float32 rounding.
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal(100_003), rng.standard_normal((300, 41)), rng.standard_normal((9, 8))[:, ::2]]
    parameters = parameters_with_grads(*grads)
    want = math.sqrt(sum(float(np.sum(np.float32(g).astype(np.float64) ** 2)) for g in grads))
    assert clip_grad_norm_(parameters, max_norm=1.0).item() == pytest.approx(want, rel=1e-6)
    np.testing.assert_allclose(parameters[1].grad.data, np.float32(grads[1]) / (want + 1e-6), rtol=2e-6)


def test_clip_grad_norm_leaves_small_gradients_and_skips_missing_ones():
    a, b = parameters_with_grads([0.3, 0.4], [1.0])
    b.grad = None
    assert clip_grad_norm_([a, b], max_norm=1.0, norm_type=math.inf).item() == pytest.approx(0.4)
    np.testing.assert_array_equal(a.grad.data, np.float32([0.3, 0.4]))


def test_clip_grad_norm_errors():
    (a,) = parameters_with_grads([np.inf, 1.0])
    with pytest.raises(FloatingPointError, match="norm of the gradients is inf"):
        clip_grad_norm_(a, 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="max_norm must be a number >= 0, not -1"):
        clip_grad_norm_(a, -1)
    with pytest.raises(ValueError, match="norm_type must be a number > 0, not 0"):
        clip_grad_norm_(a, 1.0, norm_type=0)


def test_clip_grad_value_clips_each_element():
    (a,) = parameters_with_grads([-3.0, 0.5, 2.0])
    clip_grad_value_(a, 1.0)
    np.testing.assert_array_equal(a.grad.data, [-1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="clip_value must be a number >= 0"):
        clip_grad_value_(a, float("nan"))
