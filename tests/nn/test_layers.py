"""Layers, activations and the MLP without PyTorch: values, modes, statistics, bad input."""

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.errors import ShapeError
from chainrule.ops import erf
from chainrule.testing import check_grads


def test_linear_computes_x_weight_transposed_plus_bias():
    layer = nn.Linear(3, 2, generator=0)
    layer.weight.data[...] = [[1, 2, 3], [0, -1, 0]]
    layer.bias.data[...] = [0.5, 1]
    np.testing.assert_array_equal(layer(np.array([[1.0, 1.0, 1.0]])).data, [[6.5, 0.0]])


def test_linear_converts_inputs_to_its_dtype():
    layer = nn.Linear(2, 2)
    x = cr.tensor(np.ones((1, 2)), requires_grad=True)
    y = layer(x)
    y.sum().backward()
    assert y.dtype == np.float32 and layer.weight.grad.dtype == np.float32
    assert layer(np.array([[1, 0]])).dtype == np.float32


def test_linear_with_a_wrong_width_names_the_layer_and_both_shapes():
    with pytest.raises(ShapeError, match=r"Linear\(64 -> 128\): expected an input of shape \(\.\.\., 64\), "
                                         r"got \(32, 50\)"):
        nn.Linear(64, 128)(np.zeros((32, 50)))


def test_linear_without_bias_and_with_named_init():
    layer = nn.Linear(500, 400, bias=False, init="kaiming_normal", generator=1)
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    assert layer.weight.data.std() == pytest.approx(math.sqrt(2 / 500), rel=0.01)
    with_bias = nn.Linear(4, 3, init="xavier_uniform")
    np.testing.assert_array_equal(with_bias.bias.data, np.zeros(3))


@pytest.mark.parametrize("argument", [0, -3, 2.5, True])
def test_layer_sizes_must_be_positive_ints(argument):
    with pytest.raises(ValueError, match="in_features must be a positive int"):
        nn.Linear(argument, 3)


def test_embedding_looks_up_rows_and_checks_indices():
    table = nn.Embedding(4, 2, generator=0)
    np.testing.assert_array_equal(table(np.array([[3, 0]])).data, table.weight.data[[[3, 0]]])
    with pytest.raises(IndexError, match=r"Embedding\(4, 2\): indices must lie in \[0, 4\)"):
        table(np.array([1, 4]))
    with pytest.raises(TypeError, match="integers"):
        table(np.array([0.0]))


def test_dropout_keeps_the_expected_value_and_is_the_identity_in_eval():
    p, n = 0.3, 200_000
    layer = nn.Dropout(p, generator=0)
    y = layer(np.ones(n, dtype=np.float32)).data
    assert set(np.unique(y)) == {0.0, np.float32(1 / (1 - p))}
    # The mean of n independent draws, each 0 or 1/(1-p), has standard error √(p/(1-p)/n) ≈ 0.0015.
    assert abs(y.mean() - 1) < 4 * math.sqrt(p / (1 - p) / n)
    assert abs((y == 0).mean() - p) < 4 * math.sqrt(p * (1 - p) / n)
    x = cr.ones(5)
    assert layer.eval()(x) is x


def test_dropout_masks_are_reproducible_and_differ_between_calls():
    first, second = nn.Dropout(0.5, generator=7), nn.Dropout(0.5, generator=7)
    x = np.ones(64, dtype=np.float32)
    a, b = first(x).data, second(x).data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, first(x).data)


def test_dropout_gradient_is_the_mask():
    x = cr.tensor(np.ones(1000, dtype=np.float32), requires_grad=True)
    y = F.dropout(x, 0.25, generator=3)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)


@pytest.mark.parametrize("p", [-0.1, 1.5, "half"])
def test_dropout_probability_is_checked(p):
    with pytest.raises(ValueError, match="p must be a probability in"):
        nn.Dropout(p)


