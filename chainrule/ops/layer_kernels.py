"""GELU and layer normalisation (over the last axis) as C kernels, forward and VJP, one pass each; built
by :mod:`chainrule.compile.c_backend` (``build_or_none``), used by :mod:`.gelu` and :mod:`.layer_norm`
on float32 and float64 NumPy arrays. Without a C compiler (or with ``CHAINRULE_NO_CC``) those
primitives compute with NumPy; :func:`available` says which.

Written as NumPy computes a GELU (five passes: scale, erf, add, multiply, multiply, each allocating) or
a layer norm (mean, variance, subtract, square root, divide, scale, shift, and about ten passes back),
every value is read and written once: a layer norm's row stays in L1 between its statistics and its
outputs, and its VJP recomputes the row's mean and ``1/σ`` from ``x`` instead of keeping them.

- GELU, exact: ``y = x Φ(x) = x/2 (1 + erf(x/√2))``, ``dy/dx = Φ(x) + x φ(x)`` with
  ``φ(x) = e^(−x²/2)/√(2π)``. Tanh form: ``u = √(2/π) (x + 0.044715 x³)``, ``y = x/2 (1 + tanh u)``,
  ``dy/dx = (1 + tanh u)/2 + x/2 (1 − tanh² u) √(2/π) (1 + 3·0.044715 x²)``. In float32, ``erf`` and
  ``tanh`` are glibc's vector ``erff`` and ``tanhf`` (libmvec), and ``e^x`` (``x <= 0``) a Cody-Waite
  reduction with Cephes' polynomial, twice as fast as libmvec's ``expf``; float64 calls libm. Their
  accuracy over 10^7 points is in docs/compile.md (``python -m benchmarks.layer_kernels``).
- Layer norm over rows of ``n``: ``μ = Σx/n``, ``σ² = Σ(x − μ)²/n`` (two passes, as ``np.var``),
  ``r = 1/√(σ² + ε)``, ``x̂ = (x − μ) r``, ``y = x̂ w + b``. VJP with ``ĝ = g w``:
  ``dx = r (ĝ − mean(ĝ) − x̂ mean(ĝ x̂))``, ``dw = Σ_rows g x̂``, ``db = Σ_rows g`` (the column sums
  row after row, as NumPy sums along a leading axis).

Sums are ordered differently from NumPy's pairwise ones and ``1/√`` is multiplied where NumPy divides,
so results agree with NumPy's to the dtype's rounding, not bit for bit; NaN and infinities come out
where the NumPy formulas of :mod:`.gelu` and :mod:`.layer_norm` put them.
"""

import functools

import numpy as np

from .kernel_dtypes import NAMES

