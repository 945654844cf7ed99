"""Winograd's F(2x2, 3x3): 3x3, stride-1 convolutions with 16 products of channels instead of 36.

Each 2x2 tile of the output is ``Aᵀ [(G w Gᵀ) ⊙ (Bᵀ d B)] A`` for the 4x4 input patch ``d`` under it
(Lavin and Gray, 2015; oneDNN and cuDNN use it)::

    Bᵀ = [1  0 -1  0]     G = [1    0    0 ]     Aᵀ = [1  1  1  0]
         [0  1  1  0]         [1/2  1/2  1/2]          [0  1 -1 -1]
         [0 -1  1  0]         [1/2 -1/2  1/2]
         [0  1  0 -1]         [0    0    1 ]

Summed over input channels, the 16 positions ``ξ`` of the transformed tiles are 16 independent matrix
products ``M[ξ] = U[ξ] @ V[ξ]``, ``(O, C) @ (C, tiles)``, where a direct (im2col) convolution does one
product with 9 times the channels: 2.25x fewer multiplications. The same transforms give the weight
gradient: the map ``w ↦ y`` is ``Aᵀ(GwGᵀ ⊙ V)A``, so its adjoint is ``Gᵀ [Σ_tiles (A g Aᵀ) ⊙ V] G``:
16 products ``dM[ξ] @ V[ξ]ᵀ`` over the tiles, then ``Gᵀ · G`` on the (O, C) 4x4 blocks. Both are the
same linear maps as im2col's, evaluated in another order: float32 results differ from im2col's by
rounding (relative 1e-6; tested), float64 by 1e-15.

The transforms are C loops built by :mod:`chainrule.compile.c_backend`, one pass over each tile (in
NumPy they cost as much as the products saved); without a C compiler :mod:`.conv` keeps im2col.
The batch is processed in chunks of :data:`CHUNK_TILES` tiles so that the transformed tiles stay in
cache between the transform and the products; with two BLAS threads allowed, two Python threads take
half of the chunks each (:func:`workers`).
"""

import ctypes
import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import blas_threads
from .kernel_dtypes import NAMES

CHUNK_TILES = 512
"""Tiles transformed and multiplied at once (2 MiB of float32 transformed tiles for 64 channels)."""

MIN_CHANNELS = 64
"""The fewest input and output channels for which Winograd replaces im2col. Measured on one thread
(docs/vision.md): with 64 it wins (32x32 maps, batch 32: forward 27 against 40 ms, weight gradient
29 against 43 ms); with 32 or fewer the transforms cost what the products save (even at 32, slower
at 16: the products' inner axis is the channels)."""

