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
from . import attention_kernel, c_backend, epilogues, row_kernels, slices
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
# The VJPs that are the cotangent itself: they only sum it to a broadcast input's shape.
PASSED = {"add[0]": "{g}", "add[1]": "{g}", "sub[0]": "{g}", "sub[1]": "(-{g})", "identity[0]": "{g}",
          "linear[2]": "{g}"}  # a dense layer's bias
TRANSCENDENTAL = ("EXP", "LOG", "TANH", "ERF", "SIN", "COS", "EXPM1", "LOG1P")

# Signed zeros are honoured in these loops: under -fno-signed-zeros GCC turns g * (T)mask (a ReLU's or
# clip's VJP) into mask ? g : 0, which drops NumPy's inf * 0 = NaN.
_PRELUDE = """#pragma GCC optimize ("signed-zeros")
#include <math.h>
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

    def __init__(self, name, source, members, inputs, outputs, shape, dtype, out_shapes=None):
        self.name, self.source, self.members = name, source, members
        self.inputs, self.outputs, self.shape, self.dtype = inputs, outputs, shape, dtype
        self.out_shapes = list(out_shapes or [shape] * len(outputs))
        itemsize = backend.xp.dtype(dtype).itemsize
        self.bytes_written = sum(_size(s) for s in self.out_shapes) * itemsize
        self.bytes_read = sum(_size(getattr(v, "shape", ())) * itemsize for v in inputs)


def fuse(ops, values, keep, steps):
    """``ops`` with optimiser steps and runs of elementwise operations replaced by fused kernels.
    ``values``: each buffer's value while recording (shapes, dtypes); ``keep``: buffers that must stay
    in memory (results, arguments); ``steps``: ``(op, optimiser)`` of the recorded optimiser steps."""
    from .fused_updates import fused_step
    ops = epilogues.merge(slices.merge(ops, values, keep), values, keep)
    for op, optimizer in steps:
        step = fused_step(optimizer)
        if step is not None:
            op.fn, op.name = step, f"fused {op.name}"
    readers = {}
    for index, op in enumerate(ops):
        for code, ref in op.refs:
            if code == SLOT:
                readers.setdefault(ref, []).append(index)
    producer = {slot: index for index, op in enumerate(ops) for slot in _outs(op)}
    groups, current, absorbed = [], None, set()

    def close(group, index):
        _hoist(group, ops, index, values, producer, absorbed)
        groups.append(group)

    for index, op in enumerate(ops):
        if index in absorbed:
            continue
        form = _form(op, values)
        if form is None and current is not None:
            template = _reduction(op, values, current)
            if template is not None:  # a VJP summing a member to a broadcast input (a bias's gradient)
                current.add(index, op, template, reduces=True)
                continue
        if current is not None and (not op.pure and op.kind != ("accumulate", None) or
                                    any(code == SLOT and ref in current.made for code, ref in op.refs)
                                    and (form is None or form[0] != current.key) or
                                    any(code == SLOT and ref in current.summed for code, ref in op.refs)):
            # An effect (an optimiser step, a running statistic: members may read what it changes), or
            # a reader of the group's results that cannot join it: the group runs before it.
            close(current, index)
            current = None
        if form is None:
            continue
        if current is None or current.key != form[0]:
            if current is not None:
                close(current, index)
            current = _Group(form[0])
        current.add(index, op, form[1])
    if current is not None:
        close(current, len(ops))
    replaced = {}
    for group in groups:
        if group.worth_it():
            op = group.op(ops, values, keep, readers)
            if op is not None:
                replaced.update({index: None for index in group.indices})
                replaced[group.anchor] = op
    for index, op in enumerate(ops):
        fn = None if index in replaced else (row_kernels.replacement(op, values)
                                             or attention_kernel.replacement(op, values))
        if fn is not None:
            op.fn, op.into, op.name = fn, None, f"fused {op.name}"
    if not replaced:
        return ops
    return [replaced.get(index, op) for index, op in enumerate(ops) if replaced.get(index, op) is not None]


LOOK_AHEAD = 6
"""How many operations after a group's end :func:`_hoist` looks at for sums of its values."""


