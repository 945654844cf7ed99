"""Functional transforms in the style of JAX: grad, value_and_grad, vjp, jvp, jacfwd, jacrev, hessian, hvp
(and vmap, in :mod:`chainrule.vectorize`, which the Jacobians use).

They nest to any order and mix modes. Reverse mode differentiates with respect to fresh graph nodes
made for the inputs (so an inner ``grad`` never confuses its variable with an outer one), and forward
mode tags tangents with the level of the ``jvp`` that made them (see :mod:`chainrule.core.forward`).
When a transform runs inside another one, its own backward pass is recorded, so the outer transform
can differentiate it.
"""

import contextlib
import functools

from . import backend
from .core.dispatch import new_node
from .core.forward import is_tracked, new_level, strip, with_tangent
from .core.graph import traces as _traces
from .core.mode import seed
from .core.reverse import backward
from .core.tensor import Tensor
from .errors import ShapeError
from .ops import identity, reshape
from .tree import tree_flatten, tree_map, tree_unflatten
from .vectorize import vmap


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _keeps_graph(nested, inputs):
    """Whether a transform's results must stay differentiable: inside another transform, or when an
    input is itself followed by reverse or forward mode."""
    return nested or any(is_tracked(leaf) for leaf in tree_flatten(inputs)[0])


def _require_function(f, transform):
    if not callable(f):
        raise TypeError(f"{transform}: the first argument must be a function, not {type(f).__name__} "
                        f"{f!r:.40}")


def _require_real_float(dtype, what):
    if dtype.kind != "f":
        hint = "" if dtype.kind == "c" else " (pass floats, e.g. 1.0 rather than 1)"
        raise TypeError(f"{what} has dtype {dtype}: chainrule differentiates real floating-point values "
                        f"only{hint}")


def _variable(x):
    """A tensor equal to ``x`` with a graph node of its own: the variable reverse mode targets."""
    x = _as_tensor(x)
    _require_real_float(x.dtype, "an input to differentiate with respect to")
    variable = Tensor._wrap(x.data, new_node(identity, (x._node,), (x,), (x.data,), x.data, {}))
    variable._tangents = x._tangents
    return variable


def _argnums_tuple(argnums, nargs):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if not -nargs <= n < nargs:
            raise ValueError(f"argnums={argnums!r} is out of range for a function called with {nargs} "
                             "positional arguments")
    return nums


def _with_variables(args, argnums):
    """``args`` with the leaves at ``argnums`` replaced by variables; the variables' trees."""
    args = list(args)
    trees = []
    for n in argnums:
        leaves, treedef = tree_flatten(args[n])
        variables = [_variable(leaf) for leaf in leaves]
        args[n] = tree_unflatten(treedef, variables)
        trees.append((variables, treedef))
    return args, trees


def _cotangents_for(trees, captured):
    """The captured cotangent of every variable, zeros for those the output does not depend on."""
    results = []
    for variables, treedef in trees:
        grads = []
        for v in variables:
            g = captured.get(v._node)
            if g is None:
                g = backend.xp.zeros_like(v.data)
            grads.append(g if isinstance(g, Tensor) else Tensor._wrap(backend.asarray(g), None))
        results.append(tree_unflatten(treedef, grads))
    return results


def _targets(trees):
    return {v._node for variables, _ in trees for v in variables}


def _result(x, keep_graph):
    return x if keep_graph or not isinstance(x, Tensor) else x.detach()


def value_and_grad(f, argnums=0, has_aux=False):
    """A function returning ``(f(*args), ∇f(*args))`` for a scalar-valued ``f``.

    Args:
        f: a function of tensors (or pytrees of them) returning a single-element tensor, or
            ``(output, aux)`` when ``has_aux``.
        argnums: which positional argument(s) to differentiate with respect to.
        has_aux: ``f`` returns ``(output, aux)``; the result is then ``((value, aux), grads)``.

    Example:
        >>> import chainrule as cr
        >>> value, slope = cr.value_and_grad(lambda x: x ** 3)(2.0)
        >>> float(value), float(slope)
        (8.0, 12.0)
    """
    _require_function(f, "value_and_grad")
    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args))
        with _traces.new_trace() as nested:
            keep_graph = _keeps_graph(nested, args)
            new_args, trees = _with_variables(args, nums)
            out = f(*new_args, **kwargs)
            out, aux = out if has_aux else (out, None)
            out = _as_tensor(out)
            if out.size != 1:
                raise ShapeError(f"grad needs a function with a single-element output, but "
                                 f"{getattr(f, '__name__', 'f')} returned shape {out.shape}; use "
                                 "jacrev or vjp for vector outputs")
            captured = backward([out], [backend.xp.ones_like(out.data)], targets=_targets(trees),
                                retain_graph=keep_graph, create_graph=keep_graph)
            grads = _cotangents_for(trees, captured)
            value = _result(out, keep_graph)
        grads = grads[0] if isinstance(argnums, int) else tuple(grads)
        return ((value, aux), grads) if has_aux else (value, grads)
    return wrapped


