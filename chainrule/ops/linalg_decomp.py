"""Linear algebra beyond products, NumPy's ``linalg``: inverse, solve, determinants, Cholesky, the
symmetric eigendecomposition, SVD, QR, pseudo-inverse, matrix powers. Stacks of matrices (``(..., m,
n)``) work throughout; inputs are real.

Each is a primitive whose rules are written with chainrule's own primitives (``matmul``, ``solve``,
``inv``...), so they differentiate again. A decomposition with several results (``eigh``, ``svd``,
``qr``) is one primitive whose output packs them into one array; the public function unpacks it, so
one factorisation serves all results and both rules.

Caveats, as in every autodiff library: derivatives of ``eigh`` and ``svd`` are infinite where
eigenvalues (singular values) coincide, since the eigenvectors are not unique there; ``eigh`` reads
the lower triangle, and its derivative is that of ``A`` taken as given, so differentiate it through a
symmetric parametrisation (``(B + Bᵀ) / 2``); ``svd`` returns the thin factorisation (for a
non-square matrix pass ``full_matrices=False``) and its derivative needs non-zero singular values;
``qr`` needs full column rank (``m ≥ n``); ``pinv``'s derivative holds where the rank does not change;
``det`` differentiates through the inverse, so it needs an invertible matrix.
"""

import numpy as _np

from .. import backend
from ..core.batching import defbatch, defleading, lift, materialize
from ..core.primitive import primitive
from ..errors import ShapeError


def _T(ns, x):
    return ns.swapaxes(x, axis1=-1, axis2=-2)


def _eye(n, like):
    return backend.xp.eye(n, dtype=like.dtype)


inv = primitive("inv", lambda xp, a: xp.linalg.inv(a), saves=("ans",))
# d(A⁻¹) = −A⁻¹ dA A⁻¹
inv.defvjp(lambda ns, g, ans, a: -ns.matmul(_T(ns, ans), ns.matmul(g, _T(ns, ans))))
inv.defjvp(lambda ns, t, ans, a: -ns.matmul(ans, ns.matmul(t, ans)))


def _solve_impl(xp, a, b):
    return xp.linalg.solve(a, b)


solve_matrix = primitive("solve", _solve_impl)
# X = A⁻¹ B:  B̄ = A⁻ᵀ X̄,  Ā = −B̄ Xᵀ;  dX = A⁻¹ (dB − dA X)
solve_matrix.defvjp(lambda ns, g, ans, a, b: -ns.matmul(ns.solve(_T(ns, a), g), _T(ns, ans)),
                    lambda ns, g, ans, a, b: ns.solve(_T(ns, a), g))
solve_matrix.defjvp(lambda ns, t, ans, a, b: -ns.solve(a, ns.matmul(t, ans)),
                    lambda ns, t, ans, a, b: ns.solve(a, t))


def solve(a, b):
    """The solution ``x`` of ``a @ x = b`` (``numpy.linalg.solve``): ``b`` a vector when 1-d, else a
    (stack of) matrices."""
    from .shape import squeeze, unsqueeze
    if len(_np.shape(b) if not hasattr(b, "shape") else b.shape) == 1:
        return squeeze(solve_matrix(a, unsqueeze(b, -1)), -1)
    return solve_matrix(a, b)


def _unsqueeze2(ns, x):
    return ns.unsqueeze(ns.unsqueeze(x, axis=-1), axis=-1)


det = primitive("det", lambda xp, a: xp.linalg.det(a))
# d det A = det A · tr(A⁻¹ dA)
det.defvjp(lambda ns, g, ans, a: _unsqueeze2(ns, g * ans) * _T(ns, ns.inv(a)))
det.defjvp(lambda ns, t, ans, a: ans * ns.sum(_T(ns, ns.inv(a)) * t, axis=(-2, -1)))

