"""overfitting: Bishop's curve fitting, by chainrule's Newton step, matching least squares."""

import numpy as np
import pytest

from chainrule.experiments.overfitting import features, least_squares_fit, newton_fit


def test_order_nine_interpolates_but_generalises_worse_than_order_three(quick_run):
    metrics = quick_run("overfitting")[0].metrics
    assert metrics["train_rms"][9] < 1e-6
    assert metrics["test_rms"][9] > metrics["test_rms"][3]
    assert metrics["train_rms"][3] < metrics["train_rms"][1] < metrics["train_rms"][0]


def test_penalty_tames_order_nine(quick_run):
    metrics = quick_run("overfitting")[0].metrics
    assert metrics["penalised_test_rms"][-18.0] < metrics["test_rms"][9] / 2
    assert metrics["penalised_train_rms"][0.0] > metrics["penalised_train_rms"][-18.0]


def test_newton_fit_agrees_with_least_squares_and_with_prml_table(quick_run):
    metrics = quick_run("overfitting")[0].metrics
    assert metrics["max_relative_gap_to_lstsq"] < 1e-8
    # PRML Table 1.1, column M = 3, and the first coefficients of M = 9.
    np.testing.assert_allclose(metrics["coefficients"][3], [0.31, 7.99, -25.43, 17.37], atol=0.006)
    np.testing.assert_allclose(metrics["coefficients"][9][:3], [0.35, 232.37, -5321.83], atol=0.006)


def test_one_newton_step_is_exact_on_a_well_conditioned_quadratic():
    x = np.linspace(0, 1, 10)
    phi, t = features(x, 2), np.sin(x)
    history, hessian = newton_fit(phi, t, lam=0.1, steps=1)
    np.testing.assert_allclose(hessian, phi.T @ phi / len(x) + 0.1 * np.eye(3), rtol=1e-12)
    np.testing.assert_allclose(history[0], least_squares_fit(phi, t, lam=0.1), rtol=1e-10)
    assert history[0] == pytest.approx(np.linalg.solve(hessian, phi.T @ t / len(x)))
