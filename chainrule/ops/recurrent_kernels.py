"""LSTM and GRU scans with each step's elementwise work as one C kernel, built by
:mod:`chainrule.compile.c_backend`; the matrix products stay BLAS calls (``numpy.matmul`` with ``out=``).

NumPy spends a step of an LSTM in about fifteen passes over ``(B, 4H)`` arrays (bias, scaling, tanh,
slices, products, sums), each a Python call; here one kernel per step reads the product
``h_{t-1} W_hhᵀ`` and writes the state. The forward keeps what the reverse scan reads, as PyTorch's
workspace does: LSTM ``(i, f, g, o, tanh c_t)``, GRU ``(r, z, n, hw_n)`` per step, in the same
allocation as the states, after them (:func:`saved_gates` finds them from the states alone, and they
live exactly as long as the states). An LSTM's states interleave ``h`` and ``c`` in each row, so its
kernel also writes ``h`` once more as one contiguous ``(T, B, H)`` block after the gates
(:func:`saved_hidden`): the layer's output (``recurrent_hidden``), which fused kernels can then read,
and the operand of ``dW_hh``. The reverse scan then needs no product to recompute ``hw``, and
one kernel per step gives the cotangents of ``xw`` and ``hw`` (:mod:`.recurrent`'s equations, with
``σ' = σ(1 - σ)``, ``tanh' = 1 - tanh²``) and the carry to the step before; ``dh_{t-1}`` is one product
``dhw_t W_hh`` added by the next kernel.

Padding (``lengths``): a step past a sequence's end copies the state (forward) and passes the cotangent
on unchanged (reverse), a flag per row. Sigmoid is ``(1 + tanh(x/2)) / 2`` as in NumPy's path; vector
``tanh`` (glibc's libmvec) rounds differently from NumPy's, so results agree to the dtype's rounding,
with NaN and infinities where NumPy puts them. Without a C compiler (or with ``CHAINRULE_NO_CC``),
:mod:`.recurrent` computes with NumPy.
"""

import functools
import sys
import threading
from itertools import repeat

import numpy as np

from .kernel_dtypes import NAMES

_FAST_TANH = r"""
/* tanh in float32 as Eigen's rational function (a degree 13/6 minimax fit on [-c, c], beyond which
   tanh rounds to ±1; x itself below 4e-4): a few ulp (measured in docs/compile.md), vectorised without
   libmvec's slower tanhf. NaN compares false and passes through. */
static inline float fast_tanhf(float x) {
    const float c = 7.90531110763549805f;
    float y = x > c ? c : (x < -c ? -c : x);
    float y2 = y * y;
    float p = y2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
    p = y2 * p + -8.60467152213735e-11f;
    p = y2 * p + 5.12229709037114e-08f;
    p = y2 * p + 1.48572235717979e-05f;
    p = y2 * p + 6.37261928875436e-04f;
    p = y2 * p + 4.89352455891786e-03f;
    float q = y2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
    q = y2 * q + 2.26843463243900e-03f;
    q = y2 * q + 4.89352518554385e-03f;
    return fabsf(x) < 0.0004f ? x : y * p / q;
}

/* The float32 kernels' tanh over an array, to measure it. */
void tanh_float32(long n, float *restrict y, const float *restrict x) {
    #pragma omp simd
    for (long i = 0; i < n; i++) y[i] = fast_tanhf(x[i]);
}
"""

