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


def _constant_helpers(xp):
    return {
        "zeros_like": lambda x: xp.zeros(x.shape, x.dtype),
        "ones_like": lambda x: xp.ones(x.shape, x.dtype),
    }


def _raw_function(prim, xp=backend.xp):
    """``prim``'s forward on bare arrays of the namespace ``xp``, taking parameters by position too, like
    ``prim`` itself."""
    impl, nin = prim.impl, prim.nin
    if nin is None or not prim.param_names:
        return functools.partial(impl, xp)

    def call(*inputs, **params):
        if len(inputs) > nin:
            inputs, params = prim.fold(inputs, params)
        return impl(xp, *inputs, **params)
    return call


def _materialized_broadcast(xp):
    def broadcast_to(x, shape):
        # A fresh array rather than NumPy's read-only view: cheaper to make, and safe to own as a gradient.
        out = xp.empty(shape, dtype=x.dtype)
        out[...] = x
        return out
    return broadcast_to


def _raw_namespace(xp):
    space = _Namespace(functools.partial(_raw_function, xp=xp),
                       {**_constant_helpers(xp), "broadcast_to": _materialized_broadcast(xp)})
    space.value = unwrap
    return space


raw = _raw_namespace(backend.xp)
"""Rules' namespace for first-order passes: forward implementations on bare (NumPy) arrays."""

_raws = {backend.xp: raw}


def raw_for(array):
    """The first-order rules' namespace for arrays like ``array`` (:data:`raw` for NumPy's; the same on
    the namespace of another device's)."""
    xp = backend.namespace_of(array)
    found = _raws.get(xp)
    if found is None:
        found = _raws[xp] = _raw_namespace(xp)
    return found


def _device_helpers():
    # constants on the device of the tensor they are like
    def like(fill):
        return lambda x: getattr(backend.namespace_of(unwrap(x)), fill)(x.shape, x.dtype)
    return {"zeros_like": like("zeros"), "ones_like": like("ones")}


diff = _Namespace(lambda prim: prim, _device_helpers())
"""Rules' namespace for higher-order passes: chainrule's primitives, recorded like user code."""


diff.value = unwrap