def test_batch_norm_updates_running_statistics_and_uses_them_in_eval():
    rng = np.random.default_rng(0)
    layer = nn.BatchNorm1d(3, momentum=0.1)
    batch = (rng.normal(size=(16, 3)) * [1, 2, 3] + [0, 5, -1]).astype(np.float32)
    y = layer(batch).data
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(y.var(axis=0), 1, atol=1e-3)
    np.testing.assert_allclose(layer.running_mean.data, 0.1 * batch.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(layer.running_var.data, 0.9 + 0.1 * batch.var(axis=0, ddof=1), rtol=1e-6)
    assert layer.num_batches_tracked.item() == 1
    layer.eval()
    x = rng.normal(size=(4, 3)).astype(np.float32)
    expected = (x - layer.running_mean.data) / np.sqrt(layer.running_var.data + 1e-5)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-5)
    np.testing.assert_allclose(layer(x[:1]).data, expected[:1], rtol=1e-5)
    assert layer.num_batches_tracked.item() == 1


def test_batch_norm_errors():
    with pytest.raises(ShapeError, match=r"BatchNorm1d\(3\): expected an input of shape \(N, 3\)"):
        nn.BatchNorm1d(3)(np.zeros((4, 2)))
    with pytest.raises(ShapeError, match="more than one value per feature"):
        nn.BatchNorm1d(3)(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="momentum must be a number in"):
        nn.BatchNorm1d(3, momentum=2)


def test_layer_norm_normalises_each_example():
    x = np.array([[1.0, 2.0, 3.0, 6.0], [-1.0, -1.0, 1.0, 1.0]], dtype=np.float32)
    y = nn.LayerNorm(4)(x).data
    centered = x - x.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(y, centered / np.sqrt(x.var(axis=1, keepdims=True) + 1e-5), rtol=1e-5)
    with pytest.raises(ShapeError, match=r"does not end in normalized_shape \(3,\)"):
        nn.LayerNorm(3)(x)


def test_residual_adds_its_input_and_checks_shapes():
    inner = nn.Linear(3, 3, generator=0)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(nn.Residual(inner)(x).data, x + inner(x).data)
    with pytest.raises(ShapeError, match=r"Residual: the wrapped Linear maps shape \(2, 3\) to \(2, 4\)"):
        nn.Residual(nn.Linear(3, 4))(x)


def test_step_is_the_heaviside_function_with_zero_gradients():
    w = cr.tensor([[1.0, -2.0]], requires_grad=True)
    x = np.array([[1.0, 0.5], [1.0, 0.0], [-1.0, 2.0]])
    y = nn.Step()(x @ w.T)
    np.testing.assert_array_equal(y.data, [[0.0], [1.0], [0.0]])
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [[0.0, 0.0]])


def test_leaky_relu_and_gelu_values():
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(F.leaky_relu(x, 0.1).data, [-0.2, 0.0, 3.0])
    phi = 0.5 * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x]))
    np.testing.assert_allclose(F.gelu(x).data, x * phi, rtol=1e-12)
    np.testing.assert_allclose(F.gelu(x, approximate="tanh").data, x * phi, atol=1e-3)
    with pytest.raises(ValueError, match="gelu: approximate must be one of 'none', 'tanh', not 'erf'"):
        F.gelu(x, approximate="erf")


def test_softplus_gradient_is_the_sigmoid_even_at_zero():
    x = cr.tensor([-800.0, -1.0, 0.0, 2.0, 800.0], requires_grad=True)
    y = F.softplus(x)
    y.sum().backward()
    np.testing.assert_allclose(y.data, np.logaddexp(0, x.data))
    np.testing.assert_allclose(x.grad.data, cr.sigmoid(x).data)


@pytest.mark.parametrize("function", [erf, F.gelu, lambda x: F.gelu(x, approximate="tanh")])
def test_erf_and_gelu_rules_match_finite_differences_to_second_order(function):
    check_grads(function, (np.array([-1.3, -0.2, 0.4, 1.1]),), order=2)


