"""Max-pooling as C loops, built by :mod:`chainrule.compile.c_backend`: the forward and both rules.

In NumPy the derivative of a max-pool takes three passes of the size of the input: a stack of one
comparison per kernel offset, the tie count and the division (the shares), then their product with the
gradient, scattered one kernel offset at a time. These loops do each rule in one pass over the output's
rows, reading ``x``, the pooled ``y`` and the incoming gradient, writing the result. With
``t = #{κ : x[window + κ] = y}`` (padding, read as ``-inf``, counts where ``y = -inf``), every element of
the window receives ``g · [x = y] / t``: ``g / t`` where it is the maximum, else ``g · 0`` (so a NaN or
infinite ``g`` gives NaN, as NumPy's product does), and ``g · NaN`` everywhere when ``t = 0`` (the
window's maximum is NaN, as NumPy's ``0 / 0``)::

    max_pool:          y[o]        = max_κ x[o·s + κ·d − p]                  (NaN propagates)
    max_pool_scatter:  gx[o·s + κ·d − p] += g[o] · [x = y[o]] / t[o]          (the VJP)
    max_pool_gather:   ty[o]       = Σ_κ tx[o·s + κ·d − p] · [x = y[o]] / t[o] (the JVP, its adjoint)

Up to three spatial axes (1-D and 2-D as 3-D with leading axes of size 1), any stride, padding,
dilation and ``ceil_mode`` (positions outside the input are skipped); float32 and float64. One library
is built per window shape, stride and dilation (compile-time constants: the loop over a window unrolls
and the loop over a row's outputs vectorises; built once, then loaded from the kernel cache); windows of
more than :data:`MAX_WINDOW` elements stay NumPy's. Without a C compiler (or with ``CHAINRULE_NO_CC``
set) :func:`available` is false and :mod:`.pooling` computes with NumPy; both give the same numbers
(tested). On 32 x 64 x 32 x 32 float32 maps, 2x2 windows (AMD EPYC, one thread): forward 1.0 ms
against NumPy's 2.5, VJP 1.5 ms against 8.1 (shares 4.9, scatter 3.2).

Short rows: a row's outputs are computed in blocks of 8 (or 4), the last block moved back to end at
the row's end and overlapping the one before (its outputs written twice, with the same values; not for
the VJP's sums into overlapping windows), so that no scalar remainder loop runs. 2x2 windows, float32,
one thread, forward / VJP in ms, before -> after (AMD EPYC, min of 40): 128 x 6 x 28 x 28 (LeNet-5's
first pool, rows of 14) 0.66 / 0.85 -> 0.16 / 0.28; 128 x 16 x 10 x 10 0.37 / 0.45 -> 0.13 / 0.19;
128 x 32 x 14 x 14 (the Fashion-MNIST CNN's, rows of 7) 2.00 / 2.19 -> 0.31 / 0.49; 32 x 64 x 32 x 32
0.80 / 1.27 -> 0.46 / 0.90.
"""

import functools
import math

import numpy as np

from . import conv_threads
from .kernel_dtypes import NAMES

