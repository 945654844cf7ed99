"""The registry of primitives by name, and the two namespaces rules are written against, which look
primitives up in it: :data:`raw` (forward implementations on bare arrays) and :data:`diff` (the
primitives themselves, recorded)."""

import functools

from .. import backend
from .tensor import unwrap

REGISTRY = {}
"""Every primitive by its public name (see :func:`chainrule.core.primitive.primitive`)."""


class _Namespace:
    """The functions rules are written against: primitives by name, plus a few constant helpers."""

    def __init__(self, lookup, helpers):
        self._lookup = lookup
        self.__dict__.update(helpers)

    def __getattr__(self, name):
        try:
            prim = REGISTRY[name]
        except KeyError:
            raise AttributeError(f"no primitive or helper named {name!r}") from None
        function = self._lookup(prim)
        setattr(self, name, function)
        return function


def _constant_helpers():
    xp = backend.xp
    return {
        "zeros_like": lambda x: xp.zeros(x.shape, x.dtype),
        "ones_like": lambda x: xp.ones(x.shape, x.dtype),
    }


def _raw_function(prim):
    """``prim``'s forward on bare arrays, taking parameters by position too, like ``prim`` itself."""
    impl, xp, nin = prim.impl, backend.xp, prim.nin
    if nin is None or not prim.param_names:
        return functools.partial(impl, xp)

    def call(*inputs, **params):
        if len(inputs) > nin:
            inputs, params = prim.fold(inputs, params)
        return impl(xp, *inputs, **params)
    return call


def _materialized_broadcast(x, shape):
    # A fresh array rather than NumPy's read-only view: cheaper to make, and safe to own as a gradient.
    out = backend.xp.empty(shape, dtype=x.dtype)
    out[...] = x
    return out


raw = _Namespace(_raw_function, {**_constant_helpers(), "broadcast_to": _materialized_broadcast})
"""Rules' namespace for first-order passes: forward implementations on bare arrays."""

diff = _Namespace(lambda prim: prim, _constant_helpers())
"""Rules' namespace for higher-order passes: chainrule's primitives, recorded like user code."""


raw.value = diff.value = unwrap
