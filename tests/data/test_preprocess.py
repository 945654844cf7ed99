"""Standardizer."""

import numpy as np
import pytest

from chainrule.data import Standardizer
from chainrule.errors import DataError


def test_transform_gives_zero_mean_unit_std_per_feature():
    rng = np.random.default_rng(0)
    x = rng.normal([1.0, -5.0, 100.0], [0.1, 2.0, 30.0], size=(500, 3)).astype(np.float32)
    z = Standardizer().fit_transform(x)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=1e-5)


def test_statistics_come_from_the_fitted_data_only():
    train = np.array([[0.0], [2.0]])
    standardizer = Standardizer().fit(train)
    np.testing.assert_array_equal(standardizer.mean, [1.0])
    np.testing.assert_array_equal(standardizer.std, [1.0])
    np.testing.assert_array_equal(standardizer.transform(np.array([[5.0], [-1.0]])), [[4.0], [-2.0]])


def test_constant_feature_is_only_centred():
    x = np.array([[0.1, 1.0], [0.1, 3.0], [0.1, 5.0]])
    standardizer = Standardizer().fit(x)
    assert standardizer.std[0] == 1.0
    z = standardizer.transform(x)
    assert np.all(np.isfinite(z))
    np.testing.assert_allclose(z[:, 0], 0.0, atol=1e-15)


def test_inverse_transform_undoes_transform():
    x = np.random.default_rng(1).uniform(0, 255, size=(20, 4, 4))
    standardizer = Standardizer().fit(x)
    np.testing.assert_allclose(standardizer.inverse_transform(standardizer.transform(x)), x, rtol=1e-12)


def test_integer_input_becomes_float64():
    assert Standardizer().fit_transform(np.arange(6).reshape(3, 2)).dtype == np.float64


def test_state_dict_round_trip():
    x = np.random.default_rng(2).normal(size=(30, 5))
    fitted = Standardizer().fit(x)
    state = fitted.state_dict()
    assert set(state) == {"mean", "std"} and all(isinstance(v, np.ndarray) for v in state.values())
    restored = Standardizer()
    restored.load_state_dict(state)
    np.testing.assert_array_equal(restored.transform(x), fitted.transform(x))


def test_errors_name_the_problem():
    with pytest.raises(DataError, match="not fitted"):
        Standardizer().transform(np.zeros((2, 2)))
    with pytest.raises(DataError, match=r"features of shape \(3,\), got array of shape \(2, 4\)"):
        Standardizer().fit(np.zeros((5, 3))).transform(np.zeros((2, 4)))
    with pytest.raises(DataError, match="at least one row"):
        Standardizer().fit(np.zeros((0, 3)))
    with pytest.raises(DataError, match=r"lacks \['std'\]"):
        Standardizer().load_state_dict({"mean": np.zeros(3)})