def grad(f, argnums=0, has_aux=False):
    """The gradient of a scalar-valued ``f`` as a function (JAX's ``grad``).

    Example:
        >>> import chainrule as cr
        >>> float(cr.grad(cr.sin)(0.0))
        1.0
        >>> float(cr.grad(cr.grad(lambda x: x ** 3))(1.0))
        6.0
    """
    _require_function(f, "grad")
    value_and_grad_f = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        if has_aux:
            (_, aux), grads = value_and_grad_f(*args, **kwargs)
            return grads, aux
        return value_and_grad_f(*args, **kwargs)[1]
    return wrapped


def vjp(f, *primals, has_aux=False):
    """Evaluate ``f`` and return ``(out, vjp_fn)``, with ``vjp_fn(cotangent)`` giving one
    cotangent per primal (a tuple), like ``jax.vjp``. ``vjp_fn`` may be called many times."""
    _require_function(f, "vjp")
    with _traces.new_trace() as nested:
        keep_graph = _keeps_graph(nested, primals)
        args, trees = _with_variables(primals, range(len(primals)))
        out = f(*args)
        out, aux = out if has_aux else (out, None)
    out_leaves, out_def = tree_flatten(out)
    out_leaves = [_as_tensor(leaf) for leaf in out_leaves]
    targets = _targets(trees)

    def vjp_fn(cotangent):
        cotangents, _ = tree_flatten(cotangent)
        if len(cotangents) != len(out_leaves):
            raise ShapeError(f"vjp_fn: got {len(cotangents)} cotangents for {len(out_leaves)} outputs")
        # Batched cotangents (vjp_fn under vmap: jacrev) go through the rules as tensors.
        records = keep_graph or any(is_tracked(c) for c in cotangents)
        cotangents = [seed(c, o, "vjp_fn: a cotangent", records)
                      for c, o in zip(cotangents, out_leaves, strict=True)]
        for c, o in zip(cotangents, out_leaves, strict=True):
            if tuple(c.shape) != o.shape:
                raise ShapeError(f"vjp_fn: cotangent of shape {tuple(c.shape)} for an output of shape "
                                 f"{o.shape}")
        with _traces.new_trace():
            captured = backward(out_leaves, cotangents, targets=targets, retain_graph=True,
                                create_graph=records, owned=False)
            return tuple(_cotangents_for(trees, captured))

    out = tree_unflatten(out_def, [_result(leaf, keep_graph) for leaf in out_leaves])
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def jvp(f, primals, tangents):
    """Evaluate ``f`` at ``primals`` and its directional derivative along ``tangents``, like
    ``jax.jvp``: returns ``(f(*primals), J·tangents)``.

    Args:
        f: a function of the primals.
        primals: a tuple (or list) of arguments, each a tensor, array, number or pytree of them.
        tangents: a tuple of the same structure and shapes.
    """
    _require_function(f, "jvp")
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    with _traces.new_trace() as nested:
        keep_graph = _keeps_graph(nested, primals)
        level = new_level()
        p_leaves, p_def = tree_flatten(primals)
        t_leaves, _ = tree_flatten(tangents)
        if len(p_leaves) != len(t_leaves):
            raise ValueError("jvp: tangents must have the same structure as primals")
        dual = []
        for p, t in zip(p_leaves, t_leaves, strict=True):
            p = _as_tensor(p)
            _require_real_float(p.dtype, "jvp: a primal")
            t = seed(t, p, "jvp: a tangent", keep_tensor=True)
            if tuple(t.shape) != p.shape:
                raise ShapeError(f"jvp: tangent of shape {tuple(t.shape)} for a primal of shape {p.shape}")
            dual.append(with_tangent(p, level, t))
        out = f(*tree_unflatten(p_def, dual))
        out_leaves, out_def = tree_flatten(out)
        primal_out, tangent_out = [], []
        for leaf in out_leaves:
            leaf, t = strip(_as_tensor(leaf), level)
            primal_out.append(_result(leaf, keep_graph))
            if t is None:
                t = backend.xp.zeros_like(leaf.data)
            t = t if isinstance(t, Tensor) else Tensor._wrap(backend.asarray(t), None)
            tangent_out.append(_result(t, keep_graph))
    return tree_unflatten(out_def, primal_out), tree_unflatten(out_def, tangent_out)


def _basis(x):
    """The standard basis of ``x``'s space as one array, ``(x.size,) + x.shape``: the batch of tangents
    or cotangents a Jacobian pushes through ``vmap``."""
    return backend.xp.eye(x.size, dtype=x.dtype).reshape((x.size,) + x.shape)


