"""The attention primitive's forward and VJP as one C kernel each, for prefix masks (causal or none).

The attention of ``ops/attention.py`` on NumPy makes per (batch, head) slice: a product ``q kᵀ``, a
scale, a ``where`` with the mask, a five-pass softmax, a product with ``v``; its VJP recomputes all
that and makes four more products and a three-pass pullback. Every masked score goes through ``exp``
(as ``exp(lowest - max)``), and glibc's vector ``exp`` (NumPy's, and the kernels') computes lanes out
of its range one by one: with a causal mask half the lanes of the step's softmaxes are such lanes.

Here a row ``i`` that may look at the keys ``[0, n_i)`` (a causal mask: ``n_i = min(i + 1, S)``; no
mask: ``n_i = S``) computes only those ``n_i`` scores, as FlashAttention does: with ``kᵀ`` of the
slice copied once into a scratch block kept in L1,

    s_j = scale · Σ_d q_id kᵀ_dj;  p_j = exp(s_j − max s) / Σ exp(s − max s);  out_i = Σ_j p_j v_j,

and the VJP, from the same ``p`` (times the dropout multiplier ``m`` where there is one):

    dp_j = m_j Σ_e g_ie vᵀ_ej;  ds_j = scale · p_j (dp_j − ⟨p, dp⟩);
    dq_i = Σ_j ds_j k_j;  dk_j += ds_j q_i;  dv_j += m_j p_j g_i.

The masked weights are zero, so leaving them out changes no sum; a row with no key gives zero, as the
primitive does. Sums run in another order than BLAS's, so results agree with the NumPy path to the
dtype's rounding (``compile(exact=True)`` keeps that path). ``exp`` below the smallest normal result is
taken as 0 (as in :mod:`.row_kernels`).

:func:`replacement` gives the kernel-backed function of a recorded ``attention`` or ``vjp attention[...]``
operation, or ``None``: float32 or float64 inputs of one dtype with one to three batch axes of equal
sizes (no broadcasting), the last axis of unit stride, no additive mask (``bias``), a ``keep`` mask
each row of which is a prefix of keys, a dropout multiplier of the weights' shape or none.
"""

import ctypes

from .. import backend
from . import c_backend
from .program import CONSTANT, SLOT

