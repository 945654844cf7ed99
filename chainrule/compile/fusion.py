"""Fusion: runs of elementwise operations become one generated C loop each; optimiser updates become
one pass per parameter (:mod:`.fused_updates`); last-axis softmax, log-softmax, cross-entropy, mean and
variance become row kernels (:mod:`.row_kernels`). Matrix products, other reductions and
everything else stay the NumPy calls they were.

As XLA and TorchInductor do it: the program is walked in order, and consecutive elementwise operations
with one result shape and dtype (float32 or float64) join a group, the forward ones by their primitive
(``add``, ``mul``, ``exp``, ``tanh``, ``erf``...) and the backward ones by their VJP rule when the rule is
elementwise too (``vjp tanh[0]`` is ``g * (1 - ans * ans)``); an operation that reads none of the group's
results may sit between two members. A group's values stay in registers: only what is read after it (or
returned) is written to memory, once. Inputs may have the result's shape, be a number, a row of the
last axis (a bias) or one value per row (a norm's statistics). Each group's C loop is built by
:mod:`.c_backend`; its operations, the user's lines and the bytes it reads and writes are in the listing.

The C expressions below restate each primitive's forward and elementwise VJP (in ``ops/elementwise.py``):
the fused results agree with NumPy's to the dtype's rounding, not bit for bit (``compile(exact=True)``
keeps the bit-for-bit replay).
"""

import ctypes

from .. import backend
from . import attention_kernel, c_backend, row_kernels, slices
from .program import CONSTANT, SLOT, TENSOR, Op

# {0}, {1}: the inputs; C macros from _PRELUDE pick the float or double function.
FORWARD = {
    "add": "({0} + {1})", "sub": "({0} - {1})", "mul": "({0} * {1})", "div": "({0} / {1})", "neg": "(-{0})",
    "exp": "EXP({0})", "log": "LOG({0})", "log1p": "LOG1P({0})", "expm1": "EXPM1({0})",
    "sqrt": "SQRT({0})", "tanh": "TANH({0})", "erf": "ERF({0})", "sin": "SIN({0})", "cos": "COS({0})",
    "abs": "FABS({0})", "sigmoid": "((T)1 / ((T)1 + EXP(-{0})))", "relu": "MAX({0}, (T)0)",
    "maximum": "MAX({0}, {1})", "minimum": "MIN({0}, {1})", "identity": "{0}",
}
# {g}: the cotangent, {a}: the forward's result, {x0}, {x1}: its inputs.
VJP = {
    "sub[1]": "(-{g})", "mul[0]": "({g} * {x1})", "mul[1]": "({g} * {x0})", "div[0]": "({g} / {x1})",
    "div[1]": "(-{g} * {a} / {x1})", "neg[0]": "(-{g})", "exp[0]": "({g} * {a})", "log[0]": "({g} / {x0})",
    "log1p[0]": "({g} / ((T)1 + {x0}))", "expm1[0]": "({g} * ({a} + (T)1))", "sqrt[0]": "({g} / ((T)2 * {a}))",
    "sin[0]": "({g} * COS({x0}))", "cos[0]": "(-{g} * SIN({x0}))", "tanh[0]": "({g} * ((T)1 - {a} * {a}))",
    "sigmoid[0]": "({g} * {a} * ((T)1 - {a}))", "relu[0]": "({g} * (T)({a} > 0))",
    "erf[0]": "({g} * (T)1.1283791670955126 * EXP(-({x0} * {x0})))",
    # Ties split the derivative equally, as in ops/elementwise.py.
    "maximum[0]": "({g} * ((T)({x0} > {x1}) + (T)0.5 * (T)({x0} == {x1})))",
    "maximum[1]": "({g} * ((T)({x1} > {x0}) + (T)0.5 * (T)({x0} == {x1})))",
    "minimum[0]": "({g} * ((T)({x0} < {x1}) + (T)0.5 * (T)({x0} == {x1})))",
    "minimum[1]": "({g} * ((T)({x1} < {x0}) + (T)0.5 * (T)({x0} == {x1})))",
}
TRANSCENDENTAL = ("EXP", "LOG", "TANH", "ERF", "SIN", "COS", "EXPM1", "LOG1P")

_PRELUDE = """#include <math.h>
#define T {ctype}
#define EXP {f}exp{s}
#define LOG {f}log{s}
#define LOG1P {f}log1p{s}
#define EXPM1 {f}expm1{s}
#define SQRT {f}sqrt{s}
#define TANH {f}tanh{s}
#define ERF {f}erf{s}
#define SIN {f}sin{s}
#define COS {f}cos{s}
#define FABS {f}fabs{s}
/* NumPy's maximum and minimum: a NaN on either side gives NaN. */
static inline T MAX(T a, T b) {{ return a > b || a != a ? a : b; }}
static inline T MIN(T a, T b) {{ return a < b || a != a ? a : b; }}
"""


