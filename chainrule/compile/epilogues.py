"""Epilogues: a dense layer's bias and the ReLU after it added in one pass over the product's result.

``relu(linear(x, W, b))`` is, in eager mode and in a plain replay, three passes over the ``(rows, out)``
result: the BLAS product writes it, ``out += b`` reads and writes it, ``maximum(out, 0)`` reads and
writes it again. Here the product is BLAS's as before and one C loop then computes
``max(out + b, 0)`` in place, as cuBLASLt's and oneDNN's epilogues do, when the product's result is read
by the ReLU alone. The sum ``out + b`` rounds as NumPy's does; ``MAX`` keeps NumPy's NaN rule.
"""

from .. import backend
from ..ops import blas_threads
from . import c_backend
from .program import SLOT, TENSOR, Op

_SOURCE = r"""
#include <math.h>
#define T {ctype}
/* out = max(out + b, 0), NaN kept as np.maximum keeps it; out is (rows, m), b is (m,). */
void bias_relu(long rows, long m, T *restrict out, const T *restrict b) {{
    for (long r = 0; r < rows; r++) {{
        T *o = out + r * m;
        #pragma omp simd
        for (long j = 0; j < m; j++) {{
            T z = o[j] + b[j];
            o[j] = z > 0 || z != z ? z : (T)0;
        }}
    }}
}}
"""


def _library(dtype):
    library = c_backend.build_or_none(_SOURCE.format(ctype=c_backend.C_TYPES[dtype]),
                                      {"bias_relu": (2, 2)})
    if library is not None:
        library.bias_relu.restype = None
    return library


def merge(ops, values, keep):
    """``ops`` with each ``linear`` whose result only a ``relu`` reads replaced, with that ``relu``, by one
    operation: the product, then the bias and the ReLU in one pass."""
    readers = {}
    for op in ops:
        for code, ref in op.refs:
            if code == SLOT:
                readers[ref] = readers.get(ref, 0) + 1
    merged, gone = {}, set()
    for index, op in enumerate(ops[:-1]):
        after = ops[index + 1]
        if (op.kind != ("forward", "linear") or after.kind != ("forward", "relu") or op.out in keep
                or readers.get(op.out) != 1 or after.refs != ((SLOT, op.out),) or isinstance(op.out, tuple)):
            continue
        fn = _epilogue(op, values)
        if fn is not None:
            fused = Op(op.part, "fused linear+relu", fn, op.refs, after.out, after.site, values[after.out])
            fused.kind = ("forward", "linear+relu")
            merged[index + 1] = fused
            gone.add(index)
    if not merged:
        return ops
    return [merged.get(index, op) for index, op in enumerate(ops) if index not in gone]


def _epilogue(op, values):
    """``fn(x, weight, bias)``: the product by BLAS, then the bias and the ReLU in place; or ``None``."""
    read = [values[ref] if code == SLOT else ref.data if code == TENSOR else ref for code, ref in op.refs]
    if len(read) != 3 or not all(isinstance(a, backend.ndarray) for a in read):
        return None
    x, weight, bias = read
    out = values[op.out]
    dtype = out.dtype.name
    if (dtype not in ("float32", "float64") or x.dtype != out.dtype or weight.dtype != out.dtype
            or bias.dtype != out.dtype or bias.shape != (weight.shape[0],) or not bias.flags.c_contiguous
            or weight.ndim != 2 or x.ndim < 1 or out.size == 0):
        return None
    library = _library(dtype)
    if library is None:
        return None
    function, xp, reshape, pointer = library.bias_relu, backend.xp, backend.xp.reshape, c_backend.pointer
    m = weight.shape[0]

    def linear_relu(x, weight, bias):
        rows = x if x.ndim == 2 else reshape(x, (-1, x.shape[-1]))
        result = blas_threads.matmul(xp, rows, weight.T)  # small ones on one BLAS thread
        if not result.flags.c_contiguous or bias.shape != (m,) or not bias.flags.c_contiguous:
            result = backend.xp.ascontiguousarray(result)
            result += bias
            backend.xp.maximum(result, 0, out=result)
        else:
            function(result.shape[0], m, pointer(result), pointer(bias))
        return result if x.ndim == 2 else reshape(result, (*x.shape[:-1], m))
    return linear_relu