_SOURCE = r"""
#include <math.h>
#include <stdlib.h>
#include <string.h>
/* Prepended: K0 K1 K2 (the window), S0 S1 S2 (stride), D0 D1 D2 (dilation), compile-time constants, so
   that the loops over a window unroll and the loop over a row's outputs vectorises. */
#define KK (K0 * K1 * K2)
#define ROW_DISJOINT (S2 >= D2 * (K2 - 1) + 1)  /* the windows of one output row share no input */

/* The position of window element q of output (i, j, l) in its plane, -1 outside the input. */
static inline long at(long q, long i, long j, long l, long D, long H, long W, long p0, long p1, long p2) {
    long a = i * S0 + q / (K1 * K2) * D0 - p0, b = j * S1 + q / K2 % K1 * D1 - p1;
    long c = l * S2 + q % K2 * D2 - p2;
    return a >= 0 && a < D && b >= 0 && b < H && c >= 0 && c < W ? (a * H + b) * W + c : -1;
}

/* [lo, hi): the outputs along one axis whose windows lie inside the input. */
static void inside(long size, long out, long k, long s, long d, long pad, long *lo, long *hi) {
    long last = size - 1 - d * (k - 1) + pad;  /* the last window's start, shifted by the padding */
    long a = (pad + s - 1) / s, b = last < 0 ? 0 : last / s + 1;
    *lo = a < out ? a : out;
    *hi = b < *lo ? *lo : b > out ? out : b;
}

/* For every output row (p, i, j) of the planes: BODY(POS) over the row's outputs l, POS(q) the position
   of window element q (-1 outside the input); the outputs whose windows lie inside use the positions
   `base + l·S2 + delta[q]` (no checks) in a loop that vectorises when VECTOR, in blocks of 8 or 4
   when REPEATABLE (BODY writes the same values when run twice: not a sum into gx). */
#define ROWS(VECTOR, REPEATABLE, BODY)                                                                           \
    long la, lb, ia, ib, ja, jb, delta[KK];                                                           \
    inside(D, O0, K0, S0, D0, p0, &ia, &ib);                                                          \
    inside(H, O1, K1, S1, D1, p1, &ja, &jb);                                                          \
    inside(W, O2, K2, S2, D2, p2, &la, &lb);                                                          \
    for (long q = 0; q < KK; q++) delta[q] = (q / (K1 * K2) * D0 * H + q / K2 % K1 * D1) * W + q % K2 * D2; \
    for (long p = 0; p < P; p++)                                                                      \
    for (long i = 0; i < O0; i++)                                                                     \
    for (long j = 0; j < O1; j++) {                                                                   \
        long plane = p * D * H * W, o = ((p * O0 + i) * O1 + j) * O2;                                 \
        long base = ((i * S0 - p0) * H + j * S1 - p1) * W - p2;                                       \
        int row_inside = i >= ia && i < ib && j >= ja && j < jb;                                      \
        long a = row_inside ? la : O2, b = row_inside ? lb : O2;                                      \
        for (long l = 0; l < a; l++) { BODY(CHECKED, OUTSIDE_OK) }                                           \
        if (VECTOR && REPEATABLE && b - a >= 4) {                                                     \
            /* Short rows (7-14 outputs): blocks of 8 (or 4) outputs, the last one moved back to end  \
               at b, overlapping its neighbour (its outputs are written twice, with the same values), \
               so that no scalar remainder loop runs. */                                              \
            long width = b - a >= 8 ? 8 : 4;                                                          \
            for (long l0 = a; l0 < b; l0 += width) {                                                  \
                long s = l0 + width <= b ? l0 : b - width;                                            \
                if (width == 8) {                                                                     \
                    _Pragma("omp simd") for (long l = s; l < s + 8; l++) { BODY(INSIDE, INSIDE_OK) }  \
                } else {                                                                              \
                    _Pragma("omp simd") for (long l = s; l < s + 4; l++) { BODY(INSIDE, INSIDE_OK) }  \
                }                                                                                     \
            }                                                                                         \
        } else if (VECTOR) {                                                                          \
            _Pragma("omp simd") for (long l = a; l < b; l++) { BODY(INSIDE, INSIDE_OK) }                     \
        } else {                                                                                      \
            for (long l = a; l < b; l++) { BODY(INSIDE, INSIDE_OK) }                                         \
        }                                                                                             \
        for (long l = b > a ? b : a; l < O2; l++) { BODY(CHECKED, OUTSIDE_OK) }                              \
    }
#define CHECKED(q) at(q, i, j, l, D, H, W, p0, p1, p2)
#define INSIDE(q) (base + l * S2 + delta[q])
#define OUTSIDE_OK(e) ((e) >= 0)
#define INSIDE_OK(e) 1
#define UNROLL _Pragma("GCC unroll 64")

/* The window's values (-inf outside the input), their maximum y and its ties' shares: every element
   of the window gets g·hit where it equals y, else g·miss; hit = 1/t, miss = 0 (NaN both when t = 0,
   a NaN maximum), t the number of ties (outside positions tie a -inf maximum). */
#define SHARES(T, POS, OK, image, y, g)                                                                 \
    T v[KK]; long e[KK];                                                                              \
    UNROLL for (long q = 0; q < KK; q++) { e[q] = POS(q); v[q] = OK(e[q]) ? image[e[q]] : -INFINITY; } \
    T t = 0;                                                                                          \
    UNROLL for (long q = 0; q < KK; q++) t += v[q] == (y);                                            \
    T hit = (g) * (t > 0 ? 1 / t : NAN), miss = t > 0 && fabs(g) < INFINITY ? 0 : NAN; /* g · 0 */

#define KERNELS(T, NAME)                                                                              \
static void max_pool_range_##NAME(long P, long D, long H, long W, long O0, long O1, long O2, long p0, \
                                  long p1, long p2, const T *restrict x, T *restrict y) {             \
    ROWS(1, 1, FORWARD_##NAME)                                                                        \
}                                                                                                     \
/* gx = the VJP at (x, y) applied to g; `assign` when each input position lies in one window (written, \
   gx not zeroed first). */                                                                           \
static void max_pool_scatter_range_##NAME(long P, long D, long H, long W, long O0, long O1, long O2,  \
                                          long p0, long p1, long p2, long assign, const T *restrict g, \
                                          const T *restrict x, const T *restrict y, T *restrict gx) { \
    if (assign) {                                                                                     \
        ROWS(ROW_DISJOINT, 1, SCATTER_ASSIGN_##NAME)                                                  \
    } else {                                                                                          \
        memset(gx, 0, sizeof(T) * P * D * H * W);                                                     \
        ROWS(ROW_DISJOINT, 0, SCATTER_ADD_##NAME)                                                     \
    }                                                                                                 \
}                                                                                                     \
/* ty = the JVP at (x, y) applied to tx. */                                                           \
static void max_pool_gather_range_##NAME(long P, long D, long H, long W, long O0, long O1, long O2,   \
                                         long p0, long p1, long p2, const T *restrict tx,              \
                                         const T *restrict x, const T *restrict y, T *restrict ty) {  \
    ROWS(1, 1, GATHER_##NAME)                                                                         \
}                                                                                                     \
/* The entry points: the planes [P·part/parts, P·(part+1)/parts) of each share (see split). */        \
static void max_pool_body_##NAME(void *ctx, long part, long parts) {                                  \
    SHARE(ctx, part, parts)                                                                           \
    max_pool_range_##NAME(END - START, GEOMETRY, (const T *)A->in[0] + START * IN,                    \
                          (T *)A->out + START * OUT);                                                 \
}                                                                                                     \
static void max_pool_scatter_body_##NAME(void *ctx, long part, long parts) {                          \
    SHARE(ctx, part, parts)                                                                           \
    max_pool_scatter_range_##NAME(END - START, GEOMETRY, A->assign, (const T *)A->in[0] + START * OUT,\
                                  (const T *)A->in[1] + START * IN, (const T *)A->in[2] + START * OUT,\
                                  (T *)A->out + START * IN);                                          \
}                                                                                                     \
static void max_pool_gather_body_##NAME(void *ctx, long part, long parts) {                           \
    SHARE(ctx, part, parts)                                                                           \
    max_pool_gather_range_##NAME(END - START, GEOMETRY, (const T *)A->in[0] + START * IN,             \
                                 (const T *)A->in[1] + START * IN, (const T *)A->in[2] + START * OUT, \
                                 (T *)A->out + START * OUT);                                          \
}                                                                                                     \
void max_pool_##NAME(long P, long D, long H, long W, long O0, long O1, long O2, long p0, long p1,    \
                     long p2, const T *x, T *y, const void *run) {                                    \
    struct args A = {P, D, H, W, O0, O1, O2, p0, p1, p2, 0, {x, NULL, NULL}, y};                      \
    split(run, max_pool_body_##NAME, &A);                                                             \
}                                                                                                     \
void max_pool_scatter_##NAME(long P, long D, long H, long W, long O0, long O1, long O2, long p0,     \
                             long p1, long p2, long assign, const T *g, const T *x, const T *y,       \
                             T *gx, const void *run) {                                                \
    struct args A = {P, D, H, W, O0, O1, O2, p0, p1, p2, assign, {g, x, y}, gx};                      \
    split(run, max_pool_scatter_body_##NAME, &A);                                                     \
}                                                                                                     \
void max_pool_gather_##NAME(long P, long D, long H, long W, long O0, long O1, long O2, long p0,      \
                            long p1, long p2, const T *tx, const T *x, const T *y, T *ty,             \
                            const void *run) {                                                        \
    struct args A = {P, D, H, W, O0, O1, O2, p0, p1, p2, 0, {tx, x, y}, ty};                          \
    split(run, max_pool_gather_body_##NAME, &A);                                                      \
}

struct args { long P, D, H, W, O0, O1, O2, p0, p1, p2, assign; const void *in[3]; void *out; };
#define SHARE(ctx, part, parts)                                                                       \
    const struct args *A = ctx;                                                                       \
    const long START = A->P * part / parts, END = A->P * (part + 1) / parts;                          \
    const long IN = A->D * A->H * A->W, OUT = A->O0 * A->O1 * A->O2;
#define GEOMETRY A->D, A->H, A->W, A->O0, A->O1, A->O2, A->p0, A->p1, A->p2

#define FORWARD_BODY(T, POS, OK)                                                                        \
    T m = -INFINITY;                                                                                  \
    UNROLL for (long q = 0; q < KK; q++) {                                                            \
        long e = POS(q);                                                                              \
        T v = OK(e) ? x[plane + e] : -INFINITY;                                                      \
        m = v > m || v != v ? v : m;  /* NaN propagates, as np.maximum */                             \
    }                                                                                                 \
    y[o + l] = m;
#define SCATTER_BODY(T, POS, OK, OP)                                                                    \
    SHARES(T, POS, OK, (x + plane), y[o + l], g[o + l])                                                 \
    UNROLL for (long q = 0; q < KK; q++)                                                              \
        if (OK(e[q])) gx[plane + e[q]] OP v[q] == y[o + l] ? hit : miss;
#define GATHER_BODY(T, POS, OK)                                                                         \
    SHARES(T, POS, OK, (x + plane), y[o + l], 1)                                                        \
    T sum = 0;                                                                                        \
    UNROLL for (long q = 0; q < KK; q++)                                                              \
        if (OK(e[q])) sum += tx[plane + e[q]] * (v[q] == y[o + l] ? hit : miss);                     \
    ty[o + l] = sum;

#define FORWARD_float32(POS, OK) FORWARD_BODY(float, POS, OK)
#define FORWARD_float64(POS, OK) FORWARD_BODY(double, POS, OK)
#define SCATTER_ASSIGN_float32(POS, OK) SCATTER_BODY(float, POS, OK, =)
#define SCATTER_ASSIGN_float64(POS, OK) SCATTER_BODY(double, POS, OK, =)
#define SCATTER_ADD_float32(POS, OK) SCATTER_BODY(float, POS, OK, +=)
#define SCATTER_ADD_float64(POS, OK) SCATTER_BODY(double, POS, OK, +=)
#define GATHER_float32(POS, OK) GATHER_BODY(float, POS, OK)
#define GATHER_float64(POS, OK) GATHER_BODY(double, POS, OK)

KERNELS(float, float32)
KERNELS(double, float64)
"""