_SOURCE = r"""
#include <string.h>
/* Tiles t = t0 .. t0+count-1 of the numbering (example, tile row, tile column) are processed; a tile
   row's tiles j0 .. j1-1 fall inside the chunk. Columns are split into even and odd ones, so that
   tile j reads even[j], odd[j], even[j+1], odd[j+1]: every inner loop runs over j with unit stride
   (vectorised). */
#define TILE_ROWS                                                                                     \
    long per = TH * TW, first = t0 / per, last = (t0 + count - 1) / per;                              \
    for (long n = first; n <= last; n++)                                                              \
    for (long c = 0; c < CH; c++)                                                                     \
    for (long ti = 0; ti < TH; ti++) {                                                                \
        long base = n * per + ti * TW - t0, j0 = 0, j1 = TW;                                          \
        if (base + TW <= 0 || base >= count) continue;                                                \
        if (base < 0) j0 = -base;                                                                     \
        if (base + TW > count) j1 = count - base;

#define KERNELS(T, NAME)                                                                              \
/* V[xi][c][t] = (B^T d B)[xi] for the 4x4 patch d of tile t (rows 2ti-ph.., columns 2j-pw..), zeros  \
   outside the image. */                                                                              \
void input_##NAME(long N, long CH, long H, long W, long TH, long TW, long ph, long pw, long t0,      \
                  long count, const T *x, T *V) {                                                     \
    long plane = CH * count, PW = 2 * TW + 2;                                                         \
    T row[PW], even[4][TW + 1], odd[4][TW + 1], de[4][TW + 1], dd[4][TW + 1];                        \
    long lo = pw < PW ? pw : PW, hi = pw + W < PW ? pw + W : PW;                                      \
    TILE_ROWS                                                                                         \
        const T *image = x + (n * CH + c) * H * W;                                                    \
        for (long r = 0; r < 4; r++) {                                                                \
            long h = 2 * ti - ph + r;                                                                 \
            if (h < 0 || h >= H) {                                                                    \
                memset(even[r], 0, sizeof(T) * (TW + 1));                                             \
                memset(odd[r], 0, sizeof(T) * (TW + 1));                                              \
                continue;                                                                             \
            }                                                                                         \
            memset(row, 0, sizeof(T) * lo);                                                           \
            memcpy(row + lo, image + h * W + (lo - pw), sizeof(T) * (hi - lo));                       \
            memset(row + hi, 0, sizeof(T) * (PW - hi));                                               \
            for (long j = 0; j <= TW; j++) { even[r][j] = row[2 * j]; odd[r][j] = row[2 * j + 1]; }   \
        }                                                                                             \
        /* B^T along the rows: d0 = r0 - r2, d1 = r1 + r2, d2 = r2 - r1, d3 = r1 - r3. */              \
        for (long j = 0; j <= TW; j++) {                                                              \
            de[0][j] = even[0][j] - even[2][j]; dd[0][j] = odd[0][j] - odd[2][j];                     \
            de[1][j] = even[1][j] + even[2][j]; dd[1][j] = odd[1][j] + odd[2][j];                     \
            de[2][j] = even[2][j] - even[1][j]; dd[2][j] = odd[2][j] - odd[1][j];                     \
            de[3][j] = even[1][j] - even[3][j]; dd[3][j] = odd[1][j] - odd[3][j];                     \
        }                                                                                             \
        /* B along the columns 2j .. 2j+3: even[j], odd[j], even[j+1], odd[j+1]. */                    \
        T *out = V + c * count + base;                                                                \
        for (long r = 0; r < 4; r++) {                                                                \
            T *o0 = out + 4 * r * plane, *o1 = o0 + plane, *o2 = o1 + plane, *o3 = o2 + plane;        \
            const T *e = de[r], *d = dd[r];                                                           \
            for (long j = j0; j < j1; j++) {                                                          \
                o0[j] = e[j] - e[j + 1];                                                              \
                o1[j] = d[j] + e[j + 1];                                                              \
                o2[j] = e[j + 1] - d[j];                                                              \
                o3[j] = d[j] - d[j + 1];                                                              \
            }                                                                                         \
        }                                                                                             \
    }                                                                                                 \
}                                                                                                     \
                                                                                                      \
/* y[n][c] tile t (2x2, clipped to OH x OW) = A^T M A, M[xi] = M[xi][c][t - t0]. */                    \
void output_##NAME(long N, long CH, long OH, long OW, long TH, long TW, long t0, long count,         \
                   const T *M, T *y) {                                                                \
    long plane = CH * count;                                                                          \
    T s[4][TW], d[4][TW], top[2 * TW], bottom[2 * TW];                                                \
    TILE_ROWS                                                                                         \
        const T *m = M + c * count + base;                                                            \
        /* A^T along the rows: s = m0 + m1 + m2, d = m1 - m2 - m3, per column q of the tile. */        \
        for (long q = 0; q < 4; q++) {                                                                \
            const T *m0 = m + q * plane, *m1 = m0 + 4 * plane, *m2 = m1 + 4 * plane, *m3 = m2 + 4 * plane; \
            for (long j = j0; j < j1; j++) {                                                          \
                s[q][j] = m0[j] + m1[j] + m2[j];                                                      \
                d[q][j] = m1[j] - m2[j] - m3[j];                                                      \
            }                                                                                         \
        }                                                                                             \
        for (long j = j0; j < j1; j++) {                                                              \
            top[2 * j] = s[0][j] + s[1][j] + s[2][j];                                                 \
            top[2 * j + 1] = s[1][j] - s[2][j] - s[3][j];                                             \
            bottom[2 * j] = d[0][j] + d[1][j] + d[2][j];                                              \
            bottom[2 * j + 1] = d[1][j] - d[2][j] - d[3][j];                                          \
        }                                                                                             \
        T *row = y + ((n * CH + c) * OH + 2 * ti) * OW;                                               \
        long w0 = 2 * j0, w1 = 2 * j1 < OW ? 2 * j1 : OW;                                             \
        memcpy(row + w0, top + w0, sizeof(T) * (w1 - w0));                                            \
        if (2 * ti + 1 < OH) memcpy(row + OW + w0, bottom + w0, sizeof(T) * (w1 - w0));               \
    }                                                                                                 \
}                                                                                                     \
                                                                                                      \
/* The adjoint of output_: dM[xi][c][t - t0] = (A g A^T)[xi] for the 2x2 tile g of y (zeros past      \
   OH x OW). */                                                                                       \
void output_adjoint_##NAME(long N, long CH, long OH, long OW, long TH, long TW, long t0, long count, \
                           const T *g, T *dM) {                                                       \
    long plane = CH * count;                                                                          \
    T top[2 * TW], bottom[2 * TW], g00[TW], g01[TW], g10[TW], g11[TW];                                \
    TILE_ROWS                                                                                         \
        const T *row = g + ((n * CH + c) * OH + 2 * ti) * OW;                                         \
        long w0 = 2 * j0, w1 = 2 * j1 < OW ? 2 * j1 : OW;                                             \
        memcpy(top + w0, row + w0, sizeof(T) * (w1 - w0));                                            \
        if (w1 < 2 * j1) top[w1] = 0;                                                                 \
        if (2 * ti + 1 < OH) {                                                                        \
            memcpy(bottom + w0, row + OW + w0, sizeof(T) * (w1 - w0));                                \
            if (w1 < 2 * j1) bottom[w1] = 0;                                                          \
        } else                                                                                        \
            memset(bottom + w0, 0, sizeof(T) * (2 * j1 - w0));                                       \
        for (long j = j0; j < j1; j++) {                                                              \
            g00[j] = top[2 * j]; g01[j] = top[2 * j + 1];                                             \
            g10[j] = bottom[2 * j]; g11[j] = bottom[2 * j + 1];                                       \
        }                                                                                             \
        /* h = A g (rows of A: (1, 0), (1, 1), (1, -1), (0, -1)), then h A^T, row r of the 4x4. */    \
        T *m = dM + c * count + base;                                                                 \
        for (long r = 0; r < 4; r++) {                                                                \
            T *o0 = m + 4 * r * plane, *o1 = o0 + plane, *o2 = o1 + plane, *o3 = o2 + plane;          \
            T a = r == 3 ? 0 : 1, b = r == 0 ? 0 : (r == 2 || r == 3 ? -1 : 1);                      \
            for (long j = j0; j < j1; j++) {                                                          \
                T h0 = a * g00[j] + b * g10[j], h1 = a * g01[j] + b * g11[j];                         \
                o0[j] = h0;                                                                           \
                o1[j] = h0 + h1;                                                                      \
                o2[j] = h0 - h1;                                                                      \
                o3[j] = -h1;                                                                          \
            }                                                                                         \
        }                                                                                             \
    }                                                                                                 \
}

KERNELS(float, float32)
KERNELS(double, float64)
"""

