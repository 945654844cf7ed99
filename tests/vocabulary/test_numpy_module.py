"""chainrule.numpy: NumPy's names, differentiable; pass-through for the rest, refused where a gradient
would silently be lost; NumPy's own functions on tensors."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp


def test_constants_dtypes_creation_and_random_pass_through():
    assert (cnp.pi, cnp.e, cnp.newaxis, cnp.float32, cnp.inf) == (np.pi, np.e, None, np.float32, np.inf)
    np.testing.assert_array_equal(cnp.arange(3), np.arange(3))
    assert cnp.random.default_rng(0).standard_normal(2).shape == (2,)
    assert cnp.zeros((2, 3)).shape == (2, 3)


def test_numpy_signatures_are_accepted():
    x = np.arange(6.0).reshape(2, 3)
    assert cnp.sum(x, axis=0, keepdims=True).shape == (1, 3)
    assert cnp.mean(x, 1, None, None, True).shape == (2, 1)
    np.testing.assert_allclose(cnp.std(x, axis=1, ddof=1).data, np.std(x, axis=1, ddof=1))
    np.testing.assert_array_equal(cnp.reshape(x, (3, 2)).data, x.reshape(3, 2))
    np.testing.assert_array_equal(cnp.clip(x, a_min=1, a_max=4).data, np.clip(x, 1, 4))
    np.testing.assert_array_equal(cnp.concatenate([x, x], axis=None).data, np.concatenate([x, x], axis=None))
    np.testing.assert_array_equal(cnp.expand_dims(x, (0, 3)).data, np.expand_dims(x, (0, 3)))
    np.testing.assert_array_equal(cnp.where(x > 2)[0], np.where(x > 2)[0])
    with pytest.raises(TypeError, match="out= is not supported"):
        cnp.sum(x, out=np.zeros(()))


def test_differentiable_functions_have_gradients():
    x = np.array([0.5, -1.0, 2.0])
    def loss(x):
        return cnp.sum(cnp.tanh(cnp.outer(x, x)) ** 2) + cnp.linalg.norm(x) + cnp.max(cnp.cumsum(x))
    cr.testing.check_grads(loss, (x,), order=2)


def test_array_stacks_followed_tensors():
    def loss(x):
        return cnp.sum(cnp.array([[x[0], 2 * x[1]], [x[1], 1.0]]) ** 2)
    gradient = cr.grad(loss)(np.array([1.0, 3.0]))
    np.testing.assert_allclose(gradient.data, [2.0, 8 * 3 + 2 * 3])


def test_functions_without_rules_refuse_followed_tensors_and_serve_constants():
    with pytest.raises(TypeError, match="numpy.interp has no derivative rule"):
        cr.grad(lambda x: cnp.interp(1.5, [1.0, 2.0, 3.0], x))(np.ones(3))
    with pytest.raises(TypeError, match="fft.rfft has no derivative rule"):
        cr.grad(lambda x: cnp.sum(cnp.fft.rfft(x).real))(np.ones(4))
    assert cr.grad(lambda x: x[cnp.argmax(x)] * cnp.shape(x)[0])(np.array([1.0, 3.0])).tolist() == [0.0, 2.0]
    np.testing.assert_array_equal(cnp.zeros_like(cr.tensor([1.0], requires_grad=True)), [0.0])
    assert cnp.interp(1.5, [1.0, 2.0], [0.0, 1.0]) == 0.5


def test_numpy_functions_on_tensors_are_chainrule_functions_and_ufuncs_are_refused():
    t = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert np.sum(t).grad_fn == "sum" and np.mean(t, axis=0).grad_fn == "mean"
    assert np.linalg.det(np.diag(t)).item() == 6.0
    np.testing.assert_allclose(cr.grad(lambda x: np.sum(np.dot(x, x)))(t.data).data, 2 * t.data)
    assert (np.ones(3) * t).grad_fn == "mul" and (np.ones(3) < t).tolist() == [False, True, True]
    assert np.argmax(t) == 2 and np.shape(t) == (3,) and np.copy(t).grad_fn == "identity"
    with pytest.raises(TypeError, match="does not support ufuncs"):
        np.exp(t)
