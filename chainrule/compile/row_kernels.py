"""Row reductions as C kernels: softmax, log-softmax, softmax cross-entropy, mean and variance along
the last axis (a layer norm's statistics), forward and VJP, one pass over each row kept in cache.

NumPy computes ``softmax(x)`` as five passes over the whole array (max, subtract, exp, sum, divide),
each one allocating; a kernel reads a row, keeps it in L1 and writes the result once. The formulas are
those of ``ops/reductions.py``, in the same order (the max taken first, NaN
propagating through it as through ``np.max``), so NaN and infinities come out where NumPy puts them;
sums are reordered by vectorisation, so results agree to the dtype's rounding, not bit for bit
(``compile(exact=True)`` keeps the NumPy replay).

:func:`replacement` gives the kernel-backed function of a recorded operation, or ``None`` (the
operation then stays the NumPy call it was): only the last axis, float32 or float64 contiguous rows,
and integer labels for cross-entropy.
"""

import ctypes

from .. import backend
from . import c_backend
from .program import CONSTANT, SLOT

_SOURCE = r"""
#include <math.h>
#define T {ctype}
#define EXP {f}exp{s}
#define LOG {f}log{s}
#define LOWEST_EXP {lowest_exp}
/* np.max: a NaN anywhere gives NaN. */
static inline T MAX(T a, T b) {{ return a > b || a != a ? a : b; }}
/* exp(d), taken as 0 below the smallest normal result (exp(-87) in float32): the vector
   exp of glibc computes lanes out of its range one by one;
   NumPy's result there is below 1e-37 (float32) or 1e-307 (float64). NaN stays NaN. */
static inline T EXP_LOW(T d) {{ return d < LOWEST_EXP ? (T)0 : EXP(MAX(d, LOWEST_EXP)); }}
static inline T row_max(long m, const T *x) {{
    T v = x[0];
    for (long j = 1; j < m; j++) v = MAX(x[j], v);
    return v;
}}

/* softmax(x) = e / sum(e), e = exp(x - max x) */
static inline void softmax_row(long m, T *restrict y, const T *restrict x) {{
    const T c = row_max(m, x);
    T total = 0;
    #pragma omp simd reduction(+:total)
    for (long j = 0; j < m; j++) {{ T e = EXP_LOW(x[j] - c); y[j] = e; total += e; }}
    #pragma omp simd
    for (long j = 0; j < m; j++) y[j] /= total;
}}

/* logsumexp with the max replaced by 0 where it is not finite (ops/reductions.py) */
static inline T row_logsumexp(long m, const T *restrict x) {{
    T c = row_max(m, x);
    if (!isfinite(c)) c = 0;
    T total = 0;
    #pragma omp simd reduction(+:total)
    for (long j = 0; j < m; j++) total += EXP_LOW(x[j] - c);
    return LOG(total) + c;
}}

void softmax(long rows, long m, T *restrict y, const T *restrict x) {{
    for (long r = 0; r < rows; r++) softmax_row(m, y + r * m, x + r * m);
}}

void log_softmax(long rows, long m, T *restrict y, const T *restrict x) {{
    for (long r = 0; r < rows; r++) {{
        const T *xr = x + r * m; T *yr = y + r * m;
        const T lse = row_logsumexp(m, xr);
        #pragma omp simd
        for (long j = 0; j < m; j++) yr[j] = xr[j] - lse;
    }}
}}

/* softmax VJP: s (g - <g, s>) */
void softmax_vjp(long rows, long m, T *restrict dx, const T *restrict g, const T *restrict s) {{
    for (long r = 0; r < rows; r++) {{
        const T *gr = g + r * m, *sr = s + r * m; T *out = dx + r * m;
        T dot = 0;
        #pragma omp simd reduction(+:dot)
        for (long j = 0; j < m; j++) dot += gr[j] * sr[j];
        #pragma omp simd
        for (long j = 0; j < m; j++) out[j] = sr[j] * (gr[j] - dot);
    }}
}}

/* log-softmax VJP: g - exp(ans) sum(g) */
void log_softmax_vjp(long rows, long m, T *restrict dx, const T *restrict g, const T *restrict a) {{
    for (long r = 0; r < rows; r++) {{
        const T *gr = g + r * m, *ar = a + r * m; T *out = dx + r * m;
        T total = 0;
        #pragma omp simd reduction(+:total)
        for (long j = 0; j < m; j++) total += gr[j];
        #pragma omp simd
        for (long j = 0; j < m; j++) out[j] = gr[j] - EXP_LOW(ar[j]) * total;
    }}
}}

/* cross-entropy of integer labels: logsumexp(z) - z_y (NaN for a label outside [0, m)) */
void sce(long rows, long m, T *restrict loss, const T *restrict z, const long *restrict y) {{
    for (long r = 0; r < rows; r++) {{
        const T *zr = z + r * m;
        loss[r] = y[r] >= 0 && y[r] < m ? row_logsumexp(m, zr) - zr[y[r]] : (T)NAN;
    }}
}}

/* its VJP: g (softmax(z) - onehot(y)) */
void sce_vjp(long rows, long m, T *restrict dz, const T *restrict g, const T *restrict z,
             const long *restrict y) {{
    for (long r = 0; r < rows; r++) {{
        T *out = dz + r * m;
        softmax_row(m, out, z + r * m);
        if (y[r] >= 0 && y[r] < m) out[y[r]] -= 1; else out[0] = (T)NAN;
        const T gr = g[r];
        #pragma omp simd
        for (long j = 0; j < m; j++) out[j] *= gr;
    }}
}}

/* the mean cross-entropy of the rows whose label is kept (not `ignore`, when `ignoring`), the rows'
   losses summed in double; 0 / 0 = NaN when none is kept (ops/cross_entropy.py) */
void sce_mean(long rows, long m, T *restrict loss, const T *restrict z, const long *restrict y, long ignore,
              int ignoring) {{
    double total = 0;
    long count = 0;
    for (long r = 0; r < rows; r++) {{
        if (ignoring && y[r] == ignore) continue;
        const T *zr = z + r * m;
        count++;
        total += y[r] >= 0 && y[r] < m ? (double)(row_logsumexp(m, zr) - zr[y[r]]) : (double)NAN;
    }}
    *loss = (T)(total / (double)count);
}}

/* its VJP: g (softmax(z) - onehot(y)) / count on a kept row, 0 on an ignored one */
void sce_mean_vjp(long rows, long m, T *restrict dz, double g, const T *restrict z, const long *restrict y,
                  long ignore, int ignoring) {{
    long count = 0;
    for (long r = 0; r < rows; r++) count += !(ignoring && y[r] == ignore);
    const T scale = (T)g / (T)count;
    for (long r = 0; r < rows; r++) {{
        T *out = dz + r * m;
        if (ignoring && y[r] == ignore) {{
            for (long j = 0; j < m; j++) out[j] = 0;
            continue;
        }}
        softmax_row(m, out, z + r * m);
        if (y[r] >= 0 && y[r] < m) out[y[r]] -= 1; else out[0] = (T)NAN;
        #pragma omp simd
        for (long j = 0; j < m; j++) out[j] *= scale;
    }}
}}

/* a cotangent summed over its leading axes (a dense layer's bias gradient): row by row, as NumPy adds
   them, from the first row */
void column_sum(long rows, long m, T *restrict out, const T *restrict g) {{
    #pragma omp simd
    for (long j = 0; j < m; j++) out[j] = g[j];
    for (long r = 1; r < rows; r++) {{
        const T *gr = g + r * m;
        #pragma omp simd
        for (long j = 0; j < m; j++) out[j] += gr[j];
    }}
}}

/* mean and variance of each row (var: sum (x - mean)^2 / (m - ddof), as np.var) */
static inline T row_sum(long m, const T *restrict x) {{
    T total = 0;
    #pragma omp simd reduction(+:total)
    for (long j = 0; j < m; j++) total += x[j];
    return total;
}}

void row_mean(long rows, long m, T *restrict out, const T *restrict x) {{
    for (long r = 0; r < rows; r++) out[r] = row_sum(m, x + r * m) / (T)m;
}}

void row_var(long rows, long m, T *restrict out, const T *restrict x, double ddof) {{
    for (long r = 0; r < rows; r++) {{
        const T *xr = x + r * m;
        const T c = row_sum(m, xr) / (T)m;
        T total = 0;
        #pragma omp simd reduction(+:total)
        for (long j = 0; j < m; j++) total += (xr[j] - c) * (xr[j] - c);
        out[r] = total / (T)(m - ddof);
    }}
}}

/* VJPs: of mean, g / m on the row; of var, g 2 (x - mean) / (m - ddof) */
void mean_vjp(long rows, long m, T *restrict dx, const T *restrict g) {{
    for (long r = 0; r < rows; r++) {{
        const T v = g[r] / (T)m;
        #pragma omp simd
        for (long j = 0; j < m; j++) dx[r * m + j] = v;
    }}
}}

void var_vjp(long rows, long m, T *restrict dx, const T *restrict g, const T *restrict x, double ddof) {{
    for (long r = 0; r < rows; r++) {{
        const T *xr = x + r * m;
        const T c = row_sum(m, xr) / (T)m, n = (T)(m - ddof), gr = g[r];
        #pragma omp simd
        for (long j = 0; j < m; j++) dx[r * m + j] = (T)2 * (xr[j] - c) / n * gr;
    }}
}}
"""

