"""The backward pass: VJP rules applied in reverse topological order.

Broadcasting in the forward pass is undone here, once, for every primitive: a VJP rule returns its
cotangent in the output's shape and :func:`unbroadcast` sums it down to the input's shape. A primitive
with one rule for all its inputs (``defvjp_argnums``) has it called once per node, for the inputs that
need a cotangent.
"""

import sys

from .. import backend
from ..errors import GraphError, ShapeError
from .graph import Leaf, _SetGradEnabled, hooks, toposort
from .mode import BARE, RECORDED, seed
from .registry import raw_for
from .tensor import Tensor


def broadcast_axes(out_shape, shape):
    """The axes of ``out_shape`` that broadcasting added to, or stretched in, an input of ``shape``."""
    lead = len(out_shape) - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and out_shape[lead + i] != 1)
    return tuple(range(lead)) + stretched


def unbroadcast(ns, g, shape):
    """Sum ``g`` over the axes that broadcasting added to or stretched in an input of ``shape``."""
    if tuple(g.shape) == shape:
        return g
    return ns.reshape(ns.sum(g, axis=broadcast_axes(tuple(g.shape), shape)), shape=shape)


def backward(roots, cotangents, *, targets=None, retain_graph=False, create_graph=False, owned=True):
    """Propagate cotangents from ``roots`` back through the recorded graph.

    Args:
        roots: tensors to start from.
        cotangents: one cotangent per root (arrays, or tensors when ``create_graph``).
        targets: nodes whose cotangents to return (functional mode); ``None`` accumulates into the
            ``.grad`` of leaves instead, like ``Tensor.backward``.
        retain_graph: keep saved values for another pass.
        create_graph: run the rules on chainrule's own primitives so the result is differentiable.
        owned: whether the engine may hand the root cotangents to a leaf without copying them.

    Returns:
        A dict from each reached target node to its cotangent.
    """
    grads = {}
    for root, cotangent in zip(roots, cotangents, strict=True):
        if root._node is not None:
            previous = grads.get(root._node)
            grads[root._node] = cotangent if previous is None else previous + cotangent
    order = toposort(list(grads))
    handed = set() if owned else {id(c) for c in cotangents}
    if owned and hooks.executor is not None:  # seeds made from shapes alone: the same at every replay
        for cotangent in cotangents:
            hooks.executor.constant(cotangent)
    if not create_graph:
        return _run(order, grads, BARE, targets, retain_graph, handed)
    with _SetGradEnabled(True):
        return _run(order, grads, RECORDED, targets, retain_graph, handed)


def _run(order, grads, mode, targets, retain_graph, handed):
    """The one backward walk. Each rule runs eagerly, or through ``hooks.executor`` while a compiled step
    is recorded (which runs it and emits it as an operation; rules on recorded tensors are primitives,
    emitted as they run, so a ``create_graph`` pass needs no executor for them)."""
    ns, on_vjp = mode.ns, hooks.on_vjp
    per_device = backend.placed and not mode.records  # bare rules run in the namespace of g's device
    executor = hooks.executor
    rules_run_by = None if mode.records else executor
    needed = None if targets is None else _reaching(order, targets)
    captured = {}
    for node in order:
        g = grads.pop(node, None)
        if g is None:
            continue
        if targets is not None and node in targets:
            captured[node] = g
        if type(node) is Leaf:
            if targets is None:
                if executor is not None:
                    executor.accumulate(node.tensor_ref(), g, mode.records)
                else:
                    _accumulate_leaf(node, g, mode, handed)
            continue
        if node.retained is not None and node.retained() is not None:
            if executor is not None:
                executor.refuse("retain_grad() inside a compiled step")
            node.retained().grad = g if isinstance(g, Tensor) else Tensor._wrap(g.copy(), None)
        if node.inputs is None:
            raise node.freed_error()
        args, ans = mode.saved(node)
        prim, params = node.prim, node.params
        if per_device:
            ns = raw_for(g)
        rules, shared = prim.vjps, None
        if prim.vjp_argnums is not None:  # one rule for all the inputs that need a cotangent
            shared = _shared_vjp(node, needed, ns, g, ans, args, rules_run_by)
        for i, parent in enumerate(node.parents):
            if parent is None or rules[i] is None or (needed is not None and parent not in needed):
                continue
            x = args[i]
            if rules_run_by is None:
                g_full = rules[i](ns, g, ans, *args, **params) if shared is None else shared.pop(i)
                g_input = finish(ns, g_full, x)
            elif shared is None:
                g_full, g_input = rules_run_by.vjp(node, i, g, ans, args)
            else:
                g_full, g_input = shared.pop(i)
            if on_vjp is not None:
                on_vjp(node, i, g, g_input, broadcast_axes(tuple(g_full.shape), x.shape))
            previous = grads.get(parent)
            if previous is None:
                grads[parent] = g_input
            elif rules_run_by is None:
                grads[parent] = previous + g_input
            else:
                grads[parent] = rules_run_by.add(previous, g_input)
        if not retain_graph:
            node.inputs = node.values = node.ans = node.ans_tangents = None
    return captured


