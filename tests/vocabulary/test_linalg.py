"""chainrule.linalg against numpy.linalg (values) and PyTorch (gradients), with both modes to second
order on well-conditioned, symmetric or spread-spectrum inputs."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import check_grads

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 3)) + 3 * np.eye(3)
B = RNG.standard_normal((3, 2))
BATCH = RNG.standard_normal((2, 3, 3))


def _spd(b):
    return cr.matmul(b, cr.swapaxes(b, -1, -2)) + 3 * np.eye(b.shape[-1])


def _symmetric(b):
    return (b + cr.swapaxes(b, -1, -2)) / 2


@pytest.mark.parametrize("name,args", [("inv", (A,)), ("det", (A,)), ("solve", (A, B)),
                                       ("solve", (A, B[:, 0])),
                                       ("pinv", (B,)), ("matrix_power", (A, 3)), ("matrix_power", (A, -2)),
                                       ("matrix_power", (A, 0))])
def test_values_match_numpy(name, args):
    np.testing.assert_allclose(getattr(cr.linalg, name)(*args).data, getattr(np.linalg, name)(*args))


def test_decompositions_match_numpy():
    spd = _spd(BATCH).data
    np.testing.assert_allclose(cr.linalg.cholesky(spd).data, np.linalg.cholesky(spd))
    for ours, theirs in zip(cr.linalg.eigh(spd), np.linalg.eigh(spd)):
        np.testing.assert_allclose(np.abs(ours.data), np.abs(theirs))
    for ours, theirs in zip(cr.linalg.svd(B, full_matrices=False), np.linalg.svd(B, full_matrices=False)):
        np.testing.assert_allclose(ours.data, theirs)
    for ours, theirs in zip(cr.linalg.qr(B), np.linalg.qr(B)):
        np.testing.assert_allclose(ours.data, theirs)
    sign, logdet = cr.linalg.slogdet(-A)
    np.testing.assert_allclose((sign.item(), logdet.item()), tuple(np.linalg.slogdet(-A)))


FUNCTIONS = {
    "inv": lambda a: cr.linalg.inv(a),
    "det": lambda a: cr.linalg.det(a),
    "slogdet": lambda a: cr.linalg.slogdet(a)[1],
    "solve": lambda a: cr.linalg.solve(a, B),
    "cholesky": lambda a: cr.linalg.cholesky(_spd(a)),
    "eigvalsh": lambda a: cr.linalg.eigh(_symmetric(a))[0],
    "eigvecs": lambda a: cr.linalg.eigh(_symmetric(a))[1] ** 2,
    "svdvals": lambda a: cr.linalg.svd(a, compute_uv=False),
    "svd_u": lambda a: cr.linalg.svd(a[:, :2], full_matrices=False)[0] ** 2,
    "svd_vt": lambda a: cr.linalg.svd(a[:2], full_matrices=False)[2] ** 2,
    "qr_q": lambda a: cr.linalg.qr(a)[0],
    "qr_r": lambda a: cr.linalg.qr(a[:, :2])[1],
    "pinv": lambda a: cr.linalg.pinv(a[:2]),
    "matrix_power": lambda a: cr.linalg.matrix_power(a, -3),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradients_to_second_order(name):
    check_grads(FUNCTIONS[name], (A,), order=2)


TORCH = {
    "inv": lambda torch, a: torch.linalg.inv(a), "det": lambda torch, a: torch.linalg.det(a),
    "slogdet": lambda torch, a: torch.linalg.slogdet(a)[1],
    "solve": lambda torch, a: torch.linalg.solve(a, torch.tensor(B)),
    "cholesky": lambda torch, a: torch.linalg.cholesky(a @ a.mT + 3 * torch.eye(3, dtype=a.dtype)),
    "eigvalsh": lambda torch, a: torch.linalg.eigh((a + a.mT) / 2)[0],
    "eigvecs": lambda torch, a: torch.linalg.eigh((a + a.mT) / 2)[1] ** 2,
    "svdvals": lambda torch, a: torch.linalg.svdvals(a),
    "svd_u": lambda torch, a: torch.linalg.svd(a[:, :2], full_matrices=False)[0] ** 2,
    "svd_vt": lambda torch, a: torch.linalg.svd(a[:2], full_matrices=False)[2] ** 2,
    "qr_q": lambda torch, a: torch.linalg.qr(a)[0], "qr_r": lambda torch, a: torch.linalg.qr(a[:, :2])[1],
    "pinv": lambda torch, a: torch.linalg.pinv(a[:2]),
    "matrix_power": lambda torch, a: torch.linalg.matrix_power(a, -3),
}


@pytest.mark.parametrize("name", sorted(TORCH))
def test_gradients_match_pytorch(name):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    weights = RNG.standard_normal(np.shape(FUNCTIONS[name](A).data))
    a = torch.tensor(A, requires_grad=True)
    (TORCH[name](torch, a) * torch.tensor(weights)).sum().backward()
    ours = cr.grad(lambda a: (FUNCTIONS[name](a) * weights).sum())(A)
    np.testing.assert_allclose(ours.data, a.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_full_svd_of_a_non_square_matrix_is_refused_by_name():
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        cr.linalg.svd(B)
    for ours, theirs in zip(cr.linalg.svd(A), np.linalg.svd(A)):  # square: full is thin
        np.testing.assert_allclose(ours.data, theirs)
