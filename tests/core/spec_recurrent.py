"""Spec-table entries for the fused recurrent scan (chainrule/ops/recurrent.py): every mode, with and
without lengths, short sequences (T = 3, B = 2, H = 2). Second order runs through the rules written on
``ns`` (the reverse and forward scans are recorded like user code)."""

from chainrule.ops.recurrent import CELLS, recurrent_hidden, recurrent_scan
from tests.core.domains import positive, real


def _case(mode, lengths=None):
    gates, state_width = CELLS[mode].gates, CELLS[mode].state_width
    xw = positive(3, 2, gates * 2) if mode == "rnn_relu" else real(3, 2, gates * 2)  # relu away from 0
    return (lambda xw, state0, weight_hh, bias_hh:
            recurrent_scan(xw, state0, weight_hh, bias_hh, mode=mode, lengths=lengths),
            [xw, real(2, state_width * 2), real(gates * 2, 2), real(gates * 2)])


SPECS = {
    "recurrent_scan": [_case(mode, lengths) for mode in CELLS for lengths in (None, (3, 1))],
    "recurrent_hidden": [(lambda states: recurrent_hidden(states, hidden=2), [real(3, 2, 4)])],
}
