"""Spec-table entries for einsum (chainrule/ops/einsum.py): products, diagonals, broadcasting."""

import chainrule as cr
from tests.core.domains import real

SPECS = {
    "einsum": [(lambda a, b: cr.einsum("ij,jk->ik", a, b), [real(3, 4), real(4, 2)]),
               (lambda a: cr.einsum("ii->i", a), [real(3, 3)]),
               (lambda a, b: cr.einsum("...ij,...jk", a, b), [real(2, 1, 3, 4), real(2, 4, 2)]),
               (lambda a, b, c: cr.einsum("ij,j,kj->ik", a, b, c), [real(2, 3), real(3), real(4, 3)]),
               (lambda a, b: cr.einsum("iji,j->", a, b), [real(3, 2, 3), real(2)])],
}
