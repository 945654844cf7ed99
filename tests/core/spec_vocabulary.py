"""Spec-table entries for the NumPy vocabulary's scans, orderings and linear algebra
(chainrule/ops/{arrange,scans,linalg_decomp}.py). Matrices are kept well conditioned, symmetric inputs
come from a symmetric parametrisation, and spectra away from repeated values."""

import numpy as np

import chainrule as cr
from tests.core.domains import positive, real

SHIFT = 3 * np.eye(3)


def _spd(b):
    return cr.matmul(b, cr.swapaxes(b, -1, -2)) + SHIFT


def _symmetric(b):
    # a fixed spread of eigenvalues keeps them apart whatever b is
    return (b + cr.swapaxes(b, -1, -2)) * 0.1 + np.diag([1.0, 2.0, 3.0])


SPECS = {
    "flip": [(lambda x: cr.flip(x, 1), [real(2, 3)]), (cr.flip, [real(2, 3)])],
    "cumsum": [(lambda x: cr.cumsum(x, 1), [real(2, 3)]), (cr.cumsum, [real(2, 3)])],
    "cumprod": [(lambda x: cr.cumprod(x, 0), [real(3, 2)]), (cr.cumprod, [positive(4)])],
    "prod": [(lambda x: cr.prod(x, axis=1), [real(2, 3)]), (cr.prod, [real(2, 3)]),
             (lambda x: cr.prod(x, axis=(0, 2), keepdims=True), [real(2, 3, 2)])],
    "inv": [(lambda a: cr.linalg.inv(a + SHIFT), [real(3, 3)])],
    "solve": [(lambda a, b: cr.linalg.solve(a + SHIFT, b), [real(3, 3), real(3, 2)]),
              (lambda a, b: cr.linalg.solve(a + SHIFT, b), [real(2, 3, 3), real(3)])],
    "det": [(lambda a: cr.linalg.det(a + SHIFT), [real(3, 3)])],
    "logabsdet": [(lambda a: cr.linalg.slogdet(a + SHIFT)[1], [real(2, 3, 3)])],
    "cholesky": [(lambda b: cr.linalg.cholesky(_spd(b)), [real(3, 3)])],
    "eigh": [(lambda b: cr.linalg.eigh(_symmetric(b))[0], [real(3, 3)]),
             (lambda b: cr.linalg.eigh(_symmetric(b))[1] ** 2, [real(3, 3)])],
    "svd": [(lambda a: cr.linalg.svd(a + np.diag([1.0, 2.0, 3.0]), compute_uv=False), [real(3, 3)]),
            (lambda a: cr.linalg.svd(a, full_matrices=False)[0] ** 2, [real(4, 2)]),
            (lambda a: cr.linalg.svd(a, full_matrices=False)[2] ** 2, [real(2, 4)])],
    "qr": [(lambda a: cr.linalg.qr(a)[0], [real(4, 3)]), (lambda a: cr.linalg.qr(a)[1], [real(3, 3)])],
    "pinv": [(cr.linalg.pinv, [real(4, 3)]), (cr.linalg.pinv, [real(2, 3)])],
}
