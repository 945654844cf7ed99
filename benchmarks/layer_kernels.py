"""``python -m benchmarks.layer_kernels``: the GELU and layer-norm kernels' own figures
(chainrule/ops/layer_kernels.py; docs/compile.md quotes them).

- accuracy of the float32 kernels' ``e^x`` (``x <= 0``), and of the GELU's value and slope (exact and
  tanh forms), against float64 NumPy/SciPy over 10^7 evenly spaced points: ulp of the float32 result
  (for the GELU where ``x >= -3``: below, ``1 + erf(x/√2)`` cancels in any float32 formula), and the
  largest error relative to ``max(|y|, 1)`` over the whole range beside the NumPy float32 formula's;
- time of one forward and one VJP on the GPT step's shapes (GELU ``12 x 64 x 512``, layer norm
  ``12 x 64 x 128``): the kernel against the NumPy formulas of ``ops/gelu.py`` and ``ops/layer_norm.py``.

One thread, medians; run it under ``compute --both`` and quote the load average.
"""

import math
import os

import numpy as np

from .kernels import median_time

POINTS = 10_000_000


def _ulp(got, want):
    normal = np.abs(want) > np.finfo(np.float32).tiny
    ulp = np.abs(got[normal] - want[normal]) / np.spacing(np.abs(want[normal]).astype(np.float32))
    return float(np.max(ulp)), float(np.mean(ulp))


def _relative(got, want):
    return float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1.0)))


def _slope(x, form):
    """dGELU/dx in float64."""
    import scipy.special
    if form == "tanh":
        k = math.sqrt(2 / math.pi)
        t = np.tanh(k * (x + 0.044715 * x ** 3))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
    return 0.5 * (1 + scipy.special.erf(x / math.sqrt(2))) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def accuracy():
    """Rows ``(what, range, max ulp, mean ulp, max relative error, NumPy float32's max relative error)``."""
    from chainrule.ops import gelu, layer_kernels
    rows = []
    x = np.linspace(-87.0, 0.0, POINTS).astype(np.float32)
    got = layer_kernels.exp_negative_float32(x).astype(np.float64)
    want = np.exp(x.astype(np.float64))
    rows.append(("exp", (-87.0, 0.0), *_ulp(got, want), _relative(got, want), None))
    for form in ("erf", "tanh"):
        approximate = "tanh" if form == "tanh" else "none"
        x = np.linspace(-10.0, 10.0, POINTS).astype(np.float32)
        x64 = x.astype(np.float64)
        value = gelu._gelu(np, x, approximate=approximate)
        slope = gelu._slope_times(None, np.ones_like(x), value, x, approximate=approximate)
        want = gelu._gelu(np, x64, approximate=approximate)  # float64 through libm: the reference
        want_slope = _slope(x64, form)
        numpy32 = _numpy_gelu(x, form)
        for what, got, reference, numpy_got in (("value", value, want, numpy32),
                                                 ("slope", slope, want_slope, None)):
            got = got.astype(np.float64)
            inside = x >= -3
            rows.append((f"GELU ({form}) {what}", (-10.0, 10.0), *_ulp(got[inside], reference[inside]),
                         _relative(got, reference),
                         None if numpy_got is None else _relative(numpy_got.astype(np.float64), reference)))
    return rows


def _numpy_gelu(x, form):
    """The composed float32 formula, as NumPy computes it without the kernels."""
    import scipy.special
    if form == "tanh":
        return 0.5 * x * (1 + np.tanh(np.float32(math.sqrt(2 / math.pi)) * (x + np.float32(0.044715) * x * x * x)))
    return 0.5 * x * (1 + scipy.special.erf(x * np.float32(1 / math.sqrt(2))))


def timings():
    """``{what: (NumPy seconds, kernel seconds)}`` on the GPT step's shapes."""
    from chainrule.core.mode import BARE
    from chainrule.ops import gelu, layer_kernels, layer_norm
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 64, 512)).astype(np.float32)
    h = (rng.standard_normal((12, 64, 128)) * 2 + 1).astype(np.float32)
    w, b = rng.standard_normal(128).astype(np.float32), rng.standard_normal(128).astype(np.float32)
    kept = {}  # the GELU's result for its VJP, made in the same mode as the VJP it serves
    cases = {
        "GELU forward, 12x64x512": lambda: gelu._gelu(np, x),
        "GELU VJP": lambda: gelu._slope_times(BARE.ns, x, kept["y"], x),
        "layer norm forward, 12x64x128": lambda: layer_norm._layer_norm(np, h, w, b),
        "layer norm VJP (x, w, b)": lambda: _norm_vjp(layer_norm, BARE.ns, h, w, b),
    }
    results = {}
    real = layer_kernels.applies
    for what, fn in cases.items():
        layer_kernels.applies = lambda *arrays: False
        try:
            kept["y"] = gelu._gelu(np, x)
            slow = median_time(fn, repeats=51)
        finally:
            layer_kernels.applies = real
        kept["y"] = gelu._gelu(np, x)
        results[what] = (slow, median_time(fn, repeats=51))
    return results


def _norm_vjp(module, ns, h, w, b):
    cotangents = module._vjp((0, 1, 2), ns, h, None, h, w, b)
    return [np.reshape(c, (-1, h.shape[-1])).sum(axis=0) if c.shape != h.shape else c for c in cotangents]


def main():
    print(f"load average: {os.getloadavg()}")
    print(f"\nfloat32 kernels of chainrule/ops/layer_kernels.py, {POINTS:.0e} points, against float64:")
    print("| function | range | max ulp | mean ulp | max error / max(|y|, 1) | NumPy float32 formula's |")
    print("|---|---|---|---|---|---|")
    for what, (low, high), worst, mean, relative, numpy_relative in accuracy():
        numpy_text = "—" if numpy_relative is None else f"{numpy_relative:.1e}"
        print(f"| {what} | [{low:g}, {high:g}] | {worst:.2f} | {mean:.3f} | {relative:.1e} | {numpy_text} |")
    print("\n| operation | NumPy formula | kernel | ratio |")
    print("|---|---|---|---|")
    for what, (slow, fast) in timings().items():
        print(f"| {what} | {slow * 1e3:.3f} ms | {fast * 1e3:.3f} ms | {fast / slow:.2f}x |")


if __name__ == "__main__":
    main()
