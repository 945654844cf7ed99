"""Repeated timings: warm-up calls, then the median and interquartile range of many repeats."""

import dataclasses
import statistics
import time


@dataclasses.dataclass(frozen=True)
class Budget:
    """How hard to measure.

    Attributes:
        warmup: calls made before timing (compiles JIT code, fills caches and allocator pools).
        warmup_seconds: warm-up calls go on at least this long.
        repeats: timed repeats wanted; fewer when one repeat is slow, never fewer than ``min_repeats``.
        min_repeats: the fewest timed repeats.
        repeat_seconds: a repeat calls the function often enough to last at least this long.
        total_seconds: the time the timed repeats of one function should take at most.
    """
    warmup: int
    warmup_seconds: float
    repeats: int
    min_repeats: int
    repeat_seconds: float
    total_seconds: float


FULL = Budget(warmup=3, warmup_seconds=0.2, repeats=15, min_repeats=5, repeat_seconds=0.02, total_seconds=1.5)
QUICK = Budget(warmup=2, warmup_seconds=0.05, repeats=5, min_repeats=3, repeat_seconds=0.01,
               total_seconds=0.3)


def summarize(samples):
    """The median and the quartiles of timed ``samples`` (seconds per call), and their number.

    Example:
        >>> summarize([4.0, 1.0, 3.0, 2.0, 5.0])
        {'median_s': 3.0, 'q1_s': 2.0, 'q3_s': 4.0, 'repeats': 5}
    """
    if len(samples) == 1:
        q1 = median = q3 = samples[0]
    else:
        q1, median, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return {"median_s": median, "q1_s": q1, "q3_s": q3, "repeats": len(samples)}


def measure(fn, budget):
    """Time ``fn()`` and summarise the seconds per call.

    Args:
        fn: a function of no arguments that finishes its work before returning (JAX callers block on
            their result).
        budget: a :class:`Budget`.

    Returns:
        :func:`summarize`'s dict plus ``calls_per_repeat`` and ``cpu_per_wall``: processor time over
        wall time, about 1 when one thread did the work.
    """
    warmup_end = time.perf_counter() + budget.warmup_seconds
    for _ in range(budget.warmup):
        fn()
    while time.perf_counter() < warmup_end:
        fn()
    calls, seconds = 1, _run(fn, 1)[0]
    while seconds < budget.repeat_seconds:
        calls = max(2 * calls, int(calls * budget.repeat_seconds / max(seconds, 1e-9)) + 1)
        seconds = _run(fn, calls)[0]
    repeats = max(budget.min_repeats, min(budget.repeats, int(budget.total_seconds / seconds)))
    samples, wall, cpu = [], 0.0, 0.0
    for _ in range(repeats):
        seconds, cpu_seconds = _run(fn, calls)
        samples.append(seconds / calls)
        wall += seconds
        cpu += cpu_seconds
    return summarize(samples) | {"calls_per_repeat": calls, "cpu_per_wall": cpu / wall}


def _run(fn, calls):
    """Wall and processor seconds taken by ``calls`` calls of ``fn``."""
    cpu_start, start = time.process_time(), time.perf_counter()
    for _ in range(calls):
        fn()
    return time.perf_counter() - start, time.process_time() - cpu_start