_P, _L, _D, _I = ctypes.c_void_p, ctypes.c_long, ctypes.c_double, ctypes.c_int
_SIGNATURES = {"softmax": [_L, _L, _P, _P], "log_softmax": [_L, _L, _P, _P],
               "softmax_vjp": [_L, _L, _P, _P, _P], "log_softmax_vjp": [_L, _L, _P, _P, _P],
               "sce": [_L, _L, _P, _P, _P], "sce_vjp": [_L, _L, _P, _P, _P, _P],
               "sce_mean": [_L, _L, _P, _P, _P, _L, _I], "sce_mean_vjp": [_L, _L, _P, _D, _P, _P, _L, _I],
               "column_sum": [_L, _L, _P, _P], "row_mean": [_L, _L, _P, _P], "row_var": [_L, _L, _P, _P, _D], "mean_vjp": [_L, _L, _P, _P],
               "var_vjp": [_L, _L, _P, _P, _P, _D]}
_libraries = {}


def source(dtype="float32"):
    """The C source of the row kernels for arrays of ``dtype``."""
    single = backend.xp.dtype(dtype) == backend.xp.float32
    return _SOURCE.format(ctype="float" if single else "double", f="", s="f" if single else "",
                          lowest_exp="-87.0f" if single else "-708.0")


