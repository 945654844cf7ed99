"""The functional transforms, nested and mixed, without perturbation confusion."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import ShapeError


def test_perturbation_confusion_classic():
    # d/dx [x * (d/dy (x + y))(y=1)] at x = 1 is 1, not 2.
    f = lambda x: x * cr.grad(lambda y: x + y)(1.0)  # noqa: E731
    assert cr.grad(f)(1.0).item() == 1.0


def test_perturbation_confusion_in_forward_mode():
    def f(x):
        inner = cr.jvp(lambda y: x * y, (2.0,), (1.0,))[1]   # d/dy (x y) = x
        return x * inner                                    # x^2
    assert cr.jvp(f, (3.0,), (1.0,))[1].item() == 6.0


def test_grad_of_grad_of_grad():
    assert cr.grad(cr.grad(cr.grad(lambda x: x ** 4)))(2.0).item() == pytest.approx(48.0)


def test_jvp_of_grad_and_grad_of_jvp_agree_with_the_second_derivative():
    f = lambda x: cr.sin(x) * x  # noqa: E731
    x = 0.7
    second = 2 * np.cos(x) - x * np.sin(x)
    assert cr.jvp(cr.grad(f), (x,), (1.0,))[1].item() == pytest.approx(second)
    assert cr.grad(lambda x: cr.jvp(f, (x,), (1.0,))[1])(x).item() == pytest.approx(second)


def test_hessian_of_a_quadratic_form_and_jacfwd_of_jacrev():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    f = lambda x: 0.5 * x @ (a @ x)  # noqa: E731
    x = np.array([0.3, -1.0])
    np.testing.assert_allclose(cr.hessian(f)(x).data, a)
    np.testing.assert_allclose(cr.jacfwd(cr.jacrev(f))(x).data, a)
    np.testing.assert_allclose(cr.jacrev(cr.jacrev(f))(x).data, a)
    np.testing.assert_allclose(cr.hvp(f, x, np.array([1.0, 0.0])).data, a[:, 0])


def test_jacobians_by_both_modes_agree():
    w = np.arange(6.0).reshape(3, 2) / 10
    f = lambda x: cr.tanh(w @ x)  # noqa: E731
    x = np.array([0.5, -0.2])
    expected = (1 - np.tanh(w @ x) ** 2)[:, None] * w
    np.testing.assert_allclose(cr.jacfwd(f)(x).data, expected)
    np.testing.assert_allclose(cr.jacrev(f)(x).data, expected)


def test_argnums_and_has_aux():
    f = lambda x, y: ((x * y).sum(), "aux")  # noqa: E731
    (gx, gy), aux = cr.grad(f, argnums=(0, 1), has_aux=True)(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.testing.assert_array_equal(gx.data, [3.0, 4.0])
    np.testing.assert_array_equal(gy.data, [1.0, 2.0])
    assert aux == "aux"


def test_value_and_grad():
    value, slope = cr.value_and_grad(lambda x: x ** 2)(3.0)
    assert (value.item(), slope.item()) == (9.0, 6.0)


def test_pytrees_of_parameters():
    params = {"w": np.array([1.0, 2.0]), "b": (np.array(0.5),)}
    loss = lambda p: ((p["w"] * 3).sum() + p["b"][0] ** 2)  # noqa: E731
    grads = cr.grad(loss)(params)
    np.testing.assert_array_equal(grads["w"].data, [3.0, 3.0])
    assert grads["b"][0].item() == 1.0


def test_vjp_function_can_be_called_many_times():
    out, vjp_fn = cr.vjp(lambda x: x * x, np.array([1.0, 2.0]))
    np.testing.assert_array_equal(vjp_fn(np.array([1.0, 0.0]))[0].data, [2.0, 0.0])
    np.testing.assert_array_equal(vjp_fn(np.array([0.0, 1.0]))[0].data, [0.0, 4.0])


def test_grad_of_a_vector_function_is_a_clear_error():
    with pytest.raises(ShapeError, match=r"\(2,\)"):
        cr.grad(lambda x: x * 2)(np.array([1.0, 2.0]))


def test_grad_of_an_integer_input_is_a_clear_error():
    with pytest.raises(TypeError, match="floating-point"):
        cr.grad(lambda x: x * 2)(3)


def test_grad_of_a_function_that_ignores_its_input_is_zero():
    assert cr.grad(lambda x: cr.tensor(1.0))(2.0).item() == 0.0


def test_top_level_results_carry_no_graph():
    assert cr.grad(lambda x: x ** 3)(2.0).grad_fn is None
    assert cr.hessian(lambda x: (x ** 3).sum())(np.ones(2)).grad_fn is None
    assert cr.hvp(lambda x: (x ** 3).sum(), np.ones(2), np.ones(2)).grad_fn is None


def test_softmax_pushforward_rule():
    z, t = np.array([0.1, 2.0, -1.0]), np.array([1.0, -0.5, 0.3])
    s = np.exp(z) / np.exp(z).sum()
    _, tangent = cr.jvp(cr.softmax, (z,), (t,))
    np.testing.assert_allclose(tangent.data, s * (t - s @ t))
    np.testing.assert_allclose(cr.jacfwd(cr.softmax)(z).data @ t, s * (t - s @ t))


def test_transforms_work_under_no_grad():
    with cr.no_grad():
        assert cr.grad(lambda x: x ** 2)(3.0).item() == 6.0
