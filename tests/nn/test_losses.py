"""Losses without PyTorch: gradients by formula, reductions, smoothing, ignored labels, bad input."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.errors import ShapeError

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(8, 5)) * 2
LABELS = RNG.integers(0, 5, size=8)


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    z = cr.tensor(LOGITS, requires_grad=True)
    F.cross_entropy(z, LABELS).backward()
    np.testing.assert_allclose(z.grad.data, (softmax(LOGITS) - np.eye(5)[LABELS]) / 8, rtol=1e-12, atol=1e-15)


def test_cross_entropy_value_and_stability_for_huge_logits():
    z = cr.tensor([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]], requires_grad=True)
    loss = F.cross_entropy(z, np.array([0, 2]), reduction="none")
    np.testing.assert_allclose(loss.data, [0.0, np.log(3)], atol=1e-12)
    loss.sum().backward()
    assert np.all(np.isfinite(z.grad.data))


def test_label_smoothing_is_cross_entropy_against_the_smoothed_distribution():
    eps = 0.1
    smoothed = (1 - eps) * np.eye(5)[LABELS] + eps / 5
    z = cr.tensor(LOGITS, requires_grad=True)
    loss = F.cross_entropy(z, LABELS, label_smoothing=eps)
    loss.backward()
    expected = -(smoothed * np.log(softmax(LOGITS))).sum(axis=1).mean()
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(z.grad.data, (softmax(LOGITS) - smoothed) / 8, rtol=1e-10, atol=1e-15)


def test_ignored_labels_contribute_nothing_and_are_not_counted():
    labels = LABELS.copy()
    labels[[1, 4]] = -1
    z = cr.tensor(LOGITS, requires_grad=True)
    loss = F.cross_entropy(z, labels, ignore_index=-1)
    loss.backward()
    kept = np.array([i for i in range(8) if i not in (1, 4)])
    reference = F.cross_entropy(LOGITS[kept], labels[kept]).item()
    assert loss.item() == pytest.approx(reference, rel=1e-12)
    np.testing.assert_array_equal(z.grad.data[[1, 4]], 0)


def test_class_weights_weight_each_example_and_the_mean():
    weight = np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    per_example = F.cross_entropy(LOGITS, LABELS, reduction="none").data
    weighted = F.cross_entropy(LOGITS, LABELS, weight=weight)
    w = weight[LABELS]
    assert weighted.item() == pytest.approx((w * per_example).sum() / w.sum(), rel=1e-12)


def test_probability_targets_that_do_not_sum_to_one_after_weighting_get_the_right_gradient():
    target = softmax(RNG.normal(size=(8, 5)))
    weight = np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    z = cr.tensor(LOGITS, requires_grad=True)
    F.cross_entropy(z, target, weight=weight, reduction="sum").backward()
    q = target * weight
    np.testing.assert_allclose(z.grad.data, q.sum(axis=1, keepdims=True) * softmax(LOGITS) - q, rtol=1e-10)


def test_nll_of_log_softmax_equals_cross_entropy():
    for reduction in ("mean", "sum", "none"):
        np.testing.assert_allclose(F.nll_loss(F.log_softmax(LOGITS), LABELS, reduction=reduction).data,
                                   F.cross_entropy(LOGITS, LABELS, reduction=reduction).data, rtol=1e-12)


def test_regression_losses_and_their_reductions():
    prediction = cr.tensor([[1.0], [2.0], [4.0]], requires_grad=True)
    target = np.array([[0.0], [2.0], [1.0]])
    loss = F.mse_loss(prediction, target)
    assert loss.item() == pytest.approx(10 / 3)
    loss.backward()
    np.testing.assert_allclose(prediction.grad.data, [[2 / 3], [0.0], [2.0]])
    assert F.mse_loss(prediction, target, reduction="sum").item() == 10.0
    np.testing.assert_array_equal(F.l1_loss(prediction, target, reduction="none").data, [[1.0], [0.0], [3.0]])


def test_float64_targets_keep_a_float32_model_in_float32():
    model = nn.Linear(2, 1)
    loss = F.mse_loss(model(np.ones((4, 2))), np.zeros((4, 1)))
    loss.backward()
    assert loss.dtype == np.float32 and model.weight.grad.dtype == np.float32


def test_broadcasting_predictions_against_targets_is_refused():
    message = r"mse_loss: input of shape \(3, 1\) and target of shape \(3,\) differ"
    with pytest.raises(ShapeError, match=message):
        F.mse_loss(np.zeros((3, 1)), np.zeros(3))


def test_binary_cross_entropy_with_logits_is_stable_and_exact():
    x = cr.tensor([-1000.0, -2.0, 0.0, 3.0, 1000.0], requires_grad=True)
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p = 1 / (1 + np.exp(-x.data[1:4]))
    expected = -(y[1:4] * np.log(p) + (1 - y[1:4]) * np.log(1 - p))
    np.testing.assert_allclose(loss.data, [1000.0, *expected, 1000.0], rtol=1e-12)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.data, cr.sigmoid(x).data - y, atol=1e-15)


def test_hinge_loss_by_hand():
    scores = cr.tensor([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]], requires_grad=True)
    labels = np.array([0, 1, 2])  # the CS231n example: losses 2.9, 0 and 12.9
    loss = F.hinge_loss(scores, labels, reduction="none")
    np.testing.assert_allclose(loss.data, [2.9, 0.0, 12.9], rtol=1e-12)
    loss.sum().backward()
    np.testing.assert_array_equal(scores.grad.data, [[-1, 1, 0], [0, 0, 0], [1, 1, -2]])


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss, F.hinge_loss])
def test_labels_out_of_range_are_named(loss):
    with pytest.raises(ValueError, match=r"target labels must lie in \[0, 5\).*found \[5, 7\]"):
        loss(LOGITS, np.array([0, 5, 7, 1, 1, 2, 3, 4]))


def test_bad_reduction_lists_the_choices():
    message = "reduction must be one of 'mean', 'sum', 'none', not 'average'"
    with pytest.raises(ValueError, match=message):
        F.cross_entropy(LOGITS, LABELS, reduction="average")
    with pytest.raises(ValueError, match=message):
        nn.MSELoss(reduction="average")


def test_other_bad_loss_arguments():
    with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0, 1\], not 1.5"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ShapeError, match=r"weight must have one entry per class, shape \(5,\), not \(4,\)"):
        F.cross_entropy(LOGITS, LABELS, weight=np.ones(4))
    with pytest.raises(TypeError, match="nll_loss: target must be integer class labels, not float64"):
        F.nll_loss(LOGITS, LABELS.astype(float))


def test_loss_modules_call_their_functions_with_their_settings():
    loss = nn.CrossEntropyLoss(ignore_index=2, reduction="sum")
    expected = F.cross_entropy(LOGITS, LABELS, ignore_index=2, reduction="sum")
    assert loss(LOGITS, LABELS).item() == expected.item()
    loss.reduction = "none"
    assert loss(LOGITS, LABELS).shape == (8,)
    assert nn.HingeLoss(margin=2.0)(LOGITS, LABELS).item() == F.hinge_loss(LOGITS, LABELS, 2.0).item()
    assert repr(nn.MSELoss()) == "MSELoss(reduction='mean')"
