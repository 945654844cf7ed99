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
#include <string.h>
#define T {ctype}
#define EXP {f}exp{s}
#define LOWEST_EXP {lowest_exp}
#define E {width}           /* features of a query and a key */
#define Ev {width_v}        /* features of a value */
#define R 4                 /* rows computed together: their sums stay in registers */
#define CB (64 / (long)sizeof(T))  /* columns of the scores computed together (two AVX2 vectors) */
#define VL (32 / (long)sizeof(T))  /* one AVX2 vector */
typedef T vec __attribute__((vector_size(32)));
typedef {itype} ivec __attribute__((vector_size(32)));  /* integers of T's size: a vector's lane masks */
#define IOTA ((ivec){{{iota}}})
static inline T MAX(T a, T b) {{ return a > b || a != a ? a : b; }}
static inline T EXP_LOW(T d) {{ return d < LOWEST_EXP ? (T)0 : EXP(MAX(d, LOWEST_EXP)); }}
static inline long MIN_L(long a, long b) {{ return a < b ? a : b; }}

/* The strides (in elements) of one operand: batch axes b0, b1, b2, then rows; the last axis has stride 1. */
typedef struct {{ long b0, b1, b2, row; }} strides;

/* x^T of a (rows, width) slice into t (width, sp), the columns past rows zero */
static void transpose(long rows, long width, long sp, long row_stride, const T *restrict x, T *restrict t) {{
    memset(t, 0, sizeof(T) * width * sp);
    for (long j = 0; j < rows; j++)
        for (long d = 0; d < width; d++) t[d * sp + j] = x[j * row_stride + d];
}}

/* out rows r0.. (R of them, `rows` valid; row stride sp) = a (rows of `width` features, stride a_row)
   times bt (width x sp), over the columns [0, n) rounded up to CB */
static inline void rows_times(long rows, long n, long width, long sp, const T *restrict a, long a_row,
                              const T *restrict bt, T *restrict out) {{
    const T *ar[R];
    for (long r = 0; r < R; r++) ar[r] = a + (r < rows ? r : 0) * a_row;
    for (long c0 = 0; c0 < n; c0 += CB) {{
        T acc[R][CB] = {{{{0}}}};
        for (long d = 0; d < width; d++) {{
            const T *restrict b = bt + d * sp + c0;
            for (long r = 0; r < R; r++) {{
                const T x = ar[r][d];
                #pragma omp simd
                for (long c = 0; c < CB; c++) acc[r][c] += x * b[c];
            }}
        }}
        for (long r = 0; r < rows; r++) memcpy(out + r * sp + c0, acc[r], sizeof(T) * CB);
    }}
}}

/* p[0:n] = softmax(scale p[0:n]), then zeros up to sp. Whole vectors (sp is a multiple of CB): a
   remainder loop would call the scalar expf, and a running max with NumPy's NaN rule would not
   vectorise, so each lane keeps its own max */
static inline void softmax_row(long n, long sp, T scale, T *restrict row) {{
    T *restrict p = __builtin_assume_aligned(row, 32);  /* rows of the scratch start at 64 bytes */
    const long nv = (n + VL - 1) / VL * VL;
    if (n > 0) {{
        vec lane, x;
        for (long c = 0; c < VL; c++) lane[c] = p[0] * scale;
        for (long j0 = 0; j0 < nv; j0 += VL) {{
            memcpy(&x, p + j0, sizeof x);
            x = x * scale;
            memcpy(p + j0, &x, sizeof x);
            const ivec take = (IOTA < ({itype})(n - j0)) & ((x > lane) | (x != x));  /* NumPy's max: NaN wins */
            lane = (vec)((take & (ivec)x) | (~take & (ivec)lane));
        }}
        T top = lane[0];
        for (long c = 1; c < VL; c++) top = MAX(lane[c], top);
        T total = 0;
        #pragma omp simd reduction(+:total)
        for (long j = 0; j < nv; j++) {{
            const T e = EXP_LOW(j < n ? p[j] - top : (T)0);
            p[j] = j < n ? e : (T)0; total += p[j];
        }}
        #pragma omp simd
        for (long j = 0; j < n; j++) p[j] /= total;
    }}
    for (long j = nv; j < sp; j++) p[j] = 0;
}}

