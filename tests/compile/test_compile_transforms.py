"""Transforms inside a compiled function are recorded like any other engine operation, and arguments are
followed by where each array came from: several calls at different inputs, against eager mode."""

import functools

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.compile import CompileError
from chainrule.nn import functional as F

RNG = np.random.default_rng(21)


def f(w):
    return (cr.sin(w) * w).sum()


def g_vec(w):
    return cr.tanh(w) * w ** 2


TRANSFORMS = {
    "grad": lambda w: cr.grad(f)(w),
    "value_and_grad": lambda w: cr.value_and_grad(f)(w),
    "vjp": lambda w: cr.vjp(g_vec, w)[1](cr.cos(w)),
    "vjp_out": lambda w: cr.vjp(g_vec, w)[0],
    "jvp": lambda w: cr.jvp(g_vec, (w,), (cr.exp(cr.tensor(w) * -1.0),)),
    "jvp_argument_tangent": lambda w: cr.jvp(g_vec, (w,), (w,))[1],
    "jacfwd": lambda w: cr.jacfwd(g_vec)(w),
    "jacrev": lambda w: cr.jacrev(g_vec)(w),
    "hessian": lambda w: cr.hessian(f)(w),
    "hvp": lambda w: cr.hvp(f, w, cr.tensor(w) * 2),
    "grad_of_grad": lambda w: cr.grad(lambda v: cr.grad(f)(v).sum())(w),
}


def _leaves(result):
    leaves, _ = cr.tree.tree_flatten(result)
    return [np.asarray(cr.tensor(leaf).data) for leaf in leaves]


def _agree(got, want, exact):
    """Bit for bit when exact; fused float64 kernels agree with NumPy to a few ulp."""
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "fused"])
@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_a_transform_inside_a_compiled_function_follows_its_input(name, exact):
    fn = TRANSFORMS[name]
    compiled = cr.compile(fn, exact=exact)
    for value in (0.5, 1.0, 2.0, -0.7):
        w = np.linspace(-1, 1, 3) + value
        got, want = _leaves(compiled(w)), _leaves(fn(w))
        assert len(got) == len(want)
        for a, b in zip(got, want):
            _agree(a, b, exact)
    assert compiled.recordings == 1


def test_the_issue_example_no_longer_returns_the_first_value_three_times():
    g = cr.compile(lambda w: cr.grad(f)(w))
    values = [g(np.full(3, v)).numpy()[0] for v in (0.5, 1.0, 2.0)]
    np.testing.assert_allclose(values, [0.918217, 1.381773, 0.077004], atol=1e-6)


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "fused"])
def test_a_jax_style_update_step_descends_as_eager_does(exact):
    x = RNG.standard_normal((16, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.3

    def loss(params, x, y):
        w, b = params
        return ((x @ w + b - y) ** 2).mean()

    def update(params, x, y):
        grads = cr.grad(loss)(params, x, y)
        return tuple(p - 0.1 * g for p, g in zip(params, grads))

    compiled = cr.compile(update, exact=exact)
    eager_params = compiled_params = (np.zeros(3), np.zeros(()))
    eager_losses, compiled_losses = [], []
    for _ in range(20):
        eager_params = tuple(p.numpy() for p in update(eager_params, x, y))
        compiled_params = tuple(p.numpy() for p in compiled(compiled_params, x, y))
        eager_losses.append(loss(eager_params, x, y).item())
        compiled_losses.append(loss(compiled_params, x, y).item())
    _agree(compiled_losses, eager_losses, exact)
    assert compiled_losses[-1] < compiled_losses[0] / 10


def test_an_all_zero_batch_beside_a_zeros_constant_compiles_and_follows_the_batch():
    w = cr.tensor(RNG.standard_normal((4, 3)), requires_grad=True)

    def step(x):
        bias = cr.zeros(5, 3)
        return ((x @ w + bias) ** 2).sum()
    compiled = cr.compile(step)
    for x in (np.zeros((5, 4)), RNG.standard_normal((5, 4)), np.ones((5, 4))):
        assert compiled(x).item() == step(x).item()
    assert compiled.recordings == 1


def test_a_conversion_made_by_tensor_is_followed():
    w = cr.tensor(RNG.standard_normal(3).astype(np.float32), requires_grad=True)

    def step(x):
        loss = (w * cr.tensor(x, dtype=np.float32)).sum()
        loss.backward()
        return loss
    compiled = cr.compile(step)
    for x in (np.arange(3.0), RNG.standard_normal(3), np.zeros(3)):
        w.grad = None
        value = compiled(x).item()
        np.testing.assert_array_equal(w.grad.numpy(), x.astype(np.float32))
        assert value == pytest.approx(float((w.numpy() * x.astype(np.float32)).sum()), rel=1e-6)


def test_backward_with_create_graph_or_retain_grad_refuses_readably():
    w = cr.tensor(np.ones(3), requires_grad=True)

    def create_graph(x):
        (w * x).sum().backward(create_graph=True)
        return w.grad

    def retained(x):
        y = w * x
        y.retain_grad()
        y.sum().backward()
        return y
    with pytest.raises(CompileError, match=r"create_graph=True\) cannot be recorded"):
        cr.compile(create_graph)(np.ones(3))
    with pytest.raises(CompileError, match=r"retain_grad\(\) inside a compiled step cannot be recorded"):
        cr.compile(retained)(np.ones(3))


@pytest.mark.parametrize("exact", [True, False])
def test_a_model_trained_by_grad_inside_compile_matches_eager_over_steps(exact):
    # exact: bit for bit; fused (the cross-entropy's row kernels): to float32 rounding.
    model = nn.Linear(4, 2)
    x, y = RNG.standard_normal((8, 4)).astype(np.float32), RNG.integers(0, 2, 8)

    def loss_of(weight, bias, x, y):
        return F.cross_entropy(F.linear(x, weight, bias), y)

    def step(weight, bias, x, y):
        value, (gw, gb) = cr.value_and_grad(loss_of, argnums=(0, 1))(weight, bias, x, y)
        return value, weight - 0.5 * gw, bias - 0.5 * gb

    compiled = cr.compile(step, exact=exact)
    same = np.testing.assert_array_equal if exact else functools.partial(np.testing.assert_allclose, rtol=1e-5)
    e = c = (model.weight.numpy(), model.bias.numpy())
    for _ in range(10):
        ve, *e = step(*e, x, y)
        vc, *c = compiled(*c, x, y)
        e, c = [t.numpy() for t in e], [t.numpy() for t in c]
        same(vc.item(), ve.item())
    same(c[0], e[0])
