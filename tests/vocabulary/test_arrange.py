"""NumPy's rearranging functions against NumPy, with gradients to second order."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops import arrange
from chainrule.testing import check_grads
from tests.vocabulary.checks import matches_numpy_with_gradients

CASES = [
    ("ravel", (2, 3), {}), ("flip", (2, 3, 4), {}), ("flip", (2, 3, 4), {"axis": (0, 2)}),
    ("fliplr", (2, 3), {}), ("flipud", (2, 3), {}), ("rot90", (2, 3), {}), ("rot90", (2, 3, 4), {"k": 3}),
    ("rot90", (2, 3, 4), {"k": 2, "axes": (1, 2)}), ("rot90", (2, 3), {"k": -1}),
    ("roll", (2, 3), {"shift": 2}),
    ("roll", (2, 3, 4), {"shift": (1, -1), "axis": (0, 2)}), ("roll", (4,), {"shift": -5, "axis": 0}),
    ("rollaxis", (2, 3, 4), {"axis": 2}), ("rollaxis", (2, 3, 4), {"axis": 0, "start": 3}),
    ("rollaxis", (2, 3, 4), {"axis": 1, "start": -1}), ("tile", (2, 3), {"reps": 2}),
    ("tile", (3,), {"reps": (2, 2)}), ("tile", (2, 1, 3), {"reps": (2, 1)}),
    ("repeat", (2, 3), {"repeats": 2}),
    ("repeat", (2, 3), {"repeats": 3, "axis": 1}), ("repeat", (2, 3), {"repeats": [1, 0, 2], "axis": -1}),
    ("moveaxis", (2, 3, 4), {"source": 0, "destination": -1}), ("atleast_1d", (), {}),
    ("atleast_2d", (3,), {}),
    ("atleast_3d", (3,), {}), ("atleast_3d", (2, 3), {}), ("expand_dims", (2, 3), {"axis": 1}),
]


@pytest.mark.parametrize("name,shape,kwargs", CASES, ids=[c[0] for c in CASES])
def test_rearranging_matches_numpy_with_gradients(name, shape, kwargs):
    matches_numpy_with_gradients(name, np.random.default_rng(0).standard_normal(shape), kwargs)


SPLITS = [("split", 2, {}), ("split", [1, 3], {"axis": 1}), ("array_split", 3, {"axis": 1}),
          ("hsplit", 2, {}), ("vsplit", 2, {}), ("dsplit", [1], {})]


@pytest.mark.parametrize("name,sections,kwargs", SPLITS, ids=[s[0] for s in SPLITS])
def test_splits_match_numpy_with_gradients(name, sections, kwargs):
    x = np.random.default_rng(1).standard_normal((4, 4, 2))
    ours, theirs = getattr(cr, name)(x, sections, **kwargs), getattr(np, name)(x, sections, **kwargs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.data, b)
    check_grads(lambda x: cr.concatenate([cr.ravel(p) * (i + 1) for i, p in enumerate(
        getattr(cr, name)(x, sections, **kwargs))]), (x,), order=2)


@pytest.mark.parametrize("name", ["vstack", "hstack", "dstack", "column_stack", "row_stack"])
@pytest.mark.parametrize("shapes", [[(3,), (3,)], [(2, 3), (2, 3)]], ids=["vectors", "matrices"])
def test_stacks_match_numpy_with_gradients(name, shapes):
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal(s) for s in shapes]
    np.testing.assert_array_equal(getattr(cr, name)(xs).data,
                                  getattr(np, "vstack" if name == "row_stack" else name)(xs))
    check_grads(lambda a, b: getattr(cr, name)([a, b * 2]), xs, order=2)


def test_append_select_and_index_tricks_match_numpy():
    x, y = np.arange(6.0).reshape(2, 3), np.ones((2, 1))
    np.testing.assert_array_equal(cr.append(x, y, axis=1).data, np.append(x, y, axis=1))
    np.testing.assert_array_equal(cr.append(x, [7.0]).data, np.append(x, [7.0]))
    conditions, choices = [x < 2, x > 4], [x, x ** 2]
    np.testing.assert_array_equal(cr.select(conditions, [cr.tensor(c) for c in choices], -1.0).data,
                                  np.select(conditions, choices, -1.0))
    v = cr.tensor([1.0, 2.0])
    np.testing.assert_array_equal(arrange.r_[v, 0.5, 1:3].data, np.r_[[1.0, 2.0], 0.5, 1:3])
    np.testing.assert_array_equal(arrange.c_[v, v * 2].data, np.c_[[1.0, 2.0], [2.0, 4.0]])
    gradient = cr.grad(lambda v: cr.sum(cr.r_[v, v * 3] ** 2))(v)
    np.testing.assert_array_equal(gradient.data, 2 * np.array([1.0, 2.0]) * 10)
