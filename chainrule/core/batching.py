"""Batching: how a primitive applied to one example runs once on a whole batch (what ``vmap`` needs).

As in JAX's ``batching.py``, every primitive has a rule in one table, :data:`primitive_batchers`::

    rule(args, dims, size, **params) -> out

``args`` are the primitive's inputs with the batch axis in front (``dims[i] == 0``) or unbatched
(``dims[i] is None``: the input is the same for every example); ``size`` is the batch's length; the
rule returns the batched result, its batch axis in front. Family helpers write most rules in one line
beside the primitive: :func:`defvectorized` (one input, elementwise), :func:`defbroadcasting`
(elementwise with NumPy broadcasting), :func:`defreducer` (an ``axis`` parameter), :func:`defleading`
(the forward maps over leading axes, as NumPy's ``linalg`` does). A primitive without a rule is refused
by name under ``vmap``, never run in a silent loop.

A batched value is a tensor seen by the user's function as one example: its shape and dtype are the
example's, its ``_tangents`` hold, at the level of the ``vmap`` that made it, a :class:`Batch` with the
whole batch. Levels are shared with forward mode (:func:`chainrule.core.forward.new_level`), so the
newest transform is handled first whatever the nesting; a primitive applied to a batched input at the
highest level goes to :func:`bind_batched`. Reverse mode records, beside the batched computation, a
node per example-level operation, whose rules then run on batched values (``vmap`` of ``grad``).
"""

import numpy as _np

from .. import backend
from ..errors import GraphError, ShapeError
from . import dispatch
from .graph import _GradMode
from .registry import diff
from .tensor import Tensor, unwrap

primitive_batchers = {}
"""The batching rule of every primitive that has one: ``{primitive: rule}``."""


class Batch:
    """A whole batch behind a batched tensor: ``value`` has the batch axis first, of length ``size``."""

    __slots__ = ("value", "size")

    def __init__(self, value, size):
        self.value = value
        self.size = size


_placeholders = {}


def placeholder(shape, dtype):
    """The ``data`` of a batched tensor: an array of one example's shape and dtype, read-only, NaN for
    floats, so that code reading values (instead of applying operations) cannot pass unnoticed."""
    key = (shape, dtype)
    array = _placeholders.get(key)
    if array is None:
        fill = backend.xp.nan if dtype.kind in "fc" else 0
        array = _placeholders[key] = backend.xp.broadcast_to(backend.xp.asarray(fill, dtype=dtype), shape)
    return array


def batched(value, level, size):
    """The example-level tensor standing for ``value`` (a tensor, batch axis first) at ``level``."""
    out = Tensor._wrap(placeholder(value.shape[1:], value.dtype), None)
    out._tangents = {level: Batch(value, size)}
    return out


def batch_of(x, level):
    """``x``'s :class:`Batch` at ``level``, or ``None`` when ``x`` is not batched there."""
    if isinstance(x, Tensor) and x._tangents:
        entry = x._tangents.get(level)
        if type(entry) is Batch:
            return entry
    return None


def is_batch_level(inputs, level):
    """Whether ``level`` (the highest among ``inputs``) belongs to a ``vmap``."""
    for x in inputs:
        if isinstance(x, Tensor) and x._tangents and level in x._tangents:
            return type(x._tangents[level]) is Batch
    return False


def bind_batched(prim, inputs, params, level):
    """Apply ``prim`` to ``inputs``, some batched at ``level`` (the highest level among them), by its
    batching rule; record an example-level node for reverse mode."""
    rule = primitive_batchers.get(prim)
    if rule is None:
        raise NotImplementedError(
            f"vmap: primitive {prim.name!r} has no batching rule; register one with "
            f"chainrule.core.batching.defbatch({prim.name}, rule) (see chainrule.rules() for coverage)")
    if not prim.accepted.issuperset(params):
        inputs, params = _inputs_by_keyword(prim, inputs, params)
        if not prim.accepted.issuperset(params):
            params = prim.keywords(params)
    args, dims, size = [], [], None
    for x in inputs:
        # The level is a vmap's, so whatever an input holds there is a Batch.
        tangents = x._tangents if isinstance(x, Tensor) else None
        entry = tangents.get(level) if tangents else None
        if entry is None:
            args.append(x)
            dims.append(None)
        else:
            args.append(entry.value)
            dims.append(0)
            size = entry.size
    value = rule(args, dims, size, **params)
    if not isinstance(value, Tensor):
        value = Tensor._wrap(backend.asarray(value), None)
    if value.ndim == 0 or value.shape[0] != size:
        raise ShapeError(f"vmap: the batching rule of {prim.name!r} returned shape {value.shape}, which "
                         f"does not start with the batch's length {size}")
    out = batched(value, level, size)
    if _GradMode.enabled and prim.differentiable:
        parents = tuple(x._node if isinstance(x, Tensor) else None for x in inputs)
        if any(p is not None for p in parents):
            values = [unwrap(x) for x in inputs]
            out._node = node = dispatch.new_node(prim, parents, tuple(inputs), values, out.data, params)
            node.ans_tangents = out._tangents
            node.values = _ExampleLevel(node.values)  # bare rules would read placeholders
    return out