def _hoist(group, ops, end, values, producer, absorbed):
    """Move into ``group`` the sums of its values to a broadcast input's shape found among the next
    operations (a dense layer's bias gradient, ``vjp linear[2]``, comes after the ``vjp linear[0]`` that
    reads the same cotangent and ends the group): pure operations whose every input exists where the
    group runs."""
    for index in range(end, min(end + LOOK_AHEAD, len(ops))):
        op = ops[index]
        if not op.pure and op.kind != ("accumulate", None):
            return
        if index in absorbed or _reduction(op, values, group) is None:
            continue
        if all(code != SLOT or ref in group.made or producer.get(ref, -1) < group.anchor
               for code, ref in op.refs):
            group.add(index, op, _reduction(op, values, group), reduces=True, hoisted=True)
            absorbed.add(index)


def _outs(op):
    return op.out if isinstance(op.out, tuple) else () if op.out is None else (op.out,)


def _size(shape):
    count = 1
    for n in shape:
        count *= n
    return count


def _form(op, values):
    """``((shape, dtype), expression template)`` of an operation a kernel can compute, else ``None``."""
    if op.kind is None or op.kind[0] not in ("forward", "vjp") or op.out is None or isinstance(op.out, tuple):
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


def _reduction(op, values, group):
    """The expression template of a VJP that sums a function of ``group``'s values to a broadcast
    input's shape (a bias's cotangent: ``vjp add[1]`` of ``z + b``), else ``None``."""
    if op.kind is None or op.kind[0] != "vjp-sum" or op.out is None or isinstance(op.out, tuple) or not op.refs:
        return None
    # Only the cotangent itself is summed: with another factor (vjp mul[1] is g * x0) GCC may turn
    # g * (T)mask * x into a select, and a NaN in x where the mask is 0 would not reach the sum.
    template = PASSED.get(op.kind[1])
    code, ref = op.refs[0]
    value = values[op.out]
    shape, dtype = group.key
    if any(c == SLOT and r in group.summed for c, r in op.refs):
        return None
    if (template is None or code != SLOT or ref not in group.made or not isinstance(value, backend.ndarray)
            or value.dtype.name != dtype or not value.flags.c_contiguous or value.shape == shape
            or not 0 < value.size < _size(shape)):
        return None
    try:
        _access(value.shape, shape, len(shape))  # broadcasts to the group's shape
    except _NotFusible:
        return None
    return template


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
        self.reducing, self.summed = [], set()  # the members summed to a smaller shape, their buffers

    def add(self, index, op, template, reduces=False, hoisted=False):
        if not hoisted:  # where the fused operation takes the place of its members
            self.anchor = index
        self.indices.append(index)
        self.ops.append(op)
        self.templates.append(template)
        if reduces:  # complete only once the loop is done: no member may read it
            self.reducing.append(op)
            self.summed.add(op.out)
        else:
            self.made.add(op.out)

    def worth_it(self):
        """A kernel call costs about a NumPy call: fuse two operations or more, or one transcendental
        function (a vectorised ``tanhf`` or ``erff`` beats NumPy's and SciPy's)."""
        return len(self.ops) > 1 or any(t in self.templates[0] for t in TRANSCENDENTAL)

    def op(self, ops, values, keep, readers):
        """The fused operation, or ``None`` when an input cannot be indexed from the loop."""
        shape, dtype = self.key
        last = self.indices[-1]
        arrays = [values[ref] if code == SLOT else ref.data if code == TENSOR else ref
                  for op, template in zip(self.ops, self.templates) for code, ref in _read(op, template)
                  if not (code == SLOT and ref in self.made)]
        operand_shapes = [a.shape for a in arrays if isinstance(a, backend.ndarray) and a.size > 1]
        split = _split(shape, operand_shapes + [values[op.out].shape for op in self.reducing])
        if split is None:
            return None
        m = _size(shape[split:])
        rows = _size(shape) // m if m else 0
        inputs, params, names, body, setup, finish = [], [], {}, [], [], []

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
                name = names[key] = f"a{len(inputs)}"
                inputs.append((code, ref))
                params.append(value)
                table, index = _access(value.shape, shape, split)
                if table:  # the operand along the loop's inner block, gathered once per call
                    setup.append(f"    T *e{name} = malloc({m} * sizeof(T));\n"
                                 f"    for (long j = 0; j < m; j++) e{name}[j] = {name}[{index}];")
                    finish.append(f"    free(e{name});")
            table, index = _access(value.shape, shape, split)
            return f"e{names[key]}[j]" if table else f"{names[key]}[{index}]"

        sums, after, outs = [], [], []  # per-row sums in registers, their additions after a row, results
        try:
            for op, template in zip(self.ops, self.templates):
                kind, name = op.kind
                if kind == "forward":
                    args = [operand(code, ref) for code, ref in op.refs]
                    expression = template.format(*args)
                else:
                    read = _read_positions(op, template)
                    args = [operand(code, ref) if k in read else "0" for k, (code, ref) in enumerate(op.refs)]
                    args += [""] * (4 - len(args))
                    expression = template.format(g=args[0], a=args[1], x0=args[2], x1=args[3])
                if op not in self.reducing:
                    body.append(f"        T v{op.out} = {expression};")
                    continue
                # Sums are kept in double, then rounded once to the result's dtype.
                slot, size = op.out, values[op.out].size
                setup.append(f"    double *acc{slot} = calloc({size}, sizeof(double));")
                table, index = _access(values[slot].shape, shape, split)
                if table:  # one sum per place of the inner block, folded into the result at the end
                    setup.append(f"    double *t{slot} = calloc({m}, sizeof(double));")
                    body.append(f"        t{slot}[j] += (double){expression};")
                    finish.append(f"    for (long j = 0; j < m; j++) acc{slot}[{index}] += t{slot}[j];\n"
                                  f"    free(t{slot});")
                elif "j" in index:  # a different sum for each j: added in place
                    body.append(f"        acc{slot}[{index}] += (double){expression};")
                else:  # one sum per row, in a register, added once the row is done
                    sums.append(f"s{slot}")
                    body.append(f"        s{slot} += (double){expression};")
                    after.append(f"        acc{slot}[{index}] += s{slot};")
                outs.append((slot, size))
        except _NotFusible:
            return None
        outputs = [op.out for op in self.ops if op not in self.reducing and (op.out in keep or any(
            reader > last or reader not in self.indices for reader in readers.get(op.out, ())))]
        if not outputs and not outs:
            return None
        stores = [f"        o{k}[i] = v{slot};" for k, slot in enumerate(outputs)]
        finish += [f"    for (long k = 0; k < {size}; k++) o{len(outputs) + n}[k] = (T)acc{slot}[k];\n"
                   f"    free(acc{slot});" for n, (slot, size) in enumerate(outs)]
        ctype = "float" if dtype == "float32" else "double"
        name = f"fused_{self.indices[0]}"
        signature = ", ".join([f"T *restrict o{k}" for k in range(len(outputs) + len(outs))] +
                              [f"const T *restrict a{k}" for k in range(len(inputs))])
        prelude = _PRELUDE.format(ctype=ctype, f="", s="f" if dtype == "float32" else "")
        row = [f"    double {', '.join(f'{s} = 0' for s in sums)};"] if sums else []
        simd = f"    #pragma omp simd{f' reduction(+:{chr(44).join(sums)})' if sums else ''}"
        source = (f"{prelude}#include <stdlib.h>\n\n/* {'; '.join(op.name for op in self.ops)} */\n"
                  f"void {name}(long rows, long m, {signature}) {{\n" + "".join(line + "\n" for line in setup) +
                  f"    for (long r = 0; r < rows; r++) {{\n" + "".join(line + "\n" for line in row) +
                  f"{simd}\n"
                  f"    for (long j = 0; j < m; j++) {{\n"
                  f"        long i = r * m + j;\n" + "\n".join(body + stores) + "\n    }\n" +
                  "".join(line[4:] + "\n" for line in after) + "    }\n" +
                  "".join(line + "\n" for line in finish) + "}\n")
        slots = outputs + [slot for slot, _ in outs]
        kernel = Kernel(name, source, list(self.ops), params, slots, shape, dtype,
                        [values[slot].shape for slot in slots])
        # The loop's body, which compile/cuda_backend.py renders for a GPU: not for a kernel that sums,
        # gathers an operand or walks rows of more than the last axis.
        classic = split == max(len(shape) - 1, 0)
        kernel.body = body + stores if classic and not outs and not setup else None
        fn = _caller(kernel, rows, m)
        op = Op(self.ops[-1].part, f"fused[{len(self.ops)}]", fn, inputs,
                slots[0] if len(slots) == 1 else tuple(slots), self.ops[-1].site, values[slots[0]])
        op.kernel = kernel
        return op


