"""Creating tensors, under NumPy's names and PyTorch's (``zeros``, ``randn``, ``arange``, ``from_numpy``).

Every function checks its arguments and names itself in the error: a negative size, a string where a
number belongs, or an unknown dtype is refused before NumPy sees it.
"""

import operator

from . import backend, devices
from .core.arrays import numeric_array, numeric_dtype
from .core.tensor import Tensor, unwrap
from .nn.rng import as_generator


def tensor(data, requires_grad=False, dtype=None, name=None, device=None):
    """A tensor holding a copy-free view of ``data`` (a list, scalar, NumPy array or tensor).

    The dtype follows NumPy: Python floats give float64 (exact enough for gradient checks); pass
    ``dtype="float32"`` for speed. Neural-network layers create float32 parameters. Strings, ``None``,
    other objects and ragged nested lists are refused. ``device="cuda"`` copies it onto a GPU (see
    :mod:`chainrule.devices`); by default it stays where ``data`` is (the CPU for NumPy and lists).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4., 6.])
    """
    if device is not None:
        data = _put(numeric_array(unwrap(data), dtype, "tensor"), device, "tensor")
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def from_numpy(array):
    """A tensor sharing memory with the NumPy array ``array`` (as ``torch.from_numpy``)."""
    if not isinstance(array, backend.ndarray):
        raise TypeError(f"from_numpy(): expected a NumPy array, not {type(array).__name__}; use "
                        f"chainrule.tensor() for lists and numbers")
    return Tensor(numeric_array(array, None, "from_numpy"))


def _filled(fill, name):
    def create(*shape, dtype="float32", requires_grad=False, device=None):
        return Tensor(_put(fill(_shape(shape, name), dtype=_dtype(dtype, name)), device, name),
                      requires_grad=requires_grad)
    create.__name__ = create.__qualname__ = name
    return create


zeros = _filled(backend.xp.zeros, "zeros")
zeros.__doc__ = "A float32 tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."
ones = _filled(backend.xp.ones, "ones")
ones.__doc__ = "A float32 tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."


empty = _filled(backend.xp.zeros, "empty")
empty.__doc__ = "PyTorch's ``empty``, filled with zeros rather than whatever memory held: ``empty(2, 3)``."


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    """``size`` (an int or a tuple) filled with ``fill_value``; float32 for a float, as ``torch.full``."""
    shape = _shape(size if isinstance(size, (tuple, list)) else (size,), "full")
    if dtype is None and isinstance(fill_value, float):
        dtype = "float32"
    value = numeric_array(unwrap(fill_value), None, "full")
    return Tensor(_put(backend.xp.full(shape, value, dtype=_dtype(dtype, "full")), device, "full"),
                  requires_grad=requires_grad)


def zeros_like(x, dtype=None, requires_grad=False, device=None):
    """Zeros with the shape and dtype (unless ``dtype`` is given) of ``x``."""
    like = numeric_array(unwrap(x), None, "zeros_like")
    return Tensor(_put(backend.namespace_of(like).zeros_like(like, dtype=_dtype(dtype, "zeros_like")), device,
                       "zeros_like"), requires_grad=requires_grad)


def ones_like(x, dtype=None, requires_grad=False, device=None):
    """Ones with the shape and dtype (unless ``dtype`` is given) of ``x``."""
    like = numeric_array(unwrap(x), None, "ones_like")
    return Tensor(_put(backend.namespace_of(like).ones_like(like, dtype=_dtype(dtype, "ones_like")), device,
                       "ones_like"), requires_grad=requires_grad)


def linspace(start, end, steps, dtype="float32", requires_grad=False, device=None):
    """``steps`` evenly spaced values from ``start`` to ``end``, both included (``torch.linspace``)."""
    steps = _size(steps, "linspace", "steps")
    return Tensor(_put(backend.xp.linspace(start, end, steps, dtype=_float_dtype(dtype, "linspace")), device,
                       "linspace"), requires_grad=requires_grad)


def randint(low, high=None, size=(), dtype="int64", generator=None, device=None):
    """Integers uniform in ``[low, high)`` (``[0, low)`` when ``high`` is omitted), of shape ``size``."""
    low, high = (0, low) if high is None else (low, high)
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not _is_index(value):
            raise TypeError(f"randint(): {name} must be an int, not {value!r}")
    if not low < high:
        raise ValueError(f"randint(): needs low < high, got low={low}, high={high}")
    shape = _shape(size if isinstance(size, (tuple, list)) else (size,), "randint")
    return Tensor(_put(as_generator(generator).integers(low, high, shape, dtype=_dtype(dtype, "randint")),
                       device, "randint"))