def library(dtype):
    """The built row kernels for ``dtype`` (float32 or float64)."""
    dtype = backend.xp.dtype(dtype)
    if dtype not in _libraries:
        built = c_backend.build(source(dtype))
        real = ctypes.c_float if dtype == backend.xp.float32 else ctypes.c_double
        for name, argtypes in _SIGNATURES.items():
            function = getattr(built, name)
            function.argtypes = [real if a is None else a for a in argtypes]
            function.restype = None
        _libraries[dtype] = built
    return _libraries[dtype]


def _float_rows(value):
    return (isinstance(value, backend.ndarray) and value.dtype.name in ("float32", "float64")
            and value.flags.c_contiguous and value.ndim >= 1 and value.size > 0)


def _last_axis(params, ndim, default=-1):
    axis = (params or {}).get("axis", default)
    if isinstance(axis, tuple) and len(axis) == 1:
        axis = axis[0]
    return isinstance(axis, int) and not isinstance(axis, bool) and axis in (-1, ndim - 1)


def replacement(op, values):
    """A function computing ``op`` through a row kernel (same inputs, same result), or ``None``."""
    if op.kind is None or op.out is None or isinstance(op.out, tuple):
        return None
    kind, name = op.kind
    read = [values[ref] if code == SLOT else ref for code, ref in op.refs]
    if kind == "vjp-sum":  # a rule's result summed to a broadcast input's shape
        return _column_sum(op, read, values[op.out]) if name in PASSED_ON else None
    if kind not in ("forward", "vjp"):
        return None
    if kind == "forward" and name in ("softmax", "log_softmax"):
        x = read[0]
        if not (_float_rows(x) and _last_axis(op.params, x.ndim)):
            return None
        return _unary(getattr(library(x.dtype), name), x.shape, x.dtype)
    if kind == "vjp" and name in ("softmax[0]", "log_softmax[0]"):
        g, ans = read[0], read[1]
        if not (_float_rows(g) and _float_rows(ans) and g.dtype == ans.dtype and g.shape == ans.shape
                and _last_axis(op.params, g.ndim)):
            return None
        function = getattr(library(g.dtype), f"{name[:-3]}_vjp")
        return _select(_binary(function, g.shape, g.dtype), 0, 1)
    if name in ("mean", "var", "mean[0]", "var[0]"):
        return _moment(op, read, kind, name[:-3] if kind == "vjp" else name)
    if name in ("softmax_cross_entropy", "softmax_cross_entropy[0]"):
        return _cross_entropy(op, read, kind)
    if name in ("softmax_cross_entropy_mean", "softmax_cross_entropy_mean[0]"):
        return _cross_entropy_mean(op, read, kind)
    return None


