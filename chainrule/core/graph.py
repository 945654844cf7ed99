"""Recording: the grad mode switch, graph nodes, and an iterative topological order.

A node is created for every primitive applied to an input that requires a gradient. It keeps what its
rules need (the inputs, the output's value, the primitive's parameters) until a backward pass frees it.
"""

import contextlib
import functools
import itertools
import operator
import weakref

from ..errors import GraphError


class hooks:
    """Observers of the engine, ``None`` (free) when off; set by :mod:`chainrule.inspect`.

    Attributes:
        on_forward: ``f(prim, inputs, out, params)`` after every primitive's forward.
        on_vjp: ``f(node, argnum, g, g_input, summed_axes)`` after every VJP rule.
        on_jvp: ``f(prim, argnum, tangent, tangent_out, inputs, params)`` after every JVP rule.
        record_site: store the user's source line in every node (for traces and errors).
        on_call: ``f(method, args, kwargs)`` instead of every :func:`replayable` call (a recording
            compiled step repeats them: backward, optimiser steps, zero_grad, schedules).
        on_value: ``f(tensor, how)`` before a tensor's value is read as a Python value (``item()``...);
            ``tensor`` is ``None`` where library code decides on its inputs' values
            (:func:`decides_on_values`).
        on_module: ``f(module)`` before every module's forward.
        executor: ``None`` (eager: the reverse walk runs each VJP rule), or the executor of a compiled
            step being recorded, which runs each rule and emits it as an operation of the program
            (``vjp``, ``add``, ``accumulate``: see :func:`chainrule.core.reverse.backward`); forward mode
            then runs its JVP rules as primitives, so each is recorded as the forward is.
        on_array: ``f(source, array)`` when a tensor or a seed is made by converting an array
            ``source`` into a new ``array`` (another dtype): a recording follows arguments through it.
    """
    on_forward = None
    on_vjp = None
    on_jvp = None
    record_site = False
    on_call = None
    on_value = None
    on_module = None
    executor = None
    on_array = None


def chained(first, second):
    """One hook calling ``first`` then ``second`` (either may be ``None``), so observers nest."""
    if first is None or second is None:
        return first or second

    def both(*args):
        first(*args)
        second(*args)
    return both


def decides_on_values(what):
    """Say that library code is about to decide on the values of its inputs with Python or NumPy (cut a
    batch to its longest sequence, mask padding): a compiled step would freeze that decision, so a
    recording refuses it (``hooks.on_value`` with no tensor)."""
    if hooks.on_value is not None:
        hooks.on_value(None, what)


def is_recording():
    """Whether a compiled step is being recorded: library code that would decide on its inputs' values
    in Python (mask ignored labels only when some are present) then computes with operations, so that
    every replay decides on its own batch."""
    return hooks.on_value is not None


def replayable(method):
    """Mark a function whose effects a compiled step repeats at every replay (see :mod:`chainrule.compile`):
    while a step is recorded, the call goes to ``hooks.on_call``, which runs and records it."""
    @functools.wraps(method)
    def call(*args, **kwargs):
        if hooks.on_call is not None:
            return hooks.on_call(method, args, kwargs)
        return method(*args, **kwargs)
    return call


class _GradMode:
    enabled = True


def is_grad_enabled():
    """Whether operations are being recorded for reverse mode."""
    return _GradMode.enabled


class _SetGradEnabled(contextlib.ContextDecorator):
    def __init__(self, mode):
        self.mode = mode

    def __enter__(self):
        self.previous = _GradMode.enabled
        _GradMode.enabled = self.mode

    def __exit__(self, *exc):
        _GradMode.enabled = self.previous
        return False

    def _recreate_cm(self):
        # A fresh switch per call of a decorated function, so recursive calls restore the right mode.
        return type(self)(self.mode)


def no_grad(function=None):
    """Context manager (or decorator, with or without parentheses) under which nothing is recorded,
    like ``torch.no_grad``.

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> with cr.no_grad():
        ...     y = w * 2
        >>> y.requires_grad
        False
    """
    switch = _SetGradEnabled(False)
    return switch if function is None else switch(function)


