"""Optimiser updates as fused kernels: one pass over each parameter instead of NumPy's several.

NumPy's Adam step reads and writes the parameter and its two moments in about ten passes (each
``exp_avg += (1 - β1) * (grad - exp_avg)`` is two); the kernel here reads ``p, g, m, v`` once and writes
``p, m, v`` once. The arithmetic is :mod:`chainrule.optim.functional`'s, in the parameter's dtype, so it
agrees with the eager step to that dtype's rounding (not bit for bit: the compiler may contract
``a * b + c`` into one fused multiply-add). Hyperparameters are read from the parameter group at every
replay (a scheduler's ``lr`` is followed) and the optimiser's state stays the truth: the same arrays,
updated in place, and the same step counts, so a ``state_dict()`` after replay is the eager one.

A step whose state is not made yet (the first one), a parameter in another dtype or not contiguous, and
the variants without a kernel (AMSGrad) run the optimiser's own ``step()``.
"""

import ctypes

from .. import backend
from . import c_backend

_SOURCE = r"""
#include <math.h>
#define T {ctype}
#define SQRT {sqrt}

/* Adam and AdamW (optim/functional.py): g = grad + l2 * p; m += (1 - b1) (g - m);
   v = b2 v + (1 - b2) g^2; p = decay * p - step_size * m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
void adam(long n, T *restrict p, const T *restrict grad, T *restrict m, T *restrict v, double decay,
          double l2, double b1, double b2, double step_size, double root_bc2, double eps) {{
    const T d = (T)decay, w = (T)l2, c1 = (T)(1 - b1), b = (T)b2, c2 = (T)(1 - b2), s = (T)step_size,
            r = (T)root_bc2, e = (T)eps;
    #pragma omp simd
    for (long i = 0; i < n; i++) {{
        T g = grad[i] + w * p[i];
        T mi = m[i] + c1 * (g - m[i]);
        T vi = v[i] * b + c2 * (g * g);
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * d - s * (mi / (SQRT(vi) / r + e));
    }}
}}

/* Adam or AdamW on `count` parameters in one call: parameter k has n[k] values at p[k], its gradient
   at g[k], its moments at m[k], v[k], and its seven numbers (decay ... eps, as above) at h[7 k]. */
void adam_many(long count, const long *restrict n, T *const *p, T *const *g, T *const *m, T *const *v,
               const double *restrict h) {{
    for (long k = 0; k < count; k++)
        adam(n[k], p[k], g[k], m[k], v[k], h[7 * k], h[7 * k + 1], h[7 * k + 2], h[7 * k + 3], h[7 * k + 4],
             h[7 * k + 5], h[7 * k + 6]);
}}

/* SGD (optim/functional.py): g = grad + l2 p; buf = momentum buf + (1 - dampening) g;
   p -= lr (nesterov ? g + momentum buf : buf); without momentum p -= lr g. */
void sgd(long n, T *restrict p, const T *restrict grad, T *restrict buf, double lr, double l2,
         double momentum, double dampening, int nesterov) {{
    const T a = (T)lr, w = (T)l2, mu = (T)momentum, keep = (T)(1 - dampening);
    if (momentum == 0) {{
        #pragma omp simd
        for (long i = 0; i < n; i++) p[i] -= a * (grad[i] + w * p[i]);
    }} else if (nesterov) {{
        #pragma omp simd
        for (long i = 0; i < n; i++) {{
            T g = grad[i] + w * p[i];
            T b = mu * buf[i] + keep * g;
            buf[i] = b;
            p[i] -= a * (g + mu * b);
        }}
    }} else {{
        #pragma omp simd
        for (long i = 0; i < n; i++) {{
            T g = grad[i] + w * p[i];
            T b = mu * buf[i] + keep * g;
            buf[i] = b;
            p[i] -= a * b;
        }}
    }}
}}

/* SGD on `count` parameters in one call: lr, l2, momentum, dampening, nesterov at h[5 k]. */
void sgd_many(long count, const long *restrict n, T *const *p, T *const *g, T *const *buf,
              const double *restrict h) {{
    for (long k = 0; k < count; k++)
        sgd(n[k], p[k], g[k], buf[k], h[5 * k], h[5 * k + 1], h[5 * k + 2], h[5 * k + 3], (int)h[5 * k + 4]);
}}
"""

