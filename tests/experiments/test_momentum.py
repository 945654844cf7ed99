"""momentum: SGD, momentum, Nesterov and Adam on an ill-conditioned quadratic and on MNIST-1D."""

import numpy as np

from chainrule.experiments.momentum import descend, quadratic, steps_to_threshold


def test_momentum_reaches_the_threshold_in_fewer_steps_than_sgd(quick_run):
    steps = quick_run("momentum")[0].metrics["steps_to_threshold"]
    assert steps["momentum"] is not None and steps["Nesterov"] is not None
    assert steps["SGD"] is None or steps["SGD"] > 2 * steps["momentum"]
    assert steps["Nesterov"] <= steps["momentum"]


def test_momentum_trains_the_mlp_faster_at_the_same_rate(quick_run):
    losses = quick_run("momentum")[0].metrics["mlp_final_loss"]
    assert losses["momentum"] < losses["SGD"] and losses["Nesterov"] < losses["SGD"]


def test_sgd_on_the_quadratic_follows_the_closed_form():
    # Plain SGD is w ← (I − lr A) w, so after k steps w = (I − lr A)^k w0.
    hessian, start = quadratic()
    losses, path = descend("SGD", 0.01, hessian, start, steps=30)
    expected = np.linalg.matrix_power(np.eye(2) - 0.01 * hessian, 30) @ start
    np.testing.assert_allclose(path[-1], expected, rtol=1e-10)
    assert steps_to_threshold(losses) is None and losses[-1] < losses[0]
