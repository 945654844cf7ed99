"""A recorded training step: a flat list of array operations over numbered buffers, and its interpreter.

Every operation reads its inputs from one of three places, named by a small code:

====== =================================================================================================
``s``  a buffer (a step argument, or the result of an earlier operation), by number
``t``  a tensor that lives outside the step (a parameter, a running statistic): its ``.data`` now
``c``  a constant captured while recording (a shape, a label array made outside the step...)
====== =================================================================================================

A buffer is dropped as soon as its last reader has run, so a replay holds no more memory than the
eager step did.
"""

import os

from .. import backend
from ..core.tensor import Tensor, unwrap
from ..tree import tree_unflatten

SLOT, TENSOR, CONSTANT = "s", "t", "c"
PARTS = ("forward", "backward", "update")


class Op:
    """One array operation of a program.

    Attributes:
        part: ``"forward"``, ``"backward"`` or ``"update"``.
        name: what it does, for the listing (a primitive's name, ``vjp mul[0]``, ``SGD.step``...).
        fn: ``fn(*values) -> array`` (or ``None`` for an effect).
        refs: where each input comes from: ``(code, number_or_object)`` pairs (see the module's table).
        out: the buffer it writes, a tuple of them (a fused kernel with several results), or ``None``.
        site: the user's line that caused it, ``(file, line, code)`` or ``None``.
        shape, dtype: of the result while recording (for the listing).
        pure: its result is a function of its inputs alone and it changes nothing else (it may be
            precomputed or dropped: :mod:`chainrule.compile.optimize`).
        into: ``None``, or ``into(out, *values)``: the operation written into an existing array ``out``.
        reuses: the input buffer it writes into (its value dies here), or ``None``.
        free: buffers whose last reader this is, dropped after it runs.
    """

    __slots__ = ("part", "name", "fn", "refs", "out", "site", "shape", "dtype", "pure", "into", "reuses",
                 "free", "kind", "kernel", "params")

    def __init__(self, part, name, fn, refs, out, site, result, pure=True, into=None):
        self.part, self.name, self.fn, self.refs, self.out, self.site = part, name, fn, tuple(refs), out, site
        self.pure = pure and out is not None
        self.into, self.reuses = into, None
        self.shape = getattr(result, "shape", None)
        self.dtype = getattr(result, "dtype", None)
        self.free = ()
        self.kind = None        # ("forward", primitive), ("vjp", "mul[0]"), ("accumulate", None): for fusion
        self.kernel = None      # a fused operation's kernel (fusion.Kernel)
        self.params = None      # the primitive's parameters (clip's bounds), for fusion


