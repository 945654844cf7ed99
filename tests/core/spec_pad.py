"""Spec-table entries for padding (chainrule/ops/pad.py)."""

import chainrule as cr
from tests.core.domains import real

SPECS = {
    "pad_constant": [(lambda x: cr.pad(x, ((1, 2), (0, 1)), constant_values=0.5), [real(2, 3)]),
                     (lambda x: cr.pad(x, 2), [real(3)])],
}
