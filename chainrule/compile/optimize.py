"""Simplifications of a recorded program before it is compiled to Python, as XLA makes them for JAX's
``jit``: operations that depend on constants alone are computed once, while recording (the backward
pass's seed of ones and what follows from it alone), and operations whose results nothing reads are
dropped (a forward value kept only because the graph had a node for it). Operations marked impure (a
random draw, an in-place update, an optimiser's step) are always kept.
"""

from .. import backend
from .program import CONSTANT, SLOT, TENSOR


def fold_constants(ops, values, keep, made=()):
    """``ops`` without the pure operations whose every input is a constant computed by the program, made
    by the engine (``made``: ids of seeds of ones) or a Python value (not a user's array, which may
    change between replays); their readers read the value recorded for them instead. The buffers in
    ``keep`` (the step's results) stay computed."""
    folded, kept = {}, []
    ours = set(made)
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


def reuse_buffers(ops, values, keep):
    """Let each operation that can write into an existing array (``op.into``) write into the buffer of
    an input that dies with it, as hand-written NumPy does (``np.maximum(z, 0, out=z)``), when that
    buffer has the result's shape and dtype, is writeable, and holds memory of its own: no other buffer,
    argument, tensor or constant views it, no gradient or result of the step (``keep``) is it."""
    last, kept, foreign = {}, set(keep), set()
    for index, op in enumerate(ops):
        for code, ref in op.refs:
            if code == SLOT:
                last[ref] = index
                if op.out is None:  # an accumulation may keep it as a tensor's gradient
                    kept.add(ref)
            else:  # a tensor's array or a constant
                array = ref.data if code == TENSOR else ref
                if isinstance(array, backend.ndarray):
                    foreign.add(id(_root(array)))
    owners = {}
    for slot, value in enumerate(values):
        if isinstance(value, backend.ndarray):
            owners.setdefault(id(_root(value)), []).append(slot)
    for index, op in enumerate(ops):
        if op.into is None:
            continue
        for position, (code, ref) in enumerate(op.refs):
            value = values[ref] if code == SLOT else None
            if (value is not None and ref not in kept and last[ref] == index
                    and value.shape == op.shape and value.dtype == op.dtype and value.flags.writeable
                    and id(_root(value)) not in foreign and owners[id(_root(value))] == [ref]):
                op.fn, op.reuses = _writing_into(op.into, position), ref
                break


def _root(array):
    """What owns the memory ``array`` views (through NumPy's ``as_strided``, whose base is a holder of
    the viewed array's interface, not an array)."""
    while getattr(array, "base", None) is not None:
        array = array.base
    return array


def _writing_into(into, position):
    return lambda *values: into(values[position], *values)
