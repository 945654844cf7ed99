"""Tensor's operators and methods, attached to the class from the operations, as HIPS autograd's
``numpy/numpy_boxes.py`` attaches ArrayBox's: the core's :class:`~chainrule.core.tensor.Tensor` knows
no operation, so ``core`` imports nothing above it. PyTorch's spellings (``dim=``, ``x.to(...)``, what
to write instead of a missing method) are handled here, outside the engine.
"""

import operator

from .. import backend, ops
from ..core import dispatch
from ..core.batching import defbroadcasting
from ..core.primitive import Primitive
from ..core.tensor import Tensor, unwrap
from ..errors import ShapeError
from ..pytorch_compat import missing_attribute, pytorch_keywords, to_arguments
from . import ordering

_NO_AXIS = object()  # sort()'s axis left out: PyTorch's call


class _Methods:
    """Not a class of its own: its functions become :class:`Tensor`'s (see the end of this module)."""

    def astype(self, dtype):
        """A copy with another dtype (differentiable between float types)."""
        return ops.astype(self, dtype=backend.xp.dtype(dtype))

    def to(self, *args, dtype=None, device=None):
        """This tensor on another device or in another dtype (``x.to("cuda")``, ``x.to("float64")``,
        ``x.to("cpu", "float32")``, ``x.to(other)`` for ``other``'s device and dtype), as a
        differentiable copy; ``self`` when nothing changes, as PyTorch does."""
        if len(args) == 1 and isinstance(args[0], Tensor):
            args = (args[0].device, args[0].dtype)
        dtype, device = to_arguments(args, dtype, device, "Tensor.to")
        out = self
        if device is not None and device != self.device:
            out = ops.transfer(out, device=device, source=self.device)
        return out if dtype is None or dtype == out.dtype else out.astype(dtype)

    def float(self): return self.to(backend.xp.float32)
    def double(self): return self.to(backend.xp.float64)
    def half(self): return self.to(backend.xp.float16)
    def long(self): return self.to(backend.xp.int64)
    def type_as(self, other): return self.to(other.dtype)
    def cuda(self, device=None): return self.to("cuda" if device is None else device)
    def add(self, other): return ops.add(self, other)
    def sub(self, other): return ops.sub(self, other)
    def mul(self, other): return ops.mul(self, other)
    def div(self, other): return ops.div(self, other)
    def pow(self, other): return ops.pow(self, other)
    def neg(self): return ops.neg(self)
    def clone(self):
        """A differentiable copy."""
        return ops.astype(self, dtype=self.dtype)

    def t(self):
        """The transpose of a matrix (a tensor of at most two axes), as PyTorch's ``x.t()``."""
        if self.ndim > 2:
            raise ShapeError(f"t() transposes tensors of at most 2 axes, not shape {self.shape}; use "
                             f".mT (the last two axes) or .transpose(dim0, dim1)")
        return ops.transpose(self)

    # -- operators --------------------------------------------------------------------------------

    def __add__(self, other): return ops.add(self, other)
    def __radd__(self, other): return ops.add(other, self)
    def __sub__(self, other): return ops.sub(self, other)
    def __rsub__(self, other): return ops.sub(other, self)
    def __mul__(self, other): return ops.mul(self, other)
    def __rmul__(self, other): return ops.mul(other, self)
    def __truediv__(self, other): return ops.div(self, other)
    def __rtruediv__(self, other): return ops.div(other, self)
    def __pow__(self, other): return ops.pow(self, other)
    def __rpow__(self, other): return ops.pow(other, self)
    def __mod__(self, other): return ops.mod(self, other)
    def __rmod__(self, other): return ops.mod(other, self)
    def __floordiv__(self, other): return _floor_divide(self, other)
    def __rfloordiv__(self, other): return _floor_divide(other, self)
    def __matmul__(self, other): return ops.matmul(self, other)
    def __rmatmul__(self, other): return ops.matmul(other, self)
    def __neg__(self): return ops.neg(self)
    def __pos__(self): return self
    def __abs__(self): return ops.abs(self)
    def __getitem__(self, index): return ops.getitem(self, index)

    # In place, as PyTorch: a plain tensor, or a leaf under no_grad() (the hand-written SGD step
    # ``w -= lr * w.grad``), changes its own array; a recorded result is replaced by a new one.
    def __iadd__(self, other): return self._in_place(ops.add, other, "+=")
    def __isub__(self, other): return self._in_place(ops.sub, other, "-=")
    def __imul__(self, other): return self._in_place(ops.mul, other, "*=")
    def __itruediv__(self, other): return self._in_place(ops.div, other, "/=")

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(missing_attribute(type(self).__name__, name, Tensor))

    # Comparisons and bitwise operators give boolean tensors with no derivative (see _OPERATORS).
    def __lt__(self, other): return dispatch.bind(_OPERATORS["<"], (self, other), {})
    def __le__(self, other): return dispatch.bind(_OPERATORS["<="], (self, other), {})
    def __gt__(self, other): return dispatch.bind(_OPERATORS[">"], (self, other), {})
    def __ge__(self, other): return dispatch.bind(_OPERATORS[">="], (self, other), {})
    def __eq__(self, other): return dispatch.bind(_OPERATORS["=="], (self, other), {})
    def __ne__(self, other): return dispatch.bind(_OPERATORS["!="], (self, other), {})
    def __and__(self, other): return dispatch.bind(_OPERATORS["&"], (self, other), {})
    def __or__(self, other): return dispatch.bind(_OPERATORS["|"], (self, other), {})
    def __rand__(self, other): return dispatch.bind(_OPERATORS["&"], (other, self), {})
    def __ror__(self, other): return dispatch.bind(_OPERATORS["|"], (other, self), {})
    def __invert__(self): return dispatch.bind(_OPERATORS["~"], (self,), {})

    # -- methods, as PyTorch users expect them ----------------------------------------------------

    @pytorch_keywords
    def sum(self, axis=None, keepdims=False): return ops.sum(self, axis=axis, keepdims=keepdims)
    @pytorch_keywords
    def mean(self, axis=None, keepdims=False): return ops.mean(self, axis=axis, keepdims=keepdims)
    # A dim (x.max(1), x.max(dim=1)) gives PyTorch's (values, indices); axis= gives NumPy's values.
    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ordering.max(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ordering.min(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def median(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ordering.median(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def sort(self, dim=-1, descending=False, stable=False, *, axis=_NO_AXIS):
        """PyTorch's ``(values, indices)``; NumPy's sorted values for ``axis=`` (NumPy's ``a.sort()``
        sorts in place and returns nothing, so no NumPy habit reads the method's result)."""
        if axis is not _NO_AXIS:
            return ordering.sort(self, axis=axis)
        return ordering.sort(self, dim, descending, stable)
    def topk(self, k, dim=-1, largest=True, sorted=True): return ordering.topk(self, k, dim, largest, sorted)
    def kthvalue(self, k, dim=-1, keepdim=False): return ordering.kthvalue(self, k, dim, keepdim)
    @pytorch_keywords
    def var(self, axis=None, keepdims=False, ddof=0):
        return ops.var(self, axis=axis, keepdims=keepdims, ddof=ddof)
    @pytorch_keywords
    def logsumexp(self, axis=None, keepdims=False):
        return ops.logsumexp(self, axis=axis, keepdims=keepdims)
    @pytorch_keywords
    def softmax(self, axis=-1): return ops.softmax(self, axis=axis)
    @pytorch_keywords
    def log_softmax(self, axis=-1): return ops.log_softmax(self, axis=axis)
    def exp(self): return ops.exp(self)
    def log(self): return ops.log(self)
    def log1p(self): return ops.log1p(self)
    def expm1(self): return ops.expm1(self)
    def sqrt(self): return ops.sqrt(self)
    def abs(self): return ops.abs(self)
    def sin(self): return ops.sin(self)
    def cos(self): return ops.cos(self)
    def tanh(self): return ops.tanh(self)
    def sigmoid(self): return ops.sigmoid(self)
    def relu(self): return ops.relu(self)
    def clip(self, min=None, max=None): return ops.clip(self, min, max)
    clamp = clip
    def matmul(self, other): return ops.matmul(self, other)
    def mm(self, other): return ops.matmul(self, other)
    def bmm(self, other): return ops.matmul(self, other)
    def reshape(self, *shape): return ops.reshape(self, _shape_args(shape))
    view = reshape
    @pytorch_keywords
    def flatten(self, start_axis=0, end_axis=-1):
        """Axes ``start_axis`` to ``end_axis`` (inclusive) merged into one."""
        start, end = (axis % max(self.ndim, 1) for axis in (start_axis, end_axis))
        return ops.reshape(self, self.shape[:start] + (-1,) + self.shape[end + 1:])
    def transpose(self, *axes):
        """Two ints swap those axes, as PyTorch's ``transpose(dim0, dim1)``; no axes reverses them and a
        full permutation (a tuple, or three ints or more) reorders them, as NumPy's."""
        if len(axes) == 2 and not isinstance(axes[0], (tuple, list)):
            return ops.swapaxes(self, *axes)
        return ops.transpose(self, _shape_args(axes) or None)
    def permute(self, *axes): return ops.transpose(self, _shape_args(axes))
    T = property(lambda self: ops.transpose(self), doc="The tensor with its axes reversed.")
    mT = property(lambda self: ops.swapaxes(self, -1, -2), doc="The last two axes swapped.")
    def swapaxes(self, axis1, axis2): return ops.swapaxes(self, axis1, axis2)
    @pytorch_keywords
    def squeeze(self, axis=None): return ops.squeeze(self, axis)
    @pytorch_keywords
    def unsqueeze(self, axis): return ops.unsqueeze(self, axis)
    def broadcast_to(self, shape): return ops.broadcast_to(self, shape)
    def expand(self, *sizes):
        """Broadcast to ``sizes``, where ``-1`` keeps an axis's length, as PyTorch's ``expand``."""
        sizes = _shape_args(sizes)
        lead = len(sizes) - self.ndim
        return ops.broadcast_to(self, tuple(self.shape[i - lead] if size == -1 and i >= lead else size
                                            for i, size in enumerate(sizes)))
    @pytorch_keywords
    def gather(self, axis, index):
        """``out[..., i, ...] = self[..., index[..., i, ...], ...]`` along ``axis``, as PyTorch's."""
        return ops.take_along_axis(self, index, axis)
    @pytorch_keywords
    def take(self, indices, axis=None): return ops.take(self, indices, axis)
    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ordering.argmax(self, dim, keepdim, axis=axis, keepdims=keepdims)
    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ordering.argmin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    # -- the NumPy vocabulary (chainrule.numpy), as NumPy and PyTorch users call it on arrays ------

    @pytorch_keywords
    def prod(self, axis=None, keepdims=False): return ops.prod(self, axis=axis, keepdims=keepdims)
    @pytorch_keywords
    def std(self, axis=None, keepdims=False, ddof=0):
        return ops.std(self, axis=axis, keepdims=keepdims, ddof=ddof)
    @pytorch_keywords
    def ptp(self, axis=None, keepdims=False): return ops.ptp(self, axis=axis, keepdims=keepdims)
    @pytorch_keywords
    def cumsum(self, axis=None): return ops.cumsum(self, axis)
    @pytorch_keywords
    def cumprod(self, axis=None): return ops.cumprod(self, axis)
    @pytorch_keywords
    def norm(self, ord=None, axis=None, keepdims=False): return ops.norm(self, ord, axis, keepdims)
    def dot(self, other): return ops.dot(self, other)
    def diagonal(self, offset=0, axis1=0, axis2=1): return ops.diagonal(self, offset, axis1, axis2)
    def trace(self, offset=0, axis1=0, axis2=1): return ops.trace(self, offset, axis1, axis2)
    def tril(self, k=0): return ops.tril(self, k)
    def triu(self, k=0): return ops.triu(self, k)
    @pytorch_keywords
    def flip(self, axis=None): return ops.flip(self, axis)
    @pytorch_keywords
    def roll(self, shift, axis=None): return ops.roll(self, shift, axis)
    def ravel(self): return ops.ravel(self)
    def square(self): return ops.square(self)
    def reciprocal(self): return ops.reciprocal(self)
    def tan(self): return ops.tan(self)
    def sinh(self): return ops.sinh(self)
    def cosh(self): return ops.cosh(self)
    def floor(self): return ops.floor(self)
    def ceil(self): return ops.ceil(self)
    def trunc(self): return ops.trunc(self)
    def round(self, decimals=0): return ops.round(self, decimals)
    def conj(self): return ops.conj(self)
    real = property(lambda self: ops.real(self), doc="The real part (the tensor itself: real dtypes).")
    imag = property(lambda self: ops.imag(self), doc="The imaginary part (zeros: real dtypes).")


def _floor_divide(x, y):
    """``x // y``: NumPy's for integers; ``floor(x / y)`` (zero gradient) for floats."""
    if backend.xp.result_type(unwrap(x), unwrap(y)).kind in "biu":
        return Tensor._wrap(backend.asarray(backend.xp.floor_divide(unwrap(x), unwrap(y))), None)
    return ops.floor(ops.div(x, y))


def _shape_args(args):
    """Accept ``reshape(2, 3)`` and ``reshape((2, 3))`` alike."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _operator(name, function):
    # A primitive outside chainrule's namespace, so that observers of the engine (a compiled step's
    # recorder, traces) see a mask computed from a tensor like any other operation.
    return Primitive(name, lambda xp, *operands: function(*operands), differentiable=False, saves=())


_OPERATORS = {symbol: _operator(f"{name} ({symbol})", function) for symbol, name, function in (
    ("<", "less", operator.lt), ("<=", "less_equal", operator.le), (">", "greater", operator.gt),
    (">=", "greater_equal", operator.ge), ("==", "equal", operator.eq), ("!=", "not_equal", operator.ne),
    ("&", "bitwise_and", operator.and_), ("|", "bitwise_or", operator.or_), ("~", "invert", operator.invert))}
defbroadcasting(*_OPERATORS.values())  # vmap: the comparisons and & | ~ broadcast


# What the class statement adds to any class (``__hash__ = None`` beside an ``__eq__``): not attached.
_HOLDER_ONLY = {"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__hash__",
                "__firstlineno__", "__static_attributes__"}
for _name, _member in list(vars(_Methods).items()):
    if _name not in _HOLDER_ONLY:
        setattr(Tensor, _name, _member)
