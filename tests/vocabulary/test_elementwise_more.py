"""NumPy's other elementwise functions: values against NumPy, gradients against PyTorch, the NaN and
bound conventions."""

import numpy as np
import pytest

import chainrule as cr

X = np.array([0.3, -0.7, 0.9, -0.2, 0.55])
Y = np.array([1.2, 0.4, -0.8, 2.0, -1.5])

UNARY = ["tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arctanh", "sinc", "exp2",
         "cbrt", "square", "reciprocal", "deg2rad", "rad2deg", "radians", "degrees", "floor", "ceil",
         "trunc", "round", "real", "conj", "imag", "nan_to_num"]
BINARY = ["arctan2", "hypot", "logaddexp", "logaddexp2", "fmax", "fmin", "mod", "remainder", "fmod",
          "floor_divide"]
POSITIVE = ["log2", "log10", "arccosh"]


@pytest.mark.parametrize("name", UNARY + POSITIVE)
def test_unary_values_match_numpy(name):
    x = X + 2 if name in POSITIVE else X
    np.testing.assert_allclose(getattr(cr, name)(cr.tensor(x)).data, getattr(np, name)(x), rtol=1e-12)


@pytest.mark.parametrize("name", BINARY)
def test_binary_values_match_numpy(name):
    np.testing.assert_allclose(getattr(cr, name)(cr.tensor(X), cr.tensor(Y)).data,
                               getattr(np, name)(X, Y), rtol=1e-12)


TORCH_UNARY = {"tan": "tan", "arcsin": "asin", "arccos": "acos", "arctan": "atan", "sinh": "sinh",
               "cosh": "cosh", "arcsinh": "asinh", "arctanh": "atanh", "sinc": "sinc", "exp2": "exp2",
               "erfc": "erfc", "square": "square", "reciprocal": "reciprocal", "deg2rad": "deg2rad",
               "rad2deg": "rad2deg", "floor": "floor", "round": "round", "log2": "log2", "log10": "log10",
               "arccosh": "acosh"}
TORCH_BINARY = {"arctan2": "atan2", "hypot": "hypot", "logaddexp": "logaddexp", "logaddexp2": "logaddexp2",
                "fmax": "fmax", "fmin": "fmin", "remainder": "remainder", "fmod": "fmod"}


def _torch_grads(torch, function, *arrays):
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    function(*tensors).sum().backward()
    return [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("name", sorted(TORCH_UNARY))
def test_unary_gradients_match_pytorch(name):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    x = X + 2 if name in POSITIVE else X
    expected, = _torch_grads(torch, getattr(torch, TORCH_UNARY[name]), x)
    np.testing.assert_allclose(cr.grad(lambda x: getattr(cr, name)(x).sum())(x).data, expected, rtol=1e-10)


@pytest.mark.parametrize("name", sorted(TORCH_BINARY))
def test_binary_gradients_match_pytorch(name):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    expected = _torch_grads(torch, getattr(torch, TORCH_BINARY[name]), X, Y)
    actual = cr.grad(lambda x, y: getattr(cr, name)(x, y).sum(), argnums=(0, 1))(X, Y)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a.data, e, rtol=1e-10, atol=1e-14)


def test_clip_with_tensor_bounds_matches_torch_clamp():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    low, high = np.array([-0.5, 0.0, 0.0, -1.0, 0.6]), np.array([0.5, 1.0, 0.8, 1.0, 0.7])
    expected = _torch_grads(torch, torch.clamp, X, low, high)
    actual = cr.grad(lambda x, lo, hi: cr.clip(x, lo, hi).sum(), argnums=(0, 1, 2))(X, low, high)
    np.testing.assert_allclose(cr.clip(X, cr.tensor(low), high).data, np.clip(X, low, high))
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a.data, e)


def test_fmax_and_fmin_ignore_nans_in_value_and_gradient():
    x, y = np.array([np.nan, 1.0, 2.0]), np.array([3.0, np.nan, 2.0])
    gx, gy = cr.grad(lambda x, y: cr.fmax(x, y).sum(), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(cr.fmax(x, y).data, [3.0, 1.0, 2.0])
    np.testing.assert_array_equal(gx.data, [0.0, 1.0, 0.5])
    np.testing.assert_array_equal(gy.data, [1.0, 0.0, 0.5])


def test_complex_inputs_are_refused_by_name():
    with pytest.raises(TypeError, match="real: chainrule does not differentiate complex"):
        cr.real(np.array([1 + 2j]))
