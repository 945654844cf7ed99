"""Tensor methods for the NumPy vocabulary, as NumPy and PyTorch users call them."""

import numpy as np

import chainrule as cr

X = np.array([[1.0, -2.0, 0.5], [3.0, 4.0, -1.5]])


def test_methods_match_numpy():
    t = cr.tensor(X)
    for name, args in [("prod", ()), ("std", ()), ("cumsum", (1,)), ("cumprod", (0,)),
                       ("diagonal", ()), ("trace", ()), ("ravel", ()), ("round", ()), ("conj", ())]:
        np.testing.assert_allclose(getattr(t, name)(*args).data, getattr(X, name)(*args), err_msg=name)
    np.testing.assert_allclose(t.norm().data, np.linalg.norm(X))
    np.testing.assert_allclose(t.ptp(axis=1).data, np.ptp(X, axis=1))
    np.testing.assert_allclose(t.dot(t.T).data, X.dot(X.T))
    np.testing.assert_array_equal(t.tril().data, np.tril(X))
    np.testing.assert_array_equal(t.flip(1).data, np.flip(X, 1))
    np.testing.assert_array_equal(t.roll(1, 1).data, np.roll(X, 1, 1))
    for name in ["square", "reciprocal", "tan", "sinh", "cosh", "floor", "ceil", "trunc"]:
        np.testing.assert_allclose(getattr(t, name)().data, getattr(np, name)(X), err_msg=name)
    np.testing.assert_array_equal(t.real.data, X)
    np.testing.assert_array_equal(t.imag.data, np.zeros_like(X))


def test_methods_take_pytorch_keywords_and_differentiate():
    t = cr.tensor(X, requires_grad=True)
    (t.prod(dim=1).sum() + t.cumsum(dim=0).sum() + t.std(dim=0, keepdim=True).sum()).backward()
    expected = np.prod(X, axis=1, keepdims=True) / X + np.array([[2.0], [1.0]])
    expected += (X - X.mean(0)) / X.std(0) / 2
    np.testing.assert_allclose(t.grad.data, expected)