logabsdet = primitive("logabsdet", lambda xp, a: xp.linalg.slogdet(a)[1], saves=("inputs",))
# d log|det A| = tr(A⁻¹ dA)
logabsdet.defvjp(lambda ns, g, ans, a: _unsqueeze2(ns, g) * _T(ns, ns.inv(a)))
logabsdet.defjvp(lambda ns, t, ans, a: ns.sum(_T(ns, ns.inv(a)) * t, axis=(-2, -1)))


def slogdet(a):
    """``(sign, log|det a|)`` (``numpy.linalg.slogdet``); the sign is a constant."""
    from ..core.tensor import Tensor
    values = a.data if isinstance(a, Tensor) else backend.asarray(a)
    return Tensor._wrap(backend.asarray(backend.xp.linalg.slogdet(values)[0]), None), logabsdet(a)


def _phi(ns, x):
    """The lower triangle with the diagonal halved."""
    n = x.shape[-1]
    return x * (backend.xp.tril(backend.xp.ones((n, n), dtype=x.dtype)) - 0.5 * _eye(n, x))


def _cholesky_vjp(ns, g, ans, a):
    # Ā = sym(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹)  (Murray 2016), with sym(S) = (S + Sᵀ)/2
    lt = _T(ns, ans)
    s = ns.solve(lt, _T(ns, ns.solve(lt, _T(ns, _phi(ns, ns.matmul(lt, g))))))
    return (s + _T(ns, s)) / 2


def _cholesky_jvp(ns, t, ans, a):
    # dL = L Φ(L⁻¹ dA L⁻ᵀ)
    inner = _T(ns, ns.solve(ans, _T(ns, ns.solve(ans, t))))
    return ns.matmul(ans, _phi(ns, inner))


cholesky = primitive("cholesky", lambda xp, a: xp.linalg.cholesky(a), saves=("ans",))
cholesky.defvjp(_cholesky_vjp).defjvp(_cholesky_jvp)
cholesky.__doc__ = """The lower Cholesky factor ``L`` of a symmetric positive-definite ``a = L Lᵀ``
(reads the lower triangle); the VJP returns a symmetric cotangent."""


def _gap_reciprocals(ns, w):
    """``F[i, j] = 1 / (w[j] − w[i])`` off the diagonal, zero on it."""
    n = w.shape[-1]
    diagonal = backend.xp.astype(_eye(n, w), backend.xp.bool)
    gaps = ns.unsqueeze(w, axis=-2) - ns.unsqueeze(w, axis=-1)
    return ns.where(diagonal, 0, 1 / ns.where(diagonal, 1, gaps))


def _eigh_impl(xp, a):
    w, v = xp.linalg.eigh(a)
    return xp.concat([w[..., None, :], v], axis=-2)


def _eigh_parts(ns, packed):
    n = packed.shape[-1]
    return ns.getitem(packed, index=(Ellipsis, 0, slice(None))), ns.getitem(
        packed, index=(Ellipsis, slice(1, n + 1), slice(None)))


def _eigh_vjp(ns, g, ans, a):
    # Ā = V (diag(w̄) + F ∘ (Vᵀ V̄)) Vᵀ
    w, v = _eigh_parts(ns, ans)
    gw, gv = _eigh_parts(ns, g)
    inner = _gap_reciprocals(ns, w) * ns.matmul(_T(ns, v), gv)
    inner = inner + ns.unsqueeze(gw, axis=-1) * _eye(w.shape[-1], w)
    return ns.matmul(v, ns.matmul(inner, _T(ns, v)))


def _eigh_jvp(ns, t, ans, a):
    # with Ȧ' = Vᵀ Ȧ V:  ẇ = diag(Ȧ'),  V̇ = V (F ∘ Ȧ')
    w, v = _eigh_parts(ns, ans)
    rotated = ns.matmul(_T(ns, v), ns.matmul(t, v))
    dw = ns.sum(rotated * _eye(w.shape[-1], w), axis=-1)
    dv = ns.matmul(v, _gap_reciprocals(ns, w) * rotated)
    return ns.concatenate(ns.unsqueeze(dw, axis=-2), dv, axis=-2)


