"""The Gaussian error linear unit as one primitive: ``gelu(x) = x Φ(x)``, exact (through ``erf``) or in
its tanh form, with the derivative beside it.

- exact: ``y = x/2 (1 + erf(x/√2))``, ``dy/dx = Φ(x) + x φ(x)``, ``φ(x) = e^(−x²/2)/√(2π)``;
- ``"tanh"``: ``u = √(2/π) (x + 0.044715 x³)``, ``y = x/2 (1 + tanh u)``,
  ``dy/dx = (1 + tanh u)/2 + x/2 (1 − tanh² u) √(2/π) (1 + 3·0.044715 x²)``.

The Jacobian is diagonal, so one rule (``g · dy/dx``) is both the VJP and the JVP. Written on ``ns``,
it serves every order; on float32 and float64 NumPy arrays with a C compiler the forward and the
first-order rule are one kernel pass each (:mod:`.layer_kernels`), where NumPy makes five. Under grad
mode the forward keeps ``Φ(x)`` beside its result (in the same allocation, as the recurrent scans keep
their gates), so the rule computes one ``exp`` per value, not an ``erf`` and an ``exp``.
"""

import math

from .. import backend
from ..core.batching import defvectorized
from ..core.graph import is_grad_enabled
from ..core.primitive import primitive
from . import layer_kernels

APPROXIMATIONS = ("none", "tanh")
_K = math.sqrt(2 / math.pi)
_C = 0.044715


def _check(approximate):
    if approximate not in APPROXIMATIONS:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', not {approximate!r}")
    return approximate == "tanh"


def _gelu(xp, x, approximate="none"):
    """``x Φ(x)``: ``x/2 (1 + erf(x/√2))``, or with ``approximate="tanh"``
    ``x/2 (1 + tanh(√(2/π) (x + 0.044715 x³)))``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.ops.gelu import gelu
        >>> round(gelu(cr.tensor(1.0)).item(), 6)
        0.841345
    """
    tanh_form = _check(approximate)
    if layer_kernels.applies(x) and x.ndim:
        return layer_kernels.gelu(x, tanh_form, keep=is_grad_enabled())
    if tanh_form:
        return 0.5 * x * (1 + xp.tanh(_K * (x + _C * x * x * x)))
    return 0.5 * x * (1 + backend.special(xp).erf(x * (1 / math.sqrt(2))))


def _slope_times(ns, g, ans, x, approximate="none"):
    """``g · dy/dx``."""
    tanh_form = _check(approximate)
    if layer_kernels.applies(g, x) and g.shape == x.shape and x.ndim:
        cdf = layer_kernels.kept_cdf(ans) if isinstance(ans, backend.ndarray) and ans.dtype == x.dtype else None
        return layer_kernels.gelu_vjp(g, x, tanh_form, cdf)
    if tanh_form:
        t = ns.tanh(_K * (x + _C * x * x * x))
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _K * (1 + 3 * _C * x * x))
    return g * (0.5 * (1 + ns.erf(x * (1 / math.sqrt(2)))) + x * (1 / math.sqrt(2 * math.pi)) * ns.exp(-0.5 * x * x))


gelu = primitive("gelu", _gelu, saves=("inputs", "ans"))
gelu.def_elementwise(_slope_times)
defvectorized(gelu)