_P, _L, _D, _I = ctypes.c_void_p, ctypes.c_long, ctypes.c_double, ctypes.c_int


def _library(dtype):
    ctype, sqrt = ("float", "sqrtf") if dtype == backend.xp.float32 else ("double", "sqrt")
    library = c_backend.build(_SOURCE.format(ctype=ctype, sqrt=sqrt))
    library.adam.argtypes = [_L, _P, _P, _P, _P] + [_D] * 7
    library.adam.restype = None
    library.sgd.argtypes = [_L, _P, _P, _P, _D, _D, _D, _D, _I]
    library.sgd.restype = None
    library.adam_many.argtypes = [_L] + [_P] * 6
    library.adam_many.restype = None
    library.sgd_many.argtypes = [_L] + [_P] * 5
    library.sgd_many.restype = None
    return library


def source(dtype="float32"):
    """The C source of the update kernels for parameters of ``dtype``."""
    ctype, sqrt = ("float", "sqrtf") if backend.xp.dtype(dtype) == backend.xp.float32 else ("double", "sqrt")
    return _SOURCE.format(ctype=ctype, sqrt=sqrt)


def fused_step(optimizer):
    """A function running ``optimizer.step()`` through the update kernels, or ``None`` when the
    optimiser has none (another type, AMSGrad, parameters of a dtype other than float32/float64)."""
    from ..optim import SGD, Adam, AdamW
    kind = {SGD: "sgd", Adam: "adam", AdamW: "adamw"}.get(type(optimizer))
    if kind is None or any(group.get("amsgrad") for group in optimizer.param_groups):
        return None
    dtypes = {p.data.dtype for group in optimizer.param_groups for p in group["params"]}
    if not dtypes <= {backend.xp.dtype("float32"), backend.xp.dtype("float64")}:
        return None
    libraries = {dtype: _library(dtype) for dtype in dtypes}
    pointer = c_backend.pointer
    keys = ("momentum_buffer",) if kind == "sgd" else ("exp_avg", "exp_avg_sq")

    def ready(p, s, group):
        # The kernels walk memory: any contiguous layout serves (a Linear's weight is stored transposed,
        # F-ordered) provided every array has the parameter's.
        layout = "C" if p.data.flags.c_contiguous else "F" if p.data.flags.f_contiguous else None
        for key in keys:  # state read back from a checkpoint is C-ordered: put in the parameter's layout once
            a = s.get(key)
            if layout is not None and a is not None and a.shape == p.data.shape and not _laid_out(a, layout):
                s[key] = backend.xp.asarray(a, order=layout)
        grad = p.grad.data
        if layout is not None and grad.shape == p.data.shape and not _laid_out(grad, layout):
            grad = backend.xp.asarray(grad, order=layout)  # a tied weight's gradient (the GPT's embedding)
        arrays = [p.data, grad] + [s.get(key) for key in keys]
        if kind == "sgd" and arrays[2] is None and not group["momentum"]:
            arrays[2] = p.data  # not read without momentum
        for a in arrays:
            if (layout is None or a is None or a.dtype != p.data.dtype or a.shape != p.data.shape
                    or not _laid_out(a, layout)):
                return None
        return arrays

    plan = []  # [make_plan()]: what a step found, reused while every array is the same

    def make_plan():
        """``(entries, rest, batches, numbers)``: each parameter with a gradient checked once (``ready``),
        its sizes and addresses in ctypes arrays, one set per dtype (the gradients' addresses are
        written at each step), and the parameters without one; ``None`` when a state is not made yet."""
        entries, rest, found, owners, state = [], [], {}, {}, optimizer.state
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    rest.append(p)
                    continue
                s = state[p]
                arrays = ready(p, s, group)
                if arrays is None:
                    return None
                rows = found.setdefault(p.data.dtype, [])
                rows.append((p.data.size, [pointer(a) for a in arrays]))
                owners.setdefault(p.data.dtype, []).append((group, p))
                saved = tuple(s.get(key) for key in keys)
                unbuffered = group if kind == "sgd" and saved[0] is None else None  # momentum 0
                entries.append([p, p.data, saved, p.data.flags.c_contiguous, p.data.dtype, len(rows) - 1,
                                unbuffered])
        batches = {}
        for dtype, rows in found.items():
            count = len(rows)
            columns = [(ctypes.c_void_p * count)(*column) for column in zip(*(a for _, a in rows))]
            numbers = (ctypes.c_double * (count * (5 if kind == "sgd" else 7)))()
            batches[dtype] = (count, (ctypes.c_long * count)(*(n for n, _ in rows)), columns, numbers)
        for entry in entries:  # its dtype becomes the column its gradient's address goes to
            entry[4] = batches[entry[4]][2][1]
        last = {}

        def numbers(dtype):
            """The kernel's numbers for the parameters of ``dtype``, or ``None`` when SGD's are those of
            the last step (hyperparameters are read at every step: a scheduler's ``lr`` is followed)."""
            if kind == "sgd":
                values = [x for group, _ in owners[dtype] for x in (
                    group["lr"], group["weight_decay"], group["momentum"], group["dampening"],
                    float(bool(group["nesterov"])))]
                if last.get(dtype) == values:
                    return None
                last[dtype] = values
                return values
            values, state = [], optimizer.state
            for group, p in owners[dtype]:
                s = state[p]
                s["step"] = t = s.get("step", 0) + 1
                lr, (b1, b2), wd = float(group["lr"]), group["betas"], float(group["weight_decay"])
                decay, l2 = (1 - lr * wd, 0.0) if kind == "adamw" else (1.0, wd)
                values += (decay, l2, b1, b2, lr / (1 - b1 ** t), (1 - b2 ** t) ** 0.5, group["eps"])
            return values
        return entries, rest, batches, numbers

    def gradients(entries, rest):
        """The gradients in the plan's order (each kept alive until the kernels have run) after their
        addresses are written into the plan, or ``None`` when the parameters, their state arrays or
        which of them have a gradient changed (``rest``: the parameters the plan left out)."""
        grads, states = [], optimizer.state
        for p, data, saved, c_order, column, index, unbuffered in entries:
            grad = p.grad
            if grad is None or p.data is not data:
                return None
            if unbuffered is not None and unbuffered["momentum"]:
                return None  # momentum turned on: the optimiser's own step makes the buffer
            s = states[p]
            for key, a in zip(keys, saved):
                if s.get(key) is not a:
                    return None
            grad = grad.data
            if grad.shape != data.shape or grad.dtype != data.dtype:
                return None
            if not (grad.flags.c_contiguous if c_order else grad.flags.f_contiguous):
                grad = backend.xp.asarray(grad, order="C" if c_order else "F")
            column[index] = pointer(grad if c_order else grad.T)  # the same address, read faster C-ordered
            grads.append(grad)
        for p in rest:
            if p.grad is not None:
                return None
        return grads

    def step():
        grads = gradients(*plan[0][:2]) if plan else None
        if grads is None:
            plan.clear()
            made = make_plan()
            if made is None:  # the first step makes the state: the optimiser's own step
                return optimizer.step()
            plan.append(made)
            grads = gradients(*made[:2])
        _, _, batches, numbers_of = plan[0]
        for dtype, (count, sizes, columns, numbers) in batches.items():
            values = numbers_of(dtype)
            if values is not None:
                numbers[:] = values
            (libraries[dtype].sgd_many if kind == "sgd" else libraries[dtype].adam_many)(
                count, sizes, *columns, numbers)
    return step


def _laid_out(array, layout):
    """Whether ``array`` is contiguous in ``layout`` ("C" or "F")."""
    return array.flags.c_contiguous if layout == "C" else array.flags.f_contiguous