def _shared_vjp(node, needed, ns, g, ans, args, rules_run_by):
    """The results of ``node``'s rule for several inputs, run once for the inputs that need a
    cotangent: ``{argnum: g_full}``, or ``{argnum: (g_full, g_input)}`` from an executor."""
    prim, rules = node.prim, node.prim.vjps
    wanted = tuple(i for i, parent in enumerate(node.parents) if parent is not None
                   and rules[i] is not None and (needed is None or parent in needed))
    if not wanted:
        return {}
    if rules_run_by is not None:
        return rules_run_by.vjps(node, wanted, g, ans, args)
    return dict(zip(wanted, prim.vjp_argnums(wanted, ns, g, ans, *args, **node.params)))


def finish(ns, g_full, x):
    """A VJP rule's result ``g_full`` (in the output's shape) as the cotangent of input ``x``: summed
    over broadcast axes, in ``x``'s dtype (a float64 constant must not upcast a float32 gradient)."""
    g_input = g_full if g_full.shape == x.shape else unbroadcast(ns, g_full, x.shape)
    if g_input.dtype != x.dtype:
        g_input = ns.astype(g_input, dtype=x.dtype)
    return g_input


def _reaching(order, targets):
    """The nodes from which some target can be reached (the only ones worth a VJP)."""
    needed = set()
    for node in reversed(order):
        if node in targets or any(parent in needed for parent in node.parents):
            needed.add(node)
    return needed


def _accumulate_leaf(leaf, g, mode, handed):
    tensor = leaf.tensor_ref()
    if tensor is None:
        return
    if mode.records:
        g = mode.result(g)
        tensor.grad = g if tensor.grad is None else tensor.grad + g
        return
    # The same array may reach several leaves (an add passes its cotangent on as it is): copy it then.
    accumulate(tensor, g, copy=id(g) in handed)
    handed.add(id(tensor.grad.data))


def accumulate(tensor, g, copy):
    """Add the array ``g`` into ``tensor.grad``, or make it the gradient: a copy when ``copy`` or when
    ``g`` is a view of an array something else holds (a view whose base nothing else holds, such as a
    transposed product, is the tensor's own)."""
    if tensor.grad is not None:
        tensor.grad.data += g
        return
    if copy or (g.base is not None and sys.getrefcount(g.base) > 2):
        g = g.copy(order="K")
    tensor.grad = Tensor._wrap(g, None)


def tensor_backward(self, gradient=None, retain_graph=False, create_graph=False):
    """Accumulate the gradient of this tensor into the ``.grad`` of every leaf it depends on.

    Args:
        gradient: the cotangent of this tensor; may be omitted only for a single-element tensor.
        retain_graph: keep the saved values so that a second backward can pass through the graph.
        create_graph: record the backward pass itself, so gradients can be differentiated again.
    """
    if self._node is None:
        raise GraphError("backward() on a tensor that does not require grad: none of its inputs "
                         "had requires_grad=True (or it was computed under no_grad())")
    owned = gradient is None  # the engine made the cotangent, so no leaf can share it with the user
    if gradient is None:
        if self.data.size != 1:
            raise GraphError(f"backward() without `gradient` needs a single-element output, but this "
                             f"tensor has shape {self.shape}; reduce it first (e.g. .sum()) or pass "
                             f"gradient= an array of shape {self.shape}")
        gradient = backend.namespace_of(self.data).empty(self.data.shape, self.data.dtype)
        gradient.fill(1)  # NumPy's ones() is Python around these two calls: 0.4 µs a step saved
    else:
        gradient = seed(gradient, self, "backward(): gradient", keep_tensor=create_graph)
        if tuple(gradient.shape) != self.shape:
            raise ShapeError(f"backward(): gradient has shape {tuple(gradient.shape)} but the "
                             f"tensor has shape {self.shape}")
    backward([self], [gradient], retain_graph=retain_graph or create_graph, create_graph=create_graph,
             owned=owned)


Tensor.backward = tensor_backward  # attached here: the tensor module knows no pass
