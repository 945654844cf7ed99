"""The rest of NumPy's elementwise functions: trigonometric and hyperbolic, logarithms and powers in
other bases, rounding, NaN handling, clipping between tensor bounds.

Each is a primitive with one rule per input serving both modes (diagonal Jacobians, see
``Primitive.def_elementwise``), or a composite where a single existing primitive already is the whole
computation (``square`` is ``x * x``, ``deg2rad`` a product with a constant). Rounding functions are
piecewise constant: their derivative is zero everywhere it exists, as in PyTorch and JAX.

Complex numbers are not differentiated by chainrule, so ``real``, ``conj`` and ``imag`` are defined on
real inputs (``x``, ``x`` and zeros); a complex input is refused by name.
"""

import math

from .. import backend
from ..core.batching import defbroadcasting, defvectorized
from ..core.primitive import primitive
from .elementwise import clip as _clip_constant_bounds
from .elementwise import mul


def _unary(name, forward, rule, saves=("inputs",)):
    prim = primitive(name, forward, saves=saves)
    defvectorized(prim)
    return prim.def_elementwise(rule)


tan = _unary("tan", lambda xp, x: xp.tan(x), lambda ns, g, ans, x: g * (1 + ans * ans), saves=("ans",))
# d arcsin = 1/√(1 − x²), d arccos = −1/√(1 − x²), d arctan = 1/(1 + x²)
arcsin = _unary("arcsin", lambda xp, x: xp.asin(x), lambda ns, g, ans, x: g / ns.sqrt(1 - x * x))
arccos = _unary("arccos", lambda xp, x: xp.acos(x), lambda ns, g, ans, x: -g / ns.sqrt(1 - x * x))
arctan = _unary("arctan", lambda xp, x: xp.atan(x), lambda ns, g, ans, x: g / (1 + x * x))
sinh = _unary("sinh", lambda xp, x: xp.sinh(x), lambda ns, g, ans, x: g * ns.cosh(x))
cosh = _unary("cosh", lambda xp, x: xp.cosh(x), lambda ns, g, ans, x: g * ns.sinh(x))
# d arsinh = 1/√(x² + 1), d arcosh = 1/√(x² − 1), d artanh = 1/(1 − x²)
arcsinh = _unary("arcsinh", lambda xp, x: xp.asinh(x), lambda ns, g, ans, x: g / ns.sqrt(x * x + 1))
arccosh = _unary("arccosh", lambda xp, x: xp.acosh(x), lambda ns, g, ans, x: g / ns.sqrt(x * x - 1))
arctanh = _unary("arctanh", lambda xp, x: xp.atanh(x), lambda ns, g, ans, x: g / (1 - x * x))

exp2 = _unary("exp2", lambda xp, x: xp.exp2(x), lambda ns, g, ans, x: g * ans * math.log(2), saves=("ans",))
log2 = _unary("log2", lambda xp, x: xp.log2(x), lambda ns, g, ans, x: g / (x * math.log(2)))
log10 = _unary("log10", lambda xp, x: xp.log10(x), lambda ns, g, ans, x: g / (x * math.log(10)))
# d ∛x = 1 / (3 ∛x²)
cbrt = _unary("cbrt", lambda xp, x: xp.cbrt(x), lambda ns, g, ans, x: g / (3 * ans * ans), saves=("ans",))


def _sinc_derivative(ns, x):
    # sinc x = sin(πx)/(πx)  =>  sinc' x = (cos(πx) − sinc x) / x, whose limit at 0 is 0.
    at_zero = ns.value(x) == 0
    safe = ns.where(at_zero, 1, x)
    return ns.where(at_zero, 0, (ns.cos(math.pi * safe) - ns.sinc(safe)) / safe)


sinc = _unary("sinc", lambda xp, x: xp.sinc(x), lambda ns, g, ans, x: g * _sinc_derivative(ns, x))
sinc.__doc__ = """The normalised sinc, ``sin(πx) / (πx)`` with ``sinc(0) = 1`` (``numpy.sinc``).

Its first derivative is exact at 0 (zero); derivatives of order two and more at exactly 0 are not.
"""


