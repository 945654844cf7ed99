"""Regression tests for bugs closed with the NumPy vocabulary (issue 10)."""

import numpy as np

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
