"""Direct 1-D convolution: C loops for few channels, built by :mod:`chainrule.compile.c_backend`.

With few channels a convolution's products are tiny (MNIST-1D's CNN: ``(25, 75) @ (75, 10)`` per
example) and im2col's path is call overhead: padding, the window copy, one BLAS call per example. These
loops do the whole batch in one call, without im2col. With ``wᵀ`` the weight laid out ``(C, K, O)``,
every step is a multiply-add over the ``O`` output channels (vectorised)::

    conv:            y[n, :, p]  += x[n, c, i] · wᵀ[c, κ, :]
    conv_transpose:  gx[n, c, i] += ⟨wᵀ[c, κ, :], g[n, :, p]⟩
    conv_weight:     gwᵀ[c, κ, :] += x[n, c, i] · g[n, :, p]

for every example ``n``, output position ``p``, channel ``c`` and kernel offset ``κ`` whose input
position ``i = p·stride + κ·dilation − padding`` lies inside the input (positions in the padding read
zeros and receive nothing). They are the same sums as im2col's, in another order: float32 results
differ from its by rounding (tested), and :mod:`.conv`'s rules (each primitive the others' VJPs) are
unchanged.

Used for one spatial axis, one group and few channels (:func:`applies`); without a C compiler (or with
``CHAINRULE_NO_CC`` set) :mod:`.conv` keeps im2col.
"""

import functools

import numpy as np

from .kernel_dtypes import NAMES

MAX_WORK = 2048
"""The most multiply-adds per output position and example (``C · K · O``) for which the direct loops
replace im2col: there BLAS's speed on im2col's larger products wins over the saved copies (measured
in docs/vision.md)."""

