"""The Tensor: an array, an optional link into the recorded graph, and optional forward-mode tangents."""

from .. import backend, devices
from ..errors import GraphError, ShapeError, user_line
from .arrays import Size, numeric_array
from .graph import Leaf, _GradMode, hooks


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
        if backend.placed and type(self.data) is not backend.ndarray and type(self.data) in backend.namespaces:
            raise TypeError(f"cannot convert a tensor on {self.device} to a NumPy array; copy it to the host "
                            f"first with .cpu(){user_line()}")
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
        """The underlying NumPy array (shares memory, like PyTorch's ``.numpy()``); a tensor on another
        device is refused, as PyTorch does: copy it with ``.cpu()`` first."""
        if hooks.on_value is not None:
            hooks.on_value(self, "numpy()")
        if type(self.data) is not backend.ndarray and type(self.data) in backend.namespaces:
            raise TypeError(f"numpy(): this tensor is on {self.device}; copy it to the host first with "
                            f".cpu().numpy(){user_line()}")
        return self.data

    def tolist(self):
        if hooks.on_value is not None:
            hooks.on_value(self, "tolist()")
        return self.data.tolist()

    # -- PyTorch's spellings ----------------------------------------------------------------------

    def numel(self):
        """The number of elements."""
        return self.data.size

    def dim(self):
        """The number of axes."""
        return self.data.ndim
    def contiguous(self): return self

    @property
    def device(self):
        """The :class:`~chainrule.devices.Device` holding the array (``x.device == "cpu"``)."""
        return devices.device_of(self.data)

    @property
    def is_cuda(self):
        """Whether the array is on a CUDA GPU."""
        return self.device.type == "cuda"

    def cpu(self):
        """This tensor on the CPU: itself when it is there, else a differentiable copy (``.to("cpu")``)."""
        return self if type(self.data) is backend.ndarray else self.to("cpu")

    def __repr__(self):
        place = devices.device_of(self.data)
        body = backend.xp.array2string(place.host(self.data), separator=", ", prefix="tensor(")
        extras = [] if place is devices.CPU else [f"device='{place}'"]
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

    def zero_(self):
        """Fill with zeros in place (``w.grad.zero_()``); see :meth:`fill_`."""
        return self.fill_(0)

    def fill_(self, value):
        """Fill with the number ``value`` in place: a plain tensor, or a leaf under
        :func:`chainrule.no_grad`."""
        value = unwrap(value)
        if (value.ndim if hasattr(value, "ndim") else backend.xp.ndim(value)) != 0:
            raise TypeError(f"fill_() takes a number, not an array of shape "
                            f"{backend.xp.shape(value) if isinstance(value, list) else value.shape}; write "
                            f"x.data[...] = values")
        return self._in_place(lambda x, value: backend.namespace_of(x).full_like(x, value), value, "fill_")

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
        result = unwrap(op(self.data, unwrap(other)))
        if type(result) is not type(self.data):  # a number, or an array of another device (an error)
            result = backend.namespace_of(self.data).asarray(result)
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


def unwrap(x):
    """The array inside a tensor; anything else as it is."""
    return x.data if isinstance(x, Tensor) else x
