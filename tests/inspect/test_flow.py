"""Gradient flow: the report's numbers, its warnings on deep nets, the callback and the plot."""

import logging
from types import SimpleNamespace

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule import optim
from chainrule.inspect import GradientFlowCallback, gradient_flow, plot_gradient_flow, weights_snapshot
from chainrule.train import fit


def batch(features=16, classes=4, size=64):
    rng = np.random.default_rng(0)
    return rng.normal(size=(size, features)).astype("float32"), rng.integers(0, classes, size)


def backward_once(model, x, y):
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    return model


def kinds(report):
    return {warning.kind for warning in report.warnings}


def test_twenty_layer_sigmoid_mlp_is_flagged_vanishing():
    x, y = batch()
    model = backward_once(nn.MLP([16] + [32] * 19 + [4], activation="sigmoid", seed=0), x, y)
    report = gradient_flow(model)
    assert "vanishing" in kinds(report)
    weights = [row for row in report.rows if len(row["shape"]) == 2]
    assert len(weights) == 20
    assert weights[0]["grad_norm"] / weights[-1]["grad_norm"] < 1e-3
    assert "the early layers barely learn" in str(report)


def test_twenty_layer_relu_mlp_with_he_init_is_not_flagged():
    x, y = batch()
    model = backward_once(nn.MLP([16] + [32] * 19 + [4], activation="relu", init="kaiming_normal",
                                 seed=0), x, y)
    report = gradient_flow(model)
    assert not kinds(report) & {"vanishing", "exploding"}
    weights = [row for row in report.rows if len(row["shape"]) == 2]
    assert weights[0]["grad_norm"] / weights[-1]["grad_norm"] > 1e-2


def test_report_rows_hold_the_norms_of_weights_and_gradients():
    x, y = batch()
    model = backward_once(nn.MLP([16, 8, 4], seed=0), x, y)
    report = gradient_flow(model, lr=0.01)
    assert [row["name"] for row in report.rows] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    row = report.rows[0]
    weight = model[0].weight
    assert row["shape"] == (8, 16)
    assert row["weight_norm"] == pytest.approx(np.linalg.norm(weight.data))
    assert row["grad_norm"] == pytest.approx(np.linalg.norm(weight.grad.data))
    assert row["update_ratio"] == pytest.approx(0.01 * row["grad_norm"] / row["weight_norm"])
    assert report.grad_norms()["2.bias"] == pytest.approx(np.linalg.norm(model[2].bias.grad.data))


def test_update_ratio_from_the_weights_before_the_step():
    x, y = batch()
    model = backward_once(nn.MLP([16, 8, 4], seed=0), x, y)
    before = weights_snapshot(model)
    for p in model.parameters():
        p.data -= 0.5 * p.grad.data
    report = gradient_flow(model, previous=before)
    for row, p in zip(report.rows, model.parameters(), strict=True):
        expected = 0.5 * np.linalg.norm(p.grad.data) / np.linalg.norm(p.data)
        assert row["update_ratio"] == pytest.approx(expected, rel=1e-5)


def test_thresholds_on_hand_made_gradients():
    def report(first, last, previous=None):
        w1 = cr.tensor(np.ones((2, 2)), requires_grad=True)
        w2 = cr.tensor(np.ones((2, 2)), requires_grad=True)
        w1.grad, w2.grad = cr.tensor(np.full((2, 2), first / 2)), cr.tensor(np.full((2, 2), last / 2))
        return gradient_flow({"w1": w1, "w2": w2}, previous=previous)
    assert kinds(report(1e-4, 1.0)) == {"vanishing"}
    assert kinds(report(2e-3, 1.0)) == set()
    assert kinds(report(1.0, 1e-4)) == {"exploding"}
    assert kinds(report(2e3, 1e3 * 1.5)) == {"exploding"}      # a norm above 1e3
    moved = {"w1": np.full((2, 2), 1.5), "w2": np.ones((2, 2))}   # |Δw1| / |w1| = 1 / 2
    assert kinds(report(1.0, 1.0, previous=moved)) == {"large_update"}


def test_dead_relu_units_are_counted_on_a_batch_and_attributed_to_their_layer():
    x, y = batch(features=3, classes=2)
    model = nn.Sequential(nn.Linear(3, 4, generator=0), nn.ReLU(), nn.Linear(4, 2, generator=0))
    model[0].bias.data[:] = [-100.0, -100.0, -100.0, 100.0]   # three of the four units never fire
    backward_once(model, x, y)
    model.train()
    report = gradient_flow(model, inputs=x)
    dead = {row["name"]: row["dead_fraction"] for row in report.rows}
    assert dead == {"0.weight": 0.75, "0.bias": None, "2.weight": None, "2.bias": None}
    assert "dead_relu" in kinds(report) and "75% of the units after 0.weight" in str(report)
    assert model.training