/* out (R rows, `rows` valid, `W` features, stride out_row) = p (R rows, stride sp) times x (rows of W
   features, stride x_row), over x's rows [0, n) */
#define TIMES_ROWS(W) \
static inline void times_rows_##W(long rows, long n, long sp, const T *restrict p, const T *restrict x, \
                                  long x_row, T *restrict out, long out_row) {{ \
    T acc[R][W] = {{{{0}}}}; \
    for (long j = 0; j < n; j++) {{ \
        const T *restrict xj = x + j * x_row; \
        for (long r = 0; r < R; r++) {{ \
            const T w = p[r * sp + j]; \
            _Pragma("omp simd") \
            for (long e = 0; e < W; e++) acc[r][e] += w * xj[e]; \
        }} \
    }} \
    for (long r = 0; r < rows; r++) memcpy(out + r * out_row, acc[r], sizeof(T) * W); \
}}
TIMES_ROWS(E)
TIMES_ROWS(Ev)

/* out (R rows j0.., `rows` valid, W features) = pᵀ x over the rows i of p (stride sp) whose visible
   keys reach past j0 (the others are zero there) */
#define TRANSPOSED_TIMES(W) \
static inline void transposed_times_##W(long rows, long j0, long L, const long *restrict lengths, long sp, \
                                        const T *restrict p, const T *restrict x, long x_row, T *restrict out) {{ \
    T acc[R][W] = {{{{0}}}}; \
    for (long i = 0; i < L; i++) {{ \
        if (lengths[i] <= j0) continue; \
        const T *restrict xi = x + i * x_row, *restrict pi = p + i * sp + j0; \
        for (long r = 0; r < R; r++) {{ \
            const T w = pi[r]; \
            _Pragma("omp simd") \
            for (long e = 0; e < W; e++) acc[r][e] += w * xi[e]; \
        }} \
    }} \
    for (long r = 0; r < rows; r++) memcpy(out + r * W, acc[r], sizeof(T) * W); \
}}
TRANSPOSED_TIMES(E)
TRANSPOSED_TIMES(Ev)

#define SLICE(x, st) ((x) + a0 * (st).b0 + a1 * (st).b1 + a2 * (st).b2)
#define LOOP_SLICES for (long a0 = 0; a0 < B0; a0++) for (long a1 = 0; a1 < B1; a1++) \
                    for (long a2 = 0; a2 < B2; a2++)

/* zeros (rows past L are read, not kept), 64-byte aligned */
static T *scratch(long count) {{
    const size_t bytes = (sizeof(T) * count + 63) / 64 * 64;
    T *block = aligned_alloc(64, bytes);
    if (block) memset(block, 0, bytes);
    return block;
}}

static long block_max(long rows, const long *restrict lengths) {{
    long n = 0;
    for (long r = 0; r < rows; r++) n = lengths[r] > n ? lengths[r] : n;
    return n;
}}

