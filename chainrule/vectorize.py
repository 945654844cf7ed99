"""``vmap``: a function written for one example, run once on a whole batch (JAX's ``vmap``).

The function sees each batched argument as one example (its shape without the mapped axis); every
primitive it applies runs once on the whole batch through its batching rule
(:mod:`chainrule.core.batching`), never in a Python loop. It nests with itself and with ``grad``,
``vjp``, ``jvp``, ``jacfwd``, ``jacrev`` and ``hessian`` in any order.
"""

import functools
import inspect

from . import backend
from .core.batching import batch_of, batched
from .core.forward import is_tracked, new_level
from .core.graph import chained, hooks, traces
from .core.tensor import Tensor
from .errors import ShapeError
from .ops import broadcast_to, moveaxis, unsqueeze
from .tree import tree_flatten, tree_unflatten

RANDOMNESS = ("different",)


def vmap(fn, in_axes=0, out_axes=0, axis_size=None, *, in_dims=None, out_dims=None, randomness="different"):
    """``fn`` mapped over an axis of its arguments, computed as one batched pass.

    Args:
        fn: a function of tensors (or pytrees of them) written for one example.
        in_axes: the mapped axis of each positional argument: an int (negative counts from the end) or
            ``None`` (the argument is the same for every example), for all arguments at once, or a
            tuple with one entry per argument, each a prefix of its pytree (a dict of axes for a dict
            argument...). Keyword arguments are mapped over their axis 0.
        out_axes: where the batch axis goes in each output leaf, likewise (``None``: the output must
            not depend on the batch, and is returned once).
        axis_size: the batch's length; needed only when no argument is mapped.
        in_dims, out_dims: ``torch.func.vmap``'s names for ``in_axes`` and ``out_axes``.
        randomness: ``"different"`` (the only mode): random operations applied to batched values
            (dropout) draw independent numbers for each example, as JAX's and torch.func's
            ``randomness="different"``.

    Returns:
        A function taking the batched arguments and returning ``fn``'s outputs, each with the batch
        axis at ``out_axes``.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> cr.vmap(lambda row, w: (row * w).sum(), in_axes=(0, None))(x, cr.tensor([1.0, 10.0]))
        tensor([21., 43.])
        >>> per_example = cr.vmap(cr.grad(lambda w, row: (w * row).sum() ** 2), in_axes=(None, 0))
        >>> per_example(cr.tensor([1.0, 1.0]), x).tolist()
        [[6.0, 12.0], [42.0, 56.0]]
    """
    if not callable(fn):
        raise TypeError(f"vmap: the first argument must be a function, not {type(fn).__name__} {fn!r:.40}")
    in_axes = _one_of(in_axes, in_dims, "in_axes", "in_dims", 0)
    out_axes = _one_of(out_axes, out_dims, "out_axes", "out_dims", 0)
    if randomness not in RANDOMNESS:
        raise ValueError(f"vmap: randomness must be one of {RANDOMNESS}, not {randomness!r}")
    if axis_size is not None and (not isinstance(axis_size, int) or isinstance(axis_size, bool)
                                  or axis_size < 0):
        raise ValueError(f"vmap: axis_size must be a non-negative int, not {axis_size!r}")
    _check_axes_spec(in_axes, "in_axes")
    _check_axes_spec(out_axes, "out_axes")

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        if isinstance(in_axes, (tuple, list)) and len(in_axes) != len(args):
            raise ValueError(f"vmap: in_axes has {len(in_axes)} entries but {_name(fn)} was called with "
                             f"{len(args)} positional arguments; give one entry per argument (None for "
                             f"an unmapped one)")
        axes = []
        for i, arg in enumerate(args):
            spec = in_axes[i] if isinstance(in_axes, (tuple, list)) else in_axes
            axes.append(_prefix_axes(spec, arg, lambda i=i: f"in_axes for argument {_argument_name(fn, i)}"))
        leaves, treedef = tree_flatten(args)
        kw_leaves, kw_def = tree_flatten(kwargs) if kwargs else ((), None)
        all_leaves = leaves + list(kw_leaves)
        all_axes = [axis for a in axes for axis in a] + [0] * len(kw_leaves)

        def leaf_names():  # for error messages only: inspecting the signature costs microseconds
            names = [f"argument {_argument_name(fn, i)}" + ("" if len(a) == 1 else f" (leaf {j})")
                     for i, a in enumerate(axes) for j in range(len(a))]
            return names + [f"keyword argument leaf {j}" for j in range(len(kw_leaves))]
        size, all_axes = _batch_size(all_leaves, all_axes, leaf_names, axis_size, fn)
        keep_graph = traces.top > 0 or any(is_tracked(leaf) for leaf in all_leaves)
        level = new_level()
        mapped = [leaf if axis is None else _to_batched(leaf, axis, level, size)
                  for leaf, axis in zip(all_leaves, all_axes)]
        args = tree_unflatten(treedef, mapped[:len(leaves)])
        kwargs = tree_unflatten(kw_def, mapped[len(leaves):]) if kwargs else {}
        with _inside_vmap():
            out = fn(*args, **kwargs)
        return _unbatched_outputs(out, out_axes, level, size, fn, keep_graph)
    return wrapped


def _one_of(value, alias, name, alias_name, default):
    if alias is None:
        return value
    if value is not default and value != alias:
        raise ValueError(f"vmap: {name}={value!r} and {alias_name}={alias!r} disagree; give one of them")
    return alias


