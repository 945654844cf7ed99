"""Einstein summation, and the NumPy products built on it: tensordot, dot, inner, outer, kron.

``einsum`` is one primitive, linear in each operand. Its JVP in operand ``i`` is the same einsum with
the tangent in place ``i``; its VJP is the einsum that contracts the cotangent with every other operand
back to operand ``i``'s subscripts, so both are einsums and differentiate again to any order. The
public function first rewrites every form NumPy accepts (``...``, implicit output, the interleaved
``einsum(a, [0, 1], b, [1, 2])`` form) into one explicit subscript string without ellipses, which is
the primitive's parameter; the forward contracts through :func:`chainrule.backend.einsum` (BLAS, with
the contraction path cached).
"""

import string

from .. import backend
from ..core.batching import defbatch
from ..core.primitive import primitive
from ..errors import ShapeError

LETTERS = string.ascii_uppercase + string.ascii_lowercase


def _from_sublists(args):
    """``einsum(a, [0, 1], b, [1, 2], [0, 2])`` as a subscript string and its operands."""
    operands, terms = list(args[0::2]), []
    for sublist in args[1::2]:
        terms.append("".join("..." if s is Ellipsis else LETTERS[s] for s in sublist))
    if len(args) % 2:  # a trailing output sublist
        output = "".join("..." if s is Ellipsis else LETTERS[s] for s in args[-1])
        operands = operands[:-1]
        return ",".join(terms) + "->" + output, operands
    return ",".join(terms), operands


def parse(subscripts, shapes):
    """Rewrite NumPy subscripts for operands of ``shapes`` into ``(inputs, output)``: one string of
    distinct-or-repeated letters per operand and the output's letters, with ``...`` made explicit."""
    subscripts = subscripts.replace(" ", "")
    inputs_part, arrow, output = subscripts.partition("->")
    inputs = inputs_part.split(",")
    if len(inputs) != len(shapes):
        raise ShapeError(f"einsum: {subscripts!r} names {len(inputs)} operands but {len(shapes)} "
                         f"were given")
    used = set(subscripts) - set(".,->")
    free = [c for c in LETTERS if c not in used]
    ellipsis_ndim = max((len(shape) - len(term.replace("...", "")) for term, shape in zip(inputs, shapes)
                         if "..." in term), default=0)
    ellipsis = "".join(free[:ellipsis_ndim])
    explicit = []
    for term, shape in zip(inputs, shapes):
        if "..." in term:
            ndim = len(shape) - len(term.replace("...", ""))
            term = term.replace("...", ellipsis[len(ellipsis) - ndim:] if ndim else "")
        if len(term) != len(shape):
            raise ShapeError(f"einsum: subscripts {term!r} do not fit an operand of shape {shape}")
        explicit.append(term)
    if arrow:
        output = output.replace("...", ellipsis)
    else:
        counts = {c: "".join(explicit).count(c) for c in set("".join(explicit)) - set(ellipsis)}
        output = ellipsis + "".join(sorted(c for c, n in counts.items() if n == 1))
    return explicit, output


def _einsum_impl(xp, *operands, subscripts):
    return backend.einsum(xp, subscripts, *operands)


def _letter_sizes(terms, operands):
    sizes = {}
    for term, x in zip(terms, operands):
        for c, n in zip(term, x.shape):
            if n != 1 or c not in sizes:
                sizes[c] = n
    return sizes


def _einsum_vjp(argnum, ns, g, ans, *operands, subscripts):
    # d/dx_i of Σ g ⊙ einsum(x_1..x_n) = einsum(g, x_j (j ≠ i) -> subscripts of x_i). Letters summed in
    # x_i alone come from a ones operand; a repeated letter (a diagonal) from an identity matrix.
    inputs, output = subscripts.split("->")
    terms = inputs.split(",")
    target = terms[argnum]
    sizes = _letter_sizes(terms, operands)
    fresh = iter(c for c in LETTERS if c not in subscripts)
    extra_terms, extra_operands, target_letters = [], [], ""
    for c in target:
        if c in target_letters:  # a repeated letter: its own fresh letter, tied to c by an identity
            c_new = next(fresh)
            extra_terms.append(c + c_new)
            extra_operands.append(backend.xp.eye(sizes[c], dtype=g.dtype))
            c = c_new
        target_letters += c
    others = [t for i, t in enumerate(terms) if i != argnum]
    alone = "".join(dict.fromkeys(c for c in target if c not in output and not any(c in t for t in others)))
    if alone:
        extra_terms.append(alone)
        extra_operands.append(backend.xp.ones(tuple(sizes[c] for c in alone), dtype=g.dtype))
    rest = [x for i, x in enumerate(operands) if i != argnum]
    spec = ",".join([output] + others + extra_terms) + "->" + target_letters
    return ns.einsum(g, *rest, *extra_operands, subscripts=spec)


def _einsum_jvp(argnum, ns, t, ans, *operands, subscripts):
    operands = list(operands)
    operands[argnum] = t
    return ns.einsum(*operands, subscripts=subscripts)


_einsum = primitive("einsum", _einsum_impl, saves=("inputs",))
_einsum.defvjp_argnum(_einsum_vjp).defjvp_argnum(_einsum_jvp)


