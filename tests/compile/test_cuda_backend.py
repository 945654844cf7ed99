"""The fused kernels rendered for a GPU, checked without one: each kernel of a program recorded on the CPU
is rendered as CUDA (chainrule/compile/cuda_backend.py), built as C++ by the system's compiler behind a
stand-in for CUDA's keywords and thread indices, and run one thread after another over a grid with more
threads than elements; its outputs must equal the CPU kernel's to float rounding (NaN where it has NaN)
and nothing past the outputs' ends may be written. ``benchmarks/gpu.py --parts kernels`` launches the
same sources through CuPy on a GPU."""

import ctypes

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.compile import c_backend, cuda_backend
from chainrule.nn import functional as F

pytestmark = pytest.mark.skipif(c_backend.unavailable() is not None, reason="no C compiler")

SHIM = """#include <math.h>
#define __global__
#define __device__
struct chainrule_dim { long x; };
static chainrule_dim blockIdx, blockDim, threadIdx;
"""
"""CUDA's keywords and built-in indices for a C++ compiler (``__restrict__`` is g++'s own)."""

FLAGS = ("-x", "c++", "-O1", "-fPIC")
GUARD = 5  # values past each output's end that must stay as they were
RNG = np.random.default_rng(28)


def _build_serial(source, name, pointers):
    """The rendered CUDA kernel ``name`` built as C++ with a driver ``serial(rows, m, blocks, threads,
    pointers...)`` that runs every thread of the grid in turn."""
    params = ", ".join(f"T *p{k}" for k in range(pointers))
    args = ", ".join(f"p{k}" for k in range(pointers))
    driver = (f'extern "C" void serial(long rows, long m, long blocks, long threads, {params}) {{\n'
              f"    blockDim.x = threads;\n"
              f"    for (long b = 0; b < blocks; b++)\n"
              f"        for (long t = 0; t < threads; t++) {{\n"
              f"            blockIdx.x = b; threadIdx.x = t;\n"
              f"            {name}(rows, m, {args});\n"
              f"        }}\n}}\n")
    function = c_backend.build(SHIM + source + driver, flags=FLAGS).serial
    function.argtypes = [ctypes.c_long] * 4 + [ctypes.c_void_p] * pointers
    return function


def _serial(kernel, threads):
    """``run(*inputs) -> outputs``: the rendered CUDA kernel, every thread of a grid of ``threads``-thread
    blocks in turn, with guard values past each output's end."""
    outputs = len(kernel.outputs)
    function = _build_serial(cuda_backend.render(kernel), kernel.name, outputs + len(kernel.inputs))
    rows, m = cuda_backend.layout(kernel)
    size = rows * m
    blocks = (size + threads - 1) // threads

    def run(*arrays):
        outs = [np.full(size + GUARD, 7.0, kernel.dtype) for _ in range(outputs)]
        function(rows, m, blocks, threads, *map(c_backend.pointer, outs), *map(c_backend.pointer, arrays))
        for out in outs:
            assert (out[size:] == 7.0).all(), "a thread past the last element wrote"
        return [out[:size].reshape(kernel.shape) for out in outs]
    return run


def _tolerance(want):
    """Float rounding of a loop's arithmetic: the CPU's kernel contracts products and sums into FMAs and
    calls vector math, the rendered one (as NVRTC's) rounds in its own places, so values agree to a few
    units of the dtype's rounding relative to the largest output, not each one's own."""
    eps = np.finfo(want.dtype).eps
    scale = np.max(np.abs(want[np.isfinite(want)]), initial=1.0)
    return {"rtol": 8 * eps, "atol": 8 * eps * scale}


def _check(program, count):
    """Every fused kernel of ``program`` (``count`` of them) rendered, run and compared; their operations."""
    fused = [op for op in program.ops if op.kernel is not None and op.kernel.body is not None]
    assert len(fused) == count
    for op in fused:
        kernel = op.kernel
        want = op.fn(*kernel.inputs)
        want = list(want) if isinstance(want, tuple) else [want]
        for threads in (3, cuda_backend.THREADS):  # a grid that overshoots the last element, and the real one
            got = _serial(kernel, threads)(*kernel.inputs)
            for g, w in zip(got, want):
                np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
                np.testing.assert_allclose(g, w, **_tolerance(w),
                                           err_msg=f"{kernel.name}: {[m.name for m in kernel.members]}")
    return {m.name for op in fused for m in op.kernel.members}


