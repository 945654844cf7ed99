"""Regression tests for bugs closed with the NumPy vocabulary (issue 10)."""

import numpy as np
import pytest

import chainrule as cr


def test_stack_with_a_python_float_in_forward_mode():
    out, tangent = cr.jvp(lambda x: cr.stack([x, 0.5]), (1.0,), (1.0,))
    np.testing.assert_array_equal(out.data, [1.0, 0.5])
    np.testing.assert_array_equal(tangent.data, [1.0, 0.0])


def test_concatenate_with_a_python_list_first_in_both_modes():
    def f(x):
        return cr.concatenate([[0.5, 2.0], x]) ** 2
    x = cr.tensor([3.0])
    np.testing.assert_array_equal(cr.jvp(f, (x,), (cr.tensor([1.0]),))[1].data, [0.0, 0.0, 6.0])
    np.testing.assert_array_equal(cr.grad(lambda x: f(x).sum())(x).data, [6.0])
    assert cr.hessian(lambda x: (cr.stack([x, 0.5]) ** 3).sum())(1.0).item() == 6.0


@pytest.mark.parametrize("jacobian", [cr.jacfwd, cr.jacrev], ids=["jacfwd", "jacrev"])
def test_jacobians_of_zero_size_inputs_and_outputs_are_empty(jacobian):
    x = np.array([1.0, 2.0])
    assert jacobian(lambda x: x * 2)(np.zeros(0)).shape == (0, 0)
    assert jacobian(lambda x: x[:0])(x).shape == (0, 2)
    assert jacobian(lambda x: cr.sum(x))(np.zeros((0, 3))).shape == (0, 3)


@pytest.mark.parametrize("jacobian", [cr.jacfwd, cr.jacrev], ids=["jacfwd", "jacrev"])
def test_jacobians_of_tuple_outputs_keep_the_structure_like_jax(jacobian):
    x = np.array([1.0, 2.0])
    doubled, squares = jacobian(lambda x: (x * 2, cr.sum(x ** 2)))(x)
    np.testing.assert_array_equal(doubled.data, 2 * np.eye(2))
    np.testing.assert_array_equal(squares.data, [2.0, 4.0])
    (dxy_dx, dxy_dy), (dy_dx, dy_dy) = jacobian(lambda x, y: (x * y, y), argnums=(0, 1))(x, 3 * x)
    np.testing.assert_array_equal(dxy_dx.data, np.diag([3.0, 6.0]))
    np.testing.assert_array_equal(dxy_dy.data, np.diag(x))
    np.testing.assert_array_equal(dy_dx.data, np.zeros((2, 2)))
    np.testing.assert_array_equal(dy_dy.data, np.eye(2))
