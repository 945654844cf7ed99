"""Cotangents of disjoint slices of one array are written into one buffer (``scatter slices``) instead
of a zero array per slice summed; overlapping slices and ``exact=True`` keep the sum."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.compile import c_backend

pytestmark = pytest.mark.skipif(c_backend.unavailable() is not None, reason="no C compiler")

RNG = np.random.default_rng(41)


def _step(cuts, w):
    def step(x):
        y = x * w
        parts = [y[:, a:b] * (k + 2.0) for k, (a, b) in enumerate(cuts)]
        total = parts[0].sum()
        for part in parts[1:]:
            total = total + (part * part).sum()
        total.backward()
        return total, w.grad
    return step


def _run(cuts, exact=False):
    w = cr.tensor(RNG.standard_normal(9).astype(np.float32), requires_grad=True)
    step = _step(cuts, w)
    compiled = cr.compile(step, exact=exact)
    x = RNG.standard_normal((4, 9)).astype(np.float32)
    for _ in range(2):
        w.grad = None
        got = [np.asarray(t.data).copy() for t in compiled(x)]
    w.grad = None
    want = [t.data for t in step(x)]
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-6)
    return str(compiled.program(x))


@pytest.mark.parametrize("cuts", [[(0, 3), (3, 6), (6, 9)], [(0, 2), (5, 9)]])
def test_disjoint_slices_cotangents_are_written_into_one_buffer(cuts):
    listing = _run(cuts)
    assert "scatter slices" in listing
    assert "vjp getitem[0]" not in listing


def test_overlapping_slices_keep_the_sum():
    listing = _run([(0, 5), (3, 9)])
    assert "scatter slices" not in listing and "vjp getitem[0]" in listing


def test_exact_keeps_the_sum():
    listing = _run([(0, 3), (3, 9)], exact=True)
    assert "scatter slices" not in listing


def test_the_uncovered_part_is_zero():
    w = cr.tensor(np.ones(6, np.float32), requires_grad=True)

    def step(x):
        y = x * w
        ((y[:2] ** 2).sum() + (y[4:] ** 2).sum() * 3.0).backward()
        return w.grad
    compiled = cr.compile(step)
    x = np.arange(6, dtype=np.float32)
    compiled(x)
    w.grad = None
    np.testing.assert_array_equal(compiled(x).numpy(), [0, 2, 0, 0, 96, 150])
    assert "scatter slices" in str(compiled.program(x))