class _ExampleLevel(tuple):
    """The bare values of an example-level node: only placeholders, so a first-order backward pass
    (``loss.backward()`` inside ``vmap``), which runs rules on bare arrays, is refused by name."""

    def __iter__(self):
        raise GraphError("backward() through a vmapped computation: inside vmap, each example's values "
                         "exist only as a batch; differentiate with chainrule.grad (or vjp) inside vmap")


def _inputs_by_keyword(prim, inputs, params):
    """Inputs given by keyword (``keep_mask(x, p=0.5)``) moved to their positions, as the rules take
    every input positionally."""
    import inspect
    if prim.nin is None or len(inputs) >= prim.nin:
        return inputs, params
    names = [p.name for p in inspect.signature(prim.impl).parameters.values()][1:prim.nin + 1]
    missing = names[len(inputs):]
    if not all(name in params for name in missing):
        return inputs, params
    params = dict(params)
    return tuple(inputs) + tuple(params.pop(name) for name in missing), params


def stop_gradient(x):
    """``x``'s values without any derivative (the rules' ``ns.value``): an array, or for a batched
    tensor a batched tensor whose batch holds no derivative either."""
    if isinstance(x, Tensor) and x._tangents:
        for level, entry in x._tangents.items():
            if type(entry) is Batch:
                out = Tensor._wrap(x.data, None)
                out._tangents = {level: Batch(stop_gradient(entry.value), entry.size)}
                return out
    return unwrap(x)


# -- registering rules ----------------------------------------------------------------------------

def defbatch(prim, rule):
    """Register ``rule(args, dims, size, **params) -> batched result`` as ``prim``'s batching rule."""
    primitive_batchers[prim] = rule
    return prim


def ndim(x):
    """The number of axes of a value that may be a tensor, an array or a Python number."""
    return x.ndim if hasattr(x, "ndim") else _np.ndim(x)


def shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else _np.shape(x)


def lift(x, rank):
    """A batched ``x`` (batch axis first) with axes of length 1 inserted after the batch axis, so that
    one example has ``rank`` axes: how broadcasting aligns it with examples of that rank."""
    missing = rank - (x.ndim - 1)
    if missing <= 0:
        return x
    return diff.reshape(x, shape=(x.shape[0],) + (1,) * missing + tuple(x.shape[1:]))


def materialize(x, dim, size):
    """``x`` with a batch axis in front: as it is when batched (or ``None``), else repeated ``size``
    times (a view)."""
    if dim is not None or x is None:
        return x
    return diff.broadcast_to(diff.unsqueeze(x, axis=0), shape=(size,) + shape(x))


def shift_axis(axis, rank):
    """An ``axis`` parameter (``None``, an int or a sequence) of one example of ``rank`` axes, for the
    batch: non-negative axes move one right, negative ones still count from the end, ``None`` (all)
    becomes every axis but the batch's."""
    if axis is None:
        return tuple(range(1, rank + 1))
    if isinstance(axis, (int, _np.integer)):
        return axis + 1 if axis >= 0 else axis
    return tuple(a + 1 if a >= 0 else a for a in axis)


def defvectorized(*prims):
    """Rules for primitives of one batched input (the others constants) that act on each element, or
    on trailing axes only: the batch goes through as leading axes do."""
    for prim in prims:
        defbatch(prim, lambda args, dims, size, prim=prim, **params: prim(*args, **params))


def defbroadcasting(*prims):
    """Rules for elementwise primitives with NumPy broadcasting: each batched input gets axes of length
    1 after its batch axis up to the example rank of the result; unbatched inputs broadcast as they
    are."""
    def rule(args, dims, size, prim, **params):
        rank = max(ndim(a) - (d is not None) for a, d in zip(args, dims))
        args = [a if d is None else lift(a, rank) for a, d in zip(args, dims)]
        return prim(*args, **params)
    for prim in prims:
        defbatch(prim, lambda args, dims, size, prim=prim, **params: rule(args, dims, size, prim, **params))


def defreducer(*prims, param="axis"):
    """Rules for primitives of one input with an axis parameter (reductions, softmax, scans, flips):
    the axis is shifted past the batch axis (``None``, all axes, becomes all but the batch's)."""
    def rule(args, dims, size, prim, **params):
        axis = params[param] if param in params else _default(prim, param)
        params[param] = shift_axis(axis, ndim(args[0]) - 1)
        return prim(*args, **params)
    for prim in prims:
        defbatch(prim, lambda args, dims, size, prim=prim, **params: rule(args, dims, size, prim, **params))


def _default(prim, param):
    import inspect
    return inspect.signature(prim.impl).parameters[param].default


def defleading(*prims):
    """Rules for primitives whose forward maps over any leading axes of all its inputs (NumPy's
    ``linalg`` on stacks of matrices): every input gets the batch axis, then one call."""
    def rule(args, dims, size, prim, **params):
        return prim(*[materialize(a, d, size) for a, d in zip(args, dims)], **params)
    for prim in prims:
        defbatch(prim, lambda args, dims, size, prim=prim, **params: rule(args, dims, size, prim, **params))


def refuse(prim, reason):
    """A rule that refuses ``prim`` under ``vmap`` with ``reason`` (a primitive that cannot be batched
    honestly, such as an in-place running statistic)."""
    def rule(args, dims, size, **params):
        raise NotImplementedError(f"vmap: {prim.name} cannot be batched: {reason}")
    defbatch(prim, rule)


diff.value = stop_gradient  # a batched tensor's values stay batched under higher-order rules
dispatch.batching = (is_batch_level, bind_batched)