def enable_grad(function=None):
    """Context manager (or decorator, with or without parentheses) that turns recording back on inside
    ``no_grad``."""
    switch = _SetGradEnabled(True)
    return switch if function is None else switch(function)


_counter = itertools.count()
_creation_order = operator.attrgetter("seq")


class Leaf:
    """The graph's end at a user-created tensor: reverse mode accumulates its ``.grad`` here."""

    __slots__ = ("tensor_ref", "seq", "__weakref__")
    parents = ()

    def __init__(self, tensor):
        self.tensor_ref = weakref.ref(tensor)
        self.seq = next(_counter)


class Unsaved:
    """What a node keeps of a value its rules never read: its shape and dtype (so the reverse pass can
    still sum broadcasts and keep dtypes), not the array, which can then be freed early."""

    __slots__ = ("shape", "dtype")

    def __init__(self, value):
        self.shape = value.shape
        self.dtype = value.dtype

    @property
    def ndim(self):
        return len(self.shape)


def unsaved(values):
    """What a node keeps of inputs its rules never read: the shapes and dtypes of their raw ``values``
    (:class:`Unsaved`); constants without a dtype (Python numbers) as they are."""
    return tuple([Unsaved(v) if hasattr(v, "dtype") else v for v in values])


class Node:
    """One application of a primitive, as reverse mode needs it.

    Attributes:
        prim: the primitive applied.
        parents: for each input, the node it came from (``None`` for inputs that need no gradient).
        inputs: the inputs themselves (tensors or constants), freed after backward; only their shapes
            and dtypes (:class:`Unsaved`) when the primitive's rules never read them.
        values: the same with the arrays in place of tensors, as first-order rules read them.
        ans: the output's array, freed after backward (or :class:`Unsaved`, likewise).
        params: the primitive's keyword parameters (axis, shape...).
        ans_tangents: the output's forward-mode tangents, when it had any (for higher order).
        retained: a weak reference to the output tensor when it asked to ``retain_grad()``.
        site: where the user created it (file, line, code), filled only while tracing.
        seq: a creation number; newer nodes come first in the backward pass.
    """

    __slots__ = ("prim", "parents", "inputs", "values", "ans", "params", "ans_tangents", "retained", "site",
                 "seq", "__weakref__")

    def __init__(self, prim, parents, inputs, values, ans, params):
        self.seq = next(_counter)
        self.prim = prim
        self.parents = parents
        self.inputs = inputs
        self.values = values
        self.ans = ans
        self.params = params
        self.ans_tangents = None
        self.retained = None
        self.site = None

    def freed_error(self):
        """The error for a backward pass through this node after an earlier one freed its values."""
        return GraphError(
            f"Trying to backward through the graph a second time (at '{self.prim.name}'): its saved "
            "values were freed by the first backward(). Pass retain_graph=True to the first "
            "backward() if you need to go through the graph again, or recompute the forward pass.")


def toposort(roots):
    """All nodes reachable from ``roots``, each before every node it depends on (no recursion).

    Nodes are numbered as they are created and an input always exists before the operations that
    use it, so sorting the reachable nodes newest first is a topological order.

    Args:
        roots: nodes to start from.

    Returns:
        A list where every node comes before its parents: the order the backward pass runs in.
    """
    seen = set(roots)
    stack = list(seen)
    while stack:
        for parent in stack.pop().parents:
            if parent is not None and parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return sorted(seen, key=_creation_order, reverse=True)


class _TraceStack:
    """How many transforms are running, one inside the other (HIPS autograd's trace stack)."""

    def __init__(self):
        self.top = 0

    @contextlib.contextmanager
    def new_trace(self):
        """Run a transform's body, recording; yields whether it runs inside another transform."""
        self.top += 1
        try:
            with _SetGradEnabled(True):
                yield self.top > 1
        finally:
            self.top -= 1


traces = _TraceStack()
"""The running transforms (grad, jvp, vmap...), shared by :mod:`chainrule.transforms` and
:mod:`chainrule.vectorize`."""
