"""NumPy's names, differentiable: port a HIPS autograd or ``jax.numpy`` program by changing its import.

    import chainrule.numpy as np    # instead of: import autograd.numpy as np

Every differentiable NumPy function chainrule has (``np.exp``, ``np.dot``, ``np.einsum``,
``np.linalg.cholesky``...) is chainrule's, in both modes and to any order; NumPy's signatures are
accepted (``axis``, ``keepdims``, ``dtype``; ``out=`` is refused, tensors are immutable). Everything
else passes through to NumPy itself: constants and dtypes (``np.pi``, ``np.float32``, ``np.newaxis``),
creation (``np.arange``, ``np.zeros``), ``np.random``, and functions with no derivative (``np.argmax``,
``np.isnan``, ``np.shape``). A passed-through function called on a tensor that a transform follows
is refused when its result would be floating point: that result would silently be a constant cut from
the graph, a wrong gradient.

The same dispatch serves NumPy's own module functions on tensors (``numpy.sum(t)``,
``numpy.linalg.det(t)``) through :class:`~chainrule.Tensor`'s ``__array_function__``. NumPy's ufuncs
(``numpy.exp(t)``) are refused by NumPy itself: Tensor sets ``__array_ufunc__ = None`` so that
``array * tensor`` stays a fast reflected operator; use ``chainrule.numpy.exp``.

``np.fft`` passes through and refuses followed tensors: chainrule does not differentiate complex
numbers, and Fourier transforms are complex-valued.
"""

import builtins
import functools
import math
import types

import numpy as _np

from . import linalg as _linalg
from . import ops as _ops
from .core.forward import is_tracked as _is_tracked
from .core.tensor import Tensor as _Tensor

newaxis = None
pi, e, inf, nan, euler_gamma = math.pi, math.e, math.inf, math.nan, _np.euler_gamma


def _refuse_out(name, out):
    if out is not None:
        raise TypeError(f"{name}: out= is not supported on chainrule tensors (they are immutable); "
                        f"assign the result instead")


def _with_dtype(x, dtype):
    return x if dtype is None else _ops.astype(x, dtype=_np.dtype(dtype))


def _reduce(name, function, a, axis, dtype, out, keepdims, unsupported=(), **extra):
    """A NumPy-signature reduction on chainrule's ``function``; ``unsupported`` holds the
    ``(keyword, value)`` pairs NumPy has and chainrule does not, refused unless left at NumPy's default."""
    _refuse_out(name, out)
    for keyword, value in unsupported:
        if value is not _np._NoValue:
            raise TypeError(f"{name}: {keyword}= is not supported on chainrule tensors")
    axis = tuple(axis) if isinstance(axis, list) else axis
    return function(_with_dtype(a, dtype), axis=axis, keepdims=bool(keepdims), **extra)


_NO = _np._NoValue


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NO, where=_NO):
    """``numpy.sum``, differentiable."""
    return _reduce("sum", _ops.sum, a, axis, dtype, out, keepdims, (("initial", initial), ("where", where)))


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=_NO, where=_NO):
    """``numpy.prod``, differentiable (exact where elements are zero)."""
    return _reduce("prod", _ops.prod, a, axis, dtype, out, keepdims, (("initial", initial), ("where", where)))


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=_NO):
    """``numpy.mean``, differentiable."""
    return _reduce("mean", _ops.mean, a, axis, dtype, out, keepdims, (("where", where),))


def max(a, axis=None, out=None, keepdims=False, initial=_NO, where=_NO):
    """``numpy.max``, differentiable (ties share the derivative)."""
    return _reduce("max", _ops.max, a, axis, None, out, keepdims, (("initial", initial), ("where", where)))


def min(a, axis=None, out=None, keepdims=False, initial=_NO, where=_NO):
    """``numpy.min``, differentiable (ties share the derivative)."""
    return _reduce("min", _ops.min, a, axis, None, out, keepdims, (("initial", initial), ("where", where)))