_TEMPLATE = r"""
#define T {ctype}
#define TANH {tanh}
#define SIG(x) ((T)0.5 + (T)0.5 * TANH((T)0.5 * (x)))

/* One LSTM step for rows b: z = xw + hw + bias (gates i, f, g, o), c = f c' + i g, h = o tanh c.
   prev, out: rows of stride 2H ([h, c]); ws: rows of 5H (i, f, g, o, tanh c); hid: rows of H, h
   once more, contiguous; a row whose active flag is 0 copies its previous state. */
void lstm_forward_{name}(long B, long H, const T *restrict xw, const T *restrict hw,
                         const T *restrict bias, const T *restrict prev, T *restrict out,
                         T *restrict ws, T *restrict hid, const unsigned char *restrict active) {{
    for (long b = 0; b < B; b++) {{
        const T *x = xw + b * 4 * H, *p = hw + b * 4 * H, *cp = prev + b * 2 * H + H;
        T *h = out + b * 2 * H, *c = h + H, *hh = hid + b * H;
        if (active && !active[b]) {{
            for (long j = 0; j < 2 * H; j++) h[j] = prev[b * 2 * H + j];
            for (long j = 0; j < H; j++) hh[j] = h[j];
            continue;
        }}
        T *w = ws + b * 5 * H;
        #pragma omp simd
        for (long j = 0; j < H; j++) {{
            T i = SIG(x[j] + p[j] + bias[j]);
            T f = SIG(x[H + j] + p[H + j] + bias[H + j]);
            T g = TANH(x[2 * H + j] + p[2 * H + j] + bias[2 * H + j]);
            T o = SIG(x[3 * H + j] + p[3 * H + j] + bias[3 * H + j]);
            T cn = f * cp[j] + i * g;
            T tc = TANH(cn);
            c[j] = cn;
            h[j] = hh[j] = o * tc;
            w[j] = i; w[H + j] = f; w[2 * H + j] = g; w[3 * H + j] = o; w[4 * H + j] = tc;
        }}
    }}
}}

/* One reverse LSTM step. d = (dh, dc) = g + carry + [gemm, 0] (gemm = dz_{{t+1}} W_hh);
   dc += dh o (1 - tanh² c); dz = (dc g σ'_i, dc c' σ'_f, dc i tanh'_g, dh tanh(c) σ'_o);
   carry becomes (0, dc f). An inactive row passes d on as the carry, with dz = 0. */
void lstm_reverse_{name}(long B, long H, const T *restrict g, const T *restrict gemm,
                         T *restrict carry, const T *restrict ws, const T *restrict prev,
                         T *restrict dz, const unsigned char *restrict active) {{
    for (long b = 0; b < B; b++) {{
        const T *gr = g + b * 2 * H, *w = ws + b * 5 * H, *cp = prev + b * 2 * H + H;
        const T *m = gemm + b * H;
        T *k = carry + b * 2 * H, *z = dz + b * 4 * H;
        if (active && !active[b]) {{
            for (long j = 0; j < H; j++) {{
                k[j] += gr[j] + m[j]; k[H + j] += gr[H + j];
                z[j] = z[H + j] = z[2 * H + j] = z[3 * H + j] = 0;
            }}
            continue;
        }}
        #pragma omp simd
        for (long j = 0; j < H; j++) {{
            T i = w[j], f = w[H + j], gg = w[2 * H + j], o = w[3 * H + j], tc = w[4 * H + j];
            T dh = gr[j] + k[j] + m[j];
            T dc = gr[H + j] + k[H + j] + dh * o * (1 - tc * tc);
            z[j] = dc * gg * i * (1 - i);
            z[H + j] = dc * cp[j] * f * (1 - f);
            z[2 * H + j] = dc * i * (1 - gg * gg);
            z[3 * H + j] = dh * tc * o * (1 - o);
            k[j] = 0;
            k[H + j] = dc * f;
        }}
    }}
}}

/* One GRU step: r, z = σ(xw + hw + bias), hn = hw_n + bias_n, n = tanh(xw_n + r hn),
   h = n + z (h' - n); ws: rows of 4H (r, z, n, hn). */
void gru_forward_{name}(long B, long H, const T *restrict xw, const T *restrict hw,
                        const T *restrict bias, const T *restrict prev, T *restrict out,
                        T *restrict ws, const unsigned char *restrict active) {{
    for (long b = 0; b < B; b++) {{
        const T *x = xw + b * 3 * H, *p = hw + b * 3 * H, *hp = prev + b * H;
        T *h = out + b * H;
        if (active && !active[b]) {{
            for (long j = 0; j < H; j++) h[j] = hp[j];
            continue;
        }}
        T *w = ws + b * 4 * H;
        #pragma omp simd
        for (long j = 0; j < H; j++) {{
            T r = SIG(x[j] + p[j] + bias[j]);
            T z = SIG(x[H + j] + p[H + j] + bias[H + j]);
            T hn = p[2 * H + j] + bias[2 * H + j];
            T n = TANH(x[2 * H + j] + r * hn);
            h[j] = n + z * (hp[j] - n);
            w[j] = r; w[H + j] = z; w[2 * H + j] = n; w[3 * H + j] = hn;
        }}
    }}
}}

/* One reverse GRU step. d = g + carry + gemm; A_n = d (1 - z) tanh'_n, A_r = A_n hn σ'_r,
   A_z = d (h' - n) σ'_z: dxw = (A_r, A_z, A_n), dhw = (A_r, A_z, A_n r), carry becomes d z. */
void gru_reverse_{name}(long B, long H, const T *restrict g, const T *restrict gemm,
                        T *restrict carry, const T *restrict ws, const T *restrict prev,
                        T *restrict dxw, T *restrict dhw, const unsigned char *restrict active) {{
    for (long b = 0; b < B; b++) {{
        const T *gr = g + b * H, *w = ws + b * 4 * H, *hp = prev + b * H;
        const T *m = gemm + b * H;
        T *k = carry + b * H, *dx = dxw + b * 3 * H, *dw = dhw + b * 3 * H;
        if (active && !active[b]) {{
            for (long j = 0; j < H; j++) {{
                k[j] += gr[j] + m[j];
                dx[j] = dx[H + j] = dx[2 * H + j] = dw[j] = dw[H + j] = dw[2 * H + j] = 0;
            }}
            continue;
        }}
        #pragma omp simd
        for (long j = 0; j < H; j++) {{
            T r = w[j], z = w[H + j], n = w[2 * H + j], hn = w[3 * H + j];
            T d = gr[j] + k[j] + m[j];
            T an = d * (1 - z) * (1 - n * n);
            T ar = an * hn * r * (1 - r);
            T az = d * (hp[j] - n) * z * (1 - z);
            dx[j] = dw[j] = ar;
            dx[H + j] = dw[H + j] = az;
            dx[2 * H + j] = an;
            dw[2 * H + j] = an * r;
            k[j] = d * z;
        }}
    }}
}}
#undef T
#undef TANH
#undef SIG
"""

