"""col2im as a C loop, built by the compiled step's kernel backend (:mod:`chainrule.compile.c_backend`).

The adjoint of im2col adds each column element back to the input position it was read from. In NumPy
that is one strided ``+=`` per kernel offset over a padded image, then a copy out of the padding; this
loop does it in one pass, straight into the unpadded image (positions in the padding are skipped). It
serves the input gradient of strided convolutions and of those that widen the channels (LeNet-5's
second layer: 5.9 ms to 2.4 ms at batch 128). Up to three spatial axes (1-D and 2-D as 3-D with axes of
size 1); float32 and float64. im2col itself stays NumPy's (a window view copied once): a C loop was
measured no faster there (LeNet-5 within 10%, MNIST-1D's small layers slower by its call overhead).

Column layout: the element for example ``n``, row ``r = c·K + κ`` (channel ``c``, kernel offset ``κ``
flattened, ``K = prod(k)``) and output position ``p`` lies at ``r·(N·P) + n·P + p``: ``(C·K, N·P)``,
the examples inside the long axis, as the product ``wᵀ @ y`` gives it.

Without a C compiler (or with ``CHAINRULE_NO_CC`` set) :func:`available` is false and
:mod:`chainrule.ops.conv` keeps its NumPy path; both give the same numbers (tested).
"""

import ctypes
import functools
import math

import numpy as np

from .kernel_dtypes import NAMES

_SOURCE = r"""
/* Rows are short (10 positions for MNIST-1D): the loops are left scalar (no aliasing checks, no
   gathers for strided rows). */
#pragma GCC optimize("no-tree-vectorize")
/* For each kernel index q of one axis, the valid range [lo[q], hi[q]) of output positions o for
   which o*s + q*d - pad lies in [0, size): computed once per call, not per row (divisions). */
static void spans(long size, long out, long k, long s, long d, long pad, long *lo, long *hi) {
    for (long q = 0; q < k; q++) {
        long off = q * d - pad;
        long a = off >= 0 ? 0 : (-off + s - 1) / s;
        long b = size - off <= 0 ? 0 : (size - off - 1) / s + 1;
        lo[q] = a < out ? a : out;
        hi[q] = b < out ? b : out;
        if (hi[q] < lo[q]) hi[q] = lo[q];
    }
}

#define SPANS                                                                                         \
    long D = in[0], H = in[1], W = in[2];                                                             \
    long d0[k[0]], d1[k[0]], h0[k[1]], h1[k[1]], w0[k[2]], w1[k[2]];                                  \
    spans(D, out[0], k[0], st[0], dil[0], pad[0], d0, d1);                                            \
    spans(H, out[1], k[1], st[1], dil[1], pad[1], h0, h1);                                            \
    spans(W, out[2], k[2], st[2], dil[2], pad[2], w0, w1);

#define KERNELS(T, NAME)                                                                              \
/* The adjoint: image (zeroed by the caller) += the columns, summed over kernel offsets. */           \
void col2im_##NAME(long N, long C, const long *in, const long *k, const long *out, const long *st,   \
                   const long *pad, const long *dil, long example_step, long row_step,                \
                   const T *cols, T *x) {                                                             \
    SPANS                                                                                             \
    long O1 = out[1], O2 = out[2], S2 = st[2];                                                        \
    for (long n = 0; n < N; n++)                                                                      \
    for (long c = 0; c < C; c++) {                                                                    \
        T *image = x + (n * C + c) * D * H * W;                                                       \
        long row = c * k[0] * k[1] * k[2];                                                            \
        for (long kd = 0; kd < k[0]; kd++)                                                            \
        for (long kh = 0; kh < k[1]; kh++)                                                            \
        for (long kw = 0; kw < k[2]; kw++, row++) {                                                   \
            const T *src = cols + n * example_step + row * row_step;                                  \
            long od = kd * dil[0] - pad[0], oh = kh * dil[1] - pad[1], ow = kw * dil[2] - pad[2];     \
            long a = w0[kw], b = w1[kw];                                                              \
            for (long i = d0[kd]; i < d1[kd]; i++)                                                    \
            for (long j = h0[kh]; j < h1[kh]; j++) {                                                  \
                const T *line = src + (i * O1 + j) * O2;                                              \
                T *dst = image + ((i * st[0] + od) * H + j * st[1] + oh) * W + ow;                    \
                if (S2 == 1)                                                                          \
                    for (long l = a; l < b; l++) dst[l] += line[l];                                   \
                else                                                                                  \
                    for (long l = a; l < b; l++) dst[l * S2] += line[l];                              \
            }                                                                                         \
        }                                                                                             \
    }                                                                                                 \
}

KERNELS(float, float32)
KERNELS(double, float64)
"""


@functools.cache
def _library():
    """The built library, or ``None`` when no kernel can be built here."""
    from chainrule.compile import c_backend
    return c_backend.build_or_none(_SOURCE)


def available(*arrays, spatial=1):
    """Whether the C loops serve these NumPy arrays (float32 or float64, one dtype) with ``spatial``
    axes (1 to 3)."""
    if not 1 <= spatial <= 3 or not all(type(a) is np.ndarray for a in arrays):
        return False
    if len({a.dtype for a in arrays}) != 1 or arrays[0].dtype not in NAMES:
        return False
    return _library() is not None


def _as_3d(values, fill):
    return (fill,) * (3 - len(values)) + tuple(values)


def _arguments(n, channels, size, kernel, out, stride, padding, dilation):
    longs = [(ctypes.c_long * 3)(*_as_3d(v, fill)) for v, fill in
             ((size, 1), (kernel, 1), (out, 1), (stride, 1), ([before for before, _ in padding], 0),
              (dilation, 1))]
    p = math.prod(out)
    return [ctypes.c_long(n), ctypes.c_long(channels), *longs, ctypes.c_long(p), ctypes.c_long(n * p)]


def col2im(cols, kernel, out, stride, padding, dilation, into):
    """Add the columns ``(C·K, N·P)`` back into the image ``into`` ``(N, C, *size)``, a contiguous
    array (overwritten): each element to the input position it was read from, none for padding."""
    cols = np.ascontiguousarray(cols)
    into[...] = 0
    function = getattr(_library(), f"col2im_{NAMES[cols.dtype]}")
    function(*_arguments(into.shape[0], into.shape[1], into.shape[2:], kernel, out, stride, padding,
                         dilation),
             ctypes.c_void_p(cols.ctypes.data), ctypes.c_void_p(into.ctypes.data))
    return into