amax, amin = max, min


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=_NO, mean=_NO, correction=_NO):
    """``numpy.var``, differentiable."""
    return _reduce("var", _ops.var, a, axis, dtype, out, keepdims,
                   (("where", where), ("mean", mean), ("correction", correction)), ddof=ddof)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=_NO, mean=_NO, correction=_NO):
    """``numpy.std``, differentiable (derivative 0 where the variance is zero, as PyTorch's)."""
    return _reduce("std", _ops.std, a, axis, dtype, out, keepdims,
                   (("where", where), ("mean", mean), ("correction", correction)), ddof=ddof)


def ptp(a, axis=None, out=None, keepdims=False):
    """``numpy.ptp``, differentiable."""
    return _reduce("ptp", _ops.ptp, a, axis, None, out, keepdims)


def cumsum(a, axis=None, dtype=None, out=None):
    """``numpy.cumsum``, differentiable."""
    _refuse_out("cumsum", out)
    return _ops.cumsum(_with_dtype(a, dtype), axis)


def cumprod(a, axis=None, dtype=None, out=None):
    """``numpy.cumprod``, differentiable (exact with zeros)."""
    _refuse_out("cumprod", out)
    return _ops.cumprod(_with_dtype(a, dtype), axis)


def reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    """``numpy.reshape``, differentiable (C order only)."""
    if order != "C":
        raise NotImplementedError("reshape: only order='C' is supported")
    return _ops.reshape(a, tuple(_np.atleast_1d(newshape if shape is None else shape).tolist()))