_SOURCE = r"""
#include <math.h>
#include <stdlib.h>
#define T {ctype}
#define EXP {f}exp{s}
#define LOWEST_EXP {lowest_exp}
#define E {width}
#define Ev {width_v}
static inline T MAX(T a, T b) {{ return a > b || a != a ? a : b; }}
static inline T EXP_LOW(T d) {{ return d < LOWEST_EXP ? (T)0 : EXP(MAX(d, LOWEST_EXP)); }}

/* The strides (in elements) of one operand: batch axes b0, b1, b2, then rows; the last axis has stride 1. */
typedef struct {{ long b0, b1, b2, row; }} strides;

/* x^T of a (rows, width) slice into t (width, rows) */
static void transpose(long rows, long width, long row_stride, const T *restrict x, T *restrict t) {{
    for (long j = 0; j < rows; j++)
        for (long d = 0; d < width; d++) t[d * rows + j] = x[j * row_stride + d];
}}

/* p[0:n] = softmax(scale q_i k^T) over the first n keys (kt: k^T, E x S) */
static void weights_row(long n, long S, T scale, const T *restrict qi, const T *restrict kt,
                        T *restrict p) {{
    for (long j = 0; j < n; j++) p[j] = 0;
    for (long d = 0; d < E; d++) {{
        const T a = qi[d]; const T *restrict kd = kt + d * S;
        #pragma omp simd
        for (long j = 0; j < n; j++) p[j] += a * kd[j];
    }}
    T c = p[0] * scale;
    for (long j = 0; j < n; j++) {{ p[j] *= scale; c = MAX(p[j], c); }}
    T total = 0;
    #pragma omp simd reduction(+:total)
    for (long j = 0; j < n; j++) {{ T e = EXP_LOW(p[j] - c); p[j] = e; total += e; }}
    #pragma omp simd
    for (long j = 0; j < n; j++) p[j] /= total;
}}

#define SLICE(x, st) ((x) + a0 * (st).b0 + a1 * (st).b1 + a2 * (st).b2)
#define LOOP_SLICES for (long a0 = 0; a0 < B0; a0++) for (long a1 = 0; a1 < B1; a1++) \
                    for (long a2 = 0; a2 < B2; a2++)

/* out (contiguous B0 x B1 x B2 x L x Ev) = attention(q, k, v); drop: NULL or contiguous (..., L, S) */
int forward(long B0, long B1, long B2, long L, long S, const long *restrict lengths, T scale,
            const T *q, strides qs, const T *k, strides ks, const T *v, strides vs, const T *drop, T *out) {{
    T *kt = malloc(sizeof(T) * (S * E + S));
    if (!kt) return 1;
    T *p = kt + S * E;
    long slice = 0;
    LOOP_SLICES {{
        const T *qb = SLICE(q, qs), *vb = SLICE(v, vs);
        transpose(S, E, ks.row, SLICE(k, ks), kt);
        for (long i = 0; i < L; i++, slice++) {{
            const long n = lengths[i];
            T acc[Ev] = {{0}};
            if (n > 0) {{
                weights_row(n, S, scale, qb + i * qs.row, kt, p);
                if (drop) {{ const T *m = drop + slice * S; for (long j = 0; j < n; j++) p[j] *= m[j]; }}
                for (long j = 0; j < n; j++) {{
                    const T w = p[j]; const T *restrict vj = vb + j * vs.row;
                    #pragma omp simd
                    for (long e = 0; e < Ev; e++) acc[e] += w * vj[e];
                }}
            }}
            for (long e = 0; e < Ev; e++) out[slice * Ev + e] = acc[e];
        }}
    }}
    free(kt);
    return 0;
}}

/* dq, dk, dv (contiguous, the shapes of q, k, v) of attention(q, k, v) for the output's cotangent g */
int backward(long B0, long B1, long B2, long L, long S, const long *restrict lengths, T scale,
             const T *q, strides qs, const T *k, strides ks, const T *v, strides vs, const T *drop,
             const T *g, strides gs, T *dq, T *dk, T *dv) {{
    T *kt = malloc(sizeof(T) * (S * E + S * Ev + 3 * S));
    if (!kt) return 1;
    T *vt = kt + S * E, *p = vt + S * Ev, *dp = p + S, *pm = dp + S;
    long slice = 0;
    LOOP_SLICES {{
        const T *qb = SLICE(q, qs), *kb = SLICE(k, ks), *vb = SLICE(v, vs), *gb = SLICE(g, gs);
        const long at = slice / L;  /* the slice's number */
        T *dkb = dk + at * S * E, *dvb = dv + at * S * Ev;
        transpose(S, E, ks.row, kb, kt);
        transpose(S, Ev, vs.row, vb, vt);
        for (long j = 0; j < S * E; j++) dkb[j] = 0;
        for (long j = 0; j < S * Ev; j++) dvb[j] = 0;
        for (long i = 0; i < L; i++, slice++) {{
            const long n = lengths[i];
            const T *restrict qi = qb + i * qs.row, *restrict gi = gb + i * gs.row;
            T dqi[E] = {{0}};
            if (n == 0) {{ for (long d = 0; d < E; d++) dq[slice * E + d] = 0; continue; }}
            weights_row(n, S, scale, qi, kt, p);
            for (long j = 0; j < n; j++) dp[j] = 0;
            for (long e = 0; e < Ev; e++) {{
                const T a = gi[e]; const T *restrict ve = vt + e * S;
                #pragma omp simd
                for (long j = 0; j < n; j++) dp[j] += a * ve[j];
            }}
            const T *m = drop ? drop + slice * S : 0;
            for (long j = 0; j < n; j++) pm[j] = m ? p[j] * m[j] : p[j];
            if (m) for (long j = 0; j < n; j++) dp[j] *= m[j];
            T dot = 0;
            #pragma omp simd reduction(+:dot)
            for (long j = 0; j < n; j++) dot += p[j] * dp[j];
            #pragma omp simd
            for (long j = 0; j < n; j++) dp[j] = scale * (p[j] * (dp[j] - dot));  /* ds */
            for (long j = 0; j < n; j++) {{
                const T s = dp[j], w = pm[j];
                const T *restrict kj = kb + j * ks.row;
                T *restrict dkj = dkb + j * E, *restrict dvj = dvb + j * Ev;
                #pragma omp simd
                for (long d = 0; d < E; d++) {{ dqi[d] += s * kj[d]; dkj[d] += s * qi[d]; }}
                #pragma omp simd
                for (long e = 0; e < Ev; e++) dvj[e] += w * gi[e];
            }}
            for (long d = 0; d < E; d++) dq[slice * E + d] = dqi[d];
        }}
    }}
    free(kt);
    return 0;
}}
"""