_TEMPLATE = r"""
#define T {ctype}
#define ERF {erf}
#define EXP {exp}
#define TANH {f}tanh{s}
#define SQRT {f}sqrt{s}
{gelu}

/* mean and 1/sqrt(var + eps) of rows x, x + n, x + 2n, x + 3n (two passes, as np.var): four rows at
   once, so that their sums' chains of additions overlap (one row's 128 values are 16 dependent vector
   additions, latency-bound). */
static inline void row_stats4_{name}(long n, const T *restrict x, T eps, T *mean, T *rstd) {{
    const T *x0 = x, *x1 = x + n, *x2 = x + 2 * n, *x3 = x + 3 * n;
    T a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    #pragma omp simd reduction(+:a0, a1, a2, a3)
    for (long j = 0; j < n; j++) {{ a0 += x0[j]; a1 += x1[j]; a2 += x2[j]; a3 += x3[j]; }}
    const T m0 = a0 / (T)n, m1 = a1 / (T)n, m2 = a2 / (T)n, m3 = a3 / (T)n;
    T q0 = 0, q1 = 0, q2 = 0, q3 = 0;
    #pragma omp simd reduction(+:q0, q1, q2, q3)
    for (long j = 0; j < n; j++) {{
        T d0 = x0[j] - m0, d1 = x1[j] - m1, d2 = x2[j] - m2, d3 = x3[j] - m3;
        q0 += d0 * d0; q1 += d1 * d1; q2 += d2 * d2; q3 += d3 * d3;
    }}
    mean[0] = m0; mean[1] = m1; mean[2] = m2; mean[3] = m3;
    rstd[0] = (T)1 / SQRT(q0 / (T)n + eps); rstd[1] = (T)1 / SQRT(q1 / (T)n + eps);
    rstd[2] = (T)1 / SQRT(q2 / (T)n + eps); rstd[3] = (T)1 / SQRT(q3 / (T)n + eps);
}}

static inline void row_stats_{name}(long n, const T *restrict x, T eps, T *mean, T *rstd) {{
    T total = 0;
    #pragma omp simd reduction(+:total)
    for (long j = 0; j < n; j++) total += x[j];
    const T mu = total / (T)n;
    T squares = 0;
    #pragma omp simd reduction(+:squares)
    for (long j = 0; j < n; j++) {{ T d = x[j] - mu; squares += d * d; }}
    *mean = mu;
    *rstd = (T)1 / SQRT(squares / (T)n + eps);
}}

/* the statistics of rows r.. r+3 (as many as are left), each row's the same as row_stats' */
static inline long block_stats_{name}(long rows, long r, long n, const T *restrict x, T eps, T *mean, T *rstd) {{
    if (r + 4 <= rows) {{
        row_stats4_{name}(n, x + r * n, eps, mean, rstd);
        return 4;
    }}
    row_stats_{name}(n, x + r * n, eps, mean, rstd);
    return 1;
}}

/* y = (x - mean) r w + b for each row of n (w, b: n values each, 1 and 0 for none) */
void layer_norm_{name}(long rows, long n, T *restrict y, const T *restrict x, const T *restrict w,
                       const T *restrict b, const double *restrict eps) {{
    T mean[4], rstd[4];
    for (long r = 0; r < rows;) {{
        long count = block_stats_{name}(rows, r, n, x, (T)eps[0], mean, rstd);
        for (long k = 0; k < count; k++, r++) {{
            const T *xr = x + r * n, m = mean[k], s = rstd[k];
            T *yr = y + r * n;
            #pragma omp simd
            for (long j = 0; j < n; j++) yr[j] = (xr[j] - m) * s * w[j] + b[j];
        }}
    }}
}}

/* dx (NULL: not wanted) = r (gw - mean(gw) - xh mean(gw xh)), gw = g w; dw += g xh and db += g summed
   over the rows, in row order (as NumPy sums a column). */
void layer_norm_vjp_{name}(long rows, long n, T *restrict dx, T *restrict dw, T *restrict db,
                           const T *restrict g, const T *restrict x, const T *restrict w,
                           const double *restrict eps) {{
    T mean[4], rstd[4];
    for (long r = 0; r < rows;) {{
        long count = block_stats_{name}(rows, r, n, x, (T)eps[0], mean, rstd);
        for (long k = 0; k < count; k++, r++) {{
            const T *xr = x + r * n, *gr = g + r * n, m = mean[k], s = rstd[k];
            T sum_g = 0, sum_gx = 0;
            #pragma omp simd reduction(+:sum_g, sum_gx)
            for (long j = 0; j < n; j++) {{
                T xh = (xr[j] - m) * s, gw = gr[j] * w[j];
                dw[j] += gr[j] * xh;
                db[j] += gr[j];
                sum_g += gw;
                sum_gx += gw * xh;
            }}
            if (!dx) continue;
            const T a = sum_g / (T)n, c = sum_gx / (T)n;
            T *dr = dx + r * n;
            #pragma omp simd
            for (long j = 0; j < n; j++) dr[j] = s * (gr[j] * w[j] - a - (xr[j] - m) * s * c);
        }}
    }}
}}
#undef T
#undef ERF
#undef EXP
#undef TANH
#undef SQRT
"""

_FAST_MATH = r"""
/* float32 e^x for x <= 0 (or NaN): 2^n e^r with n = rint(x / ln 2) and r = x - n ln 2 in two fmas
   (Cody and Waite; fmas, which -ffast-math does not merge), a degree-6 polynomial (Cephes' expf);
   0 below -87. 1.3 ulp at most over [-87, 0] (docs/compile.md). */
static inline float fast_expf_neg(float x) {
    float c = x < -87.0f ? -87.0f : x;
    float n = rintf(c * 1.44269504088896341f);
    float r = fmaf(n, -0.693359375f, c);
    r = fmaf(n, 2.12194440e-4f, r);
    float y = 1.9875691500E-4f;
    y = fmaf(y, r, 1.3981999507E-3f);
    y = fmaf(y, r, 8.3334519073E-3f);
    y = fmaf(y, r, 4.1665795894E-2f);
    y = fmaf(y, r, 1.6666665459E-1f);
    y = fmaf(y, r, 5.0000001201E-1f);
    y = fmaf(y, r * r, r + 1.0f);
    union { int i; float f; } scale;
    scale.i = ((int)n + 127) << 23;
    return x < -87.0f ? 0.0f : y * scale.f;
}

/* The float32 kernels' exp over an array, to measure it. */
void exp_negative_float32(long n, float *restrict y, const float *restrict x) {
    #pragma omp simd
    for (long i = 0; i < n; i++) y[i] = fast_expf_neg(x[i]);
}
"""

