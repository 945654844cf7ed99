"""Direct 2-D convolution, stride 1: C loops for few channels, built by :mod:`chainrule.compile.c_backend`.

LeNet-5's first layer (1 → 6 channels, 5x5, 28x28 at batch 128) is a product of ``(6, 25)`` by
``(25, 784)`` per example: im2col copies 25 times the input (10 MB) for 30 MFLOP, and 128 small BLAS
calls (which two OpenBLAS threads make slower). These loops read the input once per example.

Each example's image is copied into a zero-bordered buffer of rows ``Wb = OW + KW − 1`` wide, so that
with stride 1 every kernel offset ``(c, kh, kw)`` is one constant shift ``c·Hb·Wb + kh·Wb + kw`` of the
flat output position ``q = i·Wb + j``; the loops run over ``q`` in vectors (the ``KW − 1`` columns past
``OW`` of each row are computed and dropped), and over blocks of 6 output channels::

    conv:         yb[o, q]     = Σ_r w[o, r] · xb[q + at[r]]
    conv_weight:  gw[o, r]     = Σ_n Σ_q gb[n, o, q] · xb[n, q + at[r]]   (gb zero past OW)

for the flattened kernel offsets ``r = (c, kh, kw)``. The same sums as im2col's in another order:
float32 results differ by rounding (tested). The input gradient stays :mod:`.conv`'s (for stride 1, a
convolution of the gradient, which these loops serve when it has few channels).

Used for 2-D convolutions with stride 1, no dilation, one group and ``C·KH·KW·O`` at most
:data:`MAX_WORK` (:func:`applies`); the weight gradient only for finite inputs (the dropped columns
multiply the input by zeros). Without a C compiler (or with ``CHAINRULE_NO_CC`` set) :mod:`.conv` keeps
im2col.
"""

import functools

import numpy as np

from . import conv_threads
from .kernel_dtypes import NAMES

MAX_WORK = 9216
"""The most multiply-adds per output position and example (``C · KH · KW · O``) for which the direct loops
replace im2col (LeNet-5's layers: 150 and 2400; 32 → 32 channels 3x3: 9216). Measured at batch 128, one
thread (ms, forward / weight gradient / input gradient, direct against im2col): 1 → 16 channels 3x3 on
28x28 0.9/1.5/3.2 against 1.4/2.7/3.5; 16 → 16 on 14x14 2.3/4.3/2.9 against 6.7/5.5/5.0; 32 → 32 on
14x14 9.9/9.6/7.5 against 12.2/12.5/11.8; beyond, 16 → 32 channels 5x5 (12800) lost its weight gradient
(20.7 against 16.2). 3x3 convolutions with 64 channels and more take Winograd's products first."""