class _Strides(ctypes.Structure):
    _fields_ = [("b0", ctypes.c_long), ("b1", ctypes.c_long), ("b2", ctypes.c_long), ("row", ctypes.c_long)]


_P, _L = ctypes.c_void_p, ctypes.c_long
_HEAD = [_L] * 5 + [_P, None]
_libraries = {}


def source(dtype="float32", width=64, width_v=64):
    """The C source of the attention kernels for arrays of ``dtype``, queries and keys of ``width``
    features and values of ``width_v`` (constants of the source, so that the compiler unrolls the loops
    over them and keeps a row's sums in registers)."""
    single = backend.xp.dtype(dtype) == backend.xp.float32
    return _SOURCE.format(ctype="float" if single else "double", f="", s="f" if single else "",
                          lowest_exp="-87.0f" if single else "-708.0", width=width, width_v=width_v)


def library(dtype, width, width_v):
    """The built attention kernels for ``dtype`` (float32 or float64) and these widths."""
    dtype = backend.xp.dtype(dtype)
    key = dtype, width, width_v
    if key not in _libraries:
        built = c_backend.build(source(dtype, width, width_v))
        real = ctypes.c_float if dtype == backend.xp.float32 else ctypes.c_double
        head = [real if a is None else a for a in _HEAD]
        built.forward.argtypes = head + [_P, _Strides] * 3 + [_P, _P]
        built.backward.argtypes = head + [_P, _Strides] * 3 + [_P, _P, _Strides, _P, _P, _P]
        built.forward.restype = built.backward.restype = ctypes.c_int
        _libraries[key] = built
    return _libraries[key]


def prefix_lengths(keep, length, keys):
    """How many leading keys each of ``length`` queries sees under the boolean mask ``keep`` (``None``:
    all), as an int64 array; ``None`` when some row of the mask is not a run of ``True`` then ``False``."""
    xp = backend.xp
    if keep is None:
        return xp.full(length, keys, dtype=xp.int64)
    if not isinstance(keep, backend.ndarray) or keep.dtype != bool or keep.ndim > 2:
        return None
    try:
        mask = xp.broadcast_to(keep, (length, keys))
    except ValueError:
        return None
    lengths = mask.sum(axis=-1).astype(xp.int64)
    if not (mask == (xp.arange(keys) < lengths[:, None])).all():
        return None
    return lengths