class Kernel:
    """One fused group: its C source, its operations (for the listing) and how to call it."""

    def __init__(self, name, source, members, inputs, outputs, shape, dtype):
        self.name, self.source, self.members = name, source, members
        self.inputs, self.outputs, self.shape, self.dtype = inputs, outputs, shape, dtype
        itemsize = backend.xp.dtype(dtype).itemsize
        self.bytes_written = len(outputs) * _size(shape) * itemsize
        self.bytes_read = sum(_size(getattr(v, "shape", ())) * itemsize for v in inputs)


def fuse(ops, values, keep, steps):
    """``ops`` with optimiser steps and runs of elementwise operations replaced by fused kernels.
    ``values``: each buffer's value while recording (shapes, dtypes); ``keep``: buffers that must stay
    in memory (results, arguments); ``steps``: ``(op, optimiser)`` of the recorded optimiser steps."""
    from .fused_updates import fused_step
    ops = slices.merge(ops, values, keep)
    for op, optimizer in steps:
        step = fused_step(optimizer)
        if step is not None:
            op.fn, op.name = step, f"fused {op.name}"
    readers = {}
    for index, op in enumerate(ops):
        for code, ref in op.refs:
            if code == SLOT:
                readers.setdefault(ref, []).append(index)
    groups, current = [], None
    for index, op in enumerate(ops):
        form = _form(op, values)
        if current is not None and (not op.pure and op.kind != ("accumulate", None) or
                                    any(code == SLOT and ref in current.made for code, ref in op.refs)
                                    and (form is None or form[0] != current.key)):
            # An effect (an optimiser step, a running statistic: members may read what it changes), or
            # a reader of the group's results that cannot join it: the group runs before it.
            groups.append(current)
            current = None
        if form is None:
            continue
        if current is None or current.key != form[0]:
            if current is not None:
                groups.append(current)
            current = _Group(form[0])
        current.add(index, op, form[1])
    if current is not None:
        groups.append(current)
    replaced = {}
    for group in groups:
        if group.worth_it():
            op = group.op(ops, values, keep, readers)
            if op is not None:
                replaced.update({index: None for index in group.indices})
                replaced[group.indices[-1]] = op
    for index, op in enumerate(ops):
        fn = None if index in replaced else (row_kernels.replacement(op, values)
                                             or attention_kernel.replacement(op, values))
        if fn is not None:
            op.fn, op.into, op.name = fn, None, f"fused {op.name}"
    if not replaced:
        return ops
    return [replaced.get(index, op) for index, op in enumerate(ops) if replaced.get(index, op) is not None]


def _size(shape):
    count = 1
    for n in shape:
        count *= n
    return count


def _form(op, values):
    """``((shape, dtype), expression template)`` of an operation a kernel can compute, else ``None``."""
    if op.kind is None or op.kind[0] == "accumulate" or op.out is None or isinstance(op.out, tuple):
        return None
    value = values[op.out]
    if not isinstance(value, backend.ndarray) or value.dtype.name not in ("float32", "float64"):
        return None
    if not value.flags.c_contiguous or value.size == 0:
        return None
    kind, name = op.kind
    template = FORWARD.get(name) if kind == "forward" else VJP.get(name)
    if kind == "forward" and name == "pow":
        code, exponent = op.refs[1]
        if code == CONSTANT and isinstance(exponent, (int, float)) and exponent in (1, 2, 3):
            template = "*".join(["{0}"] * int(exponent))
    if name in ("clip", "clip[0]"):
        template = _clip(kind, op.params or {})
    if template is None:
        return None
    return (value.shape, value.dtype.name), template


def _clip(kind, params):
    """``clip``'s forward or VJP with its bounds (numbers or ``None``) written into the source."""
    bounds = [params.get("min"), params.get("max")]
    if not all(b is None or isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds):
        return None
    low, high = (None if b is None else f"((T){float(b)!r})".replace("inf", "INFINITY") for b in bounds)
    if kind == "forward":
        template = "{0}" if low is None else f"MAX({{0}}, {low})"
        return template if high is None else f"MIN({template}, {high})"
    inside = [f"({{x0}} >= {low})" if low else "", f"({{x0}} <= {high})" if high else ""]
    inside = " && ".join(i for i in inside if i) or "1"
    return f"({{g}} * (T)({inside}))"


