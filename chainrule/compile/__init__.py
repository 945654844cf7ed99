"""A compiled step: record a training step once, then replay it as bare array operations.

``step = chainrule.compile(fn)`` (or ``@chainrule.compile``) runs ``fn`` eagerly on its first call and
records, as a flat program over numbered buffers, every primitive's forward, every VJP rule of its
``backward()`` (on bare arrays, in the engine's order), every leaf-gradient accumulation, and every call
that changes state (``optimizer.step()``, ``zero_grad()``, ``scheduler.step()``, gradient clipping).
Later calls whose signature matches replay that program: no Tensor or Node objects, no graph walk, no
rule dispatch; parameters and optimiser state are updated in place, so the model and the optimiser stay
the truth (a ``state_dict()`` after replay is exact), and the results are bit for bit those of eager
mode.

The signature is the arguments' structure, shapes, dtypes and contiguity (and values of non-array
arguments) and whether gradients are recorded; the program is replayed only while its guards hold
(every module it called keeps its plain settings: train/eval mode, a dropout's ``p``...; every
parameter keeps its shape, dtype and ``requires_grad``; every optimiser it stepped keeps its settings
other than the learning rate). Otherwise the step is recorded again; a few programs are kept, like a cache.

What a replay cannot repeat fails while recording, naming your line: reading a tensor's value as a
Python value (``.item()``, ``float()``, ``bool()``, ``.numpy()``), since Python code deciding on it would
run only once; an argument turned into a new array outside chainrule's operations. Side effects outside
chainrule (``print``, appending to a list) happen only while recording. Random numbers drawn by
chainrule's dropout layers are fresh at every replay, from the same generators as in eager mode.

Example:
    >>> import numpy as np, chainrule as cr
    >>> from chainrule import nn, optim
    >>> model = nn.MLP([4, 8, 3], seed=0)
    >>> opt = optim.SGD(model.parameters(), lr=0.1)
    >>> @cr.compile
    ... def step(x, y):
    ...     opt.zero_grad()
    ...     loss = nn.functional.cross_entropy(model(x), y)
    ...     loss.backward()
    ...     opt.step()
    ...     return loss
    >>> x, y = np.ones((2, 4), np.float32), np.array([0, 2])
    >>> first, second = step(x, y), step(x, y)      # recorded, then replayed
    >>> bool(second.item() < first.item())
    True
"""

import functools
import warnings

from .. import backend
from ..core.graph import is_grad_enabled
from ..core.tensor import Tensor
from ..tree import tree_flatten, tree_unflatten
from . import c_backend
from .program import Program
from .arguments import plain
from .recorder import CompileError, Recorder, recording

__all__ = ["compile", "Compiled", "CompileError", "Program", "record"]


def compile(fn=None, *, max_programs=8, exact=False):
    """Compile a step function (also a decorator, with or without arguments).

    Args:
        fn: ordinary chainrule code: forward, loss, ``backward()``, optimiser updates; returns tensors,
            numbers, or tuples/lists/dicts of them.
        max_programs: how many signatures to keep recorded programs for; past it the oldest is dropped
            with a warning.
        exact: replay eager mode's NumPy operations bit for bit; by default runs of elementwise
            operations and optimiser updates run as fused C kernels (:mod:`chainrule.compile.fusion`),
            which agree with eager mode to the dtype's rounding.

    Returns:
        A :class:`Compiled` callable with ``fn``'s signature.
    """
    if fn is None:
        return functools.partial(compile, max_programs=max_programs, exact=exact)
    return Compiled(fn, max_programs, exact)


class Compiled:
    """A step function with its recorded programs, one per signature (see :func:`compile`).

    Attributes:
        programs: the :class:`Program` of each signature recorded so far.
        recordings: how many times the step was recorded (the first call, new signatures, failed guards).
        before_recording: ``None``, or a function called right before each recording (the training
            loops take a snapshot of the model and the optimiser there).
    """

    def __init__(self, fn, max_programs=8, exact=False):
        if not callable(fn):
            raise TypeError(f"chainrule.compile: expected a function, got {type(fn).__name__}")
        if isinstance(max_programs, bool) or not isinstance(max_programs, int) or max_programs < 1:
            raise ValueError(f"chainrule.compile: max_programs must be a positive int, not {max_programs!r}")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.max_programs = max_programs
        self.exact = exact
        self.programs = {}
        self.recordings = 0
        self.before_recording = None  # called (no arguments) right before each recording

    def __call__(self, *args, **kwargs):
        key, leaves, args, kwargs = _prepared(args, kwargs)
        program = self.programs.get(key)
        if program is not None and program.failed_guard() is None:
            return program.run(leaves)
        if self.before_recording is not None:
            self.before_recording()
        result, program = record(self.fn, args, kwargs, exact=self.exact)
        self.programs.pop(key, None)
        if len(self.programs) >= self.max_programs:
            oldest = next(iter(self.programs))
            del self.programs[oldest]
            warnings.warn(f"chainrule.compile: {self.__name__} has been recorded for more than "
                          f"{self.max_programs} signatures (shapes, dtypes, modes); the oldest program "
                          f"was dropped. Pad inputs to a few shapes, or raise max_programs.",
                          RuntimeWarning, stacklevel=2)
        self.programs[key] = program
        self.recordings += 1
        return result

    def program(self, *args, **kwargs):
        """The :class:`Program` for these arguments, recording it (one eager call) if needed."""
        key, _, args, kwargs = _prepared(args, kwargs)
        if key not in self.programs:
            self(*args, **kwargs)
        return self.programs[key]