def _einsum_batched(args, dims, size, subscripts):
    # One more letter for the batch axis, in front of every batched operand's term and of the output.
    inputs, output = subscripts.split("->")
    letter = next(c for c in LETTERS if c not in subscripts)
    terms = [letter + term if d is not None else term for term, d in zip(inputs.split(","), dims)]
    return _einsum(*args, subscripts=",".join(terms) + "->" + letter + output)


defbatch(_einsum, _einsum_batched)


def _shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else backend.asarray(x).shape


def _operand(x):
    """A tensor or array as it is; a Python number or list as an array (the forward reads shapes)."""
    return x if hasattr(x, "shape") else backend.asarray(x)


def einsum(*args, optimize=True):
    """Einstein summation, as ``numpy.einsum``: ``einsum("ij,jk->ik", a, b)``, with ``...``, implicit
    output, and the interleaved form ``einsum(a, [0, 1], b, [1, 2])``.

    ``optimize`` is accepted for NumPy compatibility; contractions always go through BLAS.

    Example:
        >>> import chainrule as cr
        >>> cr.einsum("ii", cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
        tensor(5.)
    """
    if isinstance(args[0], str):
        subscripts, operands = args[0], list(args[1:])
    else:
        subscripts, operands = _from_sublists(args)
    operands = [_operand(x) for x in operands]
    inputs, output = parse(subscripts, [_shape(x) for x in operands])
    return _einsum(*operands, subscripts=",".join(inputs) + "->" + output)


def _axes_pair(axes, a_ndim):
    if isinstance(axes, int):
        return list(range(a_ndim - axes, a_ndim)), list(range(axes))
    a_axes, b_axes = axes
    a_axes = [a_axes] if isinstance(a_axes, int) else list(a_axes)
    b_axes = [b_axes] if isinstance(b_axes, int) else list(b_axes)
    return a_axes, b_axes


def tensordot(a, b, axes=2):
    """Sum products over ``axes`` (an int: the last ``axes`` of ``a`` with the first of ``b``; or a
    pair of axis lists), as ``numpy.tensordot``."""
    a, b = _operand(a), _operand(b)
    a_ndim, b_ndim = len(_shape(a)), len(_shape(b))
    a_axes, b_axes = _axes_pair(axes, a_ndim)
    if len(a_axes) != len(b_axes):
        raise ShapeError(f"tensordot: axes {a_axes} of a and {b_axes} of b differ in number")
    for name, axes_of, ndim in (("a", a_axes, a_ndim), ("b", b_axes, b_ndim)):
        if any(not -ndim <= axis < ndim for axis in axes_of):
            raise ShapeError(f"tensordot: axes={axes!r} sums over axes {axes_of} of {name}, which has "
                             f"{ndim} (shapes {_shape(a)} and {_shape(b)}); axes=0 gives the outer product")
    a_letters = list(LETTERS[:a_ndim])
    b_letters = list(LETTERS[a_ndim:a_ndim + b_ndim])
    for i, j in zip(a_axes, b_axes):
        b_letters[j % b_ndim] = a_letters[i % a_ndim]
    kept_a = [c for k, c in enumerate(a_letters) if k not in {i % a_ndim for i in a_axes}]
    kept_b = [c for k, c in enumerate(b_letters) if k not in {j % b_ndim for j in b_axes}]
    spec = "".join(a_letters) + "," + "".join(b_letters) + "->" + "".join(kept_a + kept_b)
    return _einsum(a, b, subscripts=spec)


def dot(a, b):
    """NumPy's ``dot``: products of scalars, inner products of vectors, matrix products, and for N-d
    operands a sum over the last axis of ``a`` and the second-to-last of ``b``."""
    from .elementwise import mul
    from .linalg import matmul
    a_ndim, b_ndim = len(_shape(a)), len(_shape(b))
    if a_ndim == 0 or b_ndim == 0:
        return mul(a, b)
    if a_ndim <= 2 and b_ndim <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=([-1], [max(b_ndim - 2, 0)]))


def inner(a, b):
    """Sum products over the last axes of ``a`` and ``b`` (``numpy.inner``)."""
    from .elementwise import mul
    if len(_shape(a)) == 0 or len(_shape(b)) == 0:
        return mul(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


def outer(a, b):
    """``out[i, j] = a.ravel()[i] * b.ravel()[j]`` (``numpy.outer``)."""
    from .shape import reshape
    return _einsum(reshape(a, (-1,)), reshape(b, (-1,)), subscripts="i,j->ij")


def kron(a, b):
    """The Kronecker product (``numpy.kron``): blocks ``a[i, j] * b``."""
    from .shape import reshape
    a_shape, b_shape = _shape(a), _shape(b)
    ndim = max(len(a_shape), len(b_shape))
    a_shape = (1,) * (ndim - len(a_shape)) + a_shape
    b_shape = (1,) * (ndim - len(b_shape)) + b_shape
    a_letters, b_letters = LETTERS[:ndim], LETTERS[ndim:2 * ndim]
    interleaved = "".join(x + y for x, y in zip(a_letters, b_letters))
    product = _einsum(reshape(a, a_shape), reshape(b, b_shape),
                               subscripts=f"{a_letters},{b_letters}->{interleaved}")
    return reshape(product, tuple(m * n for m, n in zip(a_shape, b_shape)))
