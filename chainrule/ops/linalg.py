"""Matrix products: vectors, matrices and stacks of matrices, with NumPy's ``matmul`` semantics."""

from ..core.batching import defbatch, lift
from ..core.primitive import primitive
from .blas_threads import matmul as _product
from .elementwise import add
from .shape import reshape, squeeze, swapaxes, transpose, unsqueeze


def _as_matrices(ns, g, x, y):
    """``g, x, y`` with a 1-d ``x`` as a row and a 1-d ``y`` as a column, as matmul promotes them, and
    ``g`` given the axes they add."""
    if y.ndim == 1:
        y, g = ns.unsqueeze(y, axis=-1), ns.unsqueeze(g, axis=-1)
    if x.ndim == 1:
        x, g = ns.unsqueeze(x, axis=0), ns.unsqueeze(g, axis=-2)
    return g, x, y


def _matmul_vjp_x(ns, g, ans, x, y):
    # ans = x @ y  =>  dx = g @ yᵀ, then a promoted row back to a vector (the engine sums batch axes).
    g, _, y2 = _as_matrices(ns, g, x, y)
    dx = ns.matmul(g, ns.swapaxes(y2, axis1=-1, axis2=-2))
    return ns.squeeze(dx, axis=-2) if x.ndim == 1 else dx


def _matmul_vjp_y(ns, g, ans, x, y):
    # dy = xᵀ @ g, then a promoted column back to a vector.
    g, x2, _ = _as_matrices(ns, g, x, y)
    dy = ns.matmul(ns.swapaxes(x2, axis1=-1, axis2=-2), g)
    return ns.squeeze(dy, axis=-1) if y.ndim == 1 else dy


def _matmul_impl(xp, x, y):
    return _product(xp, x, y)  # small products on one BLAS thread (see .blas_threads)


matmul = primitive("matmul", _matmul_impl, saves=("inputs",))
matmul.defbilinear(_matmul_vjp_x, _matmul_vjp_y)


def _linear_impl(xp, x, weight, bias):
    if x.ndim > 2:  # one product of all rows: a stack of small (L, in) products is ~1.5x slower in BLAS
        rows = _product(xp, xp.reshape(x, (-1, x.shape[-1])), weight.T)
        out = xp.reshape(rows, (*x.shape[:-1], weight.shape[0]))
    else:
        out = _product(xp, x, weight.T)
    out += bias
    return out


def _rows(ns, a):
    """``a`` as a matrix of rows: every leading axis flattened into one."""
    return ns.reshape(a, shape=(-1, a.shape[-1]))


def _linear_vjp_x(ns, g, ans, x, weight, bias):
    # dx = g W, as one product of all rows (see _linear_impl).
    return ns.reshape(ns.matmul(_rows(ns, g), weight), shape=x.shape)


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
linear.defbilinear(_linear_vjp_x,
                   _linear_vjp_weight,
                   product=lambda ns, x, weight: ns.matmul(x, ns.transpose(weight)))


# -- batching rules (see chainrule.core.batching) ---------------------------------------------------

def _matmul_batched(args, dims, size):
    x, y = args
    x_rank, y_rank = (a.ndim - (d is not None) for a, d in zip(args, dims))
    # One BLAS product where a shared matrix meets the batch (NumPy would loop over stacked products).
    if dims[1] is None and y_rank == 2:
        if x_rank == 1:
            return matmul(x, y)  # (B, k) @ (k, m)
        rows = matmul(reshape(x, shape=(-1, x.shape[-1])), y)  # every example's rows, one product
        return reshape(rows, shape=tuple(x.shape[:-1]) + (y.shape[-1],))
    if dims[0] is None and x_rank == 2 and y_rank == 1:
        return matmul(y, transpose(x))  # W v for each v: (B, k) @ Wᵀ
    if dims[0] is None and x_rank == 2 and y_rank == 2:
        # W Y for each Y: the examples' columns side by side, (k, B·m), in one product.
        size, k, m = y.shape
        columns = reshape(transpose(y, axes=(1, 0, 2)), shape=(k, size * m))
        return transpose(reshape(matmul(x, columns), shape=(x.shape[0], size, m)), axes=(1, 0, 2))
    # Vectors become a row (x) and a column (y), as matmul promotes them; then every batched operand
    # gets the examples' full rank, so its batch axis meets the other's leading axes.
    if x_rank == 1:
        x = unsqueeze(x, axis=-2)
    if y_rank == 1:
        y = unsqueeze(y, axis=-1)
    rank = max(x_rank, y_rank, 2)
    x = x if dims[0] is None else lift(x, rank)
    y = y if dims[1] is None else lift(y, rank)
    out = matmul(x, y)
    if y_rank == 1:
        out = squeeze(out, axis=-1)
    if x_rank == 1:
        out = squeeze(out, axis=-2 if y_rank > 1 else -1)
    return out


def _linear_batched(args, dims, size):
    x, weight, bias = args
    if dims[1] is None and dims[2] is None:
        return linear(x, weight, bias)  # leading axes of x are rows of one product
    out = _matmul_batched([x, swapaxes(weight, axis1=-1, axis2=-2)], dims[:2], size)
    rank = out.ndim - 1
    return add(out, bias if dims[2] is None else lift(bias, rank))


defbatch(matmul, _matmul_batched)
defbatch(linear, _linear_batched)
