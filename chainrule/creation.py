"""Creating tensors."""

from . import backend
from .core.tensor import Tensor, unwrap


def tensor(data, requires_grad=False, dtype=None, name=None):
    """A tensor holding a copy-free view of ``data`` (a list, scalar, NumPy array or tensor).

    The dtype follows NumPy: Python floats give float64 (exact enough for gradient checks); pass
    ``dtype="float32"`` for speed. Neural-network layers create float32 parameters.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4., 6.])
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def _filled(fill):
    def create(*shape, dtype="float32", requires_grad=False):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return Tensor(fill(shape, dtype=dtype), requires_grad=requires_grad)
    return create


zeros = _filled(backend.xp.zeros)
zeros.__doc__ = "A float32 tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."
ones = _filled(backend.xp.ones)
ones.__doc__ = "A float32 tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."


def zeros_like(x, requires_grad=False):
    """Zeros with the shape and dtype of ``x``."""
    return Tensor(backend.xp.zeros_like(unwrap(x)), requires_grad=requires_grad)


def ones_like(x, requires_grad=False):
    """Ones with the shape and dtype of ``x``."""
    return Tensor(backend.xp.ones_like(unwrap(x)), requires_grad=requires_grad)


def arange(*args, dtype=None):
    """Evenly spaced values, as ``numpy.arange``."""
    return Tensor(backend.xp.arange(*args, dtype=dtype))


def eye(n, dtype="float32"):
    """The ``n`` by ``n`` identity matrix."""
    return Tensor(backend.xp.eye(n, dtype=dtype))
