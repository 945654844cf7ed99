"""einsum in every form NumPy accepts, the products built on it, and matrix structure, against NumPy,
with both modes to second order."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import check_grads
from tests.vocabulary.checks import matches_numpy_with_gradients

EINSUMS = [
    ("ij,jk->ik", [(3, 4), (4, 2)]), ("ij,jk", [(3, 4), (4, 2)]), ("ii", [(3, 3)]), ("ii->i", [(3, 3)]),
    ("ij->", [(3, 4)]), ("ij->i", [(3, 4)]), ("ji", [(3, 4)]), ("i,i", [(4,), (4,)]),
    ("i,j->ij", [(3,), (2,)]), ("bij,bkj->bik", [(2, 3, 4), (2, 5, 4)]), ("iij->j", [(3, 3, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]), ("...", [(2, 3)]), ("i...->...", [(3, 2, 2)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]), ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]),
    ("Ab,bA", [(2, 3), (3, 2)]), ("ij,ij->ij", [(1, 3), (4, 3)]), ("iji,j->i", [(3, 2, 3), (2,)]),
    ("ijk,ijk,i->k", [(2, 3, 4), (2, 3, 4), (2,)]), (" i j , j k -> i k ", [(2, 3), (3, 2)]),
]


@pytest.mark.parametrize("subscripts,shapes", EINSUMS, ids=[e[0] for e in EINSUMS])
def test_einsum_matches_numpy_with_gradients(subscripts, shapes):
    rng = np.random.default_rng(0)
    operands = [rng.standard_normal(s) for s in shapes]
    np.testing.assert_allclose(cr.einsum(subscripts, *operands).data, np.einsum(subscripts, *operands))
    check_grads(lambda *xs: cr.einsum(subscripts, *xs), operands, order=2)


def test_einsum_interleaved_form():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    np.testing.assert_allclose(cr.einsum(a, [0, 1], b, [1, 2], [0, 2]).data, a @ b)
    np.testing.assert_allclose(cr.einsum(a, [0, 1], b, [1, 2]).data, a @ b)
    np.testing.assert_allclose(cr.einsum(a, [Ellipsis, 1], a.T, [1, Ellipsis]).data,
                               np.einsum(a, [Ellipsis, 1], a.T, [1, Ellipsis]))


def test_einsum_names_the_misfit():
    with pytest.raises(ValueError, match="einsum"):
        cr.einsum("ij,jk", np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="names 2 operands"):
        cr.einsum("ij,jk", np.ones((2, 3)))


PRODUCTS = [
    ("tensordot", [(2, 3, 4), (3, 4, 5)], {}), ("tensordot", [(2, 3, 4), (4, 3)], {"axes": ([1, 2], [1, 0])}),
    ("tensordot", [(2, 3), (4,)], {"axes": 0}), ("dot", [(3,), (3,)], {}), ("dot", [(2, 3), (3, 4)], {}),
    ("dot", [(2, 3, 4), (5, 4, 2)], {}), ("dot", [(2, 3, 4), (4,)], {}), ("dot", [(), (3,)], {}),
    ("inner", [(2, 3), (4, 3)], {}), ("outer", [(2, 2), (3,)], {}), ("kron", [(2, 3), (2, 2)], {}),
    ("kron", [(2,), (2, 3)], {}), ("cross", [(4, 3), (4, 3)], {}), ("cross", [(3, 4), (4, 3)], {"axisa": 0}),
    ("cross", [(3, 2), (3, 2)], {"axis": 0, "axisc": 0}),
]


@pytest.mark.parametrize("name,shapes,kwargs", PRODUCTS, ids=[p[0] for p in PRODUCTS])
def test_products_match_numpy_with_gradients(name, shapes, kwargs):
    rng = np.random.default_rng(2)
    operands = [rng.standard_normal(s) for s in shapes]
    function = getattr(cr, name)
    np.testing.assert_allclose(function(*operands, **kwargs).data, getattr(np, name)(*operands, **kwargs))
    check_grads(lambda *xs: function(*xs, **kwargs), operands, order=2)


STRUCTURE = [
    ("diagonal", (3, 4, 5), {"offset": 1, "axis1": 2, "axis2": 0}), ("diagonal", (3, 4), {"offset": -1}),
    ("trace", (3, 4, 5), {"offset": -1, "axis1": 1, "axis2": 2}), ("trace", (3, 3), {}),
    ("diag", (3,), {"k": 1}), ("diag", (3, 4), {"k": -1}), ("triu", (2, 3, 4), {"k": 1}),
    ("tril", (3, 4), {"k": -1}), ("tril", (4, 3), {}),
]


@pytest.mark.parametrize("name,shape,kwargs", STRUCTURE, ids=[s[0] for s in STRUCTURE])
def test_matrix_structure_matches_numpy_with_gradients(name, shape, kwargs):
    matches_numpy_with_gradients(name, np.random.default_rng(3).standard_normal(shape), kwargs)


def test_cross_of_2_vectors_is_the_scalar_cross_product():
    a, b = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    assert cr.cross(a, b).item() == 1 * 5 - 2 * 3
