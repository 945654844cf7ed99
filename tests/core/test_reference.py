"""Values, gradients, JVPs and Hessians against PyTorch and JAX, where installed."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


def mlp_loss(lib, w1, b1, w2, x, y):
    h = lib["tanh"](x @ w1 + b1)
    return lib["ce"](h @ w2, y)


CR = {"tanh": cr.tanh, "ce": lambda z, y: cr.softmax_cross_entropy(z, y).mean()}
TORCH = {"tanh": torch.tanh, "ce": lambda z, y: torch.nn.functional.cross_entropy(z, y)}


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    return [rng.normal(size=s) for s in [(5, 4), (4,), (4, 3), (6, 5)]] + [np.array([0, 2, 1, 1, 0, 2])]


def test_values_and_gradients_match_torch(problem):
    *weights, x, y = problem
    cr_weights = [cr.tensor(w, requires_grad=True) for w in weights]
    loss = mlp_loss(CR, *cr_weights, x, y)
    loss.backward()
    t_weights = [torch.tensor(w, requires_grad=True) for w in weights]
    t_loss = mlp_loss(TORCH, *t_weights, torch.tensor(x), torch.tensor(y))
    t_loss.backward()
    assert loss.item() == pytest.approx(t_loss.item(), rel=1e-12)
    for ours, theirs in zip(cr_weights, t_weights, strict=True):
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_jvp_matches_torch_func(problem):
    *weights, x, y = problem
    tangents = [np.ones_like(w) * 0.1 for w in weights]
    _, ours = cr.jvp(lambda *ws: mlp_loss(CR, *ws, x, y), weights, tangents)
    _, theirs = torch.func.jvp(lambda *ws: mlp_loss(TORCH, *ws, torch.tensor(x), torch.tensor(y)),
                               tuple(torch.tensor(w) for w in weights),
                               tuple(torch.tensor(t) for t in tangents))
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-10)


def test_hessian_matches_torch():
    rng = np.random.default_rng(1)
    a, x = rng.normal(size=(3, 3)), rng.normal(size=3)
    f_cr = lambda v: cr.logsumexp(a @ cr.sin(v)) + (v ** 3).sum()  # noqa: E731
    f_torch = lambda v: torch.logsumexp(torch.tensor(a) @ torch.sin(v), 0) + (v ** 3).sum()  # noqa: E731
    ours = cr.hessian(f_cr)(x).data
    theirs = torch.autograd.functional.hessian(f_torch, torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_reductions_and_indexing_match_torch():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 5))
    ours = cr.tensor(x, requires_grad=True)
    (cr.var(ours, axis=0, ddof=1).sum() + ours[[0, 0, 3], 1:4].sum() + cr.max(ours, axis=1).sum()).backward()
    theirs = torch.tensor(x, requires_grad=True)
    (theirs.var(0).sum() + theirs[[0, 0, 3], 1:4].sum() + theirs.amax(1).sum()).backward()
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-12)


def test_jax_agrees_on_a_forward_over_reverse_hvp():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    x, v = np.array([0.3, -0.7, 1.1]), np.array([1.0, 2.0, -1.0])
    ours = cr.hvp(lambda z: (cr.softmax(z) * z).sum() + cr.sigmoid(z).sum(), x, v)
    theirs = jax.jvp(jax.grad(lambda z: (jax.nn.softmax(z) * z).sum() + jax.nn.sigmoid(z).sum()),
                     (x,), (v,))[1]
    np.testing.assert_allclose(ours.data, np.asarray(theirs), rtol=1e-10)
