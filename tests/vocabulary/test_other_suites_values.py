"""Wrong values found by other projects' test suites (issue 26): std at zero variance, the mixed second
derivative of x ** y at y = 0 (jax#12033), traced linspace/real/angle, tensordot with a number, prod
over an axis of a zero-size input; against PyTorch/JAX where installed and finite differences."""

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.errors import ShapeError
from chainrule.testing import check_grads


@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize("x", [[3.0], [2.0, 2.0], [[3.0], [1.0]]], ids=["one", "equal", "rows-of-one"])
def test_std_derivative_where_the_variance_is_zero_matches_pytorch(x, ddof):
    torch = pytest.importorskip("torch")
    x = np.array(x)
    axis = 1 if x.ndim == 2 else None
    theirs = torch.tensor(x, requires_grad=True)
    with np.errstate(all="ignore"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.std(theirs, dim=axis, correction=ddof).sum().backward()
            grad = cr.grad(lambda x: cr.std(x, axis=axis, ddof=ddof).sum())(x)
            value = cr.std(x, axis=axis, ddof=ddof)
            want = torch.std(torch.tensor(x), dim=axis, correction=ddof).numpy()
    np.testing.assert_array_equal(grad.data, theirs.grad.numpy())  # 0, or NaN where n - ddof = 0
    np.testing.assert_array_equal(value.data, want)


def test_std_of_one_element_has_finite_derivatives_in_both_modes_and_second_order():
    x = cr.tensor([3.0])
    assert cr.grad(lambda x: cr.std(x).sum())(x).tolist() == [0.0]
    assert cr.jvp(lambda x: cr.std(x), (x,), (cr.tensor([1.0]),))[1].item() == 0.0
    assert cr.hessian(lambda x: cr.std(x).sum())(x).tolist() == [[0.0]]
    assert cr.grad(lambda x: cr.std(x).sum())(cr.tensor([1.0, 2.0])).tolist() == [-0.5, 0.5]
    check_grads(lambda x: cr.std(x, axis=1), (np.array([[1.0, 2.0, 4.0], [0.5, -1.0, 3.0]]),), order=2)


def test_mixed_second_derivative_of_pow_at_exponent_zero_is_one_over_x():
    # d/dy d/dx x^y = x^(y-1) (1 + y log x): 1/x at y = 0 (jax#12033).
    def f(x, y):
        return x ** y
    for outer, inner in [(1, 0), (0, 1)]:
        mixed = cr.grad(lambda *a: cr.grad(f, argnums=inner)(*a), argnums=outer)(cr.tensor(4.0), cr.tensor(0.0))
        assert mixed.item() == pytest.approx(0.25)
    hessian = cr.hessian(lambda v: v[0] ** v[1])(cr.tensor([4.0, 0.0]))
    np.testing.assert_allclose(hessian.data, [[0.0, 0.25], [0.25, np.log(4.0) ** 2]])
    forward = cr.jacfwd(cr.jacfwd(lambda v: v[0] ** v[1]))(cr.tensor([4.0, 0.0]))
    np.testing.assert_allclose(forward.data, hessian.data)
    # at x = y = 0, x^0 = 1 stays constant in x: finite first and second derivatives in x
    at_zero = cr.hessian(lambda v: v[0] ** v[1])(cr.tensor([0.0, 0.0]))
    assert at_zero.data[0, 0] == 0.0 and np.isfinite(at_zero.data[0, 1])
    check_grads(f, (np.array([4.0, 2.5]), np.array([0.0, 0.7])), order=2)
    jax = pytest.importorskip("jax")
    want = jax.grad(jax.grad(lambda x, y: x ** y), argnums=1)(4.0, 0.0)
    assert float(want) == pytest.approx(0.25)


def test_linspace_is_differentiable_in_start_and_stop():
    def f(start, stop):
        return cnp.linspace(start, stop, 5)
    np.testing.assert_allclose(f(cr.tensor(1.0), cr.tensor(3.0)).data, np.linspace(1.0, 3.0, 5))
    start, stop = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    np.testing.assert_allclose(f(cr.tensor(start, requires_grad=True), stop).data, np.linspace(start, stop, 5))
    np.testing.assert_allclose(cnp.linspace(cr.tensor(start, requires_grad=True), stop, 4, endpoint=False,
                                            axis=1).data, np.linspace(start, stop, 4, endpoint=False, axis=1))
    check_grads(f, (start, stop), order=2)
    # d/dstart of sum(linspace) = num · (1 - mean(steps)) = 2.5 and likewise 2.5 for stop
    assert cr.grad(lambda a, b: f(a, b).sum(), argnums=(0, 1))(1.0, 3.0)[0].item() == pytest.approx(2.5)
    values, step = cnp.linspace(cr.tensor(0.0, requires_grad=True), 1.0, 5, retstep=True)
    assert step.item() == pytest.approx(0.25)
    assert isinstance(cnp.linspace(0, 1, 3), np.ndarray)  # untraced: NumPy's own


def test_real_and_angle_accept_traced_inputs():
    x = np.array([-2.0, 0.5, 3.0])
    check_grads(lambda x: cnp.real(x) * 2, (x,), order=2)
    np.testing.assert_array_equal(cr.grad(lambda x: cnp.real(x).sum())(x).data, [1, 1, 1])
    np.testing.assert_allclose(cnp.angle(cr.tensor(x, requires_grad=True)).data, np.angle(x))
    np.testing.assert_allclose(cnp.angle(cr.tensor(x, requires_grad=True), deg=True).data, np.angle(x, deg=True))
    np.testing.assert_array_equal(cr.grad(lambda x: (cnp.angle(x) * x).sum())(x).data, np.angle(x))
    assert cr.jvp(cnp.angle, (cr.tensor(x),), (cr.tensor(np.ones(3)),))[1].tolist() == [0, 0, 0]


def test_tensordot_with_a_number_works_like_numpy():
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(cnp.tensordot(cr.tensor(x), 2.0, 0).data, np.tensordot(x, 2.0, 0))
    np.testing.assert_allclose(cnp.tensordot(2.0, cr.tensor(x), axes=0).data, np.tensordot(2.0, x, 0))
    assert cr.grad(lambda x: cnp.tensordot(x, 2.0, 0).sum())(x).tolist() == [2, 2, 2]
    with pytest.raises(IndexError):
        np.tensordot(x, 2.0)  # NumPy refuses axes=2 with a number; so do we, by name
    with pytest.raises(ShapeError, match=r"tensordot: axes=2 sums over axes \[0, 1\] of b, which has 0"):
        cnp.tensordot(cr.tensor(x), 2.0)


@pytest.mark.parametrize("axis", [0, 1, 2, None, (0, 2)])
def test_prod_over_an_axis_of_a_zero_size_input(axis):
    x = np.ones((3, 5, 0))
    got = cnp.prod(cr.tensor(x, requires_grad=True), axis=axis)
    np.testing.assert_array_equal(got.data, np.prod(x, axis=axis))
    grad = cr.grad(lambda x: cnp.prod(x, axis=axis).sum())(x)
    assert grad.shape == (3, 5, 0)
    tangent = cr.jvp(lambda x: cnp.prod(x, axis=axis), (x,), (np.ones_like(x),))[1]
    assert tangent.shape == np.prod(x, axis=axis).shape
    # the zero-size slices' product is 1 (empty), with derivative 0; a kept axis of 5 ones still reduces
    y = np.ones((2, 0, 3))
    assert cr.grad(lambda y: cnp.prod(y, axis=1).sum())(y).shape == (2, 0, 3)
