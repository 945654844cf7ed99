"""Applying a primitive: compute its forward, push forward-mode tangents, record a reverse-mode node.

This is the hot path of the engine: for a first-order computation it costs one implementation call,
one :class:`~chainrule.core.tensor.Tensor` and, when an input requires a gradient, one
:class:`~chainrule.core.graph.Node`.
"""

from .. import backend, devices
from ..errors import ShapeError, user_line, user_site
from .forward import _full, is_tracked, strip
from .graph import Node, Unsaved, _GradMode, hooks, unsaved
from .mode import BARE, RECORDED
from .registry import raw_for
from .tensor import Tensor


def bind(prim, inputs, params):
    """Apply ``prim`` to ``inputs`` (tensors, arrays, scalars) with keyword ``params``."""
    values, parents, needs_grad = [], [], False
    for x in inputs:
        if isinstance(x, Tensor):
            if x._tangents:
                return bind_tangents(prim, inputs, params)
            values.append(x.data)
            node = x._node
            parents.append(node)
            if node is not None:
                needs_grad = True
        else:
            values.append(x)
            parents.append(None)
    xp = backend.xp
    if backend.placed:  # some array has left the CPU: the inputs' device decides (or they clash)
        xp = devices.common(values, prim.name).namespace
    try:
        ans = prim.impl(xp, *values, **params)
    except (ValueError, IndexError, TypeError) as error:
        raise restated(prim.name, values, params, error) from error
    if type(ans) is not backend.ndarray and type(ans) not in backend.namespaces:
        ans = xp.asarray(ans)
    node = None
    if needs_grad and _GradMode.enabled and prim.differentiable:
        node = new_node(prim, tuple(parents), inputs, values, ans, params)
    out = Tensor._wrap(ans, node)
    if hooks.on_forward is not None:
        hooks.on_forward(prim, inputs, out, params)
    return out


def new_node(prim, parents, inputs, values, ans, params):
    """A reverse-mode node for ``prim``, keeping of ``inputs`` (and their raw ``values``, a list the node
    may own) and ``ans`` only what its rules read, and the user's line while sites are recorded."""
    if ans.dtype.kind == "c":
        refuse_complex(prim, ans)
    if not prim.saves_inputs:
        inputs = values = unsaved(values)
    node = Node(prim, parents, inputs, values, ans if prim.saves_ans else Unsaved(ans), params)
    if hooks.record_site:
        node.site = user_site()
    return node


batching = None
"""``(is_batch_level, bind_batched)``, set by :mod:`core.batching` when it loads (it stands above this
module: it binds through it)."""


def bind_tangents(prim, inputs, params):
    """Apply ``prim`` to inputs of which some carry tangents, splitting off the highest level."""
    level = max(max(x._tangents) for x in inputs if isinstance(x, Tensor) and x._tangents)
    if batching is not None and batching[0](inputs, level):  # the newest transform is a vmap
        return batching[1](prim, inputs, params, level)
    split = [strip(x, level) for x in inputs]
    primals = tuple(p for p, _ in split)
    primal_out = bind(prim, primals, params)
    tangent_out = None
    if prim.differentiable:
        if primal_out.dtype.kind == "c":
            refuse_complex(prim, primal_out.data)
        # Plain values (no graph, no other level) need no recording: run the rules on bare arrays. A
        # compiled step being recorded runs them as primitives, which it emits as they run.
        tracked = hooks.executor is not None or any(is_tracked(x) for pair in split for x in pair)
        mode = RECORDED if tracked else BARE
        ns, args, ans = mode.ns, mode.values(primals), mode.value(primal_out)
        if backend.placed and not tracked:
            ns = raw_for(ans)
        shared = None
        if prim.jvp_argnums is not None:  # one rule for all the inputs that carry a tangent
            given = tuple(i for i, (_, tangent) in enumerate(split)
                          if tangent is not None and prim.jvps[i] is not None)
            tangents = tuple(mode.value(split[i][1]) for i in given)
            terms = prim.jvp_argnums(given, ns, tangents, ans, *args, **params) if given else ()
            shared = dict(zip(given, terms))
        for i, (_, tangent) in enumerate(split):
            if tangent is None or prim.jvps[i] is None:
                continue
            tangent = mode.value(tangent)
            term = prim.jvps[i](ns, tangent, ans, *args, **params) if shared is None else shared[i]
            if hooks.on_jvp is not None:
                hooks.on_jvp(prim, i, tangent, _full(ns, term, primal_out.shape), inputs, params)
            tangent_out = term if tangent_out is None else tangent_out + term
        if tangent_out is not None:
            tangent_out = mode.result(_full(ns, tangent_out, primal_out.shape))
    out = Tensor._wrap(primal_out.data, primal_out._node)
    out._tangents = dict(primal_out._tangents or {})
    if tangent_out is not None:
        out._tangents[level] = tangent_out
    out._tangents = out._tangents or None
    parents = tuple(x._node if isinstance(x, Tensor) else None for x in inputs)
    if _GradMode.enabled and prim.differentiable and any(p is not None for p in parents):
        # Reverse mode must see the inputs with every tangent, so a backward pass differentiated
        # in forward mode (forward-over-reverse) carries them through its own rules.
        out._node = new_node(prim, parents, tuple(inputs), BARE.values(inputs), primal_out.data, params)
        out._node.ans_tangents = out._tangents
    return out


def refuse_complex(prim, ans):
    """Complex values are never differentiated: no rule follows the conjugate (Wirtinger) convention,
    so their gradients would be silently wrong."""
    if ans.dtype.kind == "c":
        raise TypeError(f"{prim.name}: made {ans.dtype} values from an input that is differentiated; "
                        f"chainrule differentiates real floating-point values only{user_line()}")


def restated(name, values, params, error):
    """The array library's complaint about operation ``name``, restated with its inputs' shapes (or
    types), its parameters and the user's line: a ShapeError for a ValueError, else the built-in
    TypeError or IndexError (never the library's own subclass, whose constructor may differ)."""
    settings = "".join(f", {k}={v!r}" for k, v in params.items() if k != "index")
    if isinstance(error, ValueError):
        shapes = ", ".join(str(getattr(v, "shape", type(v).__name__)) for v in values)
        return ShapeError(f"{name}: inputs of shapes {shapes}{settings} do not fit: {error}")
    kind = TypeError if isinstance(error, TypeError) else IndexError
    for i, v in enumerate(values):
        if not _numbers(v):
            return kind(f"{name}: input {i} is {type(v).__name__} {v!r:.40}, not numbers (a tensor, an "
                        f"array or a Python number): {error}{user_line()}")
    described = ", ".join(f"{backend.asarray(v).dtype} {backend.xp.shape(v)}" for v in values)
    return kind(f"{name}: inputs {described}{settings} are not supported: {error}{user_line()}")


def _numbers(value):
    try:
        return backend.asarray(value).dtype.kind in "biufc"
    except (TypeError, ValueError):
        return False
