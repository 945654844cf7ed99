"""Anomaly detection: stop at the first NaN or infinity the engine creates, and say where it came from.

Every primitive's output (forward pass), every VJP rule's result (backward pass) and every JVP rule's
result (forward mode) is checked with one reduction: a sum is finite only when every element is, so
only a non-finite sum needs the element-wise look. A primitive applied inside a rule (rules of a
higher-order pass and every JVP rule run on chainrule's own primitives) is not reported on its own: the
rule's result is checked, under the rule's name.
"""

import cmath
import contextlib
import sys

from .. import backend
from ..core.graph import Unsaved
from ..core.primitive import REGISTRY
from ..errors import AnomalyError, user_site
from ._format import format_site
from ._observers import observing
from ._values import array_of, shape_of

_SHOWN = 3


@contextlib.contextmanager
def detect_anomaly(check_forward=True):
    """Raise :class:`~chainrule.errors.AnomalyError` at the first NaN or infinity created inside.

    Usable as a context manager or a decorator. The error names the primitive, the mode, the user's
    source line (for a backward rule, also the forward line that created the node: wrap the forward pass
    too), the shapes, and the first offending values with the inputs at the same positions. It carries
    them as attributes too: ``primitive``, ``mode`` (``"forward"``, ``"VJP"`` or ``"JVP"``), ``argnum``
    and ``site`` (``(file, line, code)``; for a VJP, the forward line).

    Args:
        check_forward: also check every primitive's output. ``False`` checks only the rules, for code
            whose forward pass makes infinities on purpose (``log(0)`` masked away, ``-inf`` masks), as
            PyTorch's ``detect_anomaly`` does.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.inspect import detect_anomaly
        >>> x = cr.tensor([4.0, 0.0], requires_grad=True)
        >>> try:
        ...     with detect_anomaly():
        ...         cr.sqrt(x).sum().backward()
        ... except cr.errors.AnomalyError as error:
        ...     print(error.primitive, error.mode, error.argnum)
        sqrt VJP 0
    """
    with observing(on_forward=_check_forward if check_forward else None, on_vjp=_check_vjp,
                   on_jvp=_check_jvp, record_site=True):
        yield


def _check_forward(prim, inputs, out, params):
    if _has_non_finite(out) and not _inside_rule():
        related = [(f"input {i}", x) for i, x in enumerate(inputs)]
        raise _anomaly(prim.name, "forward", None, user_site(), out, related, [
            f"at {format_site(user_site())}",
            f"shapes: inputs {_shapes(inputs)} -> output {shape_of(out)}",
            *_already_bad(inputs, "the inputs")])


def _check_vjp(node, argnum, g, g_input, summed_axes):
    if _has_non_finite(g_input):
        # Inputs the rules never read were not kept (only their shapes): they cannot be shown.
        related = [(f"input {i}", x) for i, x in enumerate(node.inputs) if not isinstance(x, Unsaved)]
        related.append(("cotangent", g))
        forward = format_site(node.site) if node.site is not None else \
            "unknown (the forward pass ran outside detect_anomaly(); wrap it too to see its line)"
        raise _anomaly(node.prim.name, "VJP", argnum, node.site, g_input, related, [
            f"the forward pass created this node at {forward}",
            f"the backward pass was started at {format_site(user_site())}",
            f"shapes: inputs {_shapes(node.inputs)} -> output {shape_of(node.ans)}; "
            f"the output's cotangent {shape_of(g)}",
            *_already_bad([g], "the output's cotangent")])


def _check_jvp(prim, argnum, tangent, tangent_out, inputs, params):
    if _has_non_finite(tangent_out):
        related = [(f"input {i}", x) for i, x in enumerate(inputs)] + [("tangent", tangent)]
        raise _anomaly(prim.name, "JVP", argnum, user_site(), tangent_out, related, [
            f"at {format_site(user_site())}",
            f"shapes: inputs {_shapes(inputs)} -> output {shape_of(tangent_out)}; the input's "
            f"tangent {shape_of(tangent)}",
            *_already_bad([tangent], "the input's tangent")])


def _has_non_finite(x):
    values = array_of(x)
    return (values.dtype.kind in "fc" and not cmath.isfinite(values.sum())
            and not backend.xp.isfinite(values).all())


def _inside_rule():
    """Whether a VJP or JVP rule is running further up the stack (looked at only after a failure)."""
    codes = set()
    for prim in REGISTRY.values():
        for rules in (prim.vjps, prim.jvps):
            # Rules of variadic primitives are one function of the input's position, in ``.rule``.
            functions = [rules.rule] if hasattr(rules, "rule") else rules or ()
            codes.update(f.__code__ for f in functions if hasattr(f, "__code__"))
        # A rule for several inputs at once (its per-input views in .vjps are partials of it).
        codes.update(f.__code__ for f in (prim.vjp_argnums, prim.jvp_argnums) if f is not None)
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code in codes:
            return True
        frame = frame.f_back
    return False


def _anomaly(name, mode, argnum, site, result, related, details):
    values = array_of(result)
    bad = ~backend.xp.isfinite(values)
    nans = int(backend.xp.isnan(values).sum())
    infinities = int(bad.sum()) - nans
    counts = " and ".join(f"{n} {kind}" for n, kind in [(nans, "NaN"), (infinities, "infinite")] if n)
    what = {"forward": f"{name} (forward pass)",
            "VJP": f"the VJP of {name} (backward pass, for input {argnum})",
            "JVP": f"the JVP of {name} (forward mode, for input {argnum})"}[mode]
    lines = [f"{what} produced {counts} value(s) of {values.size}", *details, "first offending values:"]
    for index in backend.xp.argwhere(bad)[:_SHOWN]:
        index = tuple(int(i) for i in index)
        lines.append(f"  [{', '.join(map(str, index))}] = {_number(values[index])}"
                     + _beside(related, values.shape, index))
    error = AnomalyError("\n  ".join(lines))
    error.primitive, error.mode, error.argnum, error.site = name, mode, argnum, site
    return error


def _beside(related, shape, index):
    """The related values at ``index``, for those that broadcast to ``shape``."""
    shown = []
    for label, x in related:
        try:
            value = backend.xp.broadcast_to(array_of(x), shape)[index]
        except ValueError:
            continue
        shown.append(f"{label} = {_number(value)}")
    return f"  ({', '.join(shown)})" if shown else ""


def _already_bad(values, what):
    if any(_has_non_finite(x) for x in values):
        return [f"note: {what} already held NaN or infinity, made before detect_anomaly() was on"]
    return []


def _shapes(values):
    return ", ".join(str(shape_of(x)) for x in values)


def _number(value):
    return f"{value.item():.4g}" if hasattr(value, "item") else f"{value:.4g}"