_SOURCE = r"""
#include <stdlib.h>
#include <string.h>
/* Register blocks: 4 positions (or rows) by 2 vectors of output channels (or rows), 8 accumulators;
   every inner step is 2 vector loads, 4 broadcasts and 8 fused multiply-adds. Buffers are padded
   with zeros to whole blocks, so the blocks need no bounds checks inside. */
static long up(long n, long m) { return (n + m - 1) / m * m; }

#define BLOCK(VEC, A, B0, B1, B2, B3, W0, W1)                                                         \
    __asm__("" : "+x"(W0), "+x"(W1)); /* W0, W1 held in registers, not loaded again by each FMA */    \
    A[0] += (B0) * (W0); A[1] += (B0) * (W1); A[2] += (B1) * (W0); A[3] += (B1) * (W1);               \
    A[4] += (B2) * (W0); A[5] += (B2) * (W1); A[6] += (B3) * (W0); A[7] += (B3) * (W1);

#define KERNELS(T, NAME, VEC)                                                                         \
typedef T VEC __attribute__((vector_size(32), aligned(sizeof(T))));                                  \
enum { V_##NAME = 32 / sizeof(T) };                                                                   \
/* x[n] into xp (C, Lp): `pad` zeros before, zeros after. */                                          \
static void pad_##NAME(long C, long L, long Lp, long pad, const T *x, T *xp) {                       \
    memset(xp, 0, sizeof(T) * C * Lp);                                                                \
    for (long c = 0; c < C; c++) memcpy(xp + c * Lp + pad, x + c * L, sizeof(T) * L);                \
}                                                                                                     \
/* y (N, O, P) = conv(x (N, C, L), w (O, C, K)): per example, the (O, P) block Σ_{c,κ} wᵀ · windows. */\
int conv_##NAME(long N, long C, long L, long O, long K, long P, long s, long pad, long d,            \
                const T *x, const T *w, T *y) {                                                       \
    const long V = V_##NAME, R = C * K, OP = up(O, 2 * V), PP = up(P, 4);                             \
    long Lp = (PP - 1) * s + (K - 1) * d + 1;                                                         \
    if (Lp < pad + L) Lp = pad + L;                                                                   \
    T *wt = calloc(R * OP + C * Lp + 8 * V, sizeof(T));                                               \
    long *at = malloc(sizeof(long) * R);                                                              \
    if (!wt || !at) { free(wt); free(at); return 1; }                                                 \
    T *xp = wt + R * OP, *tmp = xp + C * Lp;                                                          \
    for (long o = 0; o < O; o++)                                                                      \
        for (long r = 0; r < R; r++) wt[r * OP + o] = w[o * R + r];                                   \
    for (long r = 0; r < R; r++) at[r] = (r / K) * Lp + (r % K) * d;  /* row r = (c, k) of xp */       \
    for (long n = 0; n < N; n++) {                                                                    \
        pad_##NAME(C, L, Lp, pad, x + n * C * L, xp);                                                 \
        for (long ob = 0; ob < OP; ob += 2 * V)                                                       \
        for (long pb = 0; pb < PP; pb += 4) {                                                         \
            VEC a[8] = {0};                                                                           \
            const T *xb = xp + pb * s, *wr = wt + ob;                                                 \
            for (long r = 0; r < R; r++, wr += OP) {                                                  \
                const T *b = xb + at[r];                                                              \
                VEC w0 = *(const VEC *)wr, w1 = *(const VEC *)(wr + V);                               \
                BLOCK(VEC, a, b[0], b[s], b[2 * s], b[3 * s], w0, w1)                                 \
            }                                                                                         \
            memcpy(tmp, a, sizeof a);                                                                 \
            for (long j = 0; j < 4 && pb + j < P; j++)                                                \
                for (long i = 0; i < 2 * V && ob + i < O; i++)                                        \
                    y[(n * O + ob + i) * P + pb + j] = tmp[(2 * j + i / V) * V + i % V];             \
        }                                                                                             \
    }                                                                                                 \
    free(wt); free(at);                                                                               \
    return 0;                                                                                         \
}                                                                                                     \
/* gx (N, C, L) = conv_transpose(g (N, O, P), w (O, C, K)): per example the columns (P, C·K) =        \
   gᵀ · w, each added to the input position it was read from. */                                      \
int conv_transpose_##NAME(long N, long C, long L, long O, long K, long P, long s, long pad, long d,  \
                          const T *g, const T *w, T *gx) {                                            \
    const long V = V_##NAME, R = C * K, RP = up(R, 2 * V), PP = up(P, 4);                             \
    T *wr = calloc(O * RP + O * PP + 8 * V, sizeof(T));                                               \
    long *at = malloc(sizeof(long) * 2 * R);                                                          \
    if (!wr || !at) { free(wr); free(at); return 1; }                                                 \
    T *gp = wr + O * RP, *tmp = gp + O * PP;                                                          \
    for (long o = 0; o < O; o++) memcpy(wr + o * RP, w + o * R, sizeof(T) * R);                       \
    for (long r = 0; r < R; r++) { at[2 * r] = (r / K) * L; at[2 * r + 1] = (r % K) * d - pad; }     \
    memset(gx, 0, sizeof(T) * N * C * L);                                                             \
    for (long n = 0; n < N; n++) {                                                                    \
        T *image = gx + n * C * L;                                                                    \
        for (long o = 0; o < O; o++) memcpy(gp + o * PP, g + (n * O + o) * P, sizeof(T) * P);         \
        for (long pb = 0; pb < PP; pb += 4)                                                           \
        for (long rb = 0; rb < RP; rb += 2 * V) {                                                     \
            VEC a[8] = {0};                                                                           \
            for (long o = 0; o < O; o++) {                                                            \
                const T *b = gp + o * PP + pb, *wo = wr + o * RP + rb;                                \
                VEC w0 = *(const VEC *)wo, w1 = *(const VEC *)(wo + V);                               \
                BLOCK(VEC, a, b[0], b[1], b[2], b[3], w0, w1)                                         \
            }                                                                                         \
            memcpy(tmp, a, sizeof a);                                                                 \
            for (long j = 0; j < 4 && pb + j < P; j++)                                                \
                for (long i = 0; i < 2 * V && rb + i < R; i++) {                                      \
                    long r = rb + i, at_i = (pb + j) * s + at[2 * r + 1];                             \
                    if (at_i >= 0 && at_i < L)                                                        \
                        image[at[2 * r] + at_i] += tmp[(2 * j + i / V) * V + i % V];                  \
                }                                                                                     \
        }                                                                                             \
    }                                                                                                 \
    free(wr); free(at);                                                                               \
    return 0;                                                                                         \
}                                                                                                     \
/* gw (O, C, K) = conv_weight(x (N, C, L), g (N, O, P)) = Σ_n,p g[n, :, p] ⊗ windows: (C·K, O) blocks \
   summed over the positions of up to `chunk` examples at a time (the columns' buffer bounded). */    \
int conv_weight_##NAME(long N, long C, long L, long O, long K, long P, long s, long pad, long d,     \
                       const T *x, const T *g, T *gw) {                                               \
    const long V = V_##NAME, R = C * K, OP = up(O, 2 * V), RP = up(R, 4);                             \
    long chunk = (1L << 17) / (RP * P + 1) + 1;                                                       \
    if (chunk > N) chunk = N;                                                                         \
    long Q = chunk * P;                                                                               \
    T *acc = calloc(RP * OP + RP * Q + Q * OP, sizeof(T));                                            \
    if (!acc) return 1;                                                                               \
    T *cols = acc + RP * OP, *gt = cols + RP * Q;                                                     \
    for (long n0 = 0; n0 < N; n0 += chunk) {                                                          \
        long m = N - n0 < chunk ? N - n0 : chunk, q1 = m * P;                                         \
        for (long r = 0; r < R; r++) {                                                                \
            long c = r / K, off = (r % K) * d - pad;                                                  \
            for (long e = 0; e < m; e++) {                                                            \
                const T *xr = x + ((n0 + e) * C + c) * L;                                             \
                T *dst = cols + r * Q + e * P;                                                        \
                for (long p = 0; p < P; p++) {                                                        \
                    long i = p * s + off;                                                             \
                    dst[p] = i >= 0 && i < L ? xr[i] : 0;                                             \
                }                                                                                     \
            }                                                                                         \
        }                                                                                             \
        for (long e = 0; e < m; e++)                                                                  \
            for (long o = 0; o < O; o++)                                                              \
                for (long p = 0; p < P; p++) gt[(e * P + p) * OP + o] = g[((n0 + e) * O + o) * P + p];\
        for (long rb = 0; rb < RP; rb += 4)                                                           \
        for (long ob = 0; ob < OP; ob += 2 * V) {                                                     \
            VEC a[8];                                                                                 \
            for (long j = 0; j < 4; j++) {                                                            \
                a[2 * j] = *(VEC *)(acc + (rb + j) * OP + ob);                                        \
                a[2 * j + 1] = *(VEC *)(acc + (rb + j) * OP + ob + V);                                \
            }                                                                                         \
            const T *c0 = cols + rb * Q, *c1 = c0 + Q, *c2 = c1 + Q, *c3 = c2 + Q;                    \
            for (long q = 0; q < q1; q++) {                                                           \
                const T *gq = gt + q * OP + ob;                                                       \
                VEC g0 = *(const VEC *)gq, g1 = *(const VEC *)(gq + V);                               \
                BLOCK(VEC, a, c0[q], c1[q], c2[q], c3[q], g0, g1)                                     \
            }                                                                                         \
            for (long j = 0; j < 4; j++) {                                                            \
                *(VEC *)(acc + (rb + j) * OP + ob) = a[2 * j];                                        \
                *(VEC *)(acc + (rb + j) * OP + ob + V) = a[2 * j + 1];                                \
            }                                                                                         \
        }                                                                                             \
    }                                                                                                 \
    for (long o = 0; o < O; o++)                                                                      \
        for (long r = 0; r < R; r++) gw[o * R + r] = acc[r * OP + o];                                 \
    free(acc);                                                                                        \
    return 0;                                                                                         \
}

KERNELS(float, float32, vf32)
KERNELS(double, float64, vf64)
"""