def _erfc(xp, x):
    return backend.special(xp).erfc(x)  # NumPy has no erfc: SciPy's, or CuPy's on a GPU


# d erfc(x) / dx = −2/√π · e^(−x²)
erfc = _unary("erfc", _erfc, lambda ns, g, ans, x: g * (-2 / math.sqrt(math.pi)) * ns.exp(-(x * x)))

arctan2 = primitive("arctan2", lambda xp, y, x: xp.atan2(y, x), saves=("inputs",))
# θ = atan2(y, x):  ∂θ/∂y = x / (x² + y²),  ∂θ/∂x = −y / (x² + y²)
arctan2.def_elementwise(lambda ns, g, ans, y, x: g * x / (x * x + y * y),
                        lambda ns, g, ans, y, x: -g * y / (x * x + y * y))

hypot = primitive("hypot", lambda xp, x, y: xp.hypot(x, y))
hypot.def_elementwise(lambda ns, g, ans, x, y: g * x / ans,
                      lambda ns, g, ans, x, y: g * y / ans)

# logaddexp(x, y) = log(eˣ + eʸ):  ∂/∂x = eˣ⁻ᵃⁿˢ, a softmax weight, never overflowing.
logaddexp = primitive("logaddexp", lambda xp, x, y: xp.logaddexp(x, y))
logaddexp.def_elementwise(lambda ns, g, ans, x, y: g * ns.exp(x - ans),
                          lambda ns, g, ans, x, y: g * ns.exp(y - ans))

logaddexp2 = primitive("logaddexp2", lambda xp, x, y: xp.logaddexp2(x, y))
logaddexp2.def_elementwise(lambda ns, g, ans, x, y: g * ns.exp2(x - ans),
                           lambda ns, g, ans, x, y: g * ns.exp2(y - ans))


def _fchoice_share(ns, x, y, larger):
    """How much of ``fmax``'s (``larger``) or ``fmin``'s derivative goes to ``x``: all where ``x`` wins
    or ``y`` is NaN, half on ties, none where ``y`` wins or ``x`` is NaN."""
    xv, yv = ns.value(x), ns.value(y)
    wins = (xv > yv) if larger else (xv < yv)
    share = wins + 0.5 * (xv == yv)
    return ns.where((yv != yv) & (xv == xv), 1.0, share)  # v != v: v is NaN


fmax = primitive("fmax", lambda xp, x, y: xp.fmax(x, y), saves=("inputs",))
fmax.def_elementwise(lambda ns, g, ans, x, y: g * _fchoice_share(ns, x, y, True),
                     lambda ns, g, ans, x, y: g * _fchoice_share(ns, y, x, True))
fmax.__doc__ = "The elementwise maximum ignoring NaNs (``numpy.fmax``); ties share the derivative."

fmin = primitive("fmin", lambda xp, x, y: xp.fmin(x, y), saves=("inputs",))
fmin.def_elementwise(lambda ns, g, ans, x, y: g * _fchoice_share(ns, x, y, False),
                     lambda ns, g, ans, x, y: g * _fchoice_share(ns, y, x, False))
fmin.__doc__ = "The elementwise minimum ignoring NaNs (``numpy.fmin``); ties share the derivative."


def _zero(ns, g, ans, x, **params):
    return g * 0


floor = primitive("floor", lambda xp, x: xp.floor(x), saves=()).def_elementwise(_zero)
ceil = primitive("ceil", lambda xp, x: xp.ceil(x), saves=()).def_elementwise(_zero)
trunc = primitive("trunc", lambda xp, x: xp.trunc(x), saves=()).def_elementwise(_zero)
round = primitive("round", lambda xp, x, decimals=0:
                  xp.round(x, decimals=decimals) if decimals else xp.round(x), saves=())
round.def_elementwise(_zero)
round.__doc__ = "Round to ``decimals`` places, halves to even (``numpy.round``); derivative zero."

floor_divide = primitive("floor_divide", lambda xp, x, y: xp.floor_divide(x, y), saves=())
floor_divide.def_elementwise(lambda ns, g, ans, x, y: g * 0, lambda ns, g, ans, x, y: g * 0)
floor_divide.__doc__ = "``x // y`` rounded towards −∞ (``numpy.floor_divide``); derivative zero."