class _NotFusible(Exception):
    pass


def _read(op, template):
    """The inputs of ``op`` its C expression reads: a VJP reads the saved ones its template names (a dense
    layer's bias gradient, ``{g}``, reads the cotangent alone)."""
    return [op.refs[k] for k in _read_positions(op, template)]


def _read_positions(op, template):
    if op.kind[0] == "forward":
        return set(range(len(op.refs)))
    return {k for k, (key, (code, ref)) in enumerate(zip(("g", "a", "x0", "x1"), op.refs))
            if f"{{{key}}}" in template and not _unsaved(code, ref)}


def _unsaved(code, ref):
    return code == CONSTANT and not isinstance(ref, (int, float, backend.ndarray))


SHORT = 32
"""A last axis shorter than this leaves too little for a vector loop: the loop then walks rows of more
axes when the operands allow it (a convolution's ``(N, C, L)`` with a bias ``(C, 1)`` walks ``C * L``)."""


def _split(shape, operand_shapes):
    """Where the loop's rows end and its inner block begins: the last axis alone (``r`` over rows, ``j``
    along it), or when that is short and an operand broadcasts, the fewest leading axes that let every
    operand be read; ``None`` when none does."""
    classic = max(len(shape) - 1, 0)

    def readable(split, tables):
        try:
            return all(not _access(s, shape, split)[0] or tables for s in operand_shapes)
        except _NotFusible:
            return False
    broadcast = any(tuple(s) != tuple(shape) for s in operand_shapes)
    if readable(classic, False) and (not broadcast or not shape or shape[-1] >= SHORT):
        return classic
    for split in range(1, classic):
        if readable(split, True):
            return split
    return classic if readable(classic, False) else None


