"""The Tensor: an array, an optional link into the recorded graph, and optional forward-mode tangents."""

import operator

from .. import backend
from ..errors import GraphError, ShapeError
from ..pytorch_compat import missing_attribute, pytorch_keywords, to_dtype
from .arrays import Size, numeric_array
from .graph import Leaf, _GradMode, hooks


_NO_AXIS = object()  # sort()'s axis left out: PyTorch's call


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Create tensors with :func:`chainrule.tensor`. Arithmetic operators, comparisons and indexing work
    with tensors, NumPy arrays and Python scalars on either side.

    Attributes:
        data: the underlying NumPy array.
        grad: the gradient accumulated by :meth:`backward` (a Tensor), or ``None``.
        name: an optional label used by graphs and reports.
    """

    __slots__ = ("data", "grad", "name", "_node", "_tangents", "__weakref__")
    # NumPy defers to Tensor's reflected operators (a fast `array * tensor`) and refuses its ufuncs on
    # tensors (numpy.exp(t)); its module functions go through __array_function__.
    __array_ufunc__ = None

    def __array_function__(self, func, types, args, kwargs):
        # NumPy's module functions (numpy.sum(t), numpy.linalg.det(t)) as chainrule's: see chainrule.numpy.
        from ..numpy import array_function
        return array_function(func, args, kwargs)

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = numeric_array(data, dtype, "tensor" if type(self) is Tensor else type(self).__name__)
        if hooks.on_array is not None and self.data is not data:
            hooks.on_array(data, self.data)
        self.grad = None
        self.name = name
        self._node = None
        self._tangents = None
        if requires_grad is not False:
            if not isinstance(requires_grad, (bool, backend.xp.bool_)):
                raise TypeError(f"{type(self).__name__}(): requires_grad must be True or False, not "
                                f"{requires_grad!r} (for a tensor of a given shape, write "
                                f"chainrule.zeros(2, 3))")
            self.requires_grad = bool(requires_grad)

    @classmethod
    def _wrap(cls, array, node):
        tensor = cls.__new__(cls)
        tensor.data = array
        tensor.grad = None
        tensor.name = None
        tensor._node = node
        tensor._tangents = None
        return tensor

    # -- autograd state ---------------------------------------------------------------------------

    @property
    def requires_grad(self):
        """Whether reverse mode tracks this tensor."""
        return self._node is not None

    @requires_grad.setter
    def requires_grad(self, flag):
        if not flag:
            if not self.is_leaf:
                raise GraphError("requires_grad can only be switched off on a leaf; use .detach()")
            self._node = None
        elif self._node is None:
            if self.data.dtype.kind == "c":
                raise TypeError(f"complex tensors cannot require gradients ({self.dtype}): chainrule "
                                "differentiates real floating-point values only")
            if self.data.dtype.kind != "f":
                raise TypeError(f"only floating-point tensors can require gradients, not {self.dtype}; "
                                f"convert first (.float(), or dtype='float32' when creating it)")
            self._node = Leaf(self)

    def requires_grad_(self, flag=True):
        """Set :attr:`requires_grad` in place and return ``self`` (like PyTorch)."""
        self.requires_grad = flag
        return self

    @property
    def is_leaf(self):
        """True for tensors created by the user rather than by an operation."""
        return self._node is None or isinstance(self._node, Leaf)

    @property
    def grad_fn(self):
        """The name of the primitive that created this tensor, ``None`` for a leaf."""
        return None if self.is_leaf else self._node.prim.name

    def retain_grad(self):
        """Keep this intermediate tensor's gradient in ``.grad`` after backward."""
        if self._node is None:
            raise GraphError("retain_grad() on a tensor that does not require grad")
        if not self.is_leaf:
            import weakref
            self._node.retained = weakref.ref(self)
        return self

    def detach(self):
        """The same values, cut from the graph and from forward-mode tangents."""
        return Tensor._wrap(self.data, None)

    def backward(self, gradient=None, retain_graph=False, create_graph=False):
        """Accumulate the gradient of this tensor into the ``.grad`` of every leaf it depends on.

        Args:
            gradient: the cotangent of this tensor; may be omitted only for a single-element tensor.
            retain_graph: keep the saved values so that a second backward can pass through the graph.
            create_graph: record the backward pass itself, so gradients can be differentiated again.
        """
        if self._node is None:
            raise GraphError("backward() on a tensor that does not require grad: none of its inputs "
                             "had requires_grad=True (or it was computed under no_grad())")
        owned = gradient is None  # the engine made the cotangent, so no leaf can share it with the user
        if gradient is None:
            if self.data.size != 1:
                raise GraphError(f"backward() without `gradient` needs a single-element output, but this "
                                 f"tensor has shape {self.shape}; reduce it first (e.g. .sum()) or pass "
                                 f"gradient= an array of shape {self.shape}")
            gradient = backend.xp.empty(self.data.shape, self.data.dtype)
            gradient.fill(1)  # NumPy's ones() is Python around these two calls: 0.4 µs a step saved
        else:
            gradient = mode.seed(gradient, self, "backward(): gradient", keep_tensor=create_graph)
            if tuple(gradient.shape) != self.shape:
                raise ShapeError(f"backward(): gradient has shape {tuple(gradient.shape)} but the "
                                 f"tensor has shape {self.shape}")
        reverse.backward([self], [gradient], retain_graph=retain_graph or create_graph,
                 create_graph=create_graph, owned=owned)

    # -- array-like view --------------------------------------------------------------------------

    shape = property(lambda self: self.data.shape, doc="The shape, a tuple of ints.")
    dtype = property(lambda self: self.data.dtype, doc="The NumPy dtype.")
    ndim = property(lambda self: self.data.ndim, doc="The number of axes.")
    size = property(lambda self: Size(self.data.size, self.data.shape),
                    doc="The number of elements; called, the shape: ``x.size()``, ``x.size(dim)``.")

    def __len__(self):
        if not self.data.ndim:
            raise TypeError("len() of a 0-d tensor; use .item() for its value or .numel() for its size")
        return len(self.data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __index__(self):
        # A 0-d integer tensor indexes and slices (data[i:i + n] with i from randint), as PyTorch's.
        if self.data.ndim != 0 or self.data.dtype.kind not in "iu":
            raise TypeError(f"only a 0-d integer tensor can be used as an index, not a {self.dtype} tensor "
                            f"of shape {self.shape}")
        return int(self.data)

    def item(self):
        """The single element as a Python number."""
        if hooks.on_value is not None:
            hooks.on_value(self, "item()")
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor of one element, but this one has shape {self.shape}; "
                             f"reduce it first (e.g. .sum()) or use .tolist()")
        return self.data.item()

    def numpy(self):
        """The underlying NumPy array (shares memory, like PyTorch's ``.numpy()``)."""
        if hooks.on_value is not None:
            hooks.on_value(self, "numpy()")
        return self.data

    def tolist(self):
        if hooks.on_value is not None:
            hooks.on_value(self, "tolist()")
        return self.data.tolist()

    def astype(self, dtype):
        """A copy with another dtype (differentiable between float types)."""
        return ops.astype(self, dtype=backend.xp.dtype(dtype))

    # -- PyTorch's spellings ----------------------------------------------------------------------

    def numel(self):
        """The number of elements."""
        return self.data.size

    def dim(self):
        """The number of axes."""
        return self.data.ndim

    def to(self, *args, dtype=None, device=None):
        """This tensor in another dtype (``x.to("float64")``, ``x.to(other)``); the device must be
        ``"cpu"``, where chainrule computes. Returns ``self`` when nothing changes, as PyTorch does."""
        args = tuple(a.dtype if isinstance(a, Tensor) else a for a in args)
        dtype = to_dtype(args, dtype, device, "Tensor.to")
        return self if dtype is None or dtype == self.dtype else self.astype(dtype)

    def float(self): return self.to(backend.xp.float32)
    def double(self): return self.to(backend.xp.float64)
    def half(self): return self.to(backend.xp.float16)
    def long(self): return self.to(backend.xp.int64)
    def type_as(self, other): return self.to(other.dtype)
    def cpu(self): return self
    def cuda(self, *args, **kwargs): return self.to("cuda")
    def contiguous(self): return self
    device = "cpu"
    is_cuda = False
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

    def __repr__(self):
        body = backend.xp.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.data.dtype != backend.xp.float64 and self.data.size:
            extras.append(f"dtype={self.data.dtype}")
        if self._node is not None:
            extras.append("requires_grad=True" if self.is_leaf else f"grad_fn={self.grad_fn}")
        return "tensor(" + ", ".join([body] + extras) + ")"

    def __bool__(self):
        if hooks.on_value is not None:
            hooks.on_value(self, "bool()")
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; use "
                             f"bool(x.numpy().any()) or bool(x.numpy().all())")
        return bool(self.data)

    def __format__(self, spec):
        if not self.data.ndim:
            return format(self.data.item(), spec)  # f"{loss:.4f}", as in PyTorch
        if spec:
            raise TypeError(f"format {spec!r} needs a 0-d tensor, not one of shape {self.shape}; format "
                            f"x.item() or x.tolist()")
        return str(self)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __hash__(self):
        return id(self)

    def __reduce__(self):
        # Copies and pickles become fresh leaves: the link into a graph cannot travel, and a copied
        # link would send the copy's gradients to the original.
        return Tensor, (self.data, self.requires_grad and self.is_leaf, None, self.name)

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

    def zero_(self):
        """Fill with zeros in place (``w.grad.zero_()``); see :meth:`fill_`."""
        return self.fill_(0)

    def fill_(self, value):
        """Fill with the number ``value`` in place: a plain tensor, or a leaf under
        :func:`chainrule.no_grad`."""
        if backend.xp.ndim(unwrap(value)) != 0:
            raise TypeError(f"fill_() takes a number, not an array of shape "
                            f"{backend.xp.shape(unwrap(value))}; write x.data[...] = values")
        return self._in_place(lambda x, value: backend.xp.full_like(x, value), value, "fill_")

    def _in_place(self, op, other, where):
        recorded = _GradMode.enabled and isinstance(other, Tensor) and other._node is not None
        if self._tangents or not self.is_leaf or recorded or getattr(other, "_tangents", None):
            if where == "fill_":
                raise GraphError("fill_() on a tensor that is part of a graph; build a new tensor instead")
            return op(self, other)  # a new, recorded tensor takes the name
        if self._node is not None and _GradMode.enabled:
            raise GraphError(f"{where} would change a leaf that requires grad in place, which the graph "
                             f"cannot follow; do it under `with chainrule.no_grad():` (as an optimiser "
                             f"step does), or write x = x {where[0]} y for a new tensor")
        result = backend.asarray(unwrap(op(self.data, unwrap(other))))
        if not backend.xp.can_cast(result.dtype, self.dtype, "same_kind"):
            raise TypeError(f"{where}: the result is {result.dtype}, which cannot be stored in place in a "
                            f"{self.dtype} tensor; write x = x {where[0]} y for a new tensor")
        if result.shape != self.shape:
            raise ShapeError(f"{where}: the result has shape {result.shape}, but in place it must keep the "
                             f"tensor's shape {self.shape}")
        if not self.data.flags.writeable:
            raise ValueError(f"{where}: this tensor is a read-only view (from broadcast_to or expand, say); "
                             f"write x = x.clone() first, or x = x {where[0]} y")
        self.data[...] = result
        return self

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(missing_attribute(type(self).__name__, name))

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


def unwrap(x):
    """The array inside a tensor; anything else as it is."""
    return x.data if isinstance(x, Tensor) else x


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


from .. import ops  # noqa: E402  (the operations need Tensor defined first)
from ..ops import ordering  # noqa: E402
from . import dispatch, mode, reverse  # noqa: E402
from .primitive import Primitive  # noqa: E402


def _operator(name, function):
    # A primitive outside chainrule's namespace, so that observers of the engine (a compiled step's
    # recorder, traces) see a mask computed from a tensor like any other operation.
    return Primitive(name, lambda xp, *operands: function(*operands), differentiable=False, saves=())


_OPERATORS = {symbol: _operator(f"{name} ({symbol})", function) for symbol, name, function in (
    ("<", "less", operator.lt), ("<=", "less_equal", operator.le), (">", "greater", operator.gt),
    (">=", "greater_equal", operator.ge), ("==", "equal", operator.eq), ("!=", "not_equal", operator.ne),
    ("&", "bitwise_and", operator.and_), ("|", "bitwise_or", operator.or_), ("~", "invert", operator.invert))}
