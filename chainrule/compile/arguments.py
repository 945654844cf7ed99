"""Following a step's array arguments through NumPy while it is recorded.

A replay feeds each call's arrays to the operations that read the recorded arguments, so an array that
NumPy computes from an argument inside the step (``x * 2``, ``x[[0, 2]]``, ``np.concatenate([x, x])``,
``x.astype(...)``) would be frozen at its recorded value. While recording, the step sees each array
argument as a :class:`Traced` view of it: NumPy keeps the subclass through indexing, methods and
ufuncs, and :meth:`Traced.__array_ufunc__` and :meth:`Traced.__array_function__` mark what its module
functions return (``np.where``, ``np.concatenate``, a reduction's scalar). So an array reaching an
operation is either a view of an argument (its memory is the argument's: the recorder follows it) or,
when it is a :class:`Traced` array with memory of its own, a value NumPy made from an argument: the
recorder refuses it (:func:`derived`) instead of replaying stale values.
"""

import os
import sys

from .. import backend
from ..errors import ChainruleError, user_line


class CompileError(ChainruleError, RuntimeError):
    """Something in a step that a recorded program cannot replay faithfully."""


class Traced(backend.ndarray):
    """An array argument of a step being recorded, or an array NumPy made from one."""

    made_by = None  # the NumPy function that computed it, for the error message

    def __array_finalize__(self, obj):
        self.made_by = getattr(obj, "made_by", None)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = tuple(plain(x) for x in inputs)
        if "out" in kwargs:
            out = kwargs["out"]
            if any(isinstance(x, Traced) for x in out) and not _from_library():
                raise CompileError(
                    f"chainrule.compile: np.{ufunc.__name__}(..., out=) writes into an argument of the step "
                    f"(or an array NumPy made from one) in place; a replay would not repeat it. Compute it "
                    f"with chainrule's operations, or before calling the step{user_line()}")
            # The engine's own in-place steps (``out += bias`` on a product of an argument).
            kwargs["out"] = tuple(plain(x) for x in out)
            getattr(ufunc, method)(*inputs, **kwargs)
            return out[0] if len(out) == 1 else out
        result = getattr(ufunc, method)(*inputs, **kwargs)
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        return _traced(result, f"np.{name}")

    def __array_function__(self, func, types, args, kwargs):
        result = super().__array_function__(func, types, args, kwargs)
        return _traced(result, f"np.{func.__name__}")

    def __getitem__(self, index):
        result = super().__getitem__(index)
        # One element (x[0]) is a NumPy scalar, a copy: kept as a traced array so it is refused too.
        return _traced(result, "indexing one element") if isinstance(result, backend.xp.generic) else result

    def __repr__(self):
        return repr(self.view(backend.ndarray))

    def __str__(self):
        return str(self.view(backend.ndarray))

    def __format__(self, spec):
        return format(self.view(backend.ndarray), spec)

    # Reading an argument's values in Python (if, int(), range()) decides once, while recording.
    def __bool__(self):
        return _read(self, "bool()").__bool__()

    def __int__(self):
        return _read(self, "int()").__int__()

    def __float__(self):
        return _read(self, "float()").__float__()

    def __index__(self):
        return _read(self, "an index (operator.index)").__index__()

    def item(self, *args):
        return _read(self, ".item()").item(*args)

    def tolist(self):
        return _read(self, ".tolist()").tolist()


def _method(name):
    method = getattr(backend.ndarray, name)

    def traced_method(self, *args, **kwargs):
        return _traced(method(self, *args, **kwargs), f"x.{name}")
    traced_method.__name__ = name
    return traced_method


# Methods computing values in C without a ufunc, whose scalar results would otherwise be plain.
for _name in ("argmax", "argmin", "argsort", "argpartition", "nonzero", "dot", "cumsum", "cumprod",
              "prod", "sum", "mean", "std", "var", "max", "min", "ptp", "all", "any", "trace",
              "searchsorted", "round", "clip", "take", "repeat", "compress", "diagonal"):
    if hasattr(backend.ndarray, _name):
        setattr(Traced, _name, _method(_name))


def _from_library(depth=2):
    """Whether the code ``depth`` frames up from the caller is chainrule's own (NumPy's frames are
    looked through)."""
    frame = sys._getframe(depth)
    while frame is not None and frame.f_code.co_filename.startswith(_NUMPY):
        frame = frame.f_back
    return frame is not None and frame.f_code.co_filename.startswith(_CHAINRULE)


def _read(array, how):
    """``array`` as a plain array, after refusing a read of its values by the user's code (chainrule's
    own checks, such as the label range of a loss, may read them)."""
    if not _from_library(3):
        raise CompileError(
            f"chainrule.compile: {how} reads the values of an argument of the step (or of an array "
            f"NumPy made from one) while the step is being recorded; a replay repeats array operations "
            f"only, so Python code deciding on those values would run just once. Compute with "
            f"chainrule's operations (chainrule.where, chainrule.argmax), or decide before calling the "
            f"step{user_line()}")
    return array.view(backend.ndarray)


_NUMPY = os.path.dirname(backend.xp.__file__)
_CHAINRULE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def trace(array):
    """The view of an argument ``array`` that the step sees while it is recorded."""
    return array.view(Traced)


def plain(value):
    """``value`` with a :class:`Traced` array seen as a plain ``ndarray`` (the same memory)."""
    return value.view(backend.ndarray) if isinstance(value, Traced) else value


def _traced(result, made_by):
    if isinstance(result, tuple):
        return tuple(_traced(r, made_by) for r in result)
    if isinstance(result, list):
        return [_traced(r, made_by) for r in result]
    if isinstance(result, (backend.ndarray, backend.xp.generic)) and not isinstance(result, Traced):
        result = backend.xp.asarray(result).view(Traced)
    if isinstance(result, Traced) and result.made_by is None:
        result.made_by = made_by
    return result


def derived(array, arguments):
    """Whether ``array`` was computed from an argument with NumPy: a :class:`Traced` array whose
    memory is none of the (plain) ``arguments``'."""
    if not isinstance(array, Traced):
        return False
    shares = backend.xp.shares_memory
    return not any(a is not None and shares(array, a) for a in arguments)


def describe(array):
    """How a derived array was made, for the error message."""
    how = getattr(array, "made_by", None)
    return f"{how}(...)" if how else "a NumPy method or index: a copy, astype, x[[0, 2]]"