class _Group:
    def __init__(self, key):
        self.key, self.indices, self.ops, self.templates, self.made = key, [], [], [], set()

    def add(self, index, op, template):
        self.indices.append(index)
        self.ops.append(op)
        self.templates.append(template)
        self.made.add(op.out)

    def worth_it(self):
        """A kernel call costs about a NumPy call: fuse two operations or more, or one transcendental
        function (a vectorised ``tanhf`` or ``erff`` beats NumPy's and SciPy's)."""
        return len(self.ops) > 1 or any(t in self.templates[0] for t in TRANSCENDENTAL)

    def op(self, ops, values, keep, readers):
        """The fused operation, or ``None`` when an input cannot be indexed from the loop."""
        shape, dtype = self.key
        rows_m = shape[-1] if shape else 1
        rows = _size(shape) // rows_m if rows_m else 0
        last = self.indices[-1]
        inputs, params, names, body = [], [], {}, []

        def operand(code, ref):
            if code == SLOT and ref in self.made:
                return f"v{ref}"
            value = values[ref] if code == SLOT else ref.data if code == TENSOR else ref
            if isinstance(value, (bool, int, float)) and not isinstance(value, bool) or (
                    code == CONSTANT and isinstance(value, backend.ndarray) and value.size == 1
                    and value.dtype.kind in "biuf"):
                return f"((T){float(value if not hasattr(value, 'item') else value.item())!r})".replace(
                    "inf", "INFINITY")
            if not isinstance(value, backend.ndarray) or value.dtype.name != dtype:
                raise _NotFusible
            if not value.flags.c_contiguous:
                raise _NotFusible
            key = (code, ref if code == SLOT else id(ref))
            if key not in names:
                names[key] = f"a{len(inputs)}"
                inputs.append((code, ref))
                params.append(value)
            index = _index(value.shape, shape)
            return f"{names[key]}[{index}]"

        try:
            for op, template in zip(self.ops, self.templates):
                kind, name = op.kind
                if kind == "forward":
                    args = [operand(code, ref) for code, ref in op.refs]
                    expression = template.format(*args)
                else:
                    args = [operand(code, ref) if not _unsaved(code, ref) else "0" for code, ref in op.refs]
                    expression = template.format(g=args[0], a=args[1], x0=args[2] if len(args) > 2 else "",
                                                 x1=args[3] if len(args) > 3 else "")
                body.append(f"        T v{op.out} = {expression};")
        except _NotFusible:
            return None
        outputs = [op.out for op in self.ops if op.out in keep or any(
            reader > last or reader not in self.indices for reader in readers.get(op.out, ()))]
        if not outputs:
            return None
        stores = [f"        o{k}[i] = v{slot};" for k, slot in enumerate(outputs)]
        ctype = "float" if dtype == "float32" else "double"
        name = f"fused_{self.indices[0]}"
        signature = ", ".join([f"T *restrict o{k}" for k in range(len(outputs))] +
                              [f"const T *restrict a{k}" for k in range(len(inputs))])
        prelude = _PRELUDE.format(ctype=ctype, f="", s="f" if dtype == "float32" else "")
        source = (f"{prelude}\n/* {'; '.join(op.name for op in self.ops)} */\n"
                  f"void {name}(long rows, long m, {signature}) {{\n"
                  f"    for (long r = 0; r < rows; r++) {{\n"
                  f"    #pragma omp simd\n"
                  f"    for (long j = 0; j < m; j++) {{\n"
                  f"        long i = r * m + j;\n" + "\n".join(body + stores) + "\n    }\n    }\n}\n")
        kernel = Kernel(name, source, list(self.ops), params, outputs, shape, dtype)
        kernel.body = body + stores  # the loop's body, which compile/cuda_backend.py renders for a GPU
        fn = _caller(kernel, rows, rows_m, len(outputs))
        op = Op(self.ops[-1].part, f"fused[{len(self.ops)}]", fn, inputs,
                outputs[0] if len(outputs) == 1 else tuple(outputs), self.ops[-1].site, values[outputs[0]])
        op.kernel = kernel
        return op


class _NotFusible(Exception):
    pass


def _unsaved(code, ref):
    return code == CONSTANT and not isinstance(ref, (int, float, backend.ndarray))


def _index(operand_shape, shape):
    """How the loop (``r`` over rows, ``j`` along the last axis, ``i`` overall) reads an operand."""
    size = _size(operand_shape)
    if size == _size(shape) and tuple(operand_shape) == tuple(shape):
        return "i"
    if size == 1:
        return "0"
    stripped = tuple(operand_shape)
    while stripped and stripped[0] == 1:
        stripped = stripped[1:]
    if shape and stripped == tuple(shape[-1:]):
        return "j"
    if shape and tuple(operand_shape) == tuple(shape[:-1]) + (1,):
        return "r"
    raise _NotFusible


def _caller(kernel, rows, m, count):
    """The Python function a replay calls: fresh output arrays, then the kernel on pointers."""
    library = c_backend.build(kernel.source)
    function = getattr(library, kernel.name)
    function.argtypes = [ctypes.c_long, ctypes.c_long] + [ctypes.c_void_p] * (count + len(kernel.inputs))
    function.restype = None
    empty, shape, dtype, pointer = backend.xp.empty, kernel.shape, kernel.dtype, c_backend.pointer
    if count == 1:
        def run(*inputs):
            out = empty(shape, dtype)
            function(rows, m, pointer(out), *map(pointer, inputs))
            return out
        return run

    def run_many(*inputs):
        outs = [empty(shape, dtype) for _ in range(count)]
        function(rows, m, *map(pointer, outs), *map(pointer, inputs))
        return tuple(outs)
    return run_many