_SOURCE = r"""
#include <stdlib.h>
#include <string.h>
#define OB 6  /* output channels per block: 2 x 6 vector accumulators */
static long up(long n, long m) { return (n + m - 1) / m * m; }

#define KERNELS(T, NAME, VEC)                                                                         \
typedef T VEC __attribute__((vector_size(32), aligned(sizeof(T))));                                  \
enum { V_##NAME = 32 / sizeof(T) };                                                                   \
/* One example's channels (C, H, W) into xb (C, Hb, Wb): pt rows and pl columns of zeros before. */   \
static void pad_##NAME(long C, long H, long W, long Hb, long Wb, long pt, long pl, const T *x, T *xb, \
                       long size) {                                                                   \
    memset(xb, 0, sizeof(T) * size);                                                                  \
    for (long c = 0; c < C; c++)                                                                      \
        for (long h = 0; h < H; h++)                                                                  \
            memcpy(xb + (c * Hb + h + pt) * Wb + pl, x + (c * H + h) * W, sizeof(T) * W);             \
}                                                                                                     \
/* The arguments of both kernels: shares of the examples go to the two threads. */              \
struct args_##NAME { long N, C, H, W, O, KH, KW, OH, OW, pt, pl; const T *x, *w; T *y, *extra;        \
                     int failed[2]; };                                                                \
/* y (N, O, OH, OW) = conv(x (N, C, H, W), w (O, C, KH, KW)), stride 1, padding pt, pl before. */     \
static void conv2d_body_##NAME(void *ctx, long part, long parts) {                                    \
    struct args_##NAME *A = ctx;                                                                      \
    const long C = A->C, H = A->H, W = A->W, O = A->O, KH = A->KH, KW = A->KW, OH = A->OH, OW = A->OW;\
    const T *x = A->x, *w = A->w;                                                                     \
    T *y = A->y;                                                                                      \
    const long V = V_##NAME, R = C * KH * KW, OP = up(O, OB), Wb = OW + KW - 1, Hb = OH + KH - 1;     \
    const long QP = up(OH * Wb, 2 * V), size = C * Hb * Wb + QP + KH * Wb + 2 * V;                    \
    T *wt = calloc(R * OP + size + OP * QP + 2 * V, sizeof(T));                                       \
    long *at = malloc(sizeof(long) * R);                                                              \
    if (!wt || !at) { free(wt); free(at); A->failed[part] = 1; return; }                              \
    T *xb = wt + R * OP, *yb = xb + size;                                                             \
    for (long o = 0; o < O; o++)                                                                      \
        for (long r = 0; r < R; r++) wt[r * OP + o] = w[o * R + r];                                   \
    for (long r = 0; r < R; r++) at[r] = r / (KH * KW) * Hb * Wb + r / KW % KH * Wb + r % KW;        \
    for (long n = A->N * part / parts; n < A->N * (part + 1) / parts; n++) {                          \
        pad_##NAME(C, H, W, Hb, Wb, A->pt, A->pl, x + n * C * H * W, xb, size);                       \
        for (long ob = 0; ob < OP; ob += OB)                                                          \
        for (long qb = 0; qb < QP; qb += 2 * V) {                                                     \
            VEC a[2 * OB] = {0};                                                                      \
            const T *wr = wt + ob;                                                                    \
            for (long r = 0; r < R; r++, wr += OP) {                                                  \
                const T *b = xb + at[r] + qb;                                                         \
                VEC x0 = *(const VEC *)b, x1 = *(const VEC *)(b + V);                                 \
                __asm__("" : "+x"(x0), "+x"(x1));  /* held in registers for the six FMAs */           \
                for (long o = 0; o < OB; o++) { a[2 * o] += x0 * wr[o]; a[2 * o + 1] += x1 * wr[o]; } \
            }                                                                                         \
            for (long o = 0; o < OB; o++) {                                                           \
                *(VEC *)(yb + (ob + o) * QP + qb) = a[2 * o];                                         \
                *(VEC *)(yb + (ob + o) * QP + qb + V) = a[2 * o + 1];                                 \
            }                                                                                         \
        }                                                                                             \
        for (long o = 0; o < O; o++)                                                                  \
            for (long i = 0; i < OH; i++)                                                             \
                memcpy(y + ((n * O + o) * OH + i) * OW, yb + o * QP + i * Wb, sizeof(T) * OW);        \
    }                                                                                                 \
    free(wt); free(at);                                                                               \
}                                                                                                     \
int conv2d_##NAME(long N, long C, long H, long W, long O, long KH, long KW, long OH, long OW, long pt,\
                  long pl, const T *x, const T *w, T *y, const void *run) {                           \
    struct args_##NAME A = {N, C, H, W, O, KH, KW, OH, OW, pt, pl, x, w, y, NULL, {0, 0}};             \
    split(run, conv2d_body_##NAME, &A);                                                               \
    return A.failed[0] | A.failed[1];                                                                 \
}                                                                                                     \
/* gw (O, C, KH, KW) = conv_weight(x (N, C, H, W), g (N, O, OH, OW)), stride 1; the second share's   \
   sum goes to `extra`, added to gw after. */                                                         \
static void conv2d_weight_body_##NAME(void *ctx, long part, long parts) {                             \
    struct args_##NAME *A = ctx;                                                                      \
    const long C = A->C, H = A->H, W = A->W, O = A->O, KH = A->KH, KW = A->KW, OH = A->OH, OW = A->OW;\
    const T *x = A->x, *g = A->w;                                                                     \
    T *gw = part == 0 ? A->y : A->extra;                                                              \
    const long V = V_##NAME, R = C * KH * KW, RP = up(R, 2), OP = up(O, OB), Wb = OW + KW - 1;        \
    const long Hb = OH + KH - 1, QP = up(OH * Wb, V), size = C * Hb * Wb + QP + KH * Wb + 2 * V;      \
    T *acc = calloc(RP * OP * V + size + OP * QP + 2 * V, sizeof(T));                                 \
    long *at = malloc(sizeof(long) * RP);                                                             \
    if (!acc || !at) { free(acc); free(at); A->failed[part] = 1; return; }                            \
    T *xb = acc + RP * OP * V, *gb = xb + size;                                                       \
    for (long r = 0; r < RP; r++)                                                                     \
        at[r] = r < R ? r / (KH * KW) * Hb * Wb + r / KW % KH * Wb + r % KW : 0;                      \
    for (long n = A->N * part / parts; n < A->N * (part + 1) / parts; n++) {                          \
        pad_##NAME(C, H, W, Hb, Wb, A->pt, A->pl, x + n * C * H * W, xb, size);                       \
        memset(gb, 0, sizeof(T) * OP * QP);                                                           \
        for (long o = 0; o < O; o++)                                                                  \
            for (long i = 0; i < OH; i++)                                                             \
                memcpy(gb + o * QP + i * Wb, g + ((n * O + o) * OH + i) * OW, sizeof(T) * OW);        \
        for (long rb = 0; rb < RP; rb += 2)                                                           \
        for (long ob = 0; ob < OP; ob += OB) {                                                        \
            VEC a[2 * OB];                                                                            \
            VEC *sum = (VEC *)(acc + (rb * OP + ob) * V);  /* (r, o) accumulators, r-major */         \
            for (long o = 0; o < OB; o++) { a[2 * o] = sum[o]; a[2 * o + 1] = sum[OP + o]; }          \
            const T *b0 = xb + at[rb], *b1 = xb + at[rb + 1], *gq = gb + ob * QP;                     \
            for (long q = 0; q < QP; q += V) {                                                        \
                VEC x0 = *(const VEC *)(b0 + q), x1 = *(const VEC *)(b1 + q);                         \
                __asm__("" : "+x"(x0), "+x"(x1));                                                     \
                for (long o = 0; o < OB; o++) {                                                       \
                    VEC gv = *(const VEC *)(gq + o * QP + q);                                         \
                    a[2 * o] += x0 * gv; a[2 * o + 1] += x1 * gv;                                     \
                }                                                                                     \
            }                                                                                         \
            for (long o = 0; o < OB; o++) { sum[o] = a[2 * o]; sum[OP + o] = a[2 * o + 1]; }          \
        }                                                                                             \
    }                                                                                                 \
    for (long o = 0; o < O; o++)                                                                      \
        for (long r = 0; r < R; r++) {                                                                \
            const T *lanes = acc + (r * OP + o) * V;                                                  \
            T s = 0;                                                                                  \
            for (long l = 0; l < V; l++) s += lanes[l];                                               \
            gw[o * R + r] = s;                                                                        \
        }                                                                                             \
    free(acc); free(at);                                                                              \
}                                                                                                     \
int conv2d_weight_##NAME(long N, long C, long H, long W, long O, long KH, long KW, long OH, long OW,  \
                         long pt, long pl, const T *x, const T *g, T *gw, const void *run) {          \
    const long size = O * C * KH * KW;                                                                \
    T *extra = run ? calloc(size, sizeof(T)) : NULL;                                                  \
    if (run && !extra) return 1;                                                                      \
    struct args_##NAME A = {N, C, H, W, O, KH, KW, OH, OW, pt, pl, x, g, gw, extra, {0, 0}};           \
    split(run, conv2d_weight_body_##NAME, &A);                                                        \
    if (run && !(A.failed[0] | A.failed[1]))                                                          \
        for (long i = 0; i < size; i++) gw[i] += extra[i];                                            \
    free(extra);                                                                                      \
    return A.failed[0] | A.failed[1];                                                                 \
}

KERNELS(float, float32, vf32)
KERNELS(double, float64, vf64)
"""