eigh_packed = primitive("eigh", _eigh_impl, saves=("ans",))
eigh_packed.defvjp(_eigh_vjp).defjvp(_eigh_jvp)


def eigh(a, UPLO="L"):
    """Eigenvalues (ascending) and eigenvectors (columns) of a symmetric ``a`` (``numpy.linalg.eigh``;
    the lower triangle is read)."""
    if UPLO != "L":
        raise NotImplementedError("eigh: only UPLO='L' (the lower triangle) is supported")
    packed = eigh_packed(a)
    n = packed.shape[-1]
    return packed[..., 0, :], packed[..., 1:n + 1, :]


def eigvalsh(a, UPLO="L"):
    """The eigenvalues of a symmetric ``a``, ascending."""
    return eigh(a, UPLO)[0]


def _svd_impl(xp, a):
    u, s, vt = xp.linalg.svd(a, full_matrices=False)
    lead = a.shape[:-2]
    return xp.concat([xp.reshape(u, lead + (-1,)), s, xp.reshape(vt, lead + (-1,))], axis=-1)


def _svd_parts(ns, packed, m, n):
    k = min(m, n)
    lead = packed.shape[:-1]

    def part(start, stop, shape):
        return ns.reshape(ns.getitem(packed, index=(Ellipsis, slice(start, stop))), shape=lead + shape)
    return part(0, m * k, (m, k)), part(m * k, m * k + k, (k,)), part(m * k + k, m * k + k + k * n, (k, n))


def _svd_gaps(ns, s):
    # F[i, j] = 1 / (s_j² − s_i²) off the diagonal
    return _gap_reciprocals(ns, s * s)


def _svd_vjp(ns, g, ans, a):
    # Ā = U [diag(s̄) + (J + Jᵀ) S + S (K + Kᵀ)] Vᵀ, J = F ∘ UᵀŪ, K = F ∘ VᵀV̄, plus the parts of Ū (V̄)
    # outside U's (V's) span when m > n (n > m)  (Townsend 2016).
    m, n = a.shape[-2:]
    u, s, vt = _svd_parts(ns, ans, m, n)
    gu, gs, gvt = _svd_parts(ns, g, m, n)
    v, gv = _T(ns, vt), _T(ns, gvt)
    f = _svd_gaps(ns, s)
    j = f * ns.matmul(_T(ns, u), gu)
    k = f * ns.matmul(vt, gv)
    s_row, s_col = ns.unsqueeze(s, axis=-2), ns.unsqueeze(s, axis=-1)
    core = (ns.unsqueeze(gs, axis=-1) * _eye(s.shape[-1], s) + (j + _T(ns, j)) * s_row
            + s_col * (k + _T(ns, k)))
    out = ns.matmul(u, ns.matmul(core, vt))
    if m > n:
        outside = gu - ns.matmul(u, ns.matmul(_T(ns, u), gu))
        out = out + ns.matmul(outside / s_row, vt)
    if n > m:
        outside = gv - ns.matmul(v, ns.matmul(vt, gv))
        out = out + ns.matmul(u, _T(ns, outside / s_row))
    return out


def _svd_jvp(ns, t, ans, a):
    m, n = a.shape[-2:]
    u, s, vt = _svd_parts(ns, ans, m, n)
    v = _T(ns, vt)
    ds_matrix = ns.matmul(_T(ns, u), ns.matmul(t, v))
    k = s.shape[-1]
    ds = ns.sum(ds_matrix * _eye(k, s), axis=-1)
    f = _svd_gaps(ns, s)
    s_row, s_col = ns.unsqueeze(s, axis=-2), ns.unsqueeze(s, axis=-1)
    du = ns.matmul(u, f * (ds_matrix * s_row + _T(ns, ds_matrix * s_row)))
    dv = ns.matmul(v, f * (s_col * ds_matrix + _T(ns, s_col * ds_matrix)))
    if m > n:
        tv = ns.matmul(t, v)
        du = du + (tv - ns.matmul(u, ns.matmul(_T(ns, u), tv))) / s_row
    if n > m:
        tu = ns.matmul(_T(ns, t), u)
        dv = dv + (tu - ns.matmul(v, ns.matmul(vt, tu))) / s_row
    lead = tuple(ds.shape[:-1])
    return ns.concatenate(ns.reshape(du, shape=lead + (-1,)), ds, ns.reshape(_T(ns, dv), shape=lead + (-1,)),
                          axis=-1)


