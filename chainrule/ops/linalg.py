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


matmul = primitive("matmul", lambda xp, x, y: xp.matmul(x, y))
matmul.defvjp(_matmul_vjp_x, _matmul_vjp_y)
matmul.defjvp(lambda ns, t, ans, x, y: ns.matmul(t, y),
              lambda ns, t, ans, x, y: ns.matmul(x, t))
