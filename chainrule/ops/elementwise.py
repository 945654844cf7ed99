"""Elementwise primitives. An elementwise Jacobian is diagonal, so one rule per input serves as both
its VJP (``g`` a cotangent) and its JVP (``g`` a tangent): see ``Primitive.def_elementwise``."""

import math

from .. import backend
from ..core.batching import defbroadcasting, defvectorized
from ..core.primitive import primitive

add = primitive("add", lambda xp, x, y: xp.add(x, y), saves=())
add.def_elementwise(lambda ns, g, ans, x, y: g,
                    lambda ns, g, ans, x, y: g)

sub = primitive("sub", lambda xp, x, y: xp.subtract(x, y), saves=())
sub.def_elementwise(lambda ns, g, ans, x, y: g,
                    lambda ns, g, ans, x, y: -g)

mul = primitive("mul", lambda xp, x, y: xp.multiply(x, y), saves=("inputs",))
mul.def_elementwise(lambda ns, g, ans, x, y: g * y,
                    lambda ns, g, ans, x, y: g * x)

div = primitive("div", lambda xp, x, y: xp.divide(x, y))
div.def_elementwise(lambda ns, g, ans, x, y: g / y,
                    lambda ns, g, ans, x, y: -g * ans / y)

neg = primitive("neg", lambda xp, x: xp.negative(x), saves=())
neg.def_elementwise(lambda ns, g, ans, x: -g)


def _pow_d_exponent(ns, g, ans, x, y):
    # d(x^y)/dy = x^y log x, taken as 0 where x = 0 (the limit along y > 0).
    safe_x = ns.where(x == 0, 1, x)
    return g * ans * ns.log(safe_x)


def _pow_d_base(ns, g, ans, x, y):
    # d(x^y)/dx = y x^(y-1), taken as 0 where y = 0: x^0 = 1 is constant even at x = 0, where
    # x^(y-1) is infinite. Only the base is made safe there (x = 1 where x = y = 0), so that the
    # derivative in y stays d(y x^(y-1))/dy = x^(y-1) (1 + y log x), 1/x at y = 0 (jax#12033).
    if isinstance(y, (int, float)):
        return g * 0 if y == 0 else g * y * x ** (y - 1)
    safe_x = ns.where((y == 0) & (x == 0), 1, x)
    return g * (y * safe_x ** (y - 1))


pow = primitive("pow", lambda xp, x, y: xp.power(x, y))
pow.def_elementwise(_pow_d_base, _pow_d_exponent)

exp = primitive("exp", lambda xp, x: xp.exp(x), saves=("ans",))
exp.def_elementwise(lambda ns, g, ans, x: g * ans)

log = primitive("log", lambda xp, x: xp.log(x), saves=("inputs",))
log.def_elementwise(lambda ns, g, ans, x: g / x)

log1p = primitive("log1p", lambda xp, x: xp.log1p(x), saves=("inputs",))
log1p.def_elementwise(lambda ns, g, ans, x: g / (1 + x))

expm1 = primitive("expm1", lambda xp, x: xp.expm1(x), saves=("ans",))
expm1.def_elementwise(lambda ns, g, ans, x: g * (ans + 1))

sqrt = primitive("sqrt", lambda xp, x: xp.sqrt(x), saves=("ans",))
sqrt.def_elementwise(lambda ns, g, ans, x: g / (2 * ans))

abs = primitive("abs", lambda xp, x: xp.abs(x), saves=("inputs",))
abs.def_elementwise(lambda ns, g, ans, x: g * ns.sign(x))

sign = primitive("sign", lambda xp, x: xp.sign(x), saves=())
sign.def_elementwise(lambda ns, g, ans, x: g * 0)

sin = primitive("sin", lambda xp, x: xp.sin(x), saves=("inputs",))
sin.def_elementwise(lambda ns, g, ans, x: g * ns.cos(x))

cos = primitive("cos", lambda xp, x: xp.cos(x), saves=("inputs",))
cos.def_elementwise(lambda ns, g, ans, x: -g * ns.sin(x))

tanh = primitive("tanh", lambda xp, x: xp.tanh(x), saves=("ans",))
tanh.def_elementwise(lambda ns, g, ans, x: g * (1 - ans * ans))


def _sigmoid(xp, x):
    # 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) for x < 0: neither overflows.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1, e) / (1 + e)


