"""The vocabulary's gradients against PyTorch's, one table: the same function written for each."""

import numpy as np
import pytest

import chainrule as cr

X = np.array([[0.5, 0.0, 2.0, -1.0], [0.0, 3.0, 0.0, 1.5], [1.0, 2.0, -0.5, 0.7]])  # zeros on purpose
Y = np.random.default_rng(0).standard_normal((4, 3))

# name -> (chainrule function, PyTorch function given the torch module)
TABLE = {
    "einsum": (lambda x, y: cr.einsum("ij,jk->ik", x, y), lambda t, x, y: t.einsum("ij,jk->ik", x, y)),
    "einsum_trace": (lambda x, y: cr.einsum("ij,ji", x, y), lambda t, x, y: t.einsum("ij,ji", x, y)),
    "tensordot": (lambda x, y: cr.tensordot(x, y, 1), lambda t, x, y: t.tensordot(x, y, 1)),
    "kron": (lambda x, y: cr.kron(x, y), lambda t, x, y: t.kron(x, y)),
    "prod": (lambda x, y: cr.prod(x, axis=1), lambda t, x, y: t.prod(x, dim=1)),
    "cumsum": (lambda x, y: cr.cumsum(x, 1), lambda t, x, y: t.cumsum(x, 1)),
    "cumprod": (lambda x, y: cr.cumprod(x, 1), lambda t, x, y: t.cumprod(x, 1)),
    "flip": (lambda x, y: cr.flip(x, 0), lambda t, x, y: t.flip(x, (0,))),
    "roll": (lambda x, y: cr.roll(x, 1, 1), lambda t, x, y: t.roll(x, 1, 1)),
    "tile": (lambda x, y: cr.tile(x, (2, 1)), lambda t, x, y: t.tile(x, (2, 1))),
    "pad_reflect": (lambda x, y: cr.pad(x, ((0, 0), (2, 1)), mode="reflect"),
                    lambda t, x, y: t.nn.functional.pad(x[None], (2, 1), mode="reflect")[0]),
    "pad_wrap": (lambda x, y: cr.pad(x, ((0, 0), (2, 1)), mode="wrap"),
                 lambda t, x, y: t.nn.functional.pad(x[None], (2, 1), mode="circular")[0]),
    "triu": (lambda x, y: cr.triu(x, 1), lambda t, x, y: t.triu(x, 1)),
    "diagonal": (lambda x, y: cr.diagonal(x, 1), lambda t, x, y: t.diagonal(x, 1)),
    "norm_fro": (lambda x, y: cr.norm(x + 0.1), lambda t, x, y: t.linalg.norm(x + 0.1)),
    "norm_1": (lambda x, y: cr.norm(y, 1), lambda t, x, y: t.linalg.matrix_norm(y, 1)),
    "norm_nuc": (lambda x, y: cr.norm(y, "nuc"), lambda t, x, y: t.linalg.matrix_norm(y, "nuc")),
    "std": (lambda x, y: cr.std(x, axis=0, ddof=1), lambda t, x, y: t.std(x, dim=0)),
    "sort": (lambda x, y: cr.sort(y, 0).values, lambda t, x, y: t.sort(y, 0).values),
    "cross": (lambda x, y: cr.cross(x[:, :3], y[:3]), lambda t, x, y: t.linalg.cross(x[:, :3], y[:3])),
    "diff": (lambda x, y: cr.diff(x, 2), lambda t, x, y: t.diff(x, 2)),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_gradients_match_pytorch(name):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    ours, theirs = TABLE[name]
    out = ours(X, Y)
    weights = np.random.default_rng(1).standard_normal(out.shape)
    x, y = torch.tensor(X, requires_grad=True), torch.tensor(Y, requires_grad=True)
    reference = theirs(torch, x, y)
    np.testing.assert_allclose(out.data, reference.detach().numpy(), rtol=1e-10, atol=1e-12)
    (reference * torch.tensor(weights)).sum().backward()
    grads = cr.grad(lambda x, y: (ours(x, y) * weights).sum(), argnums=(0, 1))(X, Y)
    for grad, expected in zip(grads, (x.grad, y.grad)):
        expected = np.zeros_like(grad.data) if expected is None else expected.numpy()
        np.testing.assert_allclose(grad.data, expected, rtol=1e-9, atol=1e-12)