def multinomial(input, num_samples, replacement=False, generator=None):
    """Indices drawn from the categories whose weights are ``input``'s last axis (one row, or a 2-d
    batch of rows), as PyTorch's ``multinomial``: ``num_samples`` per row, int64, without replacement
    unless ``replacement=True``. Weights need not sum to one.

    Example:
        >>> import chainrule as cr
        >>> cr.multinomial(cr.tensor([0.0, 1.0, 0.0]), 2, replacement=True).tolist()
        [1, 1]
    """
    weights = backend.xp.asarray(input.data if isinstance(input, Tensor) else input, dtype="float64")
    if weights.ndim not in (1, 2) or weights.shape[-1] == 0:
        raise ValueError(f"multinomial(): input must be a 1-d or 2-d tensor of weights with at least one "
                         f"category, not shape {weights.shape}")
    if not backend.xp.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("multinomial(): weights must be finite and non-negative")
    rows = weights.reshape(-1, weights.shape[-1])
    count = _size(num_samples, "multinomial", "num_samples")
    nonzero = (rows > 0).sum(axis=1).min()
    if nonzero == 0 or (not replacement and count > nonzero):
        raise ValueError(f"multinomial(): cannot draw {count} samples without replacement from rows with "
                         f"{nonzero} non-zero weights" if nonzero else
                         "multinomial(): every row needs a positive weight")
    rng = as_generator(generator)
    drawn = backend.xp.stack([rng.choice(len(row), size=count, replace=replacement, p=row / row.sum())
                              for row in rows]).astype("int64")
    return Tensor(drawn.reshape(weights.shape[:-1] + (count,)))


def randperm(n, generator=None, device=None):
    """A random permutation of ``0 .. n-1`` (int64)."""
    return Tensor(_put(as_generator(generator).permutation(_size(n, "randperm", "n")), device, "randperm"))


def randn(*shape, dtype="float32", generator=None, requires_grad=False, device=None):
    """Standard normal samples: ``randn(2, 3)`` or ``randn((2, 3))``.

    Args:
        shape: the sizes, as ints or one tuple.
        dtype: a floating-point dtype.
        generator: a ``numpy.random.Generator``, an int seed, or ``None`` for the shared default
            generator that :func:`chainrule.manual_seed` resets.
        requires_grad: whether reverse mode tracks the result.
    """
    shape, dtype = _shape(shape, "randn"), _float_dtype(dtype, "randn")
    values = as_generator(generator).standard_normal(shape, dtype=_drawn(dtype))
    return Tensor(_put(values.astype(dtype, copy=False), device, "randn"), requires_grad=requires_grad)


def rand(*shape, dtype="float32", generator=None, requires_grad=False, device=None):
    """Samples uniform in [0, 1): ``rand(2, 3)`` or ``rand((2, 3))``; arguments as :func:`randn`."""
    shape, dtype = _shape(shape, "rand"), _float_dtype(dtype, "rand")
    values = as_generator(generator).random(shape, dtype=_drawn(dtype))
    return Tensor(_put(values.astype(dtype, copy=False), device, "rand"), requires_grad=requires_grad)


def arange(*args, dtype=None, requires_grad=False, device=None):
    """Evenly spaced values, as ``numpy.arange``: ``arange(stop)``, ``arange(start, stop[, step])``."""
    if not 1 <= len(args) <= 3:
        raise TypeError(f"arange() takes 1 to 3 positional arguments (start, stop, step), got {len(args)}")
    for value in args:
        if isinstance(value, bool) or not isinstance(unwrap(value), (int, float, backend.xp.number)):
            raise TypeError(f"arange(): start, stop and step must be numbers, not {value!r}")
    if len(args) == 3 and args[2] == 0:
        raise ValueError("arange(): step must not be zero")
    values = backend.xp.arange(*(unwrap(a) for a in args), dtype=_dtype(dtype, "arange"))
    return Tensor(_put(values, device, "arange"), requires_grad=requires_grad)


def eye(n, m=None, dtype="float32", requires_grad=False, device=None):
    """The ``n`` by ``m`` matrix with ones on its diagonal (``m = n`` by default)."""
    n = _size(n, "eye", "n")
    m = n if m is None else _size(m, "eye", "m")
    return Tensor(_put(backend.xp.eye(n, m, dtype=_dtype(dtype, "eye")), device, "eye"),
                  requires_grad=requires_grad)


def _put(array, device, where):
    """``array`` (made on the host: the same random draws as on the CPU) copied onto ``device``, unless it
    is ``None``."""
    return array if device is None else devices.move(array, devices.device(device, where))


def _shape(shape, where):
    """``(2, 3)`` from ``(2, 3)`` or ``((2, 3),)``, each size a non-negative int."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(_size(size, where, f"each size in shape {shape}") for size in shape)


def _size(value, where, name):
    if isinstance(value, bool) or not _is_index(value):
        raise TypeError(f"{where}(): {name} must be a non-negative int, not {value!r}")
    if operator.index(value) < 0:
        raise ValueError(f"{where}(): {name} must be a non-negative int, not {value!r}")
    return operator.index(value)


def _is_index(value):
    return hasattr(type(value), "__index__")


def _dtype(dtype, where):
    return None if dtype is None else numeric_dtype(dtype, where)


def _float_dtype(dtype, where):
    dtype = _dtype(dtype, where)
    if dtype is None or dtype.kind != "f":
        raise TypeError(f"{where}(): dtype must be a floating-point type such as 'float32', not {dtype}")
    return dtype


def _drawn(dtype):
    """The dtype NumPy's generators draw in for ``dtype`` (they draw float32 and float64 only)."""
    return dtype if dtype in (backend.xp.float32, backend.xp.float64) else backend.xp.float64