MAX_WINDOW = 64
"""The largest window (``prod(kernel_size)``) the C loops serve: each window is unrolled in the loops."""

DTYPES = tuple(NAMES.values())
SPLIT_ELEMENTS = 1 << 16
"""The fewest input elements for which the second thread (:mod:`.conv_threads`, when two threads are
allowed) takes half of the planes (about 0.1 ms of work on one core)."""


@functools.cache
def _library(kernel_size, stride, dilation):
    """The library built for one window geometry (three axes each), or ``None`` when no kernel can be
    built here."""
    from chainrule.compile import c_backend
    constants = "".join(f"#define {name}{axis} {value}\n" for name, values in
                        (("K", kernel_size), ("S", stride), ("D", dilation))
                        for axis, value in enumerate(values))
    return c_backend.build_or_none(constants + conv_threads.PROLOGUE + _SOURCE, {
        f"{name}_{dtype}": arguments for dtype in DTYPES
        for name, arguments in (("max_pool", (10, 3)), ("max_pool_scatter", (11, 5)),
                                ("max_pool_gather", (10, 5)))})


def available(*arrays, kernel_size, stride, padding, dilation):
    """Whether the C loops serve these arrays and windows: NumPy arrays of one dtype, float32 or
    float64, with one to three spatial axes, windows of at most :data:`MAX_WINDOW` elements, and a C
    compiler."""
    if not all(type(a) is np.ndarray for a in arrays) or not 3 <= arrays[0].ndim <= 5:
        return False
    if len({a.dtype for a in arrays}) != 1 or arrays[0].dtype not in NAMES:
        return False
    if math.prod(kernel_size) > MAX_WINDOW:
        return False
    return _library(_as_3d(kernel_size, 1), _as_3d(stride, 1), _as_3d(dilation, 1)) is not None


