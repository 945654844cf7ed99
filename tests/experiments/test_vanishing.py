"""vanishing: per-layer gradient norms of 20-layer MLPs at initialisation and after training."""

import numpy as np


def test_sigmoid_gradients_vanish_towards_the_first_layer(quick_run):
    metrics = quick_run("vanishing")[0].metrics
    norms = metrics["init_norms"]["sigmoid, Xavier"]
    assert len(norms) == 20
    assert metrics["init_ratio"]["sigmoid, Xavier"] < 1e-6
    assert np.all(np.diff(np.log(norms)) > 0)  # each layer closer to the output gets a larger gradient


def test_he_initialisation_keeps_layers_within_a_factor_of_ten(quick_run):
    metrics = quick_run("vanishing")[0].metrics
    assert 0.1 < metrics["init_ratio"]["ReLU, He"] < 10
    norms = metrics["init_norms"]["ReLU, He"]
    assert max(norms) / min(norms) < 10


def test_naive_initialisation_leaves_every_layer_without_gradient(quick_run):
    metrics = quick_run("vanishing")[0].metrics
    assert max(metrics["init_norms"]["ReLU, naive N(0, 0.01²)"]) < 1e-15


def test_only_the_flowing_networks_learn(quick_run):
    metrics = quick_run("vanishing")[0].metrics
    for config in ("sigmoid, Xavier", "ReLU, naive N(0, 0.01²)"):
        assert abs(metrics["final_loss"][config] - np.log(10)) < 0.02, config  # still guessing uniformly
        assert metrics["test_accuracy"][config] < 0.15, config
    for config in ("tanh, Xavier", "ReLU, He", "residual ReLU"):
        assert metrics["final_loss"][config] < 0.8 * metrics["first_epoch_loss"][config], config
