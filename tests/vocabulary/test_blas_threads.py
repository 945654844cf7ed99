"""The BLAS thread count of each matrix product (chainrule.ops.blas_threads): small products on one
thread, the user's count as the upper bound, the count restored, the results those of one thread."""

import multiprocessing

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops import blas_threads

threadpoolctl = pytest.importorskip("threadpoolctl")
needs_openblas = pytest.mark.skipif(blas_threads._openblas() is None,
                                    reason="NumPy's BLAS is not OpenBLAS with pthreads")


@pytest.fixture(autouse=True)
def no_recent_split(monkeypatch):
    """No kernel split its work just before (an earlier test's convolution would raise the bound)."""
    monkeypatch.setattr(blas_threads, "_split_at", float("-inf"))


def _count():
    return blas_threads._openblas()[0]()


@pytest.fixture
def spy(monkeypatch):
    """The OpenBLAS thread count seen inside each ``np.matmul`` call, in order."""
    seen, product = [], np.matmul

    def matmul(*args, **kwargs):
        seen.append(_count())
        return product(*args, **kwargs)
    monkeypatch.setattr(np, "matmul", matmul)
    return seen


def test_macs_counts_one_product_of_a_stack():
    a, b = np.zeros((5, 3, 4)), np.zeros((4, 7))
    assert blas_threads.macs(a, b) == 3 * 4 * 7
    assert blas_threads.macs(np.zeros(4), b) == 4 * 7
    assert blas_threads.macs(a, np.zeros(4)) == 3 * 4
    assert blas_threads.macs(np.zeros(()), b) == 0


@needs_openblas
def test_small_products_take_one_thread_and_the_count_comes_back(monkeypatch, spy):
    monkeypatch.setattr(blas_threads, "ONE_THREAD_MACS", 1000)
    rng = np.random.default_rng(0)
    small, large = rng.normal(size=(9, 10)), rng.normal(size=(10, 100))  # 9,000 multiply-adds
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        blas_threads.matmul(np, small, small.T.copy())  # 810
        assert _count() == 2
        blas_threads.matmul(np, small, large)
        assert _count() == 2
    assert spy == [1, 2]


@needs_openblas
def test_the_users_limit_is_never_raised(monkeypatch, spy):
    monkeypatch.setattr(blas_threads, "ONE_THREAD_MACS", 10)
    a = np.ones((20, 20))
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        blas_threads.matmul(np, a, a)
        blas_threads.matmul(np, a[:2, :2], a[:2, :2])
        assert _count() == 1
    assert spy == [1, 1]


@needs_openblas
def test_a_failing_product_restores_the_count():
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        with pytest.raises(ValueError, match="matmul"):
            blas_threads.matmul(np, np.ones((3, 4)), np.ones((5, 2)))
        assert _count() == 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_products_and_gradients_equal_one_threads(dtype):
    """matmul and linear with their gradients, at 2 threads allowed, against the same at 1 thread
    (LeNet-5's layer shapes, below the one-thread bound: the same single-thread BLAS calls)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(128, 400)).astype(dtype)
    w, b = rng.normal(size=(120, 400)).astype(dtype), rng.normal(size=120).astype(dtype)

    def run():
        xt, wt, bt = (cr.tensor(v, requires_grad=True) for v in (x, w, b))
        y = cr.nn.functional.linear(xt, wt, bt)
        z = cr.matmul(y, wt)
        (y.sum() + (z * z).sum()).backward()
        return [v.data.copy() for v in (y, z, xt.grad, wt.grad, bt.grad)]
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        one = run()
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        two = run()
        assert blas_threads.allowed() == 2
    for a, c in zip(one, two):
        np.testing.assert_array_equal(a, c)


def test_without_openblas_products_run_as_numpy_decides(monkeypatch):
    monkeypatch.setattr(blas_threads, "_openblas", lambda: None)
    a = np.arange(12.0).reshape(3, 4)
    out = np.empty((3, 3))
    assert blas_threads.matmul(np, a, a.T, out=out) is out
    np.testing.assert_array_equal(out, a @ a.T)


@needs_openblas
def test_a_forked_child_switches_its_own_pool():
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        blas_threads.matmul(np, np.ones((300, 300)), np.ones((300, 300)))  # the parent's pool started
        with multiprocessing.get_context("fork").Pool(1) as pool:
            total, during, after = pool.apply(_child_product)
    assert total == 30.0 * 30 * 30 and during == 1 and after == 2


def _child_product():
    seen, product = [], np.matmul

    def matmul(*args, **kwargs):
        seen.append(_count())
        return product(*args, **kwargs)
    np.matmul = matmul
    try:
        ans = blas_threads.matmul(np, np.ones((30, 30)), np.ones((30, 30)))
    finally:
        np.matmul = product
    return float(ans.sum()), seen[0], _count()


def test_numpys_own_library_is_chosen_beside_scipys():
    """SciPy's wheel loads a second OpenBLAS: the one switched is the one inside NumPy's wheel (a
    regression: with two libraries loaded, no product was switched)."""
    class Library:
        def __init__(self, filepath):
            self.filepath = filepath
    home = blas_threads.os.path.dirname(blas_threads.os.path.realpath(np.__file__))
    scipys, numpys = Library("/elsewhere/scipy.libs/libscipy_openblas.so"), Library(home + ".libs/libopenblas.so")
    assert blas_threads._numpy_library([scipys, numpys]) is numpys
    assert blas_threads._numpy_library([scipys]) is scipys
    assert blas_threads._numpy_library([scipys, Library("/other/libopenblas.so")]) is None


@needs_openblas
def test_while_kernels_split_larger_products_take_one_thread(monkeypatch, spy):
    monkeypatch.setattr(blas_threads, "ONE_THREAD_MACS", 100)
    monkeypatch.setattr(blas_threads, "SHARED_CORE_MACS", 10_000)
    monkeypatch.setattr(blas_threads, "_split_at", float("-inf"))
    a = np.ones((10, 10))  # 1,000 multiply-adds: between the two bounds
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        blas_threads.matmul(np, a, a)
        blas_threads.kernels_split()
        blas_threads.matmul(np, a, a)
        blas_threads.matmul(np, np.ones((100, 100)), np.ones((100, 100)))  # 1M: above both
        monkeypatch.setattr(blas_threads, "_split_at", blas_threads.time.monotonic()
                            - blas_threads.SHARED_CORE_SECONDS - 0.01)
        blas_threads.matmul(np, a, a)
    assert spy == [2, 1, 2, 2]


def test_a_split_kernel_call_marks_the_second_core_taken(monkeypatch):
    from chainrule.ops import conv_threads, winograd
    if conv_threads._library() is None:
        pytest.skip("no C compiler")
    monkeypatch.setattr(blas_threads, "_split_at", float("-inf"))
    monkeypatch.setattr(winograd, "workers", lambda: 1)
    assert conv_threads.runner(10**9, 1) is None and blas_threads._split_at == float("-inf")
    monkeypatch.setattr(winograd, "workers", lambda: 2)
    assert conv_threads.runner(10**9, 1) is not None and blas_threads._bound() == blas_threads.SHARED_CORE_MACS