sigmoid = primitive("sigmoid", _sigmoid, saves=("ans",))
sigmoid.def_elementwise(lambda ns, g, ans, x: g * ans * (1 - ans))

relu = primitive("relu", lambda xp, x: xp.maximum(x, 0), saves=("ans",))
relu.def_elementwise(lambda ns, g, ans, x: g * (ans > 0))  # relu(x) > 0 exactly where x > 0

# Ties between x and y split the derivative equally, as in PyTorch and JAX.
maximum = primitive("maximum", lambda xp, x, y: xp.maximum(x, y), saves=("inputs",))
maximum.def_elementwise(lambda ns, g, ans, x, y: g * ((x > y) + 0.5 * (x == y)),
                        lambda ns, g, ans, x, y: g * ((y > x) + 0.5 * (x == y)))

minimum = primitive("minimum", lambda xp, x, y: xp.minimum(x, y), saves=("inputs",))
minimum.def_elementwise(lambda ns, g, ans, x, y: g * ((x < y) + 0.5 * (x == y)),
                        lambda ns, g, ans, x, y: g * ((y < x) + 0.5 * (x == y)))

where = primitive("where", lambda xp, condition, x, y: xp.where(condition, x, y), saves=("inputs",))
where.def_elementwise(None,
                      lambda ns, g, ans, c, x, y: ns.where(c, g, 0),
                      lambda ns, g, ans, c, x, y: ns.where(c, 0, g))
where.__doc__ = """Elements of ``x`` where ``condition`` holds, else of ``y``.

The gradient flows only to the selected elements, but a NaN or infinity *created* in the unselected
branch still poisons it: in ``where(x > 0, sqrt(x), 0)`` the derivative of ``sqrt`` at ``x < 0`` is NaN
and ``0 * NaN`` is NaN. Make the unselected branch safe first::

    safe = where(x > 0, x, 1)
    y = where(x > 0, sqrt(safe), 0)
"""

clip = primitive("clip", lambda xp, x, min=None, max=None: xp.clip(x, min, max), saves=("inputs",))


def _clip_rule(ns, g, ans, x, min=None, max=None):
    # The gradient passes where min <= x <= max (bounds included, like torch.clamp).
    inside = 1
    if min is not None:
        inside = inside * (x >= min)
    if max is not None:
        inside = inside * (x <= max)
    return g * inside


clip.def_elementwise(_clip_rule)



def _ufunc_into(name, *constants):
    """A forward that is NumPy's ufunc ``name`` (after the inputs, ``constants``), written into ``out``."""
    return lambda xp, out, *inputs: getattr(xp, name)(*inputs, *constants, out=out)


for _prim, _ufunc in ((add, "add"), (sub, "subtract"), (mul, "multiply"), (div, "divide"), (neg, "negative"),
                      (exp, "exp"), (log, "log"), (sqrt, "sqrt"), (tanh, "tanh"), (maximum, "maximum"),
                      (minimum, "minimum")):
    _prim.into = _ufunc_into(_ufunc)
relu.into = _ufunc_into("maximum", 0)
del _prim, _ufunc

identity = primitive("identity", lambda xp, x: x, saves=())
identity.def_elementwise(lambda ns, g, ans, x: g)

astype = primitive("astype", lambda xp, x, *, dtype: x.astype(dtype), saves=())
astype.defvjp(lambda ns, g, ans, x, dtype: ns.astype(g, dtype=x.dtype))
astype.defjvp(lambda ns, t, ans, x, dtype: ns.astype(t, dtype=dtype))


def _erf(xp, x):
    """The error function ``erf(x) = 2/√π ∫₀ˣ e^(−t²) dt``, elementwise (the exact GELU uses it).

    Example:
        >>> import chainrule as cr
        >>> round(cr.erf(1.0).item(), 6)
        0.842701
    """
    return backend.special(xp).erf(x)  # NumPy has no erf: SciPy's, or CuPy's on a GPU


erf = primitive("erf", _erf, saves=("inputs",))
# d erf(x) / dx = 2/√π · e^(−x²)
erf.def_elementwise(lambda ns, g, ans, x: g * (2 / math.sqrt(math.pi)) * ns.exp(-(x * x)))

defbroadcasting(add, sub, mul, div, pow, maximum, minimum, where)
defvectorized(neg, exp, log, log1p, expm1, sqrt, abs, sign, sin, cos, tanh, sigmoid, relu, clip, identity, astype,
              erf)
