"""Products, running sums, differences, statistics, norms and orderings against NumPy, with gradients
to second order; exact gradients of products with zeros."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import check_grads

WITH_ZEROS = np.array([[0.5, 0.0, 2.0, -1.0], [0.0, 3.0, 0.0, 1.5], [1.0, 2.0, -0.5, 0.7]])


def _numeric_gradient(f, x, eps=1e-6):
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        out[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return out


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
def test_prod_gradient_is_exact_with_zeros(axis):
    weights = np.random.default_rng(0).standard_normal(np.prod(WITH_ZEROS, axis=axis).shape)
    actual = cr.grad(lambda x: (cr.prod(x, axis=axis) * weights).sum())(WITH_ZEROS).data
    expected = _numeric_gradient(lambda x: (np.prod(x, axis=axis) * weights).sum(), WITH_ZEROS)
    np.testing.assert_allclose(actual, expected, atol=1e-8)


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_cumprod_both_modes_are_exact_with_zeros(axis):
    weights = np.random.default_rng(1).standard_normal(np.cumprod(WITH_ZEROS, axis).shape)
    def loss(x):
        return (cr.cumprod(x, axis) * weights).sum()
    expected = _numeric_gradient(lambda x: (np.cumprod(x, axis) * weights).sum(), WITH_ZEROS)
    np.testing.assert_allclose(cr.grad(loss)(WITH_ZEROS).data, expected, atol=1e-8)
    direction = np.random.default_rng(2).standard_normal(WITH_ZEROS.shape)
    tangent = cr.jvp(loss, (WITH_ZEROS,), (direction,))[1].item()
    np.testing.assert_allclose(tangent, (expected * direction).sum(), atol=1e-8)


CASES = [
    ("prod", {"axis": 1}), ("prod", {}), ("cumsum", {"axis": 0}), ("cumsum", {}), ("cumprod", {"axis": 1}),
    ("diff", {}), ("diff", {"n": 2, "axis": 0}), ("diff", {"prepend": 0.5, "append": [[1.0], [2.0], [3.0]]}),
    ("std", {}), ("std", {"axis": 0, "ddof": 1}), ("ptp", {"axis": 1}), ("average", {"axis": 0}),
    ("average", {"axis": 1, "weights": np.array([1.0, 2.0, 0.5, 1.5])}), ("sort", {}), ("sort", {"axis": 0}),
    ("sort", {"axis": None}), ("partition", {"kth": 2}), ("partition", {"kth": 1, "axis": 0}), ("median", {}),
    ("median", {"axis": 0}), ("median", {"axis": 1, "keepdims": True}),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[c[0] for c in CASES])
def test_matches_numpy_with_gradients(name, kwargs):
    x = np.random.default_rng(3).standard_normal((3, 4))
    np.testing.assert_allclose(getattr(cr, name)(x, **kwargs).data, getattr(np, name)(x, **kwargs))
    check_grads(lambda x: getattr(cr, name)(x, **kwargs), (x,), order=2)


def test_average_with_tensor_weights_returned():
    x, w = np.arange(6.0).reshape(2, 3), np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 1.0]])
    out, total = cr.average(cr.tensor(x), axis=1, weights=cr.tensor(w), returned=True)
    expected, expected_total = np.average(x, axis=1, weights=w, returned=True)
    np.testing.assert_allclose(out.data, expected)
    np.testing.assert_allclose(total.data, expected_total)
    check_grads(lambda x, w: cr.average(x, axis=1, weights=w), (x, w + 1.0), order=2)


@pytest.mark.parametrize("kwargs", [{}, {"axis": 1}, {"edge_order": 2}, {"axis": 0, "edge_order": 2}])
def test_gradient_matches_numpy(kwargs):
    f = np.random.default_rng(4).standard_normal((4, 5))
    ours, theirs = cr.gradient(f, 0.5, **kwargs), np.gradient(f, 0.5, **kwargs)
    ours, theirs = (ours, theirs) if isinstance(ours, list) else ([ours], [theirs])
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.data, b)
    check_grads(lambda f: cr.gradient(f, 0.5, axis=1, **{k: v for k, v in kwargs.items() if k != "axis"}),
                (f,), order=2)


NORMS = [(None, None), (1, 0), (2, 1), (math.inf, 1), (-math.inf, 0), (3, 1), (0.5, 0), ("fro", None),
         ("nuc", None), (1, None), (-1, None), (2, None), (-2, None), (math.inf, None), (-math.inf, None),
         (None, (0, 1)), ("nuc", (1, 0))]


@pytest.mark.parametrize("ord,axis", NORMS, ids=[f"{o}-{a}" for o, a in NORMS])
def test_norm_matches_numpy_with_gradients(ord, axis):
    x = np.random.default_rng(5).standard_normal((3, 4))
    np.testing.assert_allclose(cr.norm(x, ord, axis).data, np.linalg.norm(x, ord, axis))
    np.testing.assert_allclose(cr.norm(x, ord, axis, keepdims=True).data,
                               np.linalg.norm(x, ord, axis, keepdims=True))
    check_grads(lambda x: cr.norm(x, ord, axis), (x,), order=2)


def test_norm_counts_non_zeros_for_order_zero():
    assert cr.norm(np.array([0.0, 2.0, -1.0]), 0).item() == 2


def test_sort_gradient_follows_the_permutation():
    x = cr.tensor([3.0, 1.0, 2.0])
    gradient = cr.grad(lambda x: (cr.sort(x) * cr.tensor([1.0, 10.0, 100.0])).sum())(x)
    np.testing.assert_array_equal(gradient.data, [100.0, 1.0, 10.0])