/* out (contiguous B0 x B1 x B2 x L x Ev) = attention(q, k, v); drop: NULL or contiguous (..., L, S) */
int forward(long B0, long B1, long B2, long L, long S, const long *restrict lengths, T scale,
            const T *q, strides qs, const T *k, strides ks, const T *v, strides vs, const T *drop, T *out) {{
    const long sp = (S + CB - 1) / CB * CB, lp = (L + R - 1) / R * R;
    T *kt = scratch(E * sp + lp * sp);
    if (!kt) return 1;
    T *p = kt + E * sp;
    long slice = 0;
    LOOP_SLICES {{
        const T *qb = SLICE(q, qs), *vb = SLICE(v, vs);
        const T *m = drop ? drop + slice * L * S : 0;
        T *ob = out + slice * L * Ev;
        transpose(S, E, sp, ks.row, SLICE(k, ks), kt);
        for (long i0 = 0; i0 < L; i0 += R) {{
            const long rows = MIN_L(R, L - i0), n = block_max(rows, lengths + i0);
            T *pb = p + i0 * sp;
            rows_times(rows, n, E, sp, qb + i0 * qs.row, qs.row, kt, pb);
            for (long r = 0; r < rows; r++) {{
                softmax_row(lengths[i0 + r], sp, scale, pb + r * sp);
                if (m) for (long j = 0; j < lengths[i0 + r]; j++) pb[r * sp + j] *= m[(i0 + r) * S + j];
            }}
            times_rows_Ev(rows, n, sp, pb, vb, vs.row, ob + i0 * Ev, Ev);
        }}
        slice++;
    }}
    free(kt);
    return 0;
}}

/* dq, dk, dv (contiguous, the shapes of q, k, v) of attention(q, k, v) for the output's cotangent g */
int backward(long B0, long B1, long B2, long L, long S, const long *restrict lengths, T scale,
             const T *q, strides qs, const T *k, strides ks, const T *v, strides vs, const T *drop,
             const T *g, strides gs, T *dq, T *dk, T *dv) {{
    const long sp = (S + CB - 1) / CB * CB, lp = (L + R - 1) / R * R;
    T *kt = scratch(E * sp + Ev * sp + 2 * lp * sp);
    if (!kt) return 1;
    T *vt = kt + E * sp, *p = vt + Ev * sp, *ds = p + lp * sp;
    long slice = 0;
    LOOP_SLICES {{
        const T *qb = SLICE(q, qs), *kb = SLICE(k, ks), *vb = SLICE(v, vs), *gb = SLICE(g, gs);
        const T *m = drop ? drop + slice * L * S : 0;
        transpose(S, E, sp, ks.row, kb, kt);
        transpose(S, Ev, sp, vs.row, vb, vt);
        for (long i0 = 0; i0 < L; i0 += R) {{
            const long rows = MIN_L(R, L - i0), n = block_max(rows, lengths + i0);
            T *pb = p + i0 * sp, *db = ds + i0 * sp;
            rows_times(rows, n, E, sp, qb + i0 * qs.row, qs.row, kt, pb);
            rows_times(rows, n, Ev, sp, gb + i0 * gs.row, gs.row, vt, db);  /* dp = g vᵀ */
            for (long r = 0; r < rows; r++) {{
                const long ni = lengths[i0 + r];
                T *pr = pb + r * sp, *dr = db + r * sp;
                const T *mr = m ? m + (i0 + r) * S : 0;
                softmax_row(ni, sp, scale, pr);
                if (mr) for (long j = 0; j < ni; j++) dr[j] *= mr[j];
                T dot = 0;
                #pragma omp simd reduction(+:dot)
                for (long j = 0; j < ni; j++) dot += pr[j] * dr[j];
                #pragma omp simd
                for (long j = 0; j < ni; j++) dr[j] = scale * (pr[j] * (dr[j] - dot));  /* ds */
                for (long j = ni; j < sp; j++) dr[j] = 0;
                if (mr) for (long j = 0; j < ni; j++) pr[j] *= mr[j];  /* the weights v saw */
            }}
            times_rows_E(rows, n, sp, db, kb, ks.row, dq + (slice * L + i0) * E, E);  /* dq = ds k */
        }}
        for (long j0 = 0; j0 < S; j0 += R) {{
            const long rows = MIN_L(R, S - j0);
            transposed_times_E(rows, j0, L, lengths, sp, ds, qb, qs.row, dk + (slice * S + j0) * E);
            transposed_times_Ev(rows, j0, L, lengths, sp, p, gb, gs.row, dv + (slice * S + j0) * Ev);
        }}
        slice++;
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
                          lowest_exp="-87.0f" if single else "-708.0", width=width, width_v=width_v,
                          itype="int" if single else "long", iota=", ".join(map(str, range(8 if single else 4))))


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