DTYPES = tuple(NAMES.values())


@functools.cache
def _library():
    """The built library, or ``None`` when no kernel can be built here."""
    from chainrule.compile import c_backend
    return c_backend.build_or_none(_SOURCE, {f"{name}_{dtype}": (9, 3) for dtype in DTYPES
                                             for name in ("conv", "conv_transpose", "conv_weight")})


def applies(a, b, channels, out_channels, kernel, groups):
    """Whether the direct loops compute this convolution of ``a`` with ``b`` (NumPy arrays of one
    float dtype): one spatial axis, one group, ``channels · kernel · out_channels`` at most
    :data:`MAX_WORK`, and a C compiler."""
    if len(kernel) != 1 or groups != 1 or channels * kernel[0] * out_channels > MAX_WORK:
        return False
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.dtype != b.dtype:
        return False
    return a.dtype in NAMES and _library() is not None


def _run(name, x_shape, weight_shape, out_size, stride, padding, dilation, first, second, into):
    (n, channels, length), (out_channels, _, kernel) = x_shape, weight_shape
    function = getattr(_library(), f"{name}_{NAMES[into.dtype]}")
    first, second = np.ascontiguousarray(first), np.ascontiguousarray(second)
    if function(n, channels, length, out_channels, kernel, out_size, stride[0], padding[0][0], dilation[0],
                first.ctypes.data, second.ctypes.data, into.ctypes.data):
        raise MemoryError(f"{name}: no memory for the direct loops' buffers")
    return into


def conv(x, weight, out_size, stride, padding, dilation):
    """``conv(x, weight)``, ``(N, C, L)`` and ``(O, C, K)`` to ``(N, O, out_size)``."""
    y = np.empty((x.shape[0], weight.shape[0], out_size), dtype=x.dtype)
    return _run("conv", x.shape, weight.shape, out_size, stride, padding, dilation, x, weight, y)


def conv_transpose(y, weight, size, stride, padding, dilation):
    """The input gradient: ``y`` ``(N, O, P)`` and ``weight`` ``(O, C, K)`` to ``(N, C, size)``."""
    x = np.empty((y.shape[0], weight.shape[1], size), dtype=y.dtype)
    return _run("conv_transpose", x.shape, weight.shape, y.shape[2], stride, padding, dilation, y, weight, x)


def conv_weight(x, y, kernel, stride, padding, dilation):
    """The weight gradient: ``x`` ``(N, C, L)`` and ``y`` ``(N, O, P)`` to ``(O, C, kernel)``."""
    weight = np.empty((y.shape[1], x.shape[1], kernel), dtype=x.dtype)
    return _run("conv_weight", x.shape, weight.shape, y.shape[2], stride, padding, dilation, x, y, weight)
