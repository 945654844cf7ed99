"""Two Python threads, each with half the batch, give the one-thread numbers (im2col's forward, its
col2im input gradient and its weight gradient, both col2im paths)."""

import numpy as np
import pytest

from chainrule.ops import conv as conv_module
from chainrule.ops import conv_kernels, winograd


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("n", [1, 5, 8])
def test_two_threads_equal_one(monkeypatch, fast, n):
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 3, 9, 8)).astype(np.float32)
    w = rng.normal(size=(4, 3, 3, 2)).astype(np.float32)
    options = dict(stride=(2, 1), padding=((1, 0), (1, 1)), dilation=(1, 1), groups=1)
    out = tuple(conv_module.conv_output_size(*a) for a in zip((9, 8), (3, 2), (2, 1), options["padding"], (1, 1)))
    g = rng.normal(size=(n, 4) + out).astype(np.float32)
    monkeypatch.setattr(conv_module, "IM2COL_LIMIT_BYTES", 3 * 3 * 6 * 20 * 4)  # chunks of a few examples
    if not fast:
        monkeypatch.setattr(conv_kernels, "available", lambda *arrays, spatial=1: False)
    results = []
    for threads in (1, 2):
        monkeypatch.setattr(winograd, "workers", lambda: threads)
        results.append((conv_module._conv_impl(np, x, w, **options),
                        conv_module._conv_transpose_impl(np, g, w, size=(9, 8), **options),
                        conv_module._conv_weight_impl(np, x, g, kernel_size=(3, 2), **options)))
    for one, two in zip(*results):
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-5)


# -- the persistent C worker of the direct 2-D loops and the max-pool kernels (ops/conv_threads) ------

from chainrule.ops import conv_threads  # noqa: E402

_PROBE = r"""
#include <pthread.h>
#include <time.h>
struct probe { long total; long *who; pthread_t caller; long wait_ns; };
/* Writes, for each of its elements, 1 where the calling thread ran it and 2 where another did;
   the caller's share waits wait_ns first, so that a sleeping worker has time to wake and claim. */
static void body(void *ctx, long part, long parts) {
    struct probe *p = ctx;
    if (part == 0 && parts == 2) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        do clock_gettime(CLOCK_MONOTONIC, &b);
        while ((b.tv_sec - a.tv_sec) * 1000000000L + b.tv_nsec - a.tv_nsec < p->wait_ns);
    }
    for (long i = p->total * part / parts; i < p->total * (part + 1) / parts; i++)
        p->who[i] = pthread_equal(pthread_self(), p->caller) ? 1 : 2;
}
void probe(long total, long wait_ns, long *who, const void *run) {
    struct probe p = {total, who, pthread_self(), wait_ns};
    split(run, body, &p);
}
"""


def _probe():
    from chainrule.compile import c_backend
    return c_backend.build_or_none(conv_threads.PROLOGUE + _PROBE, {"probe": (2, 2)})


needs_cc = pytest.mark.skipif(conv_threads._library() is None,
                              reason="no C compiler")


@needs_cc
def test_runner_follows_the_thread_count_and_the_work(monkeypatch):
    monkeypatch.setattr(winograd, "workers", lambda: 1)
    assert conv_threads.runner(10**9, 100) is None
    monkeypatch.setattr(winograd, "workers", lambda: 2)
    assert conv_threads.runner(99, 100) is None
    assert isinstance(conv_threads.runner(100, 100), int)


@needs_cc
def test_the_worker_runs_the_second_half_and_every_element_once(monkeypatch):
    monkeypatch.setattr(winograd, "workers", lambda: 2)
    library, run = _probe(), conv_threads.runner(1, 0)
    for total in (1, 2, 7):
        who = np.zeros(total, np.int64)
        library.probe(total, 0, who.ctypes.data, None)  # no runner: one share, on the caller
        assert who.tolist() == [1] * total
    before = conv_threads.worker_halves()
    for attempt in range(50):  # the caller's half waits 2 ms: the worker wakes and claims the other
        who = np.zeros(9, np.int64)
        library.probe(9, 2_000_000, who.ctypes.data, run)
        assert who[:4].tolist() == [1] * 4 and set(who[4:].tolist()) <= {1, 2} and len(set(who[4:])) == 1
        if who[4] == 2:
            break
    assert who[4] == 2 and conv_threads.worker_halves() > before


@needs_cc
def test_a_forked_child_starts_its_own_worker(monkeypatch):
    import multiprocessing
    monkeypatch.setattr(winograd, "workers", lambda: 2)
    _probe().probe(4, 0, np.zeros(4, np.int64).ctypes.data, conv_threads.runner(1, 0))  # worker started
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        assert pool.apply(_child_probe) == 4


def _child_probe():
    from chainrule.ops import winograd as child_winograd
    child_winograd.workers = lambda: 2
    who = np.zeros(4, np.int64)
    for _ in range(20):
        _probe().probe(4, 2_000_000, who.ctypes.data, conv_threads.runner(1, 0))
        if who[2] == 2:
            break
    return int((who > 0).sum()) if who[2] == 2 else -1


@needs_cc
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_direct_loops_and_pooling_split_equal_one_thread(monkeypatch, dtype):
    """LeNet-5's second layer and its pooling, with a NaN and an infinity in the input: the forward,
    both gradients and the pooling rules on two threads against one (the weight gradient adds two
    partial sums: rounding; the non-finite input sends it to im2col, tested in both)."""
    from chainrule.ops import conv_direct2d, pool_kernels, pooling
    rng = np.random.default_rng(3)
    x = rng.normal(size=(7, 6, 14, 14)).astype(dtype)
    w = rng.normal(size=(16, 6, 5, 5)).astype(dtype)
    g = rng.normal(size=(7, 16, 10, 10)).astype(dtype)
    bad = x.copy()
    bad[2, 1, 3, 4], bad[5, 0, 0, 0] = np.nan, np.inf
    options = dict(stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1)
    pool = dict(kernel_size=(2, 2), stride=(2, 2), padding=((0, 0), (0, 0)), dilation=(1, 1))
    monkeypatch.setattr(conv_direct2d, "SPLIT_MACS", 1)
    monkeypatch.setattr(pool_kernels, "SPLIT_ELEMENTS", 1)
    results = []
    for threads in (1, 2):
        monkeypatch.setattr(winograd, "workers", lambda: threads)
        ans = []
        for image in (x, bad):
            y = pooling._max_pool_impl(np, image, **pool)
            ans += [conv_module._conv_impl(np, image, w, **options),
                    conv_module._conv_transpose_impl(np, g, w, size=(14, 14), **options),
                    conv_module._conv_weight_impl(np, image, g, kernel_size=(5, 5), **options),
                    y, pool_kernels.max_pool_scatter(y, image, y, **pool, tiled=True),
                    pool_kernels.max_pool_gather(image, image, y, **pool)]
        results.append(ans)
    tolerance = 1e-6 if dtype == np.float32 else 1e-14
    for one, two in zip(*results):
        assert one.dtype == two.dtype == dtype
        scale = np.abs(one[np.isfinite(one)]).max()  # sums of ~150 products: rounding of the largest
        np.testing.assert_allclose(two / scale, one / scale, rtol=0, atol=tolerance)
    assert np.isnan(results[1][6]).any() and np.isnan(results[1][9]).any() and np.isinf(results[1][9]).any()
