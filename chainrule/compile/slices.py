"""Cotangents of disjoint slices of one array, summed, written into one buffer.

A value cut into slices (``q, k, v = qkv.split(...)``, a chunk of gates) gets one cotangent per slice
in the backward pass; the rule of ``getitem`` turns each into a whole zero array with the slice filled
in (``scatter_add``), and the engine adds those arrays: with three slices, three zero arrays of the
whole shape and two additions, where one buffer with each slice written into it would do. When every
addend of such a sum (a tree of the engine's cotangent additions, each read only by the next) is the
VJP of a basic index (slices, integers) into arrays of one shape, and the slices do not overlap, the
sum becomes one operation ``scatter slices``: a buffer (zeros only if the slices leave some of it
uncovered) with each cotangent written into its slice. Each element is then the one cotangent that
reaches it, where the sum computed ``g + 0 + 0``: the same value, except that ``-0.0`` stays ``-0.0``
(``compile(exact=True)`` keeps the sum).
"""

from .. import backend
from .program import SLOT, Op

_SUM, _SLICE = ("forward", "add"), ("vjp", "getitem[0]")


def merge(ops, values, keep):
    """``ops`` with each sum of disjoint slices' cotangents replaced by one ``scatter slices``."""
    made, readers = {}, {}
    for index, op in enumerate(ops):
        if op.out is not None and not isinstance(op.out, tuple):
            made[op.out] = index
        for code, ref in op.refs:
            if code == SLOT:
                readers[ref] = readers.get(ref, 0) + 1
    replaced, gone = {}, set()
    for index in range(len(ops) - 1, -1, -1):
        op = ops[index]
        if op.kind != _SUM or index in gone:
            continue
        found = _addends(op, ops, values, made, readers, keep)
        if found is None:
            continue
        slices, interior = found
        scatter = _scatter(op, slices, values)
        if scatter is None:
            continue
        replaced[index] = scatter
        gone.update(interior)
        gone.update(made[leaf.out] for leaf in slices)
    if not replaced:
        return ops
    return [replaced.get(index, op) for index, op in enumerate(ops) if index not in gone or index in replaced]


def _addends(root, ops, values, made, readers, keep):
    """``(slice VJP operations, indices of the inner additions)`` of the sum ``root``, or ``None``."""
    slices, interior, pending = [], [], list(root.refs)
    while pending:
        code, ref = pending.pop()
        if code != SLOT or ref not in made or readers.get(ref) != 1 or ref in keep:
            return None
        index = made[ref]
        op = ops[index]
        if op.kind == _SLICE:
            slices.append(op)
        elif op.kind == _SUM and op.pure and len(op.refs) == 2:
            interior.append(index)
            pending.extend(op.refs)
        else:
            return None
    return (slices[::-1], interior) if len(slices) >= 2 else None


def _basic(index):
    index = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, slice, type(None), type(Ellipsis))) and not isinstance(i, bool)
               for i in index)


def _scatter(root, slices, values):
    """The operation writing each slice's cotangent into one buffer of ``root``'s result, or ``None``
    when an index is not basic or two slices overlap."""
    xp, result = backend.xp, values[root.out]
    if not isinstance(result, backend.ndarray):
        return None
    shape, dtype = result.shape, result.dtype
    indices = []
    for op in slices:
        index = (op.params or {}).get("index")
        if index is None or not _basic(index) or op.shape is None or tuple(op.shape) != shape or op.dtype != dtype:
            return None
        indices.append(index)
    cover = xp.zeros(shape, xp.uint8)
    for index in indices:
        cover[index] += 1
    if cover.max() > 1:
        return None
    fill = xp.empty if cover.min() == 1 else xp.zeros
    pairs = tuple(indices)

    def scatter_slices(*cotangents):
        out = fill(shape, dtype)
        for index, g in zip(pairs, cotangents):
            out[index] = g
        return out
    op = Op(root.part, "scatter slices", scatter_slices, [leaf.refs[0] for leaf in slices], root.out, root.site,
            result)
    return op
