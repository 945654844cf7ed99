"""Spec-table entries for copying between devices (chainrule/ops/transfer.py). On one device the copy is
the identity and its rules are the transfers back and forth; tests/devices checks them across two."""

import chainrule as cr
from tests.core.domains import real

SPECS = {
    "transfer": [(lambda x: cr.ops.transfer(x * x, device=x.device, source=x.device), [real(2, 3)])],
}
