"""The second thread of the convolution and pooling kernels: one persistent C worker, no Python hand-off.

A kernel of :mod:`.conv_direct2d` or :mod:`.pool_kernels` that may use two threads takes a ``run``
pointer (:func:`runner`): ``NULL`` runs its body once over all the work (``body(ctx, 0, 1)``); else
``run(body, ctx)`` runs ``body(ctx, 0, 2)`` on the calling thread and ``body(ctx, 1, 2)`` on a worker
thread that this library starts once and keeps. A Python thread pool's hand-off (a queue, a wake-up,
the GIL taken back) cost 0.1-0.2 ms per call on the 2-vCPU machine of docs/vision.md, as much as half
of a LeNet-5 layer; this one costs microseconds while the worker spins, which it does for
:data:`SPIN_NS` after each task before it sleeps on a futex.

The caller never waits for a worker that has not started: both threads race to claim the second half
(one compare-and-swap), so on a busy machine, where the worker is not scheduled, the caller runs both
halves itself. A second caller while the worker is in use (two Python threads calling kernels) runs
its work alone. After ``fork()`` the child starts its own worker on its first call.

:func:`threads` says how many threads the kernels use: chainrule's thread setting as the BLAS
library holds it (``--threads``, ``OPENBLAS_NUM_THREADS``, threadpoolctl's limits), at most 2.
"""

import ctypes
import functools

from . import blas_threads

SPIN_NS = 300_000
"""How long the worker spins for the next task before it sleeps. Measured on the LeNet-5 step at batch
128 (2 vCPUs, AMD EPYC): with one BLAS thread, 0.3 ms gave 15.8-16.4 ms a step against 17.5-18.6 ms
unsplit, 3 ms 16.1 ms; with two BLAS threads, whose idle OpenBLAS thread spins for ~0.1 s after a
product and takes the second core, 0.3 ms was even with unsplit and 3 ms twice as slow (44 ms). A
spin that yields the core (``sched_yield``) let the worker claim fewer halves."""


_SOURCE = r"""
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef void (*body_t)(void *, long, long);
static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int posted, sleeping, done, claimed = 2;  /* claimed: 0 open, 1 worker, 2 caller */
static body_t task_body;
static void *task_ctx;
static int started, registered;
static _Atomic long worker_halves;  /* second halves the worker ran */

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void *worker(void *arg) {
    int seen = (int)(long)arg;
    for (;;) {
        int g = atomic_load(&posted);
        if (g == seen) {
            long until = now_ns() + SPIN_NS;
            while ((g = atomic_load(&posted)) == seen && now_ns() < until)
                for (int i = 0; i < 16; i++) relax();
            if (g == seen) {
                atomic_store(&sleeping, 1);
                while ((g = atomic_load(&posted)) == seen)
                    syscall(SYS_futex, (int *)&posted, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
                atomic_store(&sleeping, 0);
            }
        }
        seen = g;
        int open = 0;
        if (atomic_compare_exchange_strong(&claimed, &open, 1)) {
            task_body(task_ctx, 1, 2);
            atomic_fetch_add(&worker_halves, 1);
            atomic_store(&done, 1);
        }
    }
    return NULL;
}

static void forked(void) {  /* in the child: no worker, the lock free */
    pthread_mutex_init(&busy, NULL);
    started = 0;
    atomic_store(&claimed, 2);
}

static int start(void) {
    if (!registered) registered = pthread_atfork(NULL, NULL, forked) == 0;
    pthread_attr_t attr;
    sigset_t all, before;
    pthread_t thread;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &before);  /* signals stay with Python's threads */
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int failed = pthread_create(&thread, &attr, worker, (void *)(long)atomic_load(&posted));
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    return failed == 0;
}

long conv_threads_worker_halves(void) { return atomic_load(&worker_halves); }

void conv_threads_run(body_t body, void *ctx) {
    if (pthread_mutex_trylock(&busy) != 0) {
        body(ctx, 0, 1);
        return;
    }
    if (!started && !(started = start())) {
        pthread_mutex_unlock(&busy);
        body(ctx, 0, 1);
        return;
    }
    atomic_store(&done, 0);
    task_body = body;
    task_ctx = ctx;
    atomic_store(&claimed, 0);
    atomic_fetch_add(&posted, 1);
    if (atomic_load(&sleeping))
        syscall(SYS_futex, (int *)&posted, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    body(ctx, 0, 2);
    int open = 0;
    if (atomic_compare_exchange_strong(&claimed, &open, 2))
        body(ctx, 1, 2);
    else
        for (long spins = 0; !atomic_load(&done); spins++)
            if (spins < 100000) relax(); else sched_yield();
    pthread_mutex_unlock(&busy);
}
"""

PROLOGUE = r"""
/* Two-thread split (chainrule.ops.conv_threads): run(body, ctx), or body(ctx, 0, 1) without one. */
typedef void (*split_body)(void *, long, long);
static void split(const void *run, split_body body, void *ctx) {
    if (run) ((void (*)(split_body, void *))run)(body, ctx);
    else body(ctx, 0, 1);
}
"""
"""C source for the kernels that split: ``split(run, body, ctx)``; a body takes its share
``[total·part/parts, total·(part+1)/parts)`` of the work."""


@functools.cache
def _library():
    from chainrule.compile import c_backend
    return c_backend.build_or_none(f"#define SPIN_NS {SPIN_NS}L\n" + _SOURCE)


def threads():
    """How many threads the kernels use (1 or 2): the BLAS thread count at most 2, as :func:`.winograd.workers`."""
    from . import winograd
    return winograd.workers()


def runner(work, least):
    """The ``run`` argument of a kernel call: the worker's entry point where two threads are allowed
    and ``work`` (the kernel's count of multiply-adds or elements) reaches ``least``, else ``None``
    (one thread)."""
    if work < least or threads() < 2:
        return None
    library = _library()
    if library is None:
        return None
    blas_threads.kernels_split()
    return ctypes.cast(library.conv_threads_run, ctypes.c_void_p).value


def worker_halves():
    """How many second halves the worker thread has run in this process (the others ran on the caller)."""
    library = _library()
    return 0 if library is None else library.conv_threads_worker_halves()