def clip(a, a_min=None, a_max=None, out=None, *, min=None, max=None):
    """``numpy.clip``; tensor bounds are differentiable, as in ``torch.clamp``."""
    _refuse_out("clip", out)
    return _ops.clip(a, a_min if min is None else min, a_max if max is None else max)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``numpy.linspace``; differentiable in ``start`` and ``stop`` (the result is linear in both)."""
    if not (_is_tracked(start) or _is_tracked(stop)):
        return _np.linspace(_values(start), _values(stop), num, endpoint, retstep, dtype, axis)
    if isinstance(num, bool) or not isinstance(num, int) or num < 0:
        raise ValueError(f"linspace: num must be a non-negative int, not {num!r}")
    div = (num - 1) if endpoint else num
    steps = _np.arange(num, dtype="float64") / div if div > 0 else _np.zeros(num)
    if endpoint and num > 1:
        steps[-1] = 1.0  # the last value is stop itself, as NumPy's
    ndim = builtins.max(_np.ndim(_values(start)), _np.ndim(_values(stop)))
    steps = steps.reshape((num,) + (1,) * ndim)
    # start + (stop - start) · step, with the new axis first, then moved to ``axis``.
    out = _ops.add(start, _ops.mul(_ops.sub(stop, start), steps))
    if dtype is not None:
        out = _ops.astype(out, dtype=_np.dtype(dtype))
    if axis != 0:
        out = _ops.moveaxis(out, 0, axis)
    if retstep:
        return out, _ops.div(_ops.sub(stop, start), div) if div > 0 else _np.nan
    return out


def angle(z, deg=False):
    """``numpy.angle`` of real values: 0 where ``z >= 0``, π (or 180) where ``z < 0``; derivative 0.
    Complex inputs are refused: chainrule does not differentiate complex numbers."""
    if not _is_tracked(z):
        return _np.angle(_values(z), deg)
    _refuse_complex_angle(z)
    # A tracked zero (sign(z) · 0, finite for infinite z) keeps the piecewise-constant result in the graph.
    return _ops.add(_ops.mul(_ops.sign(z), 0.0), _np.angle(_values(z), deg))


def _refuse_complex_angle(z):
    if _values(z).dtype.kind == "c":
        raise TypeError("angle: chainrule does not differentiate complex numbers; this angle takes real inputs")


def where(condition, x=None, y=None):
    """``numpy.where``: with ``x`` and ``y``, differentiable in both; alone, the indices of the
    non-zero elements (``numpy.nonzero``)."""
    if x is None and y is None:
        return _np.nonzero(_values(condition))
    return _ops.where(_values(condition), x, y)


def squeeze(a, axis=None):
    return _ops.squeeze(a, axis)


def transpose(a, axes=None):
    return _ops.transpose(a, None if axes is None else tuple(axes))


def swapaxes(a, axis1, axis2):
    return _ops.swapaxes(a, axis1, axis2)


def expand_dims(a, axis):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    ndim = _np.ndim(_values(a)) + len(axes)
    out = a
    for position in sorted(ax % ndim for ax in axes):
        out = _ops.unsqueeze(out, position)
    return out


def concatenate(arrays, axis=0, out=None, dtype=None):
    _refuse_out("concatenate", out)
    if axis is None:
        arrays, axis = [_ops.ravel(a) for a in arrays], 0
    return _with_dtype(_ops.concatenate(list(arrays), axis=axis), dtype)


def stack(arrays, axis=0, out=None, dtype=None):
    _refuse_out("stack", out)
    return _with_dtype(_ops.stack(list(arrays), axis=axis), dtype)


def take(a, indices, axis=None, out=None, mode="raise"):
    _refuse_out("take", out)
    if mode != "raise":
        raise NotImplementedError(f"take: only mode='raise' is supported, not {mode!r}")
    return _ops.take(a, indices, axis)


def take_along_axis(arr, indices, axis):
    return _ops.take_along_axis(arr, indices, axis)


def broadcast_to(array, shape):
    return _ops.broadcast_to(array, tuple(_np.atleast_1d(shape).tolist()))


def matmul(x1, x2, out=None):
    _refuse_out("matmul", out)
    return _ops.matmul(x1, x2)


def array(obj, dtype=None, copy=True, **kwargs):
    """``numpy.array``; a (nested) list holding tensors that a transform follows is stacked
    differentiably, anything else becomes a NumPy array."""
    if _holds_tracked(obj):
        return _with_dtype(_stack_nested(obj), dtype)
    return _np.array(_values_nested(obj), dtype=dtype, copy=copy, **kwargs)


def asarray(a, dtype=None, **kwargs):
    """``numpy.asarray``; a tensor that a transform follows stays that tensor (see :func:`array`)."""
    if _holds_tracked(a):
        return _with_dtype(a if isinstance(a, _Tensor) else _stack_nested(a), dtype)
    return _np.asarray(_values_nested(a), dtype=dtype, **kwargs)


def _holds_tracked(obj):
    if isinstance(obj, (list, tuple)):
        return builtins.any(_holds_tracked(o) for o in obj)
    return _is_tracked(obj)


def _stack_nested(obj):
    if isinstance(obj, (list, tuple)):
        return _ops.stack([_stack_nested(o) for o in obj])
    return obj


def _values(x):
    return x.data if isinstance(x, _Tensor) else x


def _values_nested(obj):
    if isinstance(obj, (list, tuple)):
        return type(obj)(_values_nested(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _values_nested(v) for k, v in obj.items()}
    return _values(obj)


_SAME_NAME = """abs add append arccos arccosh arcsin arcsinh arctan arctan2 arctanh array_split atleast_1d
atleast_2d atleast_3d average c_ cbrt ceil column_stack conj conjugate cos cosh cross deg2rad degrees diag
diagonal diff dot dsplit dstack einsum erf exp exp2 expm1 flip fliplr flipud floor floor_divide fmax fmin fmod
gradient hsplit hstack hypot imag inner kron log log10 log1p log2 logaddexp logaddexp2 maximum median minimum
mod moveaxis nan_to_num outer pad partition r_ rad2deg radians ravel real reciprocal remainder repeat roll
rollaxis rot90 round select sign sin sinc sinh sort split sqrt square tan tanh tensordot tile trace tril triu
trunc vsplit vstack""".split()
_RENAMED = {"absolute": "abs", "fabs": "abs", "copy": "identity", "subtract": "sub", "multiply": "mul", "divide": "div", "true_divide": "div",
            "negative": "neg", "power": "pow", "row_stack": "vstack", "around": "round", "fix": "trunc"}

_DIFFERENTIABLE = {name: getattr(_ops, name) for name in _SAME_NAME}
_DIFFERENTIABLE.update({name: getattr(_ops, target) for name, target in _RENAMED.items()})
globals().update(_DIFFERENTIABLE)
_DIFFERENTIABLE.update({name: globals()[name] for name in (
    "sum mean prod max amax min amin var std ptp cumsum cumprod reshape clip where squeeze transpose "
    "swapaxes expand_dims concatenate stack take take_along_axis broadcast_to matmul array asarray linspace "
    "angle").split()})

_CONSTANT_RESULTS = {"zeros_like", "ones_like", "empty_like", "full_like", "shape", "ndim", "size",
                     "result_type", "can_cast", "iscomplexobj", "isrealobj", "isscalar", "may_share_memory",
                     "shares_memory", "copyto"}
"""NumPy functions whose floating-point results are constants even for a followed tensor."""


def _passthrough(function, name):
    """``function`` on plain values; refused on followed tensors when its result is floating point."""
    @functools.wraps(function)
    def call(*args, **kwargs):
        tracked = _holds_tracked(list(args)) or _holds_tracked(list(kwargs.values()))
        result = function(*_values_nested(args), **_values_nested(kwargs))
        if tracked and name not in _CONSTANT_RESULTS and _is_floating(result):
            raise TypeError(f"numpy.{name} has no derivative rule in chainrule: on a tensor that a transform "
                            f"follows its result would be a constant cut from the graph (a wrong gradient). "
                            f"Use the tensor's .data for a constant, or see `chainrule rules` for what is "
                            f"differentiable")
        return result
    return call


def _is_floating(result):
    if isinstance(result, (tuple, list)):
        return builtins.any(_is_floating(r) for r in result)
    dtype = getattr(result, "dtype", None)
    return (dtype is not None and dtype.kind in "fc") or isinstance(result, (float, complex))


class _PassthroughModule(types.ModuleType):
    """A NumPy submodule (``random``, ``fft``...) whose functions refuse followed tensors."""

    def __init__(self, module, overrides=None):
        super().__init__(module.__name__.replace("numpy", "chainrule.numpy", 1), module.__doc__)
        self._module, self._overrides = module, overrides

    def __getattr__(self, name):
        if self._overrides is not None and name in getattr(self._overrides, "__all__", ()):
            return getattr(self._overrides, name)
        value = getattr(self._module, name)
        if callable(value) and not isinstance(value, type):
            value = _passthrough(value, f"{self._module.__name__.removeprefix('numpy.')}.{name}".lstrip("."))
        return value


linalg = _PassthroughModule(_np.linalg, overrides=_linalg)
fft = _PassthroughModule(_np.fft)
random = _np.random


def __getattr__(name):
    value = getattr(_np, name)
    if callable(value) and not isinstance(value, type) and not isinstance(value, _np.ufunc):
        return _passthrough(value, name)
    if isinstance(value, _np.ufunc):
        return _passthrough(value, name)
    return value


def __dir__():
    return sorted(set(globals()) | set(dir(_np)))


def array_function(func, args, kwargs):
    """``Tensor.__array_function__``: NumPy's module functions on tensors (``numpy.sum(t)``), as
    chainrule's functions of the same name; functions with no derivative pass through."""
    module = func.__module__ or ""
    if module.startswith("numpy.linalg") and func.__name__ in _linalg.__all__:
        return getattr(_linalg, func.__name__)(*args, **kwargs)
    if module.startswith("numpy") and not module.startswith(("numpy.linalg", "numpy.fft")):
        function = _DIFFERENTIABLE.get(func.__name__)
        if function is not None:
            return function(*args, **kwargs)
    return _passthrough(func, func.__name__)(*args, **kwargs)


def _tensor_array_function(self, func, types, args, kwargs):
    # NumPy's module functions (numpy.sum(t), numpy.linalg.det(t)) as chainrule's.
    return array_function(func, args, kwargs)


_Tensor.__array_function__ = _tensor_array_function  # attached from here: the core knows no facade