def test_a_gelu_steps_forward_and_backward_kernels_run_as_the_cpus():
    w = cr.tensor(RNG.standard_normal((5, 7)).astype(np.float32), requires_grad=True)

    def step(x):
        h = x @ w
        loss = (0.5 * h * (1 + cr.erf(h * 2 ** -0.5))).sum()  # the GELU composed, as on a device
        loss.backward()
        return loss
    x = RNG.standard_normal((4, 5)).astype(np.float32)
    compiled = cr.compile(step)
    compiled(x)
    _check(compiled.program(x), 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_bias_per_row_statistics_and_constants_are_read_as_on_the_cpu(dtype):
    x = RNG.standard_normal((3, 4, 5)).astype(dtype)
    bias = RNG.standard_normal(5).astype(dtype)

    def f(x):
        t = cr.tensor(x)
        centred = t - t.mean(axis=-1, keepdims=True)
        return cr.minimum(cr.tanh(centred * 2.0 + bias), np.inf) * cr.sigmoid(centred) + cr.exp(-centred)
    compiled = cr.compile(f)
    compiled(x)
    program = compiled.program(x)
    assert "INFINITY" in cuda_backend.render(program.kernels()[0])
    _check(program, 1)


def test_nan_and_infinities_pass_through_as_through_the_cpus_kernel():
    special = np.array([[np.nan, -np.inf, np.inf, -1.5, -0.0, 0.0, 0.5, 2.0]], np.float32)
    x = np.concatenate([special, special[:, ::-1]])
    reversed_ = np.ascontiguousarray(special[:, ::-1])
    w = cr.tensor(np.ones(8, np.float32), requires_grad=True)

    def step(x):
        out = cr.clip(cr.maximum(w * x, reversed_) * 1.0, -1.0, 1.0) + cr.relu(w * x * 1.5)
        out.backward(gradient=np.ones((2, 8), np.float32))
        return out
    compiled = cr.compile(step)
    with np.errstate(invalid="ignore"):
        compiled(x)
        names = _check(compiled.program(x), 1)
    assert {"maximum", "clip", "relu", "vjp relu[0]"} <= names


def test_a_training_steps_kernels_run_as_the_cpus():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.Sigmoid(), nn.Linear(16, 3))
    optimizer = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x, y):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss
    x, y = RNG.standard_normal((9, 6)).astype(np.float32), RNG.integers(0, 3, 9)
    compiled = cr.compile(step)
    compiled(x, y)
    program = compiled.program(x, y)
    renderable = [kernel for kernel in program.kernels() if kernel.body is not None]
    _check(program, len(renderable))
    assert len(renderable) >= 2
    summing = [kernel for kernel in program.kernels() if kernel.body is None]
    assert summing, "the bias gradients are summed in a kernel"
    with pytest.raises(ValueError, match="sums to a smaller shape"):
        cuda_backend.render(summing[0])


def test_the_source_is_cuda_around_the_cpus_body():
    program = cr.compile(lambda x: cr.tanh(cr.tensor(x) * 2.0 + 1.0)).program(np.ones((2, 600), np.float32))
    [kernel] = program.kernels()
    source = cuda_backend.render(kernel)
    assert f'extern "C" __global__ void {kernel.name}(long rows, long m, T *__restrict__ o0' in source
    assert "#include" not in source and "#define TANH tanhf" in source  # NVRTC has no system headers
    assert all(line in source for line in kernel.body) and "TANH(" in source
    assert cuda_backend.grid(kernel) == (5, 256)  # 1,200 elements: 5 blocks of 256 threads
    with pytest.raises(ValueError, match="carries no loop body"):
        del kernel.body
        cuda_backend.render(kernel)


class _SerialCuPy:
    """CuPy's names the launcher uses, on NumPy arrays: a ``RawKernel`` runs the source as C++, thread by
    thread (so the launcher's grid, argument order and sizes are what is tested)."""

    asarray = ascontiguousarray = staticmethod(np.ascontiguousarray)
    empty = staticmethod(np.empty)

    class RawKernel:
        def __init__(self, source, name):
            self.source, self.name = source, name

        def __call__(self, grid, block, args):
            (blocks,), (threads,) = grid, block
            rows, m, *arrays = args
            assert type(rows) is np.int64 and type(m) is np.int64  # CUDA's long
            function = _build_serial(self.source, self.name, len(arrays))
            function(int(rows), int(m), blocks, threads, *map(c_backend.pointer, arrays))


def test_the_launcher_runs_the_kernel_over_its_grid(monkeypatch):
    import sys
    w = cr.tensor(RNG.standard_normal((5, 300)).astype(np.float32), requires_grad=True)
    x = RNG.standard_normal((4, 5)).astype(np.float32)

    def step(x):
        loss = (cr.tanh(x @ w) * 3.0).sum()
        loss.backward()
        return loss
    compiled = cr.compile(step)
    compiled(x)
    monkeypatch.setitem(sys.modules, "cupy", _SerialCuPy)
    cuda_backend._raw_kernel.cache_clear()
    for op in (op for op in compiled.program(x).ops if op.kernel is not None):
        want = op.fn(*op.kernel.inputs)
        got = cuda_backend.launcher(op.kernel)(*op.kernel.inputs)
        for g, w_ in zip(got if isinstance(got, tuple) else [got], want if isinstance(want, tuple) else [want]):
            np.testing.assert_allclose(g, w_, **_tolerance(w_))
    cuda_backend._raw_kernel.cache_clear()


def test_launching_without_cupy_says_so(monkeypatch):
    import sys
    program = cr.compile(lambda x: cr.tanh(cr.tensor(x) * 2.0)).program(np.ones(4, np.float32))
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(ImportError):
        cuda_backend.launcher(program.kernels()[0])
