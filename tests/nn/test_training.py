"""Learning: a two-layer MLP learns XOR by gradient descent, a single-layer perceptron cannot."""

import numpy as np

import chainrule.nn as nn
import chainrule.nn.functional as F

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([0, 1, 1, 0])


def train(model, steps=300, lr=0.5):
    """Full-batch gradient descent on the cross-entropy; returns the final accuracy."""
    for _ in range(steps):
        model.zero_grad()
        F.cross_entropy(model(X), Y).backward()
        for parameter in model.parameters():
            parameter.data -= lr * parameter.grad.data
    return float((model(X).data.argmax(axis=1) == Y).mean())


def test_two_layer_mlp_learns_xor():
    assert train(nn.MLP([2, 8, 2], activation="tanh", seed=0)) == 1.0


def test_single_layer_perceptron_cannot_learn_xor():
    # No line separates XOR's classes, so a linear classifier gets at most 3 of the 4 points right.
    for seed in range(3):
        assert train(nn.MLP([2, 2], seed=seed)) <= 0.75


def test_step_units_get_no_gradient_so_backprop_cannot_train_them():
    model = nn.MLP([2, 8, 2], activation="step", seed=0)
    before = model.state_dict()
    F.cross_entropy(model(X), Y).backward()
    np.testing.assert_array_equal(model[0].weight.grad.data, np.zeros((8, 2)))
    assert np.any(model[2].weight.grad.data != 0)
    train(model, steps=20)
    np.testing.assert_array_equal(model[0].weight.data, before["0.weight"])
