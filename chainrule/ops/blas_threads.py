"""How many BLAS threads a matrix product takes: one for small products, the user's count for the others.

The user sets chainrule's thread count as NumPy's BLAS library holds it (``--threads``,
``OPENBLAS_NUM_THREADS``, threadpoolctl's ``threadpool_limits``). :func:`matmul` keeps that count as
an upper bound and runs a product of fewer than :data:`ONE_THREAD_MACS` multiply-adds (per matrix of
a stack) on one thread: it lowers OpenBLAS's count around the call and restores it, and never raises
it. Two threads do run a small product faster in isolation (a 128x400x120 float32 product in 102
instead of 180 µs on the 2-vCPU AMD EPYC of docs/vision.md), but after each threaded call OpenBLAS's
idle thread spins for ~0.1 s on the second core before it sleeps, where the convolution kernels'
worker (:mod:`.conv_threads`) needs it: the LeNet-5 step at batch 128 took 18-23 ms a step with its
linear layers' products on two threads against 16-18 ms on one. While those kernels split their work
(:func:`kernels_split`), the bound is :data:`SHARED_CORE_MACS` instead.

Only OpenBLAS built with its own threads (pthreads: NumPy's wheels) is switched; with another BLAS
(MKL, an OpenMP build) or without threadpoolctl every product runs as the library decides. Switching
costs ~0.8 µs a product (two calls of ``openblas_set_num_threads``), reading the count ~0.25 µs.
The count is process-wide: a product on another Python thread that starts while a small one runs
here also takes one thread.
"""

import contextlib
import functools
import os
import time

import numpy as np

ONE_THREAD_MACS = 16 * 2**20
"""The fewest multiply-adds (``m·k·n`` of one matrix product) for which a product may take more than
one BLAS thread. Below, two threads save at most ~0.2 ms a product on the 2-vCPU machine and cost the
convolution kernels their second core; LeNet-5's largest product (128x400x120, 6.1M) stays below, the
MLP benchmark's and the GPT step's (37.7M and up) above."""

SHARED_CORE_MACS = 256 * 2**20
"""The bound instead of :data:`ONE_THREAD_MACS` while the convolution and pooling kernels split their
work between two threads (:func:`kernels_split` called in the last :data:`SHARED_CORE_SECONDS`): the
second core is theirs then, and a threaded product's spinning thread would take it for 0.1 s. The
Fashion-MNIST CNN's hidden layer (128x1568x128, 25.7M) then runs on one thread: its compiled step
(channels 16,32, batch 128) at two threads took 38 ms against 43-50 ms with the bound at 16M, 46-52
ms with every product threaded and 41-43 ms at one thread (two runs, load 1.7-2.1). Steps without
such kernels (the GPT step's products, 12.6-50M) keep :data:`ONE_THREAD_MACS`."""

SHARED_CORE_SECONDS = 1.0

_split_at = float("-inf")


@functools.cache
def controllers():
    """NumPy's BLAS thread controllers (threadpoolctl), or an empty list without threadpoolctl."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return []
    return list(ThreadpoolController().select(user_api="blas").lib_controllers)


def allowed():
    """The BLAS thread count the user allows (the largest of NumPy's BLAS libraries'), at least 1."""
    return max((c.num_threads for c in controllers()), default=1)


@contextlib.contextmanager
def one_thread():
    """Every BLAS library limited to one thread inside the block (threadpoolctl), restored after it."""
    found = controllers()
    before = [c.num_threads for c in found]
    for c in found:
        c.set_num_threads(1)
    try:
        yield
    finally:
        for c, n in zip(found, before):
            c.set_num_threads(n)


def _numpy_library(found):
    """Of the BLAS controllers ``found``, the one of the library NumPy calls: the one shipped inside
    NumPy's wheel (``numpy.libs``; SciPy's wheel brings a second OpenBLAS), else the only one."""
    home = os.path.dirname(os.path.realpath(np.__file__))
    own = [c for c in found if os.path.realpath(c.filepath).startswith(home)]
    if len(own) == 1:
        return own[0]
    return found[0] if len(found) == 1 else None


@functools.cache
def _openblas():
    """``(get, set)``: OpenBLAS's ``openblas_get_num_threads`` and ``openblas_set_num_threads`` as
    ctypes functions, where NumPy's BLAS is OpenBLAS with its own (pthreads) threads; else ``None``."""
    lib = _numpy_library(controllers())
    if lib is None or lib.internal_api != "openblas" or getattr(lib, "threading_layer", None) != "pthreads":
        return None
    prefix, suffix = lib._find_affixes()
    try:
        return (getattr(lib.dynlib, f"{prefix}openblas_get_num_threads{suffix}"),
                getattr(lib.dynlib, f"{prefix}openblas_set_num_threads{suffix}"))
    except AttributeError:
        return None


def kernels_split():
    """Called by a kernel that runs on two threads (:mod:`.conv_threads`, :func:`.winograd.shared`):
    for :data:`SHARED_CORE_SECONDS`, products up to :data:`SHARED_CORE_MACS` take one thread."""
    global _split_at
    _split_at = time.monotonic()


def _bound():
    if time.monotonic() - _split_at < SHARED_CORE_SECONDS:
        return SHARED_CORE_MACS
    return ONE_THREAD_MACS


def macs(x, y):
    """The multiply-adds of one matrix product of ``matmul(x, y)`` (of one pair in a stack)."""
    if x.ndim == 0 or y.ndim == 0:
        return 0  # not a product: matmul raises its own error
    m = x.shape[-2] if x.ndim > 1 else 1
    n = y.shape[-1] if y.ndim > 1 else 1
    return m * x.shape[-1] * n


def matmul(xp, x, y, out=None):
    """``xp.matmul(x, y)``, on one BLAS thread when ``x`` and ``y`` are NumPy arrays whose product has
    fewer than :data:`ONE_THREAD_MACS` multiply-adds, or :data:`SHARED_CORE_MACS` while the kernels
    split their work (see the module's notes)."""
    if xp is not np or type(x) is not np.ndarray or type(y) is not np.ndarray or macs(x, y) >= _bound():
        return xp.matmul(x, y) if out is None else xp.matmul(x, y, out=out)
    switch = _openblas()
    if switch is None:
        return np.matmul(x, y) if out is None else np.matmul(x, y, out=out)
    get, set_threads = switch
    threads = get()
    if threads == 1:
        return np.matmul(x, y) if out is None else np.matmul(x, y, out=out)
    set_threads(1)
    try:
        return np.matmul(x, y) if out is None else np.matmul(x, y, out=out)
    finally:
        set_threads(threads)