def test_gradient_flow_needs_gradients_and_names():
    with pytest.raises(ValueError, match="backward"):
        gradient_flow(nn.MLP([2, 2], seed=0))
    with pytest.raises(TypeError, match="named_parameters"):
        gradient_flow([cr.tensor([1.0])])


def test_a_parameter_without_gradient_is_reported():
    w = cr.tensor([[1.0]], requires_grad=True)
    unused = cr.tensor([[1.0]], requires_grad=True)
    (w * 2).sum().backward()
    report = gradient_flow({"w": w, "unused": unused})
    assert [(warning.kind, warning.message.split()[0]) for warning in report.warnings] == \
        [("no_gradient", "unused")]


def run_callback(callback, steps, lr=0.1):
    """The training-loop protocol of chainrule.train, driven by hand: SGD steps on a small MLP."""
    x, y = batch(size=32)
    model = nn.MLP([16, 8, 8, 4], activation="sigmoid", seed=0)
    trainer = SimpleNamespace(model=model, optimizer=None)
    callback.on_train_begin(trainer)
    for step in range(1, steps + 1):
        backward_once(model, x, y)
        for p in model.parameters():
            p.data -= lr * p.grad.data
        callback.on_batch_end(trainer, step, {"loss": 0.0})
    callback.on_train_end(trainer)
    return model


def test_callback_reports_every_n_steps_with_exact_update_ratios(tmp_path):
    callback = GradientFlowCallback(every=3, plot=tmp_path / "flow.png")
    model = run_callback(callback, steps=10)
    assert [step for step, _ in callback.history] == [3, 6, 9]
    last = callback.history[-1][1]
    assert last.rows[0]["grad_norm"] is not None
    assert all(row["update_ratio"] is not None for row in last.rows)
    assert (tmp_path / "flow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert model[0].weight.grad is not None


def test_callback_every_step_measures_the_first_update_too():
    callback = GradientFlowCallback(every=1)
    run_callback(callback, steps=2, lr=0.0)
    assert [step for step, _ in callback.history] == [1, 2]
    assert {row["update_ratio"] for _, report in callback.history for row in report.rows} == {0.0}


def test_callback_logs_warnings(caplog):
    callback = GradientFlowCallback(every=1)
    with caplog.at_level(logging.WARNING, logger="chainrule.inspect"):
        run_callback(callback, steps=1, lr=50.0)
    assert any("Large updates" in message for message in caplog.messages)


def test_callback_in_fit_logs_vanishing_gradients_once(caplog):
    x, y = batch(size=64)
    model = nn.MLP([16] + [16] * 9 + [4], activation="sigmoid", seed=0)
    callback = GradientFlowCallback(every=2)
    with caplog.at_level(logging.WARNING, logger="chainrule.inspect"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (x, y), epochs=2,
            batch_size=16, progress=False, callbacks=[callback])
    assert [step for step, _ in callback.history] == [2, 4, 6, 8]
    assert all(kinds(report) == {"vanishing"} for _, report in callback.history)
    assert len(caplog.messages) == 1 and caplog.messages[0].startswith("gradient flow at step 2: Vanishing")


def test_callback_checks_every():
    with pytest.raises(ValueError, match="every must be a positive integer, not 0"):
        GradientFlowCallback(every=0)


def test_plot_draws_gradient_norm_by_layer_and_over_training(tmp_path):
    callback = GradientFlowCallback(every=2)
    run_callback(callback, steps=6)
    figure = plot_gradient_flow(callback.history, tmp_path / "flow.png")
    by_layer, over_steps = figure.axes[:2]
    norms = [[report.grad_norms()[name] for name in ("0.weight", "2.weight", "4.weight")]
             for _, report in callback.history]
    np.testing.assert_allclose([line.get_ydata() for line in by_layer.lines], norms)
    np.testing.assert_allclose([line.get_xdata() for line in over_steps.lines], [[2, 4, 6]] * 3)
    assert [line.get_label() for line in over_steps.lines] == ["0.weight", "2.weight", "4.weight"]
    assert (tmp_path / "flow.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="history is empty"):
        plot_gradient_flow([])