# x mod y = x − ⌊x/y⌋ y (sign of y) and fmod x y = x − trunc(x/y) y (sign of x): ∂/∂x = 1, ∂/∂y = −quotient.
remainder = primitive("remainder", lambda xp, x, y: xp.remainder(x, y), saves=("inputs",))
remainder.def_elementwise(lambda ns, g, ans, x, y: g,
                          lambda ns, g, ans, x, y: -g * ns.floor(x / y))
fmod = primitive("fmod", lambda xp, x, y: xp.fmod(x, y), saves=("inputs",))
fmod.def_elementwise(lambda ns, g, ans, x, y: g,
                     lambda ns, g, ans, x, y: -g * ns.trunc(x / y))
mod = remainder


def _nan_to_num_impl(xp, x, nan=0.0, posinf=None, neginf=None):
    return xp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


nan_to_num = primitive("nan_to_num", _nan_to_num_impl, saves=("inputs",))
defvectorized(floor, ceil, trunc, round, nan_to_num)
# The replaced values are constants: the derivative passes only where x is finite.
nan_to_num.def_elementwise(lambda ns, g, ans, x, **params:
                           ns.where(ns.abs(ns.value(x)) < math.inf, g, 0))


def square(x):
    """``x * x``."""
    return mul(x, x)


def reciprocal(x):
    """``1 / x``."""
    from .elementwise import div
    return div(1.0, x)


def deg2rad(x):
    """Degrees to radians."""
    return mul(x, math.pi / 180)


def rad2deg(x):
    """Radians to degrees."""
    return mul(x, 180 / math.pi)


radians, degrees = deg2rad, rad2deg


def _refuse_complex(name, x):
    dtype = getattr(x, "dtype", None) or backend.asarray(x).dtype
    if dtype.kind == "c":
        raise TypeError(f"{name}: chainrule does not differentiate complex numbers; this {name} takes real "
                        f"inputs (here {dtype})")


def real(x):
    """The real part of a real tensor: ``x`` itself (complex inputs are refused)."""
    _refuse_complex("real", x)
    return x


def conj(x):
    """The complex conjugate of a real tensor: ``x`` itself (complex inputs are refused)."""
    _refuse_complex("conj", x)
    return x


conjugate = conj


def imag(x):
    """The imaginary part of a real tensor: zeros, still depending on ``x`` (complex inputs are refused)."""
    _refuse_complex("imag", x)
    return mul(x, 0.0)


def _clip_bounds_impl(xp, x, lower, upper):
    return xp.minimum(xp.maximum(x, lower), upper)


clip_bounds = primitive("clip_bounds", _clip_bounds_impl, saves=("inputs",))
defbroadcasting(arctan2, hypot, logaddexp, logaddexp2, fmax, fmin, floor_divide, remainder, fmod, clip_bounds)
# The derivative goes to x where lower ≤ x ≤ upper (bounds included, as torch.clamp), else to the
# bound that was taken.
clip_bounds.def_elementwise(
    lambda ns, g, ans, x, lower, upper: ns.where((x >= lower) & (x <= upper), g, 0),
    lambda ns, g, ans, x, lower, upper: ns.where((x < lower) & (lower <= upper), g, 0),
    lambda ns, g, ans, x, lower, upper: ns.where((x > upper) | (lower > upper), g, 0))


def clip(x, min=None, max=None):
    """``x`` limited to ``[min, max]``; either bound may be ``None``, a number or a tensor. Tensor bounds
    are differentiable (as in ``torch.clamp``): each element's derivative goes to whichever of ``x``,
    ``min``, ``max`` it equals. Where ``min > max`` the result is ``max``, as in NumPy.

    Example:
        >>> import chainrule as cr
        >>> cr.clip(cr.tensor([-2.0, 0.5, 3.0]), cr.tensor(0.0), 1.0)
        tensor([0. , 0.5, 1. ])
    """
    if not (hasattr(min, "_node") or hasattr(max, "_node")):
        return _clip_constant_bounds(x, min, max)
    lower = -math.inf if min is None else min
    upper = math.inf if max is None else max
    return clip_bounds(x, lower, upper)


clamp = clip
