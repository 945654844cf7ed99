"""Small views of the values that hooks see: tensors, bare arrays and Python scalars alike."""

from .. import backend
from ..core.tensor import unwrap


def array_of(x):
    """The array inside a tensor; anything else as an array."""
    return backend.asarray(unwrap(x))


def shape_of(x):
    """The shape of a tensor, array or scalar, as a tuple."""
    return tuple(getattr(x, "shape", ()))


def norm(x):
    """The Euclidean norm of all the elements, as a Python float."""
    return float(backend.xp.linalg.norm(array_of(x).ravel().astype(backend.xp.float64)))  # 1e-25 stays > 0