DTYPES = tuple(NAMES.values())


@functools.cache
def _library():
    """The built library, or ``None`` when no kernel can be built here."""
    from chainrule.compile import c_backend
    return c_backend.build_or_none(conv_threads.PROLOGUE + _SOURCE,
                                   {f"{name}_{dtype}": (11, 4) for dtype in DTYPES
                                    for name in ("conv2d", "conv2d_weight")})


def applies(a, b, channels, out_channels, kernel, stride, dilation, groups):
    """Whether the direct loops compute this convolution of ``a`` with ``b`` (NumPy arrays of one float
    dtype): two spatial axes, stride and dilation 1, one group, ``channels · prod(kernel) ·
    out_channels`` at most :data:`MAX_WORK`, and a C compiler."""
    if len(kernel) != 2 or groups != 1 or any(s != 1 for s in stride) or any(d != 1 for d in dilation):
        return False
    if channels * kernel[0] * kernel[1] * out_channels > MAX_WORK:
        return False
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.dtype != b.dtype:
        return False
    return a.dtype in NAMES and _library() is not None


SPLIT_MACS = 1 << 22
"""The fewest multiply-adds (``N · O · OH · Wb · C · KH · KW``, about 0.1 ms on one core) for which the
second thread (:mod:`.conv_threads`, a persistent C worker) takes half of the examples. With a Python
thread pool's hand-off (0.1-0.2 ms) the least was 32 M, and LeNet-5's layers gained little or lost (at
batch 128, second layer forward 1.21 -> 1.36 ms, weight gradient 2.54 -> 2.03)."""