def _access(operand_shape, shape, split):
    """How the loop (``r`` over the rows made of the axes before ``split``, ``j`` over the inner block of
    the others, ``i`` overall) reads an operand that broadcasts to ``shape``: ``(False, index)``, or
    ``(True, index of j)`` when the operand varies inside the block in another way than the block does
    and not at all along the rows (a bias ``(C, 1)`` in the block ``(C, L)``): the kernel gathers it
    into a block-long table once per call."""
    padded = tuple(operand_shape)
    while len(padded) > len(shape) and padded[0] == 1:
        padded = padded[1:]
    if len(padded) > len(shape):
        raise _NotFusible
    padded = (1,) * (len(shape) - len(padded)) + padded
    if any(n != 1 and n != full for n, full in zip(padded, shape)):
        raise _NotFusible
    if padded == tuple(shape):
        return False, "i"
    if _size(padded) == 1:
        return False, "0"
    inner, outer = padded[split:], padded[:split]
    block = _size(inner)
    if outer == tuple(shape[:split]):
        lead = "r" if block == 1 else f"r * {block}L"
    else:
        lead = _offset(padded, shape, range(split), "r", shape[:split])
    if inner == tuple(shape[split:]):
        return False, f"{lead} + j" if lead != "0" else "j"
    if block == 1:
        return False, lead
    if lead != "0":
        raise _NotFusible
    return True, _offset(padded, shape, range(split, len(shape)), "j", shape[split:])


def _offset(padded, shape, axes, counter, counted):
    """The C expression of an operand's offset from a loop counter over the axes ``axes`` of ``shape``
    (``counted``: their extents), reading only the axes the operand does not broadcast along."""
    terms, first = [], axes[0] if len(axes) else 0
    for axis in axes:
        n = padded[axis]
        if n == 1:
            continue
        inner = _size(shape[axis + 1:first + len(counted)])
        coordinate = counter if inner == 1 else f"({counter} / {inner}L)"
        coordinate = coordinate if axis == first else f"({coordinate} % {n}L)"
        stride = _size(padded[axis + 1:])
        terms.append(coordinate if stride == 1 else f"{coordinate} * {stride}L")
    return " + ".join(terms) or "0"


def _caller(kernel, rows, m):
    """The Python function a replay calls: fresh output arrays, then the kernel on pointers."""
    library = c_backend.build(kernel.source)
    function = getattr(library, kernel.name)
    count = len(kernel.outputs)
    function.argtypes = [ctypes.c_long, ctypes.c_long] + [ctypes.c_void_p] * (count + len(kernel.inputs))
    function.restype = None
    empty, shapes, dtype, pointer = backend.xp.empty, kernel.out_shapes, kernel.dtype, c_backend.pointer
    if count == 1:
        shape = shapes[0]

        def run(*inputs):
            out = empty(shape, dtype)
            function(rows, m, pointer(out), *map(pointer, inputs))
            return out
        return run

    def run_many(*inputs):
        outs = [empty(shape, dtype) for shape in shapes]
        function(rows, m, *map(pointer, outs), *map(pointer, inputs))
        return tuple(outs)
    return run_many