svd_packed = primitive("svd", _svd_impl, saves=("inputs", "ans"))
svd_packed.defvjp(_svd_vjp).defjvp(_svd_jvp)


def svd(a, full_matrices=True, compute_uv=True):
    """The singular value decomposition ``a = U diag(s) Vᵀ`` (``numpy.linalg.svd``): ``(U, s, Vt)``, or
    ``s`` alone when ``compute_uv`` is False. The thin factorisation: for a square ``a`` it is the full
    one; for a non-square ``a`` pass ``full_matrices=False`` (the full one's extra columns have no
    unique derivative, and are refused)."""
    m, n = a.shape[-2:]
    if full_matrices and compute_uv and m != n:
        raise NotImplementedError(f"svd: the full factorisation of a non-square ({m}, {n}) matrix is not "
                                  f"differentiable; pass full_matrices=False for the thin one")
    k = min(m, n)
    packed = svd_packed(a)
    lead = tuple(packed.shape[:-1])
    s = packed[..., m * k:m * k + k]
    if not compute_uv:
        return s
    return (packed[..., :m * k].reshape(lead + (m, k)), s, packed[..., m * k + k:].reshape(lead + (k, n)))


def _qr_impl(xp, a):
    if a.shape[-2] < a.shape[-1]:
        raise ShapeError(f"qr: a must have at least as many rows as columns, not shape {a.shape}")
    q, r = xp.linalg.qr(a)
    return xp.concat([q, r], axis=-2)


def _qr_parts(ns, packed, m):
    return (ns.getitem(packed, index=(Ellipsis, slice(0, m), slice(None))),
            ns.getitem(packed, index=(Ellipsis, slice(m, None), slice(None))))


def _copyltu(ns, x):
    """The symmetric matrix whose lower triangle is ``x``'s."""
    n = x.shape[-1]
    strictly_lower = backend.xp.tril(backend.xp.ones((n, n), dtype=backend.xp.bool), k=-1)
    lower = ns.where(strictly_lower, x, 0)
    return lower + _T(ns, lower) + x * _eye(n, x)


def _qr_vjp(ns, g, ans, a):
    # Ā = (Q̄ + Q copyltu(M)) R⁻ᵀ with M = R R̄ᵀ − Q̄ᵀ Q
    q, r = _qr_parts(ns, ans, a.shape[-2])
    gq, gr = _qr_parts(ns, g, a.shape[-2])
    m = ns.matmul(r, _T(ns, gr)) - ns.matmul(_T(ns, gq), q)
    b = gq + ns.matmul(q, _copyltu(ns, m))
    return _T(ns, ns.solve(r, _T(ns, b)))


def _qr_jvp(ns, t, ans, a):
    # with C = Qᵀ dA R⁻¹ and Ω = tril(C, −1) − tril(C, −1)ᵀ:  dQ = Q (Ω − C) + dA R⁻¹,  dR = (C − Ω) R
    q, r = _qr_parts(ns, ans, a.shape[-2])
    t_rinv = _T(ns, ns.solve(_T(ns, r), _T(ns, t)))
    c = ns.matmul(_T(ns, q), t_rinv)
    n = c.shape[-1]
    lower = ns.where(backend.xp.tril(backend.xp.ones((n, n), dtype=backend.xp.bool), k=-1), c, 0)
    omega = lower - _T(ns, lower)
    dq = ns.matmul(q, omega - c) + t_rinv
    dr = ns.matmul(c - omega, r)
    return ns.concatenate(dq, dr, axis=-2)


