"""Applying a primitive: compute its forward, push forward-mode tangents, record a reverse-mode node.

This is the hot path of the engine: for a first-order computation it costs one implementation call,
one :class:`~chainrule.core.tensor.Tensor` and, when an input requires a gradient, one
:class:`~chainrule.core.graph.Node`.
"""

from .. import backend
from ..errors import ShapeError
from .graph import Node, Unsaved, _GradMode, hooks, kept, user_site
from .tensor import Tensor


def bind(prim, inputs, params):
    """Apply ``prim`` to ``inputs`` (tensors, arrays, scalars) with keyword ``params``."""
    values, parents, needs_grad = [], [], False
    for x in inputs:
        if isinstance(x, Tensor):
            if x._tangents:
                from .forward import bind_tangents
                return bind_tangents(prim, inputs, params)
            values.append(x.data)
            node = x._node
            parents.append(node)
            if node is not None:
                needs_grad = True
        else:
            values.append(x)
            parents.append(None)
    try:
        ans = prim.impl(backend.xp, *values, **params)
    except (ValueError, IndexError, TypeError) as error:
        if not prim.accepted.issuperset(params):  # checked here, off the hot path: PyTorch's dim=...
            return bind(prim, inputs, prim.keywords(params))
        # The array library's complaint, restated with the operation, the shapes and the user's line.
        raise _shape_error(prim, values, params, error) from error
    if type(ans) is not backend.ndarray:
        ans = backend.asarray(ans)
    node = None
    if needs_grad and _GradMode.enabled and prim.differentiable:
        node = new_node(prim, tuple(parents), inputs, values, ans, params)
    out = Tensor._wrap(ans, node)
    if hooks.on_forward is not None:
        hooks.on_forward(prim, inputs, out, params)
    return out


def new_node(prim, parents, inputs, values, ans, params):
    """A reverse-mode node for ``prim``, keeping of ``inputs`` (raw ``values``) and ``ans`` only what its
    rules read, and the user's line while sites are recorded."""
    node = Node(prim, parents, kept(inputs, values, prim.saves_inputs),
                ans if prim.saves_ans else Unsaved(ans), params)
    if hooks.record_site:
        node.site = user_site()
    return node


def _shape_error(prim, values, params, error):
    shapes = ", ".join(str(getattr(v, "shape", type(v).__name__)) for v in values)
    settings = "".join(f", {k}={v!r}" for k, v in params.items() if k != "index")
    site = user_site()
    where = f"\n  at {site[0]}:{site[1]}: {site[2]}" if site else ""
    kind = ShapeError if isinstance(error, ValueError) else type(error)
    return kind(f"{prim.name}: inputs of shapes {shapes}{settings} do not fit: {error}{where}")