PASSED_ON = ("add[0]", "add[1]", "sub[0]", "identity[0]", "linear[2]")
"""The VJPs that are the cotangent itself, so that summed to an input's shape they are a column sum."""


def _column_sum(op, read, result):
    """The cotangent ``g`` summed over its leading axes to ``result``'s shape (its trailing axes)."""
    g = read[0] if op.refs and op.refs[0][0] == SLOT else None
    if not (_float_rows(g) and isinstance(result, backend.ndarray) and result.dtype == g.dtype
            and result.size and g.size % result.size == 0):
        return None
    shape = tuple(result.shape)
    while shape and shape[0] == 1:
        shape = shape[1:]
    if g.shape[len(g.shape) - len(shape):] != shape or g.size == result.size:
        return None
    function, m = library(g.dtype).column_sum, result.size
    rows, out_shape, dtype, empty, pointer = g.size // m, result.shape, g.dtype, backend.xp.empty, c_backend.pointer

    def column_sum(g, *_):
        out = empty(out_shape, dtype)
        function(rows, m, pointer(out), pointer(g))
        return out
    return column_sum


def _unary(function, shape, dtype):
    m, empty, pointer = shape[-1], backend.xp.empty, c_backend.pointer
    rows = _rows(shape)

    def run(x):
        out = empty(shape, dtype)
        function(rows, m, pointer(out), pointer(x))
        return out
    return run


def _binary(function, shape, dtype):
    m, empty, pointer = shape[-1], backend.xp.empty, c_backend.pointer
    rows = _rows(shape)

    def run(a, b):
        out = empty(shape, dtype)
        function(rows, m, pointer(out), pointer(a), pointer(b))
        return out
    return run


def _select(fn, *positions):
    """``fn`` of the inputs at ``positions`` of a recorded operation's inputs."""
    first, second = positions
    return lambda *values: fn(values[first], values[second])


def _rows(shape):
    count = 1
    for n in shape[:-1]:
        count *= n
    return count


