"""Matrix products: vectors, matrices and stacks of matrices, with NumPy's ``matmul`` semantics."""

from ..core.primitive import primitive


def _matmul_vjp_x(ns, g, ans, x, y):
    # ans = x @ y  =>  dx = g @ yᵀ (1-d operands: promoted to a row or a column, then back)
    if x.ndim == 1 and y.ndim == 1:
        return g * y
    if x.ndim == 1:
        return ns.squeeze(ns.matmul(ns.unsqueeze(g, axis=-2), ns.swapaxes(y, axis1=-1, axis2=-2)), axis=-2)
    if y.ndim == 1:
        return ns.unsqueeze(g, axis=-1) * y
    return ns.matmul(g, ns.swapaxes(y, axis1=-1, axis2=-2))


def _matmul_vjp_y(ns, g, ans, x, y):
    # dy = xᵀ @ g
    if x.ndim == 1 and y.ndim == 1:
        return g * x
    if x.ndim == 1:
        return ns.unsqueeze(x, axis=-1) * ns.unsqueeze(g, axis=-2)
    if y.ndim == 1:
        return ns.squeeze(ns.matmul(ns.swapaxes(x, axis1=-1, axis2=-2), ns.unsqueeze(g, axis=-1)), axis=-1)
    return ns.matmul(ns.swapaxes(x, axis1=-1, axis2=-2), g)


matmul = primitive("matmul", lambda xp, x, y: xp.matmul(x, y), saves=("inputs",))
matmul.defvjp(_matmul_vjp_x, _matmul_vjp_y)
matmul.defjvp(lambda ns, t, ans, x, y: ns.matmul(t, y),
              lambda ns, t, ans, x, y: ns.matmul(x, t))


def _linear_impl(xp, x, weight, bias):
    out = xp.matmul(x, weight.T)
    out += bias
    return out


def _rows(ns, a):
    """``a`` as a matrix of rows: every leading axis flattened into one."""
    return ns.reshape(a, shape=(-1, a.shape[-1]))


def _linear_vjp_weight(ns, g, ans, x, weight, bias):
    # Computed as (xᵀ g)ᵀ: the result then has the column-major layout of nn.Linear's weights.
    return ns.transpose(ns.matmul(ns.transpose(_rows(ns, x)), _rows(ns, g)))


linear = primitive("linear", _linear_impl, saves=("inputs",))
linear.__doc__ = """The affine map of a dense layer, ``x @ weight.T + bias``, fused into one primitive.

Args:
    x: inputs of shape ``(..., in_features)``.
    weight: shape ``(out_features, in_features)``, as in PyTorch.
    bias: shape ``(out_features,)``.
"""
# dx = g W;  dW = gᵀ x summed over every leading axis;  db = g, summed to b's shape by the engine.
linear.defvjp(lambda ns, g, ans, x, weight, bias: ns.matmul(g, weight),
              _linear_vjp_weight,
              lambda ns, g, ans, x, weight, bias: g)
linear.defjvp(lambda ns, t, ans, x, weight, bias: ns.matmul(t, ns.transpose(weight)),
              lambda ns, t, ans, x, weight, bias: ns.matmul(x, ns.transpose(t)),
              lambda ns, t, ans, x, weight, bias: t)