_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
_GG = np.kron(_G, _G)
"""``G ⊗ G`` (16, 9): ``(G w Gᵀ)[i, j] = Σ_kl G[i, k] G[j, l] w[k, l]`` is row ``4i + j`` times ``w``'s
9 values, so the transforms of all (O, C) blocks are one small product (in float64, as the
three-operand einsum it replaces, which took 4-10x longer: 1.5 and 3.2 ms for 64x64 channels)."""


@functools.cache
def _library():
    """The built library, or ``None`` when no kernel can be built here."""
    from chainrule.compile import c_backend
    return c_backend.build_or_none(_SOURCE)


def applies(x, other, out_channels, kernel, stride, padding, dilation, groups):
    """Whether Winograd computes this convolution of ``x`` (with ``other``, the weight or the output
    gradient): 3x3, stride 1, no dilation, one group, padding at most 2 a side, NumPy arrays of one
    float dtype, at least :data:`MIN_CHANNELS` channels in and out, and a C compiler."""
    if tuple(kernel) != (3, 3) or tuple(stride) != (1, 1) or tuple(dilation) != (1, 1) or groups != 1:
        return False
    if any(side > 2 for pair in padding for side in pair):
        return False
    if type(x) is not np.ndarray or type(other) is not np.ndarray or x.dtype != other.dtype:
        return False
    if x.dtype not in NAMES or min(x.shape[1], out_channels) < MIN_CHANNELS:
        return False
    return _library() is not None


def workers():
    """How many threads share the tiles: the BLAS thread count (at most 2). The transforms (ctypes)
    and the products (BLAS) release the GIL, so two Python threads each running a half of the tiles,
    with one BLAS thread each, use two cores for the whole convolution, where two BLAS threads would
    share only its small products."""
    return max(1, min(2, blas_threads.allowed()))


@functools.cache
def _pool():
    return ThreadPoolExecutor(2, thread_name_prefix="chainrule-winograd")