def _moment(op, read, kind, name):
    """``mean`` or ``var`` over the last axis (forward: input ``x``), or its VJP (``g, ans, x``)."""
    params = op.params or {}
    if kind == "forward":
        x = read[0]
        if not _float_rows(x):
            return None
        shape, dtype = x.shape, x.dtype
    else:  # the result has the input's shape; mean's input is not saved
        if op.shape is None or (name == "var" and not _float_rows(read[2])):
            return None
        shape, dtype = tuple(op.shape), backend.xp.dtype(op.dtype)
    if dtype.name not in ("float32", "float64") or len(shape) < 2 or not shape[-1] or not _rows(shape):
        return None
    ddof = params.get("ddof", 0)
    if not _last_axis(params, len(shape), default=None) or name == "var" and not (
            isinstance(ddof, int) and not isinstance(ddof, bool) and 0 <= ddof < shape[-1]):
        return None
    lib, m, rows = library(dtype), shape[-1], _rows(shape)
    empty, pointer = backend.xp.empty, c_backend.pointer
    reduced = shape[:-1] + (1,) if params.get("keepdims") else shape[:-1]
    if kind == "forward":
        function = lib.row_mean if name == "mean" else lib.row_var
        extra = () if name == "mean" else (float(ddof),)

        def forward(x):
            out = empty(reduced, dtype)
            function(rows, m, pointer(out), pointer(x), *extra)
            return out
        return forward
    g = read[0]
    if not (_float_rows(g) and g.dtype == dtype and g.shape == reduced):
        return None
    if name == "mean":
        function = lib.mean_vjp

        def mean_vjp(g, ans, x):
            out = empty(shape, dtype)
            function(rows, m, pointer(out), pointer(g))
            return out
        return mean_vjp
    function = lib.var_vjp

    def var_vjp(g, ans, x):
        out = empty(shape, dtype)
        function(rows, m, pointer(out), pointer(g), pointer(x), float(ddof))
        return out
    return var_vjp


def _cross_entropy(op, read, kind):
    """``softmax_cross_entropy``'s forward (inputs ``logits, labels``) or logits VJP (``g, ans, logits,
    labels``) for integer labels along the last axis."""
    logits, labels = (read[0], read[1]) if kind == "forward" else (read[2], read[3])
    if not (_float_rows(logits) and _last_axis(op.params, logits.ndim) and isinstance(labels, backend.ndarray)
            and labels.dtype == backend.xp.int64 and labels.flags.c_contiguous
            and labels.shape == logits.shape[:-1]):
        return None
    if op.refs[1 if kind == "forward" else 3][0] not in (SLOT, CONSTANT):
        return None
    lib, shape, dtype = library(logits.dtype), logits.shape, logits.dtype
    m, rows, empty, pointer = shape[-1], _rows(shape), backend.xp.empty, c_backend.pointer
    if kind == "forward":
        function = lib.sce

        def forward(z, y):
            loss = empty(shape[:-1], dtype)
            function(rows, m, pointer(loss), pointer(z), pointer(y))
            return loss
        return forward
    g = read[0]
    if not (_float_rows(g) and g.dtype == dtype and g.shape == shape[:-1]):
        return None
    function = lib.sce_vjp

    def vjp(g, ans, z, y):
        out = empty(shape, dtype)
        function(rows, m, pointer(out), pointer(g), pointer(z), pointer(y))
        return out
    return vjp



def _cross_entropy_mean(op, read, kind):
    """``softmax_cross_entropy_mean``'s forward (inputs ``logits, labels``) or logits VJP (``g, ans,
    logits, labels``) for int64 labels along the last axis."""
    logits, labels = (read[0], read[1]) if kind == "forward" else (read[2], read[3])
    ignore = (op.params or {}).get("ignore_index", -100)
    if not (_float_rows(logits) and _last_axis(op.params, logits.ndim) and isinstance(labels, backend.ndarray)
            and labels.dtype == backend.xp.int64 and labels.flags.c_contiguous
            and labels.shape == logits.shape[:-1] and (ignore is None or type(ignore) is int)):
        return None
    if op.refs[1 if kind == "forward" else 3][0] not in (SLOT, CONSTANT):
        return None
    lib, shape, dtype = library(logits.dtype), logits.shape, logits.dtype
    m, rows, empty, pointer = shape[-1], _rows(shape), backend.xp.empty, c_backend.pointer
    ignoring, ignore = int(ignore is not None), ignore or 0
    if kind == "forward":
        function = lib.sce_mean

        def forward(z, y):
            loss = empty((), dtype)
            function(rows, m, pointer(loss), pointer(z), pointer(y), ignore, ignoring)
            return loss
        return forward
    g = read[0]
    if not (isinstance(g, float) or isinstance(g, backend.ndarray) and g.shape == () and g.dtype == dtype):
        return None
    function = lib.sce_mean_vjp

    def vjp(g, ans, z, y):
        out = empty(shape, dtype)
        function(rows, m, pointer(out), float(g), pointer(z), pointer(y), ignore, ignoring)
        return out
    return vjp