def record(fn, args, kwargs=None, exact=False):
    """Run ``fn(*args, **kwargs)`` eagerly once, recording it.

    Returns:
        ``(result, program)``: what ``fn`` returned, and the :class:`Program` that replays it (with
        fused kernels unless ``exact``, or unless no C compiler is found: then one warning says why).
    """
    kwargs = kwargs or {}
    leaves, treedef = tree_flatten((args, kwargs))
    leaves = [_contiguous(leaf) for leaf in leaves]
    recorder = Recorder(leaves, f"the step {getattr(fn, '__name__', 'function')!r}")
    # The step sees its array arguments (and its tensor arguments' arrays) as traced views, so that
    # values NumPy computes from them are refused (chainrule/compile/arguments.py).
    seen, swapped = list(leaves), []
    for k, (leaf, view) in enumerate(zip(leaves, recorder.traced)):
        if view is None:
            continue
        if isinstance(leaf, Tensor):
            swapped.append((leaf, leaf.data, view))
            leaf.data = view
        else:
            seen[k] = view
    args, kwargs = tree_unflatten(treedef, seen)
    try:
        with recording(recorder):
            result = fn(*args, **kwargs)
    finally:
        for tensor, data, view in swapped:
            if tensor.data is view:
                tensor.data = data
    originals = {id(view): leaf for leaf, view in zip(leaves, recorder.traced) if view is not None}
    result = tree_unflatten(*_untraced(result, originals))
    return result, recorder.program(result, fuse=not exact and kernels_available())


def _untraced(result, originals):
    """``(treedef, leaves)`` of ``result`` with each traced argument given back as the argument."""
    leaves, treedef = tree_flatten(result)
    return treedef, [originals.get(id(leaf), plain(leaf)) if isinstance(leaf, backend.ndarray) else leaf
                     for leaf in leaves]


def kernels_available():
    """Whether fused kernels can be built here; the first time they cannot, one warning says why."""
    reason = c_backend.unavailable()
    if reason is not None and not _warned:
        _warned.append(reason)
        warnings.warn(f"chainrule.compile: fused kernels are off ({reason}); compiled steps replay "
                      f"NumPy operations", RuntimeWarning, stacklevel=3)
    return reason is None


_warned = []


def _prepared(args, kwargs):
    """``(signature, flattened arguments, args, kwargs)`` of a call, its array arguments made contiguous."""
    key, args = (None, args) if kwargs else _flat_signature(args)
    if key is not None:
        return key, args, args, kwargs
    leaves, treedef = tree_flatten((args, kwargs))
    leaves = [_contiguous(leaf) for leaf in leaves]
    args, kwargs = tree_unflatten(treedef, leaves)
    return signature(leaves, treedef), leaves, args, kwargs


def _layout(array):
    """Shape, dtype and whether C-contiguous: what decides which operations return views, and so which
    buffers a program may write into."""
    return array.shape, array.dtype.str, array.flags.c_contiguous


def _contiguous(leaf):
    """An array argument as a C-contiguous array (a copy of a strided view, such as ``tokens[:, 1:]``):
    then whatever NumPy makes of it inside the step (a reshape, ``np.asarray``) is a view the recorder
    follows, not a copy it would freeze."""
    if type(leaf) is backend.ndarray and not leaf.flags.c_contiguous:
        return backend.xp.ascontiguousarray(leaf)
    return leaf


def _flat_signature(args):
    """The signature of positional arguments that are all arrays or all tensors (the common, fast
    cases: a loop's batches), else None; and the arguments, arrays made contiguous."""
    kinds = set(map(type, args))
    if kinds == {Tensor}:  # a tensor argument is kept as it is (see _contiguous)
        return (len(args), "tensors", is_grad_enabled(),
                *[(*_layout(arg.data), arg.requires_grad) for arg in args]), args
    if not kinds <= {backend.ndarray}:
        return None, args
    if not all(arg.flags.c_contiguous for arg in args):
        args = tuple(map(_contiguous, args))
    return (len(args), is_grad_enabled(), *map(_layout, args)), args


def signature(leaves, treedef):
    """What a program is recorded for: structure, array layouts, other values, the grad mode."""
    parts = [repr(treedef), is_grad_enabled()]
    for leaf in leaves:
        if isinstance(leaf, Tensor):
            parts.append(("tensor", *_layout(leaf.data), leaf.requires_grad))
        elif isinstance(leaf, backend.ndarray):
            parts.append(("array", *_layout(leaf)))
        else:
            try:
                hash(leaf)
                parts.append((type(leaf).__name__, leaf))
            except TypeError:
                raise CompileError(f"chainrule.compile: an argument of type {type(leaf).__name__} cannot be "
                                   f"part of a step's signature; pass arrays, tensors or numbers") from None
    return tuple(parts)
