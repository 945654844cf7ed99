"""``python -m benchmarks.kernels``: the fused-kernel backend's own figures (docs/compile.md quotes them).

- accuracy of float32 ``exp``, ``tanh``, ``sigmoid``, ``erf``, ``log`` in a fused kernel (glibc's vector
  math through ``-lmvec``) against NumPy/SciPy in float64, over 10^7 points, in ulp;
- an AdamW update of 1M float32 parameters: the fused kernel against NumPy's ``adamw_step``;
- a GELU forward chain on 1.57M float32 values: fused against the NumPy replay (``exact=True``);
- the compile time of a GPT step's kernels, cold (empty cache) and warm (from the disk cache).

One thread, medians; run it under ``compute --both`` and quote the load average.
"""

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

POINTS = 10_000_000


def median_time(fn, repeats=21):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def accuracy():
    import scipy.special

    import chainrule as cr
    ranges = {"exp": (np.exp, -87.0, 88.0), "tanh": (np.tanh, -10.0, 10.0),
              "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), -30.0, 30.0), "erf": (scipy.special.erf, -5.0, 5.0),
              "log": (np.log, 1e-6, 1e6)}
    rows = []
    for name, (reference, low, high) in ranges.items():
        x = np.linspace(low, high, POINTS).astype(np.float32)
        fused = cr.compile(lambda t, name=name: getattr(cr, name)(t))
        got = fused(x).numpy().astype(np.float64)
        want = reference(x.astype(np.float64))
        normal = np.abs(want) > np.finfo(np.float32).tiny
        ulp = np.abs(got[normal] - want[normal]) / np.spacing(np.abs(want[normal]).astype(np.float32))
        numpy_ulp = None
        if name in ("exp", "tanh", "log"):
            numpy32 = getattr(np, name)(x).astype(np.float64)
            numpy_ulp = float(np.max(np.abs(numpy32[normal] - want[normal]) /
                                     np.spacing(np.abs(want[normal]).astype(np.float32))))
        rows.append((name, low, high, float(np.max(ulp)), float(np.mean(ulp)), numpy_ulp))
    return rows


def adamw():
    from chainrule import optim
    from chainrule.compile.fused_updates import fused_step
    from chainrule.core.tensor import Tensor
    from chainrule.optim.functional import adamw_step
    rng = np.random.default_rng(0)
    n = 1_000_000
    p = Tensor(rng.standard_normal(n).astype(np.float32), requires_grad=True)
    p.grad = Tensor(rng.standard_normal(n).astype(np.float32))
    m, v = np.zeros(n, np.float32), np.zeros(n, np.float32)
    param = p.data.copy()
    state = {"t": 0}

    def numpy_update():
        state["t"] += 1
        adamw_step(param, p.grad.data, m, v, step=state["t"], lr=1e-3)
    optimizer = optim.AdamW([p], lr=1e-3)
    optimizer.step()  # makes the state
    kernel = fused_step(optimizer)
    return median_time(numpy_update), median_time(kernel)


def gelu_chain():
    import chainrule as cr
    x = np.random.default_rng(0).standard_normal((1024, 1536)).astype(np.float32)

    def chain(t):  # composed (F.gelu on the CPU is one primitive: benchmarks/layer_kernels.py)
        t = cr.tensor(t)
        return 0.5 * t * (1 + cr.erf(t * 2 ** -0.5))
    fused = cr.compile(chain)
    exact = cr.compile(chain, exact=True)
    return median_time(lambda: exact(x)), median_time(lambda: fused(x))


GPT_STEP = """
import time, numpy as np, chainrule as cr
from chainrule import nn, optim
from chainrule.compile import c_backend
from chainrule.nn.gpt import GPT, GPTConfig
model = GPT(GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0), generator=0)
opt = optim.AdamW(model.parameters(), lr=1e-3)
def step(idx, targets):
    opt.zero_grad()
    _, loss = model(idx, targets)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss
rng = np.random.default_rng(0)
idx, targets = rng.integers(0, 65, (12, 64)), rng.integers(0, 65, (12, 64))
start = time.perf_counter()
cr.compile(step)(idx, targets)
total = time.perf_counter() - start
print(f"{total:.3f} {c_backend.stats.seconds:.3f} {c_backend.stats.built} {c_backend.stats.cached}")
"""


def gpt_compile_time():
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "CHAINRULE_CACHE": cache, "OPENBLAS_NUM_THREADS": "1"}
        runs = [subprocess.run([sys.executable, "-c", GPT_STEP], env=env, capture_output=True, text=True,
                               check=True).stdout.split() for _ in range(2)]
    return [tuple(map(float, run)) for run in runs]


def main():
    print(f"load average: {os.getloadavg()}")
    print(f"\nfloat32 vector math in a fused kernel, {POINTS:.0e} points, against float64 NumPy/SciPy:")
    print("| function | range | max ulp | mean ulp | NumPy float32 max ulp |")
    print("|---|---|---|---|---|")
    for name, low, high, worst, mean, numpy_ulp in accuracy():
        numpy_text = "—" if numpy_ulp is None else f"{numpy_ulp:.2f}"
        print(f"| {name} | [{low:g}, {high:g}] | {worst:.2f} | {mean:.3f} | {numpy_text} |")
    numpy_time, kernel_time = adamw()
    print(f"\nAdamW update, 1M float32 parameters: NumPy {numpy_time * 1e3:.2f} ms, fused kernel "
          f"{kernel_time * 1e3:.2f} ms ({kernel_time / numpy_time:.2f}x)")
    exact, fused = gelu_chain()
    print(f"GELU (exact, erf) on 1.57M float32 values: NumPy replay {exact * 1e3:.2f} ms, fused "
          f"{fused * 1e3:.2f} ms ({fused / exact:.2f}x)")
    (cold_total, cold_cc, built, _), (warm_total, warm_cc, _, cached) = gpt_compile_time()
    print(f"GPT step (nanoGPT CPU baseline) recorded and compiled: cold cache {cold_total:.2f} s "
          f"({built:.0f} kernels built, {cold_cc:.2f} s in gcc), warm cache {warm_total:.2f} s "
          f"({cached:.0f} kernels from the cache)")


if __name__ == "__main__":
    main()