qr_packed = primitive("qr", _qr_impl, saves=("inputs", "ans"))
qr_packed.defvjp(_qr_vjp).defjvp(_qr_jvp)


def qr(a):
    """The reduced QR factorisation ``a = Q R`` of an ``(m, n)`` matrix with ``m ≥ n``
    (``numpy.linalg.qr``)."""
    m = a.shape[-2]
    packed = qr_packed(a)
    return packed[..., :m, :], packed[..., m:, :]


pinv = primitive("pinv", lambda xp, a, rcond=None: xp.linalg.pinv(a, rcond=rcond) if rcond is not None
                 else xp.linalg.pinv(a))


def _pinv_vjp(ns, g, ans, a, rcond=None):
    # P = A⁺:  Ā = −Pᵀ Ḡ Pᵀ + (I − A P) Ḡᵀ P Pᵀ + Pᵀ P Ḡᵀ (I − P A)  (Golub & Pereyra 1973, transposed)
    p, pt, gt = ans, _T(ns, ans), _T(ns, g)
    m, n = a.shape[-2:]
    left = _eye(m, a) - ns.matmul(a, p)
    right = _eye(n, a) - ns.matmul(p, a)
    return (-ns.matmul(pt, ns.matmul(g, pt)) + ns.matmul(left, ns.matmul(gt, ns.matmul(p, pt)))
            + ns.matmul(ns.matmul(pt, p), ns.matmul(gt, right)))


def _pinv_jvp(ns, t, ans, a, rcond=None):
    # dP = −P dA P + P Pᵀ dAᵀ (I − A P) + (I − P A) dAᵀ Pᵀ P
    p, pt, tt = ans, _T(ns, ans), _T(ns, t)
    m, n = a.shape[-2:]
    left = _eye(m, a) - ns.matmul(a, p)
    right = _eye(n, a) - ns.matmul(p, a)
    return (-ns.matmul(p, ns.matmul(t, p)) + ns.matmul(ns.matmul(p, pt), ns.matmul(tt, left))
            + ns.matmul(right, ns.matmul(tt, ns.matmul(pt, p))))


pinv.defvjp(_pinv_vjp).defjvp(_pinv_jvp)


def _solve_batched(args, dims, size):
    # NumPy reads b as a vector only when it has one axis: a batch of vectors goes in as columns.
    from .shape import squeeze, unsqueeze
    a, b = (materialize(x, d, size) for x, d in zip(args, dims))
    vector = b.ndim - 1 == 1
    b = unsqueeze(b, axis=-1) if vector else b
    rank = max(a.ndim, b.ndim) - 1  # the stacks' leading axes meet after the batch axis
    out = solve_matrix(lift(a, rank), lift(b, rank))
    return squeeze(out, axis=-1) if vector else out


defleading(inv, det, logabsdet, cholesky, eigh_packed, svd_packed, qr_packed, pinv)
defbatch(solve_matrix, _solve_batched)


def matrix_power(a, n):
    """``a`` multiplied by itself ``n`` times by repeated squaring; ``n < 0`` powers the inverse,
    ``n = 0`` gives the identity (``numpy.linalg.matrix_power``)."""
    from .linalg import matmul
    if n < 0:
        a, n = inv(a), -n
    if n == 0:
        from ..core.tensor import Tensor
        values = a.data if isinstance(a, Tensor) else backend.asarray(a)
        identity = backend.xp.broadcast_to(_eye(values.shape[-1], values), values.shape)
        return Tensor._wrap(backend.xp.asarray(identity, copy=True), None)
    result, square = None, a
    while n:
        if n & 1:
            result = square if result is None else matmul(result, square)
        n >>= 1
        if n:
            square = matmul(square, square)
    return result
