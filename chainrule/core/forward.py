"""Forward mode: tangents pushed through JVP rules, tagged by the level of the transform that made them.

A tensor's ``_tangents`` maps a level to its tangent there. Each :func:`chainrule.jvp` opens a new,
higher level; a primitive applied to inputs carrying tangents splits off the highest level ``L`` (as
a nested dual number ``x = x₀ + ε_L t`` whose parts may carry lower levels), computes the primal from
the parts, and its tangent by the JVP rules (on chainrule's own primitives when something must be
recorded, on bare arrays otherwise). Tangents of different
levels never mix, so nested derivatives do not confuse their perturbations.
"""

import itertools

from .batching import bind_batched, is_batch_level
from .graph import _GradMode, hooks
from .mode import BARE, RECORDED
from .tensor import Tensor

_levels = itertools.count(1)


def new_level():
    """A level above every level made so far: the new transform's own."""
    return next(_levels)


def with_tangent(x, level, tangent):
    """A tensor equal to ``x`` (same graph node) that also carries ``tangent`` at ``level``."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    out = Tensor._wrap(x.data, x._node)
    out._tangents = dict(x._tangents or {})
    out._tangents[level] = tangent
    return out


def strip(x, level):
    """``x`` without its tangent at ``level``, and that tangent (``None`` when it has none)."""
    if not isinstance(x, Tensor) or not x._tangents or level not in x._tangents:
        return x, None
    out = Tensor._wrap(x.data, x._node)
    rest = {k: v for k, v in x._tangents.items() if k != level}
    out._tangents = rest or None
    return out, x._tangents[level]


def _full(ns, tangent, shape):
    """A tangent broadcast to the output's shape (rules may return a smaller one, e.g. a bias's)."""
    return tangent if tuple(tangent.shape) == shape else ns.broadcast_to(tangent, shape=shape)


def is_tracked(x):
    """Whether ``x`` is a tensor that some transform follows: recorded for reverse mode or carrying
    tangents."""
    return isinstance(x, Tensor) and (x._node is not None or bool(x._tangents))


def bind_tangents(prim, inputs, params):
    """Apply ``prim`` to inputs of which some carry tangents, splitting off the highest level."""
    level = max(max(x._tangents) for x in inputs if isinstance(x, Tensor) and x._tangents)
    if is_batch_level(inputs, level):  # the newest transform is a vmap
        return bind_batched(prim, inputs, params, level)
    from .dispatch import bind, new_node, refuse_complex
    if not prim.accepted.issuperset(params):  # the rules take the forward's keywords
        params = prim.keywords(params)
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