def shared(work, chunks):
    """``work(part)`` for the chunks, split in halves between two threads when :func:`workers` says
    so; the list of results."""
    if workers() == 1 or len(chunks) < 2:
        return [work(chunks)]
    halves = [chunks[:len(chunks) // 2], chunks[len(chunks) // 2:]]
    blas_threads.kernels_split()
    with blas_threads.one_thread():
        return list(_pool().map(work, halves))


def _geometry(size, padding):
    out = tuple(n + before + after - 2 for n, (before, after) in zip(size, padding))
    tiles = tuple((o + 1) // 2 for o in out)
    return out, tiles


def _chunks(total):
    return [(t0, min(CHUNK_TILES, total - t0)) for t0 in range(0, total, CHUNK_TILES)]


def _call(function, *arguments):
    function(*[ctypes.c_long(a) if isinstance(a, int) else ctypes.c_void_p(a.ctypes.data)
               for a in arguments])


def _input_tiles(x, padding, tiles, t0, count, into):
    n, channels, h, w = x.shape
    function = getattr(_library(), f"input_{NAMES[x.dtype]}")
    v = into[:16 * channels * count]
    _call(function, n, channels, h, w, *tiles, padding[0][0], padding[1][0], t0, count, x, v)
    return v.reshape(16, channels, count)


def conv(x, weight, padding):
    """``conv(x, weight)`` for ``x`` ``(N, C, H, W)`` (C-contiguous) and ``weight`` ``(O, C, 3, 3)``,
    zero ``padding`` ``((top, bottom), (left, right))``."""
    x = np.ascontiguousarray(x)
    n, out_channels = x.shape[0], weight.shape[0]
    out, tiles = _geometry(x.shape[2:], padding)
    u = np.ascontiguousarray(blas_threads.matmul(np, _GG, weight.reshape(-1, 9).T).astype(x.dtype)
                             .reshape(16, out_channels, -1))
    ans = np.empty((n, out_channels) + out, dtype=x.dtype)
    total = n * tiles[0] * tiles[1]
    output = getattr(_library(), f"output_{NAMES[x.dtype]}")

    def work(part):
        scratch_v = np.empty(16 * x.shape[1] * min(total, CHUNK_TILES), dtype=x.dtype)
        scratch_m = np.empty(16 * out_channels * min(total, CHUNK_TILES), dtype=x.dtype)
        for t0, count in part:
            v = _input_tiles(x, padding, tiles, t0, count, scratch_v)
            m = np.matmul(u, v, out=scratch_m[:16 * out_channels * count].reshape(16, out_channels, count))
            _call(output, n, out_channels, *out, *tiles, t0, count, m, ans)

    shared(work, _chunks(total))
    return ans


def conv_weight(x, y, padding):
    """The weight gradient ``Σ y · windows(x)`` ``(O, C, 3, 3)`` of :func:`conv`, for ``y`` ``(N, O,
    *out)``: ``Gᵀ [Σ_tiles (A y Aᵀ) ⊙ (Bᵀ x B)] G``."""
    x, y = np.ascontiguousarray(x), np.ascontiguousarray(y)
    n, channels, out_channels = x.shape[0], x.shape[1], y.shape[1]
    out, tiles = _geometry(x.shape[2:], padding)
    total = n * tiles[0] * tiles[1]
    adjoint = getattr(_library(), f"output_adjoint_{NAMES[x.dtype]}")

    def work(part):
        scratch_v = np.empty(16 * channels * min(total, CHUNK_TILES), dtype=x.dtype)
        scratch_m = np.empty(16 * out_channels * min(total, CHUNK_TILES), dtype=x.dtype)
        du = np.zeros((16, out_channels, channels), dtype=x.dtype)
        product = np.empty_like(du)
        for t0, count in part:
            v = _input_tiles(x, padding, tiles, t0, count, scratch_v)
            dm = scratch_m[:16 * out_channels * count].reshape(16, out_channels, count)
            _call(adjoint, n, out_channels, *out, *tiles, t0, count, y, dm)
            du += np.matmul(dm, v.transpose(0, 2, 1), out=product)
        return du

    du = sum(shared(work, _chunks(total)))
    # Gᵀ dU G for every (O, C) block: the adjoint of the forward's product by G ⊗ G.
    dw = blas_threads.matmul(np, du.reshape(16, -1).T, _GG)
    return dw.reshape(out_channels, channels, 3, 3).astype(x.dtype)
