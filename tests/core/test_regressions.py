"""Regression tests for the engine's bugs found by testing chainrule as a new user would (issue 17)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.primitive import REGISTRY, primitive


# -- keywords -------------------------------------------------------------------------------------

def test_primitives_take_pytorch_dim_and_keepdim():
    x = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert cr.sum(x, dim=1, keepdim=True).shape == (2, 1)
    np.testing.assert_allclose(cr.softmax(x, dim=0).data, cr.softmax(x, axis=0).data)
    cr.logsumexp(x, dim=-1).sum().backward()
    np.testing.assert_allclose(x.grad.data.sum(axis=1), [1.0, 1.0])
    _, tangent = cr.jvp(lambda x: cr.mean(x, dim=0), (x.data,), (np.ones((2, 3)),))
    np.testing.assert_allclose(tangent.data, np.ones(3))


@pytest.mark.parametrize("call, words", [
    (lambda x: cr.sum(x, dims=1), ["'dims'", "axis (or dim)", "keepdims (or keepdim)"]),
    (lambda x: cr.exp(x, axis=1), ["exp()", "'axis'", "no keyword arguments"]),
    (lambda x: cr.sum(x, axis=1, dim=0), ["'axis' twice"]),
    (lambda x: cr.sum(x, 1, axis=0), ["multiple values", "'axis'"]),
])
def test_a_wrong_keyword_is_a_type_error_naming_it_and_the_accepted_ones(call, words):
    with pytest.raises(TypeError) as caught:
        call(cr.tensor(np.ones((2, 3))))
    message = str(caught.value).splitlines()[0]  # not the user's line quoted below it
    for word in words:
        assert word in message


# -- redefining a primitive -----------------------------------------------------------------------

def _define_cube(scale):
    cube = primitive("test_regressions_cube", lambda xp, x: scale * x ** 3)
    cube.def_elementwise(lambda ns, g, ans, x: g * 3 * scale * x * x)
    return cube


def test_running_a_definition_again_redefines_the_primitive_in_place():
    first = _define_cube(1.0)
    try:
        assert float(cr.grad(lambda x: first(x))(2.0)) == 12.0
        second = _define_cube(2.0)
        assert second is first
        assert float(first(2.0)) == 16.0
        assert float(cr.grad(lambda x: first(x))(2.0)) == 24.0
        assert float(cr.grad(cr.grad(lambda x: first(x)))(2.0)) == 24.0  # rules run on the new one
    finally:
        REGISTRY.pop("test_regressions_cube", None)


def test_a_name_taken_by_another_module_is_refused():
    with pytest.raises(ValueError, match="already defined in chainrule.ops.elementwise"):
        primitive("exp", lambda xp, x: x)


# -- pow at zero: no 0 · ∞ computed by a rule -----------------------------------------------------

@pytest.mark.parametrize("derivative", [
    lambda: cr.grad(lambda x: x ** 0.0)(0.0),
    lambda: cr.grad(lambda x, n: x ** n)(0.0, 0),
    lambda: cr.grad(cr.grad(lambda x: x ** 1.0))(0.0),
    lambda: cr.grad(cr.grad(cr.grad(lambda x: x ** 2.0)))(0.0),
    lambda: cr.jvp(lambda x: x ** 0.0, (0.0,), (1.0,))[1],
    lambda: cr.jvp(cr.grad(lambda x: x ** 1.0), (0.0,), (1.0,))[1],
])
def test_derivatives_of_pow_at_zero_are_zero_like_pytorch(derivative):
    assert float(derivative()) == 0.0


def test_pow_with_an_array_of_exponents_at_zero_stays_finite_to_third_order():
    exponents = np.array([0.0, 1.0, 2.0, 3.0])

    def f(x):
        return (x ** exponents).sum()

    x = np.zeros(4)
    np.testing.assert_array_equal(cr.grad(f)(x).data, [0, 1, 0, 0])
    np.testing.assert_array_equal(cr.hessian(f)(x).data, np.diag([0, 0, 2, 0]))
    third = cr.jacfwd(cr.hessian(f))(x).data
    assert np.isfinite(third).all() and third[3, 3, 3] == 6 and third.sum() == 6


# -- masked (-inf) logits -------------------------------------------------------------------------

MASKED = np.array([[-np.inf, 0.0, 0.0]])


def test_cross_entropy_with_a_masked_logit_is_log_2_like_pytorch():
    F = cr.nn.functional
    loss = F.cross_entropy(cr.tensor(MASKED), np.array([1]))
    np.testing.assert_allclose(loss.item(), np.log(2))


@pytest.mark.parametrize("labels", [np.array([1]), np.array([[0.0, 0.5, 0.5]])])
def test_softmax_cross_entropy_with_a_masked_logit_in_both_modes(labels):
    def loss(z):
        return cr.softmax_cross_entropy(z, labels).sum()

    value, slope = cr.value_and_grad(loss)(MASKED)
    expected = [[0, -0.5, 0.5]] if labels.ndim == 1 else [[0, 0, 0]]
    np.testing.assert_allclose(value.item(), np.log(2))
    np.testing.assert_allclose(slope.data, expected)
    value, tangent = cr.jvp(loss, (MASKED,), (np.array([[1.0, 2.0, 0.0]]),))
    np.testing.assert_allclose([value.item(), tangent.item()], [np.log(2), np.dot(expected[0], [1, 2, 0])])
    assert np.isfinite(cr.hessian(loss)(MASKED).data).all()


def test_probability_labels_with_a_masked_logit_have_a_finite_tangent():
    labels = np.array([[0.0, 0.5, 0.5]])
    _, tangent = cr.jvp(lambda p: cr.softmax_cross_entropy(MASKED, p), (labels,), (np.array([[0.0, 1, 0]]),))
    np.testing.assert_allclose(tangent.data, [np.log(2)])


@pytest.mark.parametrize("f, value", [
    (lambda z: cr.softmax(z, axis=-1)[0, 1], 0.5),
    (lambda z: cr.log_softmax(z, axis=-1)[0, 1], -np.log(2)),
    (lambda z: cr.logsumexp(z, axis=-1).sum(), np.log(2)),
])
def test_softmax_family_with_a_masked_logit_in_both_modes(f, value):
    out, slope = cr.value_and_grad(f)(MASKED)
    np.testing.assert_allclose(out.item(), value)
    assert np.isfinite(slope.data).all() and slope.data[0, 0] == 0
    _, tangent = cr.jvp(f, (MASKED,), (np.array([[5.0, 1.0, 0.0]]),))
    np.testing.assert_allclose(tangent.item(), (slope.data * [0, 1, 0]).sum())
    assert np.isfinite(cr.hessian(f)(MASKED).data).all()


# -- complex values: refused wherever something is differentiated, never a silent wrong gradient ---

def test_a_complex_tensor_cannot_require_gradients():
    with pytest.raises(TypeError, match="complex tensors cannot require gradients.*real floating-point"):
        cr.tensor([1 + 1j], requires_grad=True)


def test_a_complex_value_made_from_a_differentiated_input_is_refused_at_its_line():
    x = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"mul: made complex128 values .* real floating-point values only"
                                        r"\n  at .*test_regressions.py"):
        cr.abs(x * (1 + 1j)).sum().backward()


@pytest.mark.parametrize("transform", [
    lambda f, x: cr.grad(lambda x: f(x).sum())(x),
    lambda f, x: cr.vjp(f, x)[1](np.ones(2)),
    lambda f, x: cr.jvp(f, (x,), (np.ones(2),)),
])
def test_transforms_refuse_complex_values(transform):
    with pytest.raises(TypeError, match="real floating-point values only"):
        transform(lambda x: cr.abs(x * (1 + 1j)), np.ones(2))
    with pytest.raises(TypeError, match="complex128.*real floating-point values only"):
        transform(lambda x: x * x, np.ones(2) + 1j)


# -- tangents and cotangents of the wrong kind ----------------------------------------------------

def test_jvp_at_an_integer_primal_is_refused_naming_the_dtype():
    with pytest.raises(TypeError, match=r"jvp: a primal has dtype int64.*pass floats"):
        cr.jvp(lambda x: x * x, (np.array([1, 2]),), (np.array([0.5, 0.5]),))


@pytest.mark.parametrize("tangent, dtype", [(np.array([0.5 + 1j, 0.5]), "complex128"), ("ab", "<U2"),
                                            (np.array(["a", "b"]), "<U1")])
def test_jvp_refuses_a_tangent_that_is_not_real_numbers_naming_both_dtypes(tangent, dtype):
    with pytest.raises(TypeError, match=f"jvp: a tangent has dtype {dtype} for a value of dtype float64"):
        cr.jvp(lambda x: x * x, (np.array([1.0, 2.0]),), (tangent,))


def test_jvp_casts_integer_and_other_float_tangents_to_the_primals_dtype():
    out, tangent = cr.jvp(lambda x: x * x, (np.array([1.0, 2.0], dtype=np.float32),), (np.array([1, 0]),))
    assert tangent.dtype == np.float32
    np.testing.assert_array_equal(tangent.data, [2, 0])


def test_vjp_fn_refuses_a_string_cotangent():
    _, vjp_fn = cr.vjp(lambda x: x * x, np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="vjp_fn: a cotangent has dtype <U1 for a value of dtype float64"):
        vjp_fn(np.array(["a", "b"]))


def test_backward_with_a_gradient_of_the_wrong_shape_or_kind_names_it_and_the_users_line():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(cr.errors.ShapeError, match=r"gradient has shape \(3,\) but the tensor has shape "
                                                   r"\(2,\)\n  at .*test_regressions.py"):
        (x * 2).backward(gradient=np.ones(3))
    with pytest.raises(TypeError, match=r"backward\(\): gradient has dtype <U1.*\n  at .*test_regressions"):
        (x * 2).backward(gradient=np.array(["a", "b"]))


# -- error messages of operators ------------------------------------------------------------------

@pytest.mark.parametrize("call, words", [
    (lambda x: x + "a", "add: input 1 is str 'a', not numbers"),
    (lambda x: cr.matmul(x, "a"), "matmul: input 1 is str 'a', not numbers"),
    (lambda x: cr.exp(None), "exp: input 0 is NoneType None, not numbers"),
    (lambda x: cr.softmax("abc"), "softmax: input 0 is str 'abc', not numbers"),
])
def test_a_non_number_is_a_type_error_naming_the_operation_the_input_and_the_users_line(call, words):
    with pytest.raises(TypeError) as caught:
        call(cr.tensor(1.0, requires_grad=True))
    assert str(caught.value).startswith(words)
    assert "test_regressions.py" in str(caught.value).splitlines()[-1]


@pytest.mark.parametrize("operate, name", [
    (lambda x, y: x < y, "less (<)"), (lambda x, y: x <= y, "less_equal (<=)"),
    (lambda x, y: x > y, "greater (>)"), (lambda x, y: x >= y, "greater_equal (>=)"),
    (lambda x, y: x == y, "equal (==)"), (lambda x, y: x != y, "not_equal (!=)"),
    (lambda x, y: (x > 0) & (y > 0), "bitwise_and (&)"), (lambda x, y: (x > 0) | (y > 0), "bitwise_or (|)"),
    (lambda x, y: (x > 0) & np.ones(4, bool), "bitwise_and (&)"),
    (lambda x, y: np.ones(4, bool) | (x > 0), "bitwise_or (|)"),
])
def test_comparisons_and_bitwise_operators_name_the_operation_shapes_and_line(operate, name):
    x, y = cr.tensor([1.0, 2.0, 3.0]), cr.tensor(np.ones(4))
    with pytest.raises(cr.errors.ShapeError) as caught:
        operate(x, y)
    message = str(caught.value)
    assert message.startswith(f"{name}: inputs of shapes (3,), (4,)") or \
        message.startswith(f"{name}: inputs of shapes (4,), (3,)")
    assert "test_regressions.py" in message


# -- transforms and grad mode ---------------------------------------------------------------------

@pytest.mark.parametrize("transform", [cr.grad, cr.value_and_grad, cr.jacfwd, cr.jacrev, cr.hessian])
def test_a_transform_of_something_not_callable_is_refused_at_once(transform):
    with pytest.raises(TypeError, match="the first argument must be a function, not str 'abc'"):
        transform("abc")


def test_no_grad_decorates_without_parentheses_and_restores_recursive_calls():
    @cr.no_grad
    def depth(n):
        return cr.is_grad_enabled() if n == 0 else depth(n - 1)

    @cr.enable_grad()
    def count(n):
        if n == 0:
            return cr.is_grad_enabled()
        with cr.no_grad():
            return count(n - 1)

    assert depth(3) is False and cr.is_grad_enabled()
    with cr.no_grad():
        assert count(2) is True
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