def _call(name, x, second, out_channels, kernel, out, padding, into):
    """The C function ``name`` over the examples of ``x`` ``(N, C, H, W)``, split between two threads
    when allowed (:func:`.conv_threads.runner`)."""
    function = getattr(_library(), f"{name}_{NAMES[x.dtype]}")
    n, channels, h, w = x.shape
    x, second = np.ascontiguousarray(x), np.ascontiguousarray(second)
    macs = n * out_channels * out[0] * (out[1] + kernel[1] - 1) * channels * kernel[0] * kernel[1]
    run = conv_threads.runner(macs, SPLIT_MACS) if n >= 2 else None
    if function(n, channels, h, w, out_channels, *kernel, *out, padding[0][0], padding[1][0],
                x.ctypes.data, second.ctypes.data, into.ctypes.data, run):
        raise MemoryError(f"{name}: no memory for the direct loops' buffers")
    return into


def conv(x, weight, out, padding):
    """``conv(x, weight)``, ``(N, C, H, W)`` and ``(O, C, KH, KW)`` to ``(N, O, *out)``, stride 1."""
    y = np.empty((x.shape[0], weight.shape[0]) + tuple(out), dtype=x.dtype)
    return _call("conv2d", x, weight, weight.shape[0], weight.shape[2:], out, padding, y)


def conv_weight(x, y, kernel, padding):
    """The weight gradient: ``x`` ``(N, C, H, W)`` and ``y`` ``(N, O, OH, OW)`` to ``(O, C, *kernel)``;
    ``None`` when ``x`` holds an infinity or NaN (then :mod:`.conv` computes it)."""
    if not np.isfinite(x).all():
        return None
    gw = np.empty((y.shape[1], x.shape[1]) + tuple(kernel), dtype=x.dtype)
    return _call("conv2d_weight", x, y, y.shape[1], kernel, y.shape[2:], padding, gw)
