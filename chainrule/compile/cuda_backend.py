"""Fused kernels for an NVIDIA GPU: a CPU kernel's loop body rendered as CUDA, one thread per element,
compiled by CuPy's ``RawKernel`` (NVRTC) and launched on CuPy arrays.

The body is :mod:`.fusion`'s, written once from its C templates (``FORWARD``, ``VJP``): the same
statements (``T v12 = TANH(a0[i]);``...), the same operand indexing (``i`` overall, ``j`` along the last
axis for a bias, ``r`` per row for a norm's statistics) and the same stores. Only what surrounds it
differs: where the CPU's C walks ``r`` and ``j`` in two loops, a CUDA thread takes its ``i`` from the
grid and derives ``r`` and ``j``; the prelude names CUDA's own ``expf``, ``tanhf``, ``erff``... (NVRTC has
no ``<math.h>``; the functions are built in).

Not yet on a GPU: :func:`chainrule.compile` records a step on the CPU only, so a compiled program never
holds CuPy arrays and never calls these kernels. :func:`render` and :func:`launcher` take a kernel of a
program recorded on the CPU; ``benchmarks/gpu.py --parts kernels`` runs each one on a GPU against the
CPU's kernel, and ``tests/compile/test_cuda_backend.py`` builds the rendered source with the C++ compiler
behind a stand-in for CUDA's thread indices and runs every thread one after another.

Example:
    >>> import numpy as np, chainrule as cr
    >>> from chainrule.compile import c_backend, cuda_backend
    >>> if c_backend.unavailable() is None:
    ...     program = cr.compile(lambda x: cr.tanh(cr.tensor(x) * 2.0 + 1.0)).program(np.ones(4, np.float32))
    ...     source = cuda_backend.render(program.kernels()[0])
    ...     print("__global__" in source, "TANH(" in source)
    ... else:
    ...     print(True, True)
    True True
"""

import functools

import numpy

THREADS = 256
"""Threads per block: each block covers ``THREADS`` consecutive elements."""

PRELUDE = """#define T {ctype}
#define EXP exp{s}
#define LOG log{s}
#define LOG1P log1p{s}
#define EXPM1 expm1{s}
#define SQRT sqrt{s}
#define TANH tanh{s}
#define ERF erf{s}
#define SIN sin{s}
#define COS cos{s}
#define FABS fabs{s}
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif
/* NumPy's maximum and minimum: a NaN on either side gives NaN. */
__device__ inline T MAX(T a, T b) {{ return a > b || a != a ? a : b; }}
__device__ inline T MIN(T a, T b) {{ return a < b || a != a ? a : b; }}
"""


def layout(kernel):
    """``(rows, m)``: the kernel's rows and the length of its last axis (as the CPU's loop walks them)."""
    m = kernel.shape[-1] if kernel.shape else 1
    size = 1
    for n in kernel.shape:
        size *= n
    return size // m, m


def render(kernel):
    """The CUDA source of a fused :class:`~chainrule.compile.fusion.Kernel`: ``extern "C"`` and named as
    the CPU's, taking ``(long rows, long m, outputs..., inputs...)`` as the CPU's does."""
    body = getattr(kernel, "body", None)
    if body is None:
        raise ValueError(f"cuda_backend.render: kernel {kernel.name} carries no loop body (it sums to a "
                         f"smaller shape, or was made by another fusion than chainrule.compile.fusion)")
    single = kernel.dtype == "float32"
    signature = ", ".join([f"T *__restrict__ o{k}" for k in range(len(kernel.outputs))] +
                          [f"const T *__restrict__ a{k}" for k in range(len(kernel.inputs))])
    prelude = PRELUDE.format(ctype="float" if single else "double", s="f" if single else "")
    return (f"{prelude}\n/* {'; '.join(op.name for op in kernel.members)} */\n"
            f'extern "C" __global__ void {kernel.name}(long rows, long m, {signature}) {{\n'
            f"    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;\n"
            f"    if (i >= rows * m) return;\n"
            f"    long r = i / m, j = i - r * m;\n" + "\n".join(body) + "\n}\n")


def grid(kernel):
    """``(blocks, threads)``: one thread per element."""
    rows, m = layout(kernel)
    return (rows * m + THREADS - 1) // THREADS, THREADS


@functools.cache
def _raw_kernel(source, name):
    import cupy
    return cupy.RawKernel(source, name)  # NVRTC compiles on the first launch; CuPy caches it on disk


def launcher(kernel):
    """``run(*inputs)``: the kernel on CuPy arrays (the CPU kernel's inputs, in order, on the GPU), its
    output (or outputs, a tuple) fresh CuPy arrays, as the CPU kernel's caller returns NumPy's."""
    import cupy
    function = _raw_kernel(render(kernel), kernel.name)
    rows, m = layout(kernel)
    blocks, threads = grid(kernel)
    shape, dtype, count = kernel.shape, kernel.dtype, len(kernel.outputs)
    sizes = (numpy.int64(rows), numpy.int64(m))

    def run(*inputs):
        outs = [cupy.empty(shape, dtype) for _ in range(count)]
        function((blocks,), (threads,), (*sizes, *outs, *(cupy.ascontiguousarray(a) for a in inputs)))
        return outs[0] if count == 1 else tuple(outs)
    return run