_SOURCE = "#include <math.h>\n" + _FAST_TANH + "".join(
    _TEMPLATE.format(ctype=ctype, tanh=tanh, name=name)
    for ctype, tanh, name in (("float", "fast_tanhf", "float32"), ("double", "tanh", "float64")))

MODES = {"lstm": (4, 2, 5), "gru": (3, 1, 4)}
"""Per cell: gates, state width and saved width (in units of H)."""

HIDDEN_PLANE = {"lstm": True, "gru": False}
"""Whether the forward writes the hidden states once more as a contiguous ``(T, B, H)`` block after the
gates (LSTM: its states interleave ``h`` and ``c``; :func:`saved_hidden` gives the layer's output and
``dW_hh``'s operand without a strided read)."""

DTYPES = tuple(NAMES.values())


@functools.cache
def _library():
    """The built library, or ``None`` when no kernel can be built here."""
    from chainrule.compile import c_backend
    signatures = {"tanh_float32": (1, 2)}
    for mode in MODES:
        for dtype in DTYPES:
            signatures[f"{mode}_forward_{dtype}"] = (2, 8 if HIDDEN_PLANE[mode] else 7)
            signatures[f"{mode}_reverse_{dtype}"] = (2, 8 if mode == "gru" else 7)
    return c_backend.build_or_none(_SOURCE, signatures)


def tanh_float32(x):
    """The float32 kernels' ``tanh`` of ``x`` (to measure its accuracy; needs a compiler)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.empty_like(x)
    _library().tanh_float32(x.size, y.ctypes.data, x.ctypes.data)
    return y


def applies(mode, dtype, *arrays):
    """Whether the kernels compute this scan: LSTM or GRU, float32 or float64 NumPy arrays, a compiler."""
    return (mode in MODES and np.dtype(dtype) in NAMES
            and all(isinstance(a, np.ndarray) for a in arrays) and _library() is not None)


def _address(array):
    return array.__array_interface__["data"][0]


def _steps(array, steps):
    """Where each of the first ``steps`` steps of a C-contiguous ``(T, ...)`` array starts, a list
    (``None`` for every step: none; a ``(1, ...)`` array: its one step every time). Reading
    ``array[t].ctypes.data`` costs microseconds a call, more than a small step's kernel."""
    if array is None or len(array) == 1:
        return [None if array is None else _address(array)] * steps
    start, stride = _address(array), array.strides[0]
    return list(range(start, start + steps * stride, stride))