def _as_3d(values, fill):
    return (fill,) * (3 - len(values)) + tuple(values)


def _run(name, x, out, kernel_size, stride, padding, dilation, arrays, extra=()):
    """The C function ``name`` over the planes (``N·C``) of ``x`` pooled to spatial shape ``out``, split
    between two threads when allowed (:func:`.conv_threads.runner`); ``arrays`` are C-contiguous, the
    inputs first, the result last."""
    library = _library(_as_3d(kernel_size, 1), _as_3d(stride, 1), _as_3d(dilation, 1))
    function = getattr(library, f"{name}_{NAMES[x.dtype]}")
    geometry = (*_as_3d(x.shape[2:], 1), *_as_3d(out, 1), *_as_3d([before for before, _ in padding], 0))
    planes = math.prod(x.shape[:2])
    run = conv_threads.runner(x.size, SPLIT_ELEMENTS) if planes >= 2 else None
    function(planes, *geometry, *extra, *(a.ctypes.data for a in arrays), run)


def max_pool(x, out, kernel_size, stride, padding, dilation):
    """The maximum of each window: ``x`` ``(N, C, *size)`` to ``(N, C, *out)``."""
    x = np.ascontiguousarray(x)
    y = np.empty(x.shape[:2] + tuple(out), dtype=x.dtype)
    _run("max_pool", x, out, kernel_size, stride, padding, dilation, [x, y])
    return y


def max_pool_scatter(g, x, y, kernel_size, stride, padding, dilation, tiled):
    """The VJP of :func:`max_pool` at ``x`` (pooled to ``y``) applied to ``g`` (``y``'s shape): the
    gradient of ``x``'s shape. ``tiled``: every input position lies in exactly one window."""
    g, x, y = (np.ascontiguousarray(a) for a in (g, x, y))
    gx = np.empty(x.shape, dtype=x.dtype)
    _run("max_pool_scatter", x, y.shape[2:], kernel_size, stride, padding, dilation, [g, x, y, gx],
         (int(tiled),))
    return gx


def max_pool_gather(t, x, y, kernel_size, stride, padding, dilation):
    """The JVP of :func:`max_pool` at ``x`` (pooled to ``y``) applied to the tangent ``t`` (``x``'s
    shape): a tangent of ``y``'s shape."""
    t, x, y = (np.ascontiguousarray(a) for a in (t, x, y))
    ty = np.empty(y.shape, dtype=x.dtype)
    _run("max_pool_gather", x, y.shape[2:], kernel_size, stride, padding, dilation, [t, x, y, ty])
    return ty