def _check_axes_spec(spec, what):
    """Refuse anything but ints, ``None`` and tuples, lists or dicts of them, naming ``what``."""
    if spec is None or (isinstance(spec, int) and not isinstance(spec, bool)):
        return
    if isinstance(spec, (tuple, list)):
        for s in spec:
            _check_axes_spec(s, what)
        return
    if isinstance(spec, dict):
        for s in spec.values():
            _check_axes_spec(s, what)
        return
    raise TypeError(f"vmap: {what} must be an int, None, or a tuple/list/dict of them, not "
                    f"{type(spec).__name__} {spec!r:.40}")


def _argument_name(fn, i):
    """``0 (x)``: a position with the parameter's name where the signature tells it."""
    try:
        parameters = [p.name for p in inspect.signature(fn).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        parameters = []
    return f"{i} ({parameters[i]})" if i < len(parameters) else str(i)


def _name(fn):
    return getattr(fn, "__name__", "the function")


def _prefix_axes(spec, tree, where):
    """The axis of every leaf of ``tree``, ``spec`` being an axis for the whole tree or a tree of axes
    matching ``tree``'s structure down to some depth (JAX's prefix rule)."""
    if spec is None or isinstance(spec, int):
        return [spec] * len(tree_flatten(tree)[0])
    if isinstance(spec, (tuple, list)) and isinstance(tree, (tuple, list)) and len(spec) == len(tree):
        return [a for s, t in zip(spec, tree) for a in _prefix_axes(s, t, where)]
    if isinstance(spec, dict) and isinstance(tree, dict) and set(spec) == set(tree):
        return [a for key in tree for a in _prefix_axes(spec[key], tree[key], where)]
    described = (f"{type(tree).__name__} of {len(tree)}" if isinstance(tree, (tuple, list, dict))
                 else type(tree).__name__)
    where = where() if callable(where) else where
    raise ValueError(f"vmap: {where} is {spec!r}, which does not match the argument's structure "
                     f"({described}); give an int or None for the whole argument, or the same structure")


def _shape_of(leaf):
    return tuple(leaf.shape) if hasattr(leaf, "shape") else backend.xp.shape(leaf)


def _batch_size(leaves, axes, names, axis_size, fn):
    """The batch's length, checked across every mapped leaf, and the axes made non-negative."""
    sizes, normalized = [], []
    for k, (leaf, axis) in enumerate(zip(leaves, axes)):
        if axis is None:
            normalized.append(None)
            continue
        shape = _shape_of(leaf)
        name = None
        if not -len(shape) <= axis < len(shape):
            name = names()[k]
            if not shape:
                raise ValueError(f"vmap: {name} is a scalar ({type(leaf).__name__}), which has no axis to "
                                 f"map over; give it in_axes None")
            raise ValueError(f"vmap: in_axes {axis} for {name} of shape {shape} is out of range "
                             f"[{-len(shape)}, {len(shape)})")
        axis %= len(shape)
        normalized.append(axis)
        sizes.append((shape[axis], k, axis, shape))
    if axis_size is not None:
        sizes.insert(0, (axis_size, "axis_size", None, None))
    if not sizes:
        raise ValueError(f"vmap: no argument of {_name(fn)} is mapped (every in_axes is None); give "
                         f"axis_size= to say how many examples to make")
    if any(n != sizes[0][0] for n, *_ in sizes):
        all_names = names()
        listed = ", ".join(f"{name if isinstance(name, str) else all_names[name]} has size {n}" + ("" if axis is None else f" along axis {axis} (shape "
                                                      f"{shape})") for n, name, axis, shape in sizes)
        raise ShapeError(f"vmap: the mapped axes have different sizes: {listed}")
    return sizes[0][0], normalized


def _to_batched(leaf, axis, level, size):
    x = leaf if isinstance(leaf, Tensor) else Tensor(leaf)
    if axis != 0:
        x = moveaxis(x, axis, 0)
    return batched(x, level, size)


class _inside_vmap:
    """While the function runs: transforms inside keep their graphs (their backward passes meet batched
    values), and reading a batched tensor's values as Python values is refused by name."""

    def __enter__(self):
        self.traces = traces
        self.traces.top += 1
        self.previous = hooks.on_value
        hooks.on_value = chained(self.previous, _refuse_batched_values)

    def __exit__(self, *exc):
        self.traces.top -= 1
        hooks.on_value = self.previous
        return False


def _refuse_batched_values(tensor, how):
    if tensor is not None and tensor._tangents and any(
            batch_of(tensor, level) is not None for level in tensor._tangents):
        raise ValueError(f"vmap: {how} reads the values of a tensor that holds a different value for each "
                         f"example; inside vmap compute with operations (chainrule.where instead of if, "
                         f"...), or return the tensor and read it after vmap")


def _unbatched_outputs(out, out_axes, level, size, fn, keep_graph):
    leaves, treedef = tree_flatten(out)
    axes = _prefix_axes(out_axes, out, "out_axes")
    results = []
    for i, (leaf, axis) in enumerate(zip(leaves, axes)):
        entry = batch_of(leaf, level)
        if axis is None:
            if entry is not None:
                raise ValueError(f"vmap: out_axes is None for output leaf {i} of {_name(fn)}, but it "
                                 f"differs from example to example; give it an axis")
            results.append(leaf)
            continue
        if entry is not None:
            value = entry.value
        else:
            leaf = leaf if isinstance(leaf, Tensor) else Tensor(leaf)
            value = broadcast_to(unsqueeze(leaf, 0), (size,) + leaf.shape)
        if not -value.ndim <= axis < value.ndim:
            raise ValueError(f"vmap: out_axes {axis} is out of range for output leaf {i} of {_name(fn)}, "
                             f"which has {value.ndim - 1} axes per example")
        value = value if axis % value.ndim == 0 else moveaxis(value, 0, axis)
        results.append(value if keep_graph or not isinstance(value, Tensor) else value.detach())
    return tree_unflatten(treedef, results)
