"""Forward mode: tangents pushed through JVP rules, tagged by the level of the transform that made them.

A tensor's ``_tangents`` maps a level to its tangent there. Each :func:`chainrule.jvp` opens a new,
higher level; a primitive applied to inputs carrying tangents splits off the highest level ``L`` (as
a nested dual number ``x = x₀ + ε_L t`` whose parts may carry lower levels), computes the primal from
the parts, and its tangent by the JVP rules (on chainrule's own primitives when something must be
recorded, on bare arrays otherwise). Tangents of different
levels never mix, so nested derivatives do not confuse their perturbations.
"""

import itertools

from .tensor import Tensor

_levels = itertools.count(1)


def new_level():
    """A level above every level made so far: the new transform's own."""
    return next(_levels)


def with_tangent(x, level, tangent):
    """A tensor equal to ``x`` (same graph node) that also carries ``tangent`` at ``level``."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    out = Tensor._wrap(x.data, x._node)
    out._tangents = dict(x._tangents or {})
    out._tangents[level] = tangent
    return out


def strip(x, level):
    """``x`` without its tangent at ``level``, and that tangent (``None`` when it has none)."""
    if not isinstance(x, Tensor) or not x._tangents or level not in x._tangents:
        return x, None
    out = Tensor._wrap(x.data, x._node)
    rest = {k: v for k, v in x._tangents.items() if k != level}
    out._tangents = rest or None
    return out, x._tangents[level]


def _full(ns, tangent, shape):
    """A tangent broadcast to the output's shape (rules may return a smaller one, e.g. a bias's)."""
    return tangent if tuple(tangent.shape) == shape else ns.broadcast_to(tangent, shape=shape)


def is_tracked(x):
    """Whether ``x`` is a tensor that some transform follows: recorded for reverse mode or carrying
    tangents."""
    return isinstance(x, Tensor) and (x._node is not None or bool(x._tangents))