POOL_SIZE = 8
"""The most buffers :func:`_buffer` keeps for reuse."""

_pool, _pool_lock = [], threading.Lock()


def _buffer(size, dtype):
    """A 1-D array of ``size`` elements, uninitialised: one the scans made before when nothing refers to
    it any more (its reference count says so), else a new one, kept for later.

    A training step frees its scans' states and cotangents at the end of the backward pass, and a new
    array of megabytes is new pages, each faulted in by the kernel (about 3 µs a page on the machine of
    docs/compile.md: 2,200 faults, 7 ms, of an LSTM step of 31 ms); reusing the same buffers keeps them
    resident, as PyTorch's workspaces are."""
    dtype = np.dtype(dtype)
    with _pool_lock:
        # free: referred to by the pool and getrefcount's argument alone (no view of it is alive)
        free = [i for i in range(len(_pool)) if sys.getrefcount(_pool[i]) == 2]
        for i in free:
            if _pool[i].size == size and _pool[i].dtype == dtype:
                return _pool[i]
        buffer = np.empty(size, dtype=dtype)
        if len(_pool) >= POOL_SIZE:
            if not free:
                return buffer
            _pool.pop(free[0])  # the oldest free one
        _pool.append(buffer)
        return buffer


def scan(xw, state0, weight_hh, bias_hh, mode, dtype, mask=None, save=True):
    """The states ``(T, B, width·H)`` of the scan, ``mask`` ``(T, B)`` ``uint8`` (``None``: no lengths);
    with ``save``, the gates the reverse scan reads are kept after them (:func:`saved_gates`)."""
    gates, width, saved = MODES[mode]
    steps, batch, _ = xw.shape
    H = weight_hh.shape[1]
    xw, state0, bias = (np.ascontiguousarray(a, dtype=dtype) for a in (xw, state0, bias_hh))
    weight_t = np.ascontiguousarray(np.asarray(weight_hh, dtype=dtype).T)
    plane = HIDDEN_PLANE[mode]
    if save:
        size, kept = steps * batch * width * H, steps * batch * saved * H
        flat = _buffer(size + kept + plane * steps * batch * H, dtype)
        states = flat[:size].reshape(steps, batch, width * H)
        ws = flat[size:size + kept].reshape(steps, batch, saved * H)
        hidden_plane = flat[size + kept:].reshape(steps, batch, H) if plane else None
    else:  # every step writes its gates into one scratch block (unconditional stores vectorise better)
        states = np.empty((steps, batch, width * H), dtype=dtype)
        ws = np.empty((1, batch, saved * H), dtype=dtype)
        hidden_plane = np.empty((1, batch, H), dtype=dtype) if plane else None
    hw = np.empty((batch, gates * H), dtype=dtype)
    forward = getattr(_library(), f"{mode}_forward_{np.dtype(dtype).name}")
    out = _steps(states, steps)
    # each step's arguments made before the loop, as in reverse
    calls = list(zip(repeat(batch), repeat(H), _steps(xw, steps), repeat(_address(hw)),
                     repeat(_address(bias)), [_address(state0)] + out[:-1], out, _steps(ws, steps),
                     *([_steps(hidden_plane, steps)] if plane else []), _steps(mask, steps)))
    hidden, matmul = [state0[:, :H]] + [state[:, :H] for state in states[:-1]], np.matmul
    for t in range(steps):
        matmul(hidden[t], weight_t, out=hw)
        forward(*calls[t])
    return states