_GELU = r"""
/* GELU, {form} form: c = Φ(x) = {cdf_doc}; y = x c. gelu_keep also writes c to cdf, for the VJP. */
static inline T gelu_cdf_{form}_{name}(T v) {{ return (T)0.5 * ((T)1 + {cdf}); }}

void gelu_{form}_{name}(long n, T *restrict y, const T *restrict x) {{
    #pragma omp simd
    for (long i = 0; i < n; i++) y[i] = x[i] * gelu_cdf_{form}_{name}(x[i]);
}}

void gelu_keep_{form}_{name}(long n, T *restrict y, T *restrict cdf, const T *restrict x) {{
    #pragma omp simd
    for (long i = 0; i < n; i++) {{
        T c = gelu_cdf_{form}_{name}(x[i]);
        y[i] = x[i] * c;
        cdf[i] = c;
    }}
}}

/* dx = g (c + {slope_doc}); c read from cdf, or computed where cdf is NULL */
static inline T gelu_slope_{form}_{name}(T v, T c) {{ return c + {slope}; }}

void gelu_vjp_{form}_{name}(long n, T *restrict dx, const T *restrict g, const T *restrict x,
                            const T *restrict cdf) {{
    if (cdf) {{
        #pragma omp simd
        for (long i = 0; i < n; i++) dx[i] = g[i] * gelu_slope_{form}_{name}(x[i], cdf[i]);
        return;
    }}
    #pragma omp simd
    for (long i = 0; i < n; i++) dx[i] = g[i] * gelu_slope_{form}_{name}(x[i], gelu_cdf_{form}_{name}(x[i]));
}}
"""

FORMS = {
    "erf": {"cdf_doc": "(1 + erf(x/√2))/2", "cdf": "ERF(v * (T)0.7071067811865476)",
            "slope_doc": "x φ(x)), φ(x) = e^(-x²/2)/√(2π",
            "slope": "v * (T)0.3989422804014327 * EXP((T)-0.5 * v * v)"},
    # t = tanh u = 2c - 1: the slope needs no second tanh
    "tanh": {"cdf_doc": "(1 + tanh u)/2, u = √(2/π) (x + 0.044715 x³)",
             "cdf": "TANH((T)0.7978845608028654 * (v + (T)0.044715 * v * v * v))",
             "slope_doc": "x/2 (1 - t²) √(2/π) (1 + 3·0.044715 x²)), t = 2c - 1 (",
             "slope": "(T)0.5 * v * ((T)1 - ((T)2 * c - (T)1) * ((T)2 * c - (T)1)) * (T)0.7978845608028654"
                      " * ((T)1 + (T)0.134145 * v * v)"},
}

_SOURCE = "#include <math.h>\n" + _FAST_MATH + "".join(
    _TEMPLATE.format(ctype=ctype, name=name, f="", s=suffix, erf=erf, exp=exp, gelu="".join(
        _GELU.format(name=name, form=form, **parts) for form, parts in FORMS.items()))
    for ctype, name, suffix, erf, exp in (("float", "float32", "f", "erff", "fast_expf_neg"),
                                          ("double", "float64", "", "erf", "exp")))

DTYPES = tuple(NAMES.values())


@functools.cache
def _library():
    """The built library, or ``None`` when no kernel can be built here."""
    from chainrule.compile import c_backend
    signatures = {"exp_negative_float32": (1, 2)}
    for dtype in DTYPES:
        for form in FORMS:
            signatures[f"gelu_{form}_{dtype}"] = (1, 2)
            signatures[f"gelu_keep_{form}_{dtype}"] = (1, 3)
            signatures[f"gelu_vjp_{form}_{dtype}"] = (1, 4)
        signatures[f"layer_norm_{dtype}"] = (2, 5)
        signatures[f"layer_norm_vjp_{dtype}"] = (2, 7)
    return c_backend.build_or_none(_SOURCE, signatures)


def available():
    """Whether the kernels can run here (a C compiler was found and built them)."""
    return _library() is not None