def test_activation_lookup_by_name_and_its_error():
    assert isinstance(nn.get_activation("ReLU"), nn.ReLU)
    assert nn.get_activation("leaky_relu", negative_slope=0.3).negative_slope == 0.3
    assert isinstance(nn.get_activation(nn.Tanh), nn.Tanh)
    sigmoid = nn.Sigmoid()
    assert nn.get_activation(sigmoid) is sigmoid
    with pytest.raises(ValueError) as error:
        nn.get_activation("swish")
    assert str(error.value) == ("unknown activation 'swish'; known: gelu, identity, leaky_relu, "
                                "log_softmax, relu, sigmoid, softmax, step, tanh")
    with pytest.raises(TypeError, match="must be a name, a Module or a Module class"):
        nn.get_activation(3)


def test_mlp_layout_with_norm_dropout_and_residual_blocks():
    model = nn.MLP([4, 8, 8, 2], activation="gelu", norm="layer", dropout=0.2, residual=True,
                   output="log_softmax")
    assert [type(m).__name__ for m in model] == ["Linear", "LayerNorm", "GELU", "Dropout", "Residual",
                                                 "Linear", "LogSoftmax"]
    assert [type(m).__name__ for m in model[4].module] == ["Linear", "LayerNorm", "GELU", "Dropout"]
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    model.eval()
    hidden = model[:4](x)
    np.testing.assert_allclose(model[4](hidden).data, hidden.data + model[4].module(hidden).data, rtol=1e-6)
    np.testing.assert_allclose(np.exp(model(x).data).sum(axis=1), 1, rtol=1e-6)


def test_mlp_is_reproducible_from_its_seed():
    a, b, c = nn.MLP([3, 5, 2], seed=4), nn.MLP([3, 5, 2], seed=4), nn.MLP([3, 5, 2], seed=5)
    for name, value in a.state_dict().items():
        np.testing.assert_array_equal(value, b.state_dict()[name])
    assert not np.array_equal(a[0].weight.data, c[0].weight.data)


def test_mlp_named_init_takes_the_gain_of_the_following_activation():
    model = nn.MLP([1000, 1000, 1000], activation="tanh", init="xavier_normal", seed=0)
    assert model[0].weight.data.std() == pytest.approx(5 / 3 * math.sqrt(2 / 2000), rel=0.01)
    assert model[2].weight.data.std() == pytest.approx(math.sqrt(2 / 2000), rel=0.01)
    leaky = nn.MLP([1000, 1000, 10], activation=nn.LeakyReLU(0.5), init="kaiming_uniform", seed=0)
    assert leaky[0].weight.data.std() == pytest.approx(math.sqrt(2 / 1.25 / 1000), rel=0.01)


@pytest.mark.parametrize("settings,message", [
    ({"sizes": [3]}, "sizes must be a list of at least two widths"),
    ({"sizes": [3, 0, 2]}, r"MLP: sizes\[1\] must be a positive integer, not 0"),
    ({"activation": "relux"}, "unknown activation 'relux'"),
    ({"output": "softmaxx"}, "unknown activation 'softmaxx'"),
    ({"dropout": 1.0}, r"dropout must be a probability in \[0, 1\), not 1.0"),
    ({"norm": "group"}, "norm must be one of None, 'batch', 'layer', not 'group'"),
    ({"residual": "yes"}, "residual must be True or False"),
    ({"init": "he"}, "unknown init 'he'; known: xavier_uniform"),
    ({"seed": -1}, "seed must be a numpy.random.Generator, a non-negative int seed or None"),
])
def test_mlp_validates_every_argument(settings, message):
    arguments = {"sizes": [3, 4, 2], **settings}
    with pytest.raises((ValueError, TypeError), match=message):
        nn.MLP(**arguments)
