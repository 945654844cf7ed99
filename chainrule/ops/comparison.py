"""Closeness tests with PyTorch's and NumPy's names: ``isclose`` and ``allclose`` (no derivative)."""

from .. import backend


def _values(x):
    return x.data if hasattr(x, "_node") else backend.asarray(x)


def isclose(x, y, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise ``|x - y| <= atol + rtol * |y|``, a boolean tensor (``torch.isclose``,
    ``numpy.isclose``)."""
    from ..core.tensor import Tensor
    return Tensor(backend.xp.isclose(_values(x), _values(y), rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(x, y, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element of ``x`` is close to ``y``'s (see :func:`isclose`): a Python bool.

    Example:
        >>> import chainrule as cr
        >>> cr.allclose(cr.tensor([1.0, 2.0]), [1.0, 2.0 + 1e-9])
        True
    """
    return bool(backend.xp.allclose(_values(x), _values(y), rtol=rtol, atol=atol, equal_nan=equal_nan))
