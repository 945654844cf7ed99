"""convolution: the CNN beats an MLP of the same size on MNIST-1D until the positions are shuffled."""

import numpy as np

from chainrule.experiments.convolution import MLP_SIZES, build, flops


def test_the_cnns_edge_comes_from_locality(quick_run):
    result, text, _ = quick_run("convolution")
    metrics = result.metrics
    accuracy = metrics["accuracy"]
    assert metrics["cnn_advantage"]["original"] > 0.1
    assert accuracy["CNN original"] - accuracy["CNN shuffled"] > 0.1
    assert metrics["cnn_advantage"]["shuffled"] < metrics["cnn_advantage"]["original"] / 2
    assert metrics["mlp_shuffle_gap"] < 0.03
    parameters = metrics["parameters"]
    assert abs(parameters["CNN"] - parameters["MLP"]) < 0.05 * parameters["CNN"]
    # The report reads its own table.
    assert f"{accuracy['CNN original']:.1%}" in text and f"{accuracy['MLP shuffled']:.1%}" in text


def test_flops_count_every_multiply_add_twice():
    cnn = build("CNN", seed=0)
    # conv lengths 40 -> 19 -> 10 -> 5; 25 channels; linear 125 -> 10.
    expected = 2 * (1 * 5 * 25 * 19 + 25 * 3 * 25 * 10 + 25 * 3 * 25 * 5 + 125 * 10)
    assert flops(cnn, (1, 40)) == expected
    assert flops(build("MLP", seed=0), (40,)) == 2 * sum(a * b for a, b in zip(MLP_SIZES, MLP_SIZES[1:]))


def test_the_shuffled_mlp_computes_the_same_function():
    permutation = np.random.default_rng(0).permutation(40)
    x = np.random.default_rng(1).standard_normal((3, 40)).astype(np.float32)
    plain, shuffled = build("MLP", 0), build("MLP", 0, permutation)
    np.testing.assert_allclose(plain(x).data, shuffled(x[:, permutation]).data, rtol=1e-5, atol=1e-6)