def _saved(states, mode):
    """``(base, gates' width)`` of what :func:`scan` kept after ``states`` (the same allocation), or
    ``None`` when ``states`` was made otherwise."""
    base = states.base if isinstance(states, np.ndarray) and type(states) is np.ndarray else None
    if mode not in MODES or base is None or base.ndim != 1 or base.dtype != states.dtype or states.ndim != 3:
        return None
    steps, batch, width_h = states.shape
    hidden = width_h // MODES[mode][1]
    saved = MODES[mode][2] * hidden
    if (base.size != states.size + steps * batch * (saved + HIDDEN_PLANE[mode] * hidden)
            or not states.flags.c_contiguous
            or base.__array_interface__["data"][0] != states.__array_interface__["data"][0]):
        return None
    return base, saved


def saved_gates(states, mode):
    """The gates :func:`scan` kept after ``states``, ``(T, B, saved·H)``, or ``None`` when ``states``
    was made otherwise."""
    found = _saved(states, mode)
    if found is None:
        return None
    base, saved = found
    steps, batch, _ = states.shape
    return base[states.size:states.size + steps * batch * saved].reshape(steps, batch, saved)


def saved_hidden(states, mode):
    """The hidden states :func:`scan` wrote once more, contiguous, after the gates, ``(T, B, H)`` (the
    same values as ``states[..., :H]``), or ``None`` (not made by :func:`scan` with ``save``, or a cell
    whose states are its hidden states)."""
    found = _saved(states, mode) if HIDDEN_PLANE.get(mode) else None
    if found is None:
        return None
    base, saved = found
    steps, batch, width_h = states.shape
    return base[states.size + steps * batch * saved:].reshape(steps, batch, width_h // MODES[mode][1])


def reverse(g, states, ws, state0, weight_hh, mode, mask=None, initial=True):
    """``(dxw, dhw, dstate0)`` of the scan from the states' cotangent ``g`` and the saved gates ``ws``
    (``dxw is dhw`` for LSTM); without ``initial``, ``dstate0`` is ``None`` and its product
    ``dhw_0 W_hh`` is not computed."""
    gates, width, _ = MODES[mode]
    steps, batch, _ = states.shape
    H = weight_hh.shape[1]
    dtype = states.dtype
    g = np.ascontiguousarray(g, dtype=dtype)
    weight = np.ascontiguousarray(weight_hh, dtype=dtype)
    state0 = np.ascontiguousarray(state0, dtype=dtype)
    count = steps * batch * gates * H
    dhw = _buffer(count, dtype).reshape(steps, batch, gates * H)
    dxw = dhw if mode == "lstm" else _buffer(count, dtype).reshape(dhw.shape)
    carry = np.zeros((batch, width * H), dtype=dtype)
    gemm = np.zeros((batch, H), dtype=dtype)
    backward = getattr(_library(), f"{mode}_reverse_{NAMES[dtype]}")
    # each step's arguments made before the loop: the kernel's are ~10 Python calls a step otherwise
    calls = list(zip(repeat(batch), repeat(H), _steps(g, steps), repeat(_address(gemm)),
                     repeat(_address(carry)), _steps(ws, steps), [_address(state0)] + _steps(states, steps)[:-1],
                     _steps(dxw, steps),
                     *([] if mode == "lstm" else [_steps(dhw, steps)]), _steps(mask, steps)))
    rows, matmul = list(dhw), np.matmul
    for t in range(steps - 1, 0, -1):
        backward(*calls[t])
        matmul(rows[t], weight, out=gemm)
    backward(*calls[0])
    if not initial:
        return dxw, dhw, None
    np.matmul(dhw[0], weight, out=gemm)
    carry[:, :H] += gemm
    return dxw, dhw, carry


def weight_gradient(dhw, states, state0, H, hidden=None):
    """``dW_hh = Σ_t dhw_tᵀ h_{t-1}``: one product over steps 1..T-1 and one for step 0; ``hidden``: the
    contiguous hidden states (:func:`saved_hidden`), else they are read from ``states``."""
    steps, batch, columns = dhw.shape
    dtype = dhw.dtype
    dw = np.zeros((columns, H), dtype=dtype)
    if steps > 1:
        # a view; from the states, BLAS reads LSTM's h with c between rows
        previous = (states if hidden is None else hidden)[:-1, :, :H].reshape(-1, H)
        np.matmul(dhw[1:].reshape(-1, columns).T, previous, out=dw)
    dw += dhw[0].T @ np.asarray(state0[:, :H], dtype=dtype)
    return dw