def _batch(array):
    """``(sizes, element strides)`` of the batch axes of an operand padded to three, or ``None``."""
    itemsize = array.itemsize
    if array.ndim < 3 or array.ndim > 5 or array.strides[-1] != itemsize or any(
            s % itemsize for s in array.strides):
        return None
    pad = 5 - array.ndim
    sizes = (1,) * pad + array.shape[:-2]
    strides = (0,) * pad + tuple(s // itemsize for s in array.strides[:-1])
    return sizes, _Strides(*strides)


def _operands(read, keep_code, params):
    """The checks common to the forward and the VJP (on their inputs ``q, k, v, bias, keep, dropout``):
    ``(lengths, dtype, scale)`` or ``None``."""
    query, key, value, bias, keep, dropout = read
    arrays = (query, key, value)
    if not all(isinstance(a, backend.ndarray) for a in arrays) or bias is not None:
        return None
    dtype = query.dtype
    if dtype.name not in ("float32", "float64") or any(a.dtype != dtype for a in arrays):
        return None
    if not (query.ndim == key.ndim == value.ndim and query.shape[:-2] == key.shape[:-2] == value.shape[:-2]
            and query.shape[-1] == key.shape[-1] and key.shape[-2] == value.shape[-2]):
        return None
    if any(_batch(a) is None for a in arrays) or 0 in query.shape or 0 in value.shape or key.shape[-2] == 0:
        return None
    length, keys = query.shape[-2], key.shape[-2]
    if keep_code == SLOT:  # a mask computed in the step may differ between replays
        return None
    lengths = prefix_lengths(keep, length, keys)
    if lengths is None:
        return None
    if dropout is not None and not (isinstance(dropout, backend.ndarray) and dropout.dtype == dtype
                                    and dropout.shape == query.shape[:-1] + (keys,)
                                    and dropout.flags.c_contiguous):
        return None
    scale = (params or {}).get("scale", 1.0)
    if not isinstance(scale, (int, float)) or isinstance(scale, bool):
        return None
    return lengths, dtype, float(scale)


def replacement(op, values):
    """A function computing the recorded ``attention`` (inputs ``q, k, v, bias, keep, dropout``) or its
    joint VJP (``g, ans, q, k, v, bias, keep, dropout`` -> the cotangents wanted) through a kernel, or
    ``None``."""
    if op.kind is None or op.out is None or isinstance(op.out, tuple):
        return None
    kind, name = op.kind
    if kind == "forward" and name == "attention":
        start = 0
    elif kind == "vjps" and name.startswith("attention["):
        start = 2
        wanted = tuple(int(i) for i in name[len("attention["):-1].split(","))
        if not set(wanted) <= {0, 1, 2}:
            return None
    else:
        return None
    if len(op.refs) != start + 6 or any(code not in (SLOT, CONSTANT) for code, _ in op.refs[start:]):
        return None
    read = [values[ref] if code == SLOT else ref for code, ref in op.refs]
    checked = _operands(read[start:], op.refs[start + 4][0], op.params)
    if checked is None:
        return None
    lengths, dtype, scale = checked
    query, key, value = read[start:start + 3]
    lib = library(dtype, query.shape[-1], value.shape[-1])
    if start == 0:
        return _forward(lib, lengths, scale, query.shape, value.shape[-1], dtype)
    g = read[0]
    if not (isinstance(g, backend.ndarray) and g.dtype == dtype and g.shape == query.shape[:-1] + value.shape[-1:]
            and _batch(g) is not None):
        return None
    return _backward(lib, lengths, scale, query.shape, key.shape, value.shape, dtype, wanted)


def _sizes(shape):
    """The batch axes of a shape, padded to three."""
    return (1,) * (5 - len(shape)) + tuple(shape[:-2])


def _forward(lib, lengths, scale, qshape, width_v, dtype):
    empty, pointer, function = backend.xp.empty, c_backend.pointer, lib.forward
    (b0, b1, b2), (length, width) = _sizes(qshape), qshape[-2:]
    out_shape = qshape[:-1] + (width_v,)
    lengths_p = pointer(lengths)

    def attention(query, key, value, bias, keep, dropout):
        out = empty(out_shape, dtype)
        status = function(b0, b1, b2, length, key.shape[-2], lengths_p, scale,
                          pointer(query), _batch(query)[1], pointer(key), _batch(key)[1], pointer(value),
                          _batch(value)[1], None if dropout is None else pointer(dropout), pointer(out))
        if status:
            raise MemoryError("attention kernel: out of memory for its scratch block")
        return out
    attention.lengths = lengths  # kept alive with the function
    return attention


def _backward(lib, lengths, scale, qshape, kshape, vshape, dtype, wanted):
    empty, pointer, function = backend.xp.empty, c_backend.pointer, lib.backward
    (b0, b1, b2), (length, width), keys, width_v = _sizes(qshape), qshape[-2:], kshape[-2], vshape[-1]
    lengths_p = pointer(lengths)

    def attention_vjp(g, ans, query, key, value, bias, keep, dropout):
        dq, dk, dv = empty(qshape, dtype), empty(kshape, dtype), empty(vshape, dtype)
        status = function(b0, b1, b2, length, keys, lengths_p, scale,
                          pointer(query), _batch(query)[1], pointer(key), _batch(key)[1], pointer(value),
                          _batch(value)[1], None if dropout is None else pointer(dropout),
                          pointer(g), _batch(g)[1], pointer(dq), pointer(dk), pointer(dv))
        if status:
            raise MemoryError("attention kernel: out of memory for its scratch block")
        cotangents = (dq, dk, dv)
        return tuple(cotangents[i] for i in wanted)
    attention_vjp.lengths = lengths
    return attention_vjp