class Program:
    """The operations of one step for one signature, with where its arguments go and what it returns.

    Args:
        ops: the operations in the order they ran while recording.
        arg_slots: the buffer of each array argument (in flattened order), ``None`` for other leaves.
        outputs: ``(treedef, refs, tensors)``: the returned structure, where each of its leaves comes
            from, and whether each was a tensor (else returned as the array or value it was).
        slots: the number of buffers.
        guards: ``[(description, check)]``: conditions under which the program is still the step.
        names: ``id(tensor) -> name`` of the parameters and buffers it reads (for the listing).
    """

    def __init__(self, ops, arg_slots, outputs, slots, guards, names=None):
        self.ops = ops
        self.arg_slots = arg_slots
        self.outputs = outputs
        self.slots = slots
        self.guards = guards
        self.names = names or {}
        self._plan_frees()
        self._generate()

    def _plan_frees(self):
        last = {}
        for index, op in enumerate(self.ops):
            for code, ref in op.refs:
                if code == SLOT:
                    last[ref] = index
        kept = {ref for code, ref in self.outputs[1] if code == SLOT}
        frees = {}
        for slot, index in last.items():
            if slot not in kept:
                frees.setdefault(index, []).append(slot)
        for index, op in enumerate(self.ops):
            op.free = tuple(frees.get(index, ()))

    def __str__(self):
        return self.listing()

    def __repr__(self):
        return f"<Program: {len(self.ops)} operations, {self.slots} buffers>"

    def failed_guard(self):
        """The description of the first guard that no longer holds, or ``None``."""
        for description, check in self.guards:
            if not check():
                return description
        return None

    def run(self, leaves):
        """Replay the step on the flattened arguments ``leaves``; returns the step's results."""
        arrays = [unwrap(leaf) for slot, leaf in zip(self.arg_slots, leaves) if slot is not None]
        treedef, _, tensors = self.outputs
        values = self._replay(*arrays)
        return tree_unflatten(treedef, [Tensor._wrap(value, None) if tensor else value
                                        for tensor, value in zip(tensors, values)])

    def source(self):
        """The replay as the straight-line Python function it is compiled to, then the C source of each
        fused kernel it calls."""
        kernels = [op.kernel.source for op in self.ops if op.kernel is not None]
        return "\n\n".join([self._source] + kernels)

    def kernels(self):
        """The fused kernels the replay calls (:class:`chainrule.compile.fusion.Kernel`)."""
        return [op.kernel for op in self.ops if op.kernel is not None]

    def _generate(self):
        """Compile the operations into one straight-line Python function: each buffer a local variable,
        each operation a call of a named function, ``del`` where a buffer's last reader has run."""
        table, lines = {}, []

        def named(prefix, value):
            name = f"{_identifier(prefix)}_{len(table)}"
            table[name] = value
            return name

        def read(code, ref):
            if code == SLOT:
                return f"b{ref}"
            if code == TENSOR:
                return named(self.names.get(id(ref), "tensor"), ref) + ".data"
            return named("const", ref)

        arguments = ", ".join(f"b{slot}" for slot in self.arg_slots if slot is not None)
        lines.append(f"def replay({arguments}):")
        for op in self.ops:
            reads = ", ".join(read(code, ref) for code, ref in op.refs)
            call = f"{named(op.name, op.fn)}({reads})"
            if isinstance(op.out, tuple):
                lines.append(f"    {', '.join(f'b{slot}' for slot in op.out)} = {call}")
            else:
                lines.append(f"    b{op.out} = {call}" if op.out is not None else f"    {call}")
            if op.free:
                lines.append(f"    del {', '.join(f'b{slot}' for slot in op.free)}")
        results = [read(code, ref) for code, ref in self.outputs[1]]
        lines.append(f"    return ({''.join(r + ', ' for r in results)})")
        self._source = "\n".join(lines)
        exec(compile(self._source, "<chainrule.compile program>", "exec"), table)
        self._replay = table["replay"]

    def bytes(self):
        """The bytes of the new arrays a replay allocates (not counting those written into a dead input)."""
        return sum(_nbytes(op) * len(_outs(op)) for op in self.ops if op.reuses is None)

    def peak_bytes(self):
        """The most bytes held by live buffers at any point of a replay (arguments not counted)."""
        sizes = {slot: _nbytes(op) for op in self.ops for slot in _outs(op)}
        live = peak = 0
        for op in self.ops:
            if op.reuses is None:
                live += sum(sizes.get(slot, 0) for slot in _outs(op))
            peak = max(peak, live)
            live -= sum(sizes.get(slot, 0) for slot in op.free if slot != op.reuses)
        return peak

    def listing(self):
        """The program as text: one line per operation with its part, buffer, shape, dtype and the
        user's line that caused it (see :func:`chainrule.inspect.program`)."""
        lines, part = [], None
        arguments = ", ".join(f"%{slot}" for slot in self.arg_slots if slot is not None)
        reused = sum(op.reuses is not None for op in self.ops)
        lines.append(f"program({arguments}):  {len(self.ops)} operations, {_megabytes(self.bytes())} "
                     f"allocated, {reused} written into a dead input's buffer, peak "
                     f"{_megabytes(self.peak_bytes())} live")
        for op in self.ops:
            if op.part != part:
                part = op.part
                lines.append(f"  -- {part}")
            target = ", ".join(f"%{slot}" for slot in _outs(op)) or "  "
            reads = ", ".join(self._describe(code, ref) for code, ref in op.refs)
            kind = f"{op.dtype}{list(op.shape)}" if op.shape is not None else ""
            notes = [f"into %{op.reuses}'s buffer"] if op.reuses is not None else []
            freed = [f"%{slot}" for slot in op.free if slot != op.reuses]
            notes += [f"frees {', '.join(freed)}"] if freed else []
            dropped = f"  ({'; '.join(notes)})" if notes else ""
            where = f"  # {op.site[2]}  ({os.path.basename(op.site[0])}:{op.site[1]})" if op.site else ""
            lines.append(f"  {target:>5} = {op.name}({reads}) {kind}{dropped}{where}")
            if op.kernel is not None:
                lines.extend(_kernel_lines(op.kernel))
        refs = self.outputs[1]
        lines.append("  return " + ", ".join(self._describe(code, ref) for code, ref in refs))
        return "\n".join(lines)

    def _describe(self, code, ref):
        if code == SLOT:
            return f"%{ref}"
        if code == TENSOR:
            return self.names.get(id(ref)) or f"tensor{list(ref.data.shape)}"
        if isinstance(ref, backend.ndarray):
            return f"const{list(ref.shape)}" if ref.ndim else repr(ref.item())
        if hasattr(ref, "shape"):  # a value the rules never read: its shape and dtype only
            return f"unsaved{list(ref.shape)}"
        text = repr(ref)
        return text if len(text) <= 24 else text[:21] + "..."


def _outs(op):
    return op.out if isinstance(op.out, tuple) else () if op.out is None else (op.out,)


def _kernel_lines(kernel):
    """A fused kernel in the listing: bytes, then each operation it computes and the user's line."""
    lines = [f"          kernel {kernel.name}: reads {_megabytes(kernel.bytes_read)}, writes "
             f"{_megabytes(kernel.bytes_written)} ({len(kernel.members)} operations in one loop)"]
    for op in kernel.members:
        where = f"  # {op.site[2]}  ({os.path.basename(op.site[0])}:{op.site[1]})" if op.site else ""
        lines.append(f"            %{op.out} = {op.name}{where}")
    return lines


def _nbytes(op):
    if op.shape is None or op.dtype is None:
        return 0
    count = 1
    for n in op.shape:
        count *= n
    return count * backend.xp.dtype(op.dtype).itemsize


def _identifier(text):
    name = "".join(c if c.isalnum() else "_" for c in text).strip("_") or "op"
    return name if name[0].isalpha() else "p_" + name


def _megabytes(n):
    return f"{n / 1e6:.2f} MB" if n >= 1e4 else f"{n} B"