def applies(*arrays):
    """Whether the kernels compute on these arrays: NumPy float32 or float64 arrays of one dtype (or
    ``None``; a compiled step's recording passes its arguments as an ndarray subclass), a compiler."""
    present = [a for a in arrays if a is not None]
    return (all(isinstance(a, np.ndarray) for a in present) and present[0].dtype in NAMES
            and all(a.dtype == present[0].dtype for a in present) and _library() is not None)


def exp_negative_float32(x):
    """The float32 kernels' ``e^x`` of ``x <= 0``, to measure its accuracy."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.empty_like(x)
    _library().exp_negative_float32(x.size, _address(y), _address(x))
    return y


def _address(array):
    return None if array is None else array.__array_interface__["data"][0]


def gelu(x, tanh_form=False, keep=True):
    """``x Φ(x)`` (the tanh form with ``tanh_form``) of a float32 or float64 array; with ``keep``, ``Φ(x)``
    is kept after the result, in the same allocation, for :func:`gelu_vjp` (:func:`kept_cdf` finds it)."""
    x = np.ascontiguousarray(x)
    flat = np.empty(x.size * (2 if keep else 1), x.dtype)
    y = flat[:x.size].reshape(x.shape)
    form = "tanh" if tanh_form else "erf"
    if keep:
        getattr(_library(), f"gelu_keep_{form}_{NAMES[x.dtype]}")(x.size, _address(y), _address(flat[x.size:]),
                                                                 _address(x))
    else:
        getattr(_library(), f"gelu_{form}_{NAMES[x.dtype]}")(x.size, _address(y), _address(x))
    return y


def kept_cdf(y):
    """The ``Φ(x)`` that :func:`gelu` kept after its result ``y``, or ``None``."""
    base = y.base if type(y) is np.ndarray else None
    if (base is None or base.ndim != 1 or base.dtype != y.dtype or base.size != 2 * y.size
            or not y.flags.c_contiguous or _address(base) != _address(y)):
        return None
    return base[y.size:]


def gelu_vjp(g, x, tanh_form=False, cdf=None):
    """``g · dGELU/dx``, reading ``Φ(x)`` from ``cdf`` (:func:`kept_cdf`) when given."""
    x, g = np.ascontiguousarray(x), np.ascontiguousarray(g, dtype=x.dtype)
    dx = np.empty_like(x)
    getattr(_library(), f"gelu_vjp_{'tanh' if tanh_form else 'erf'}_{NAMES[x.dtype]}")(
        x.size, _address(dx), _address(g), _address(x), _address(cdf))
    return dx


def _rows(x):
    n = x.shape[-1] if x.ndim else 1
    return (x.size // n if n else 0), n


def layer_norm(x, weight, bias, eps):
    """The layer norm of ``x`` over its last axis, scaled by ``weight`` and shifted by ``bias`` (each
    ``None`` or of the last axis' length)."""
    x = np.ascontiguousarray(x)
    rows, n = _rows(x)
    weight, bias = _affine(weight, n, 1, x.dtype), _affine(bias, n, 0, x.dtype)
    y = np.empty_like(x)
    epsilon = np.array([eps], np.float64)
    getattr(_library(), f"layer_norm_{NAMES[x.dtype]}")(rows, n, _address(y), _address(x), _address(weight),
                                                       _address(bias), _address(epsilon))
    return y


def _affine(parameter, n, fill, dtype):
    """``parameter`` as a contiguous array, or ``n`` copies of ``fill`` for ``None``."""
    return np.full(n, fill, dtype) if parameter is None else np.ascontiguousarray(parameter)


def layer_norm_vjp(g, x, weight, eps, wanted=(0, 1, 2)):
    """``{position: cotangent}`` of ``x`` (0), ``weight`` (1) and ``bias`` (2), for the positions in
    ``wanted``, from the output's cotangent ``g``; one pass over the rows."""
    x = np.ascontiguousarray(x)
    g = np.ascontiguousarray(g, dtype=x.dtype)
    rows, n = _rows(x)
    weight = _affine(weight, n, 1, x.dtype)
    dx = np.empty_like(x) if 0 in wanted else None
    dw, db = np.zeros(n, x.dtype), np.zeros(n, x.dtype)
    epsilon = np.array([eps], np.float64)
    getattr(_library(), f"layer_norm_vjp_{NAMES[x.dtype]}")(
        rows, n, _address(dx), _address(dw), _address(db), _address(g), _address(x), _address(weight),
        _address(epsilon))
    out = {0: dx, 1: dw, 2: db}
    return {i: out[i] for i in wanted}
