"""Simplifications of a recorded program before it is compiled to Python, as XLA makes them for JAX's
``jit``: operations that depend on constants alone are computed once, while recording (the backward
pass's seed of ones and what follows from it alone), and operations whose results nothing reads are
dropped (a forward value kept only because the graph had a node for it). Operations marked impure (a
random draw, an in-place update, an optimiser's step) are always kept.
"""

from .. import backend
from .program import CONSTANT, SLOT


def fold_constants(ops, values, keep):
    """``ops`` without the pure operations whose every input is a constant computed by the program or a
    Python value (not a user's array, which may change between replays); their readers read the value
    recorded for them instead. The buffers in ``keep`` (the step's results) stay computed."""
    folded, kept = {}, []
    ours = set()
    for op in ops:
        op.refs = tuple((CONSTANT, folded[ref]) if code == SLOT and ref in folded else (code, ref)
                        for code, ref in op.refs)
        if op.pure and op.out is not None and op.out not in keep and all(
                code == CONSTANT and (id(ref) in ours or not isinstance(ref, backend.ndarray))
                for code, ref in op.refs):
            folded[op.out] = values[op.out]
            ours.add(id(values[op.out]))
            continue
        kept.append(op)
    return kept


def drop_dead(ops, keep):
    """``ops`` without the pure operations whose results no later operation reads and that are not among
    the buffers in ``keep``."""
    live, kept = set(keep), []
    for op in reversed(ops):
        if op.pure and op.out is not None and op.out not in live:
            continue
        live.update(ref for code, ref in op.refs if code == SLOT)
        kept.append(op)
    return kept[::-1]