def jacfwd(f, argnums=0):
    """The Jacobian of ``f`` by forward mode: the JVPs of every input direction in one batched pass
    (``vmap`` of ``jvp`` over the standard basis), as JAX computes it.

    Each output leaf's Jacobian has shape ``out.shape + x.shape``; for a pytree of outputs (a tuple...)
    the result has the outputs' structure, and with several ``argnums`` each leaf is a tuple over them,
    as in JAX. Zero-size inputs or outputs give empty Jacobians.
    """
    _require_function(f, "jacfwd")
    @functools.wraps(f)
    def wrapped(*args):
        nums = _argnums_tuple(argnums, len(args))
        per_argument = []
        for n in nums:
            x = _as_tensor(args[n])

            def f_n(x_n, n=n):
                return f(*args[:n], x_n, *args[n + 1:])

            if x.size == 0:
                per_argument.append(_empty_jacobians(f_n(x), x.shape))
                continue
            # The batch axis last: each leaf comes out as out.shape + (x.size,). A batch of one is one JVP.
            push = vmap(lambda t: jvp(f_n, (x,), (t,))[1], out_axes=-1) if x.size > 1 else \
                (lambda basis: tree_map(lambda leaf: reshape(leaf, leaf.shape + (1,)),
                                        jvp(f_n, (x,), (basis[0],))[1]))
            columns = push(_basis(x))
            leaves, out_def = tree_flatten(columns)
            per_argument.append(([reshape(leaf, leaf.shape[:-1] + x.shape) for leaf in leaves], out_def))
        return _jacobian_result(per_argument, argnums)
    return wrapped


def jacrev(f, argnums=0):
    """The Jacobian of ``f`` by reverse mode: the VJPs of every output element in one batched pass
    (``vmap`` of the VJP over the standard basis).

    Shapes and structure as :func:`jacfwd`'s.
    """
    _require_function(f, "jacrev")
    @functools.wraps(f)
    def wrapped(*args):
        positions = [n % len(args) for n in _argnums_tuple(argnums, len(args))]

        def f_selected(*selected):
            full = list(args)
            for n, value in zip(positions, selected, strict=True):
                full[n] = value
            return f(*full)

        out, vjp_fn = vjp(f_selected, *[args[n] for n in positions])
        out_leaves, out_def = tree_flatten(out)
        out_leaves = [_as_tensor(leaf) for leaf in out_leaves]
        shapes = [_as_tensor(args[n]).shape for n in positions]
        jacobians = [[None] * len(out_leaves) for _ in positions]
        for i, leaf in enumerate(out_leaves):
            if leaf.size == 0:
                for k, shape in enumerate(shapes):
                    jacobians[k][i] = Tensor._wrap(backend.xp.zeros(leaf.shape + shape, leaf.dtype), None)
                continue

            def pull(e, i=i):
                cotangents = [e if j == i else backend.xp.zeros(other.shape, other.dtype)
                              for j, other in enumerate(out_leaves)]
                return vjp_fn(tree_unflatten(out_def, cotangents))

            basis = _basis(leaf)
            rows = vmap(pull)(basis) if leaf.size > 1 else pull(basis[0])  # a batch of one is one VJP
            for k, shape in enumerate(shapes):
                jacobians[k][i] = reshape(rows[k], leaf.shape + shape)
        return _jacobian_result([(leaves, out_def) for leaves in jacobians], argnums)
    return wrapped


def _empty_jacobians(out, x_shape):
    """The (all-empty) Jacobians of ``out``'s leaves with respect to a zero-size input."""
    leaves, out_def = tree_flatten(out)
    leaves = [_as_tensor(leaf) for leaf in leaves]
    return [Tensor._wrap(backend.xp.zeros(leaf.shape + x_shape, leaf.dtype), None) for leaf in leaves], out_def


def _jacobian_result(per_argument, argnums):
    """Jacobians in the outputs' structure: for one ``argnums`` each leaf's Jacobian, for several a
    tuple over them per leaf (JAX's layout)."""
    if isinstance(argnums, int):
        leaves, out_def = per_argument[0]
        return tree_unflatten(out_def, leaves)
    out_def = per_argument[0][1]
    return tree_unflatten(out_def, [tuple(leaves[i] for leaves, _ in per_argument)
                                    for i in range(len(per_argument[0][0]))])


def hessian(f, argnums=0):
    """The Hessian of a scalar ``f``, forward-over-reverse (``jacfwd(jacrev(f))``), shape
    ``x.shape + x.shape``."""
    return jacfwd(jacrev(f, argnums), argnums)


def hvp(f, x, v):
    """The Hessian-vector product ``∇²f(x) v`` without forming the Hessian (forward-over-reverse)."""
    return jvp(grad(f), (x,), (v,))[1]

