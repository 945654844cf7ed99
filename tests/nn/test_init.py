"""Initialisers: the variances of Glorot and He, gains, reproducibility, bad input."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import init
from chainrule.nn.rng import manual_seed

FAN_OUT, FAN_IN = 300, 500


def weight():
    return cr.zeros(FAN_OUT, FAN_IN)


@pytest.mark.parametrize("fill,std", [
    (lambda w: init.xavier_uniform_(w, generator=0), math.sqrt(2 / (FAN_IN + FAN_OUT))),
    (lambda w: init.xavier_normal_(w, gain=2.0, generator=0), 2 * math.sqrt(2 / (FAN_IN + FAN_OUT))),
    (lambda w: init.kaiming_uniform_(w, nonlinearity="relu", generator=0), math.sqrt(2 / FAN_IN)),
    (lambda w: init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu", generator=0),
     math.sqrt(2 / FAN_OUT)),
    (lambda w: init.kaiming_normal_(w, a=0.2, generator=0), math.sqrt(2 / 1.04 / FAN_IN)),
    (lambda w: init.normal_(w, 1.0, 0.5, generator=0), 0.5),
    (lambda w: init.uniform_(w, -3, 3, generator=0), math.sqrt(3)),
])
def test_initialisers_have_the_documented_standard_deviation(fill, std):
    w = weight()
    assert fill(w) is w
    # 150,000 draws: the sample std is within 1% of the true one by a wide margin.
    assert w.data.std() == pytest.approx(std, rel=0.01)
    assert w.dtype == np.float32


def test_uniform_bounds_hold():
    w = init.xavier_uniform_(weight(), generator=1)
    bound = math.sqrt(6 / (FAN_IN + FAN_OUT))
    assert -bound <= w.data.min() < -0.99 * bound and 0.99 * bound < w.data.max() <= bound


def test_same_seed_same_values():
    a = init.kaiming_normal_(weight(), generator=42).data
    b = init.kaiming_normal_(weight(), generator=np.random.default_rng(42)).data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, init.kaiming_normal_(weight(), generator=43).data)


def test_the_shared_default_generator_is_reset_by_manual_seed():
    manual_seed(3)
    a = init.normal_(weight()).data.copy()
    manual_seed(3)
    np.testing.assert_array_equal(init.normal_(weight()).data, a)


def test_constant_fills_and_numpy_arrays():
    np.testing.assert_array_equal(init.ones_(cr.zeros(2, 2)).data, np.ones((2, 2)))
    np.testing.assert_array_equal(init.zeros_(np.ones(3)), np.zeros(3))


def test_calculate_gain_table():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unknown nonlinearity 'swish'; known: leaky_relu, linear, relu"):
        init.calculate_gain("swish")


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(3,\)"):
        init.xavier_uniform_(cr.zeros(3))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', not 'fan_avg'"):
        init.kaiming_uniform_(weight(), mode="fan_avg")
    with pytest.raises(ValueError, match="std must be >= 0"):
        init.normal_(weight(), std=-1)
    with pytest.raises(TypeError, match="generator must be a numpy.random.Generator"):
        init.normal_(weight(), generator="seed")
    with pytest.raises(ValueError, match="unknown init 'glorot'"):
        init.get_initializer("glorot")
