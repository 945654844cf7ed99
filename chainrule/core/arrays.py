"""Checking what becomes a tensor: numbers only, named dtypes, and a size that is also a shape."""

from .. import backend

_NUMERIC_KINDS = "biufc"  # bool, signed and unsigned int, float, complex


def numeric_dtype(dtype, where):
    """``dtype`` as a NumPy dtype of numbers, or a TypeError naming ``where``."""
    try:
        dtype = backend.xp.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where}(): unknown dtype {dtype!r}; give a NumPy dtype or its name, such as "
                        f"'float32'") from None
    if dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"{where}(): dtype must be a number type (bool, int, float, complex), not {dtype}")
    return dtype


def numeric_array(data, dtype, where):
    """``data`` as a backend array of numbers, or an error that names ``where`` and what was given
    (strings, ``None``, arbitrary objects and ragged nested lists are refused)."""
    dtype = None if dtype is None else numeric_dtype(dtype, where)
    try:
        if backend.placed and type(data) in backend.namespaces:  # an array of a device stays there
            array = backend.namespaces[type(data)].asarray(data, dtype=dtype)
        else:
            array = backend.asarray(data, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as error:
        if "inhomogeneous" in str(error):
            raise ValueError(f"{where}(): a ragged nested list (rows of different lengths) cannot be a "
                             f"tensor; pad its rows to one length. NumPy: {error}") from None
        if dtype is not None:
            numeric_array(data, None, where)  # names non-numbers as such
        target = "" if dtype is None else f" to {dtype}"
        raise type(error)(f"{where}(): cannot convert {_describe(data)}{target}: {error}") from None
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"{where}(): data must be numbers (a number, a nested list of numbers, a NumPy "
                        f"array or a Tensor), not {_describe(data)} (NumPy dtype {array.dtype})")
    return array


def _describe(data):
    text = " ".join(repr(data).split())
    return f"{type(data).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


class Size(int):
    """A tensor's number of elements (NumPy's ``x.size``), which called gives its shape (PyTorch's
    ``x.size()``) or one axis's length (``x.size(dim)``)."""

    def __new__(cls, count, shape):
        size = super().__new__(cls, count)
        size.shape = shape
        return size

    def __call__(self, dim=None):
        if dim is None:
            return self.shape
        if not -len(self.shape) <= dim < len(self.shape):
            raise IndexError(f"size({dim}): dim out of range for a tensor of shape {self.shape}")
        return self.shape[dim]
