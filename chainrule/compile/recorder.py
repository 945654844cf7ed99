"""Recording a step: an observer of the engine's hooks that writes down every array operation.

While ``fn`` runs eagerly once, each primitive's forward (``hooks.on_forward``) becomes an operation on
numbered buffers; ``backward()`` is not run by the engine but emitted here, rule by rule in the engine's
own order (:mod:`chainrule.core.reverse`), and the emitted operations compute the recording step's
gradients too, so recording and replay share one code path; calls marked
:func:`~chainrule.core.graph.replayable` (optimiser steps, ``zero_grad``, schedules, clipping) are run and
kept as calls to repeat.
"""

import functools
import operator
import sys
import types

from .. import backend
from ..core.graph import Leaf, chained, hooks, toposort, user_site
from ..core.mode import BARE, seed
from ..core.reverse import unbroadcast
from ..core.tensor import Tensor, unwrap
from ..errors import ChainruleError, user_line
from ..tree import tree_flatten
from .optimize import drop_dead, fold_constants, reuse_buffers
from .program import CONSTANT, SLOT, TENSOR, Op, Program


class CompileError(ChainruleError, RuntimeError):
    """Something in a step that a recorded program cannot replay faithfully."""


class Recorder:
    """Collects the operations of one eager run of a step over its flattened arguments ``leaves``."""

    def __init__(self, leaves, fn_name="the step"):
        self.fn_name = fn_name
        self.ops = []
        self.values = []        # buffer number -> the array it held while recording
        self.slot_of = {}       # id(array) -> buffer number
        self.part = "forward"
        self.depth = 0          # inside a replayable call: its own operations are part of the call
        self.modules = {}       # id -> every module called
        self.tensors = {}       # id -> tensor read live at replay (parameters, buffers)
        self.optimizers = {}    # id -> optimiser whose step was recorded
        self.accumulates = []   # (op, tensor) of every leaf-gradient accumulation
        self.names = {}         # id(tensor) -> its name in the outermost module called (for the listing)
        self.arguments = [unwrap(leaf) for leaf in leaves]
        self.arg_slots = [self._new_slot(a) if isinstance(a, backend.ndarray) else None
                          for a in self.arguments]

    # -- buffers and references -------------------------------------------------------------------

    def _new_slot(self, array):
        slot = len(self.values)
        self.values.append(array)
        self.slot_of[id(array)] = slot
        return slot

    def ref(self, x):
        """Where an input of an operation comes from: ``(code, number_or_object)``."""
        array = unwrap(x)
        slot = self._slot(array)
        if slot is not None:
            return SLOT, slot
        if isinstance(x, Tensor):
            # Parameters may equal an argument by chance; a constant tensor equal to one was made from it.
            self._check_not_derived(array, "a tensor made from it", compare=not x.requires_grad)
            self.tensors[id(x)] = x
            return TENSOR, x
        if isinstance(array, backend.ndarray):
            self._check_not_derived(array, "an array computed from it")
        return CONSTANT, x

    def _slot(self, array):
        """The buffer holding ``array``: an operation's result, an argument, or a view of an argument
        (``Tensor(x)``, ``targets.reshape(-1)``: recorded as a view operation of the argument)."""
        slot = self.slot_of.get(id(array))
        if slot is not None or type(array) is not backend.ndarray or array.base is None:
            return slot
        address = array.__array_interface__["data"][0]
        for slot, argument in zip(self.arg_slots, self.arguments):
            if slot is None or not argument.flags.c_contiguous or argument.dtype != array.dtype:
                continue
            offset = address - argument.__array_interface__["data"][0]
            if 0 <= offset < argument.nbytes and backend.xp.shares_memory(array, argument):
                if offset == 0 and argument.shape == array.shape and argument.strides == array.strides:
                    return slot
                view = _view(offset // array.itemsize, array.shape, array.strides)
                return self._emit(self.part, "view", view, [(SLOT, slot)], view(argument), None)
        return None

    def _params(self, name, params):
        """The arrays among ``params`` (integer indices) that hold an argument's values: inputs read at
        every replay, as ``[(key, position in a tuple or None, ref)]``; any other array derived from an
        argument is refused."""
        dynamic = []
        for key, value in params.items():
            items = value if isinstance(value, tuple) else (value,)
            for position, item in enumerate(items):
                if isinstance(item, backend.ndarray) and item.ndim:
                    slot = self._slot(item)
                    if slot is not None:
                        dynamic.append((key, position if isinstance(value, tuple) else None, (SLOT, slot)))
                    else:
                        self._check_not_derived(item, f"an index or setting of {name}")
        return dynamic

    def _check_not_derived(self, array, what, compare=True):
        """Refuse an array made from an argument outside chainrule's operations: sharing its memory, or
        (``compare``) a copy holding the same values (in another shape: of the same dtype too)."""
        for slot, argument in zip(self.arg_slots, self.arguments):
            if slot is None:
                continue
            if backend.xp.shares_memory(array, argument) or (
                    compare and array.size == argument.size and array.size > 1 and
                    (array.shape == argument.shape or array.dtype == argument.dtype) and
                    backend.xp.array_equal(array.reshape(-1), argument.reshape(-1))):
                raise CompileError(
                    f"chainrule.compile: an argument of the step reaches an operation as {what} outside "
                    f"chainrule's operations (a copy, a conversion or an index made with NumPy), so a "
                    f"replay would keep the recorded values; pass it to chainrule's operations as it is "
                    f"(or convert it before calling the step){user_line()}")

    # -- the engine's hooks -----------------------------------------------------------------------

    def on_forward(self, prim, inputs, out, params):
        if self.depth:
            return
        dynamic = self._params(prim.name, params)
        refs = [self.ref(x) for x in inputs] + [ref for _, _, ref in dynamic]
        into = None
        if prim.into is not None and not dynamic:
            into = functools.partial(prim.into, backend.xp, **params)
        self._emit(self.part, prim.name, _forward(prim, params, dynamic), refs, out.data, user_site(),
                   pure=not prim.stateful, into=into)

    def on_value(self, tensor, how):
        if self.depth:
            return
        if tensor is None:
            raise CompileError(
                f"chainrule.compile: {how} depends on the values of the step's inputs, decided in Python "
                f"while recording; a replay would keep the recorded decision. Run this model without "
                f"compiling{user_line()}")
        if id(tensor.data) not in self.slot_of:
            return
        raise CompileError(
            f"chainrule.compile: {how} reads the value of a tensor while the step is being recorded; a "
            f"replay repeats array operations only, so Python code deciding on that value would run just "
            f"once. Return the tensor from the step and read it outside (loss.item() after the call), or "
            f"choose with chainrule.where{user_line()}")

    def on_module(self, module):
        if id(module) not in self.modules:
            self.modules[id(module)] = module
            for name, tensor in (*module.named_parameters(), *module.named_buffers()):
                self.names.setdefault(id(tensor), name)

    def on_call(self, method, args, kwargs):
        if self.depth:
            return method(*args, **kwargs)
        if method is _TENSOR_BACKWARD:
            return self.backward(*args, **kwargs)
        args = tuple(list(a) if isinstance(a, (types.GeneratorType, map, filter)) else a for a in args)
        self.depth += 1
        try:
            result = method(*args, **kwargs)
        finally:
            self.depth -= 1
        if hasattr(args[0] if args else None, "param_groups") and method.__name__ == "step":
            self.optimizers[id(args[0])] = args[0]
        self._emit("update", _call_name(method, args), _call(method, args, kwargs), (), None, user_site(),
                   out=False, run=False)
        return result

    # -- backward ---------------------------------------------------------------------------------

    def backward(self, tensor, gradient=None, retain_graph=False, create_graph=False):
        """Emit (and run) the backward pass of ``tensor.backward(...)``, rule by rule."""
        if create_graph:
            raise CompileError("chainrule.compile: backward(create_graph=True) cannot be recorded; "
                               f"compile the outer step without it{user_line()}")
        if tensor._node is None or (gradient is None and tensor.data.size != 1):
            return _TENSOR_BACKWARD(tensor, gradient)  # the engine's own error
        site, self.part = user_site(), "backward"
        data = tensor.data
        if gradient is None:
            seed_slot = self._emit("backward", "ones", lambda: backend.xp.ones(data.shape, data.dtype), (),
                                   None, site)
        else:
            seed_slot = self._emit("backward", "seed",
                                   lambda g: seed(g, tensor, "backward(): gradient", False),
                                   [self.ref(gradient)], None, site)
        grads = {tensor._node: seed_slot}
        for node in toposort([tensor._node]):
            g = grads.pop(node, None)
            if g is None:
                continue
            if type(node) is Leaf:
                self._accumulate(node, g, site)
                continue
            if node.retained is not None:
                raise CompileError(f"chainrule.compile: retain_grad() inside a compiled step is not "
                                   f"supported{user_line()}")
            if node.inputs is None:
                raise node.freed_error()
            args, ans = BARE.saved(node)
            # Inputs by the tensors the node holds, so a parameter is read live at replay.
            refs = [self.ref(ans)] + [self.ref(x) for x in node.inputs]
            rules, params, prim = node.prim.vjps, node.params, node.prim
            dynamic = self._params(prim.name, params)
            refs += [ref for _, _, ref in dynamic]
            operands = [(SLOT, g)] + refs
            given = self._read(operands[:len(operands) - len(dynamic)])
            wanted = tuple(i for i, parent in enumerate(node.parents)
                           if parent is not None and rules[i] is not None)
            if prim.vjp_argnums is not None and wanted:  # one operation gives every cotangent
                rule = functools.partial(prim.vjp_argnums, wanted)
                shared = rule(BARE.ns, *given, **params)
                joint = self._emit("backward", f"vjp {prim.name}{list(wanted)}",
                                   _vjp(rule, params, dynamic, None, None, plain=True), operands, shared,
                                   node.site or site)
            for k, i in enumerate(wanted):
                parent, x = node.parents[i], args[i]
                if prim.vjp_argnums is None:
                    g_full, reads = rules[i](BARE.ns, *given, **params), operands
                    plain = g_full.shape == x.shape and g_full.dtype == x.dtype
                    vjp = _vjp(rules[i], params, dynamic, tuple(x.shape), x.dtype, plain)
                else:
                    g_full, reads = shared[k], [(SLOT, joint)]
                    vjp = functools.partial(_selected, k, tuple(x.shape), x.dtype)
                g_input = self._emit("backward", f"vjp {prim.name}[{i}]", vjp, reads,
                                     _finish(g_full, tuple(x.shape), x.dtype), node.site or site)
                previous = grads.get(parent)
                grads[parent] = g_input if previous is None else self._emit(
                    "backward", "add", operator.add, [(SLOT, previous), (SLOT, g_input)], None, site,
                    into=_add_into)
            if not retain_graph:
                node.inputs = node.values = node.ans = node.ans_tangents = None
        self.part = "forward"

    def _accumulate(self, leaf, g, site):
        tensor = leaf.tensor_ref()
        if tensor is None:
            return
        op = self._emit("backward", f"accumulate {self.names.get(id(tensor), 'grad')}{list(tensor.shape)}",
                        _accumulator(tensor, copy=True), [(SLOT, g)], None, site, out=False)
        self.accumulates.append((op, tensor))
        self.tensors[id(tensor)] = tensor

    # -- operations -------------------------------------------------------------------------------

    def _emit(self, part, name, fn, refs, result, site, out=True, run=True, pure=True, into=None):
        """Add an operation; run it now (``run``) unless its ``result`` is given (a forward already
        computed). Returns its buffer number (``out``) or the operation (``out=False``). A pure operation
        that returned one of its input buffers as it is (a rule passing its cotangent on) adds nothing:
        its buffer is that input's."""
        if result is None and run:
            result = fn(*self._read(refs))
        if not out:
            op = Op(part, name, fn, refs, None, site, None)
            self.ops.append(op)
            return op
        if pure:
            for code, ref in refs:
                if code == SLOT and self.values[ref] is result:
                    return ref
        slot = self._new_slot(result)
        self.ops.append(Op(part, name, fn, refs, slot, site, result, pure, into))
        return slot

    def _read(self, refs):
        return [self.values[r] if c == SLOT else r.data if c == TENSOR else r for c, r in refs]

    def program(self, result):
        """The finished :class:`Program`, returning the leaves of ``result`` as the step did."""
        leaves, treedef = tree_flatten(result)
        outputs = (treedef, [self._output(leaf) for leaf in leaves],
                   [isinstance(leaf, Tensor) for leaf in leaves])
        keep = {ref for code, ref in outputs[1] if code == SLOT}
        ops = drop_dead(fold_constants(self.ops, self.values, keep), keep)
        reuse_buffers(ops, self.values, keep | set(self.arg_slots))
        readers = {}
        for op in ops:
            for code, ref in op.refs:
                if code == SLOT:
                    readers[ref] = readers.get(ref, 0) + 1
        arguments = set(self.arg_slots)
        for op, tensor in self.accumulates:
            # A gradient becomes the tensor's own array unless other operations still read it (an add
            # passes it on as it is), or it is an argument or a constant that every replay shares.
            code, ref = op.refs[0]
            op.fn = _accumulator(tensor, copy=code != SLOT or ref in arguments or readers[ref] > 1)
        return Program(ops, self.arg_slots, outputs, len(self.values), self._guards(),
                       {id(t): self.names[id(t)] for t in self.tensors.values() if id(t) in self.names})

    def _output(self, leaf):
        """Where a returned leaf comes from. An array that no operation of the step made was computed
        outside chainrule (NumPy on an argument): a replay could only return the recorded value."""
        if isinstance(leaf, Tensor):
            return self.ref(leaf)
        if isinstance(leaf, (backend.ndarray, backend.xp.generic)):
            slot = self._slot(leaf) if isinstance(leaf, backend.ndarray) else None
            if slot is None:
                raise CompileError(
                    f"chainrule.compile: {self.fn_name} returns a NumPy {type(leaf).__name__} that no "
                    f"chainrule operation made (NumPy applied to an argument, say), so a replay would "
                    f"return the value recorded now; compute it with chainrule's operations (they take "
                    f"arrays: cr.sum(x), cr.tanh(x)) or outside the step")
            return SLOT, slot
        return CONSTANT, leaf

    def _guards(self):
        guards = []
        for module in self.modules.values():
            settings = _settings(module)
            guards.append((f"{type(module).__name__}'s settings are unchanged: {_describe(settings)}",
                           _unchanged(module.__dict__, settings)))
        for tensor in self.tensors.values():
            shape, dtype, requires = tensor.data.shape, tensor.data.dtype, tensor.requires_grad
            guards.append((f"a tensor of shape {shape} keeps its shape, dtype and requires_grad",
                           lambda t=tensor, s=shape, d=dtype, r=requires:
                           t.data.shape == s and t.data.dtype == d and t.requires_grad == r))
        for optimizer in self.optimizers.values():
            guards.append((f"{type(optimizer).__name__}'s settings other than lr are unchanged",
                           _optimizer_unchanged(optimizer)))
        return guards


def _forward(prim, params, dynamic):
    impl, xp, ndarray, asarray = prim.impl, backend.xp, backend.ndarray, backend.asarray
    if dynamic:
        count = len(dynamic)

        def forward_with_dynamic_params(*values):
            ans = impl(xp, *values[:-count], **_rebuild(params, dynamic, values[-count:]))
            return ans if type(ans) is ndarray else asarray(ans)
        return forward_with_dynamic_params

    def forward(*values):
        ans = impl(xp, *values, **params)
        return ans if type(ans) is ndarray else asarray(ans)
    return forward


def _vjp(rule, params, dynamic, shape, dtype, plain):
    """A VJP rule on bare arrays, its result summed to the input's shape and kept in its dtype as the
    engine does; ``plain`` when recording showed neither is needed (shapes are fixed by the signature).
    ``shape`` is ``None`` for a rule giving several inputs' cotangents, each finished by :func:`_selected`."""
    ns = BARE.ns
    if dynamic:
        count = len(dynamic)
        if shape is None:
            return lambda g, ans, *args: rule(ns, g, ans, *args[:-count],
                                              **_rebuild(params, dynamic, args[-count:]))
        return lambda g, ans, *args: _finish(
            rule(ns, g, ans, *args[:-count], **_rebuild(params, dynamic, args[-count:])), shape, dtype)
    if plain:
        return lambda g, ans, *args: rule(ns, g, ans, *args, **params)
    return lambda g, ans, *args: _finish(rule(ns, g, ans, *args, **params), shape, dtype)


def _selected(k, shape, dtype, cotangents):
    """The ``k``-th of the cotangents a rule for several inputs returned, as :func:`_vjp` finishes it."""
    return _finish(cotangents[k], shape, dtype)


def _rebuild(params, dynamic, values):
    """``params`` with this replay's arrays in the places ``dynamic`` names."""
    params = dict(params)
    for (key, position, _), value in zip(dynamic, values):
        if position is None:
            params[key] = value
        else:
            items = list(params[key])
            items[position] = value
            params[key] = tuple(items)
    return params


def _view(offset, shape, strides):
    """The view of a contiguous argument that the recorded one was, at ``offset`` elements."""
    as_strided = backend.xp.lib.stride_tricks.as_strided
    return lambda argument: as_strided(argument.reshape(-1)[offset:], shape, strides)


def _finish(g_input, shape, dtype):
    if g_input.shape != shape:
        g_input = unbroadcast(BARE.ns, g_input, shape)
    if g_input.dtype != dtype:  # no upcast of a float32 gradient
        g_input = BARE.ns.astype(g_input, dtype=dtype)
    return g_input


def _add_into(out, a, b):
    return backend.xp.add(a, b, out=out)


def _accumulator(tensor, copy):
    def accumulate(g):
        if tensor.grad is not None:
            tensor.grad.data += g
            return
        if copy or (g.base is not None and sys.getrefcount(g.base) > 2):
            g = g.copy(order="K")
        tensor.grad = Tensor._wrap(g, None)
    return accumulate


def _call(method, args, kwargs):
    return lambda: method(*args, **kwargs)


def _call_name(method, args):
    owner = type(args[0]).__name__ if args and hasattr(args[0], method.__name__) else None
    return f"{owner}.{method.__name__}" if owner else method.__name__


def _unchanged(mapping, settings):
    """A check that ``mapping`` still holds ``settings`` (one C-level pass per call)."""
    keys, values, get = tuple(settings), tuple(settings.values()), mapping.get
    return lambda: tuple(map(get, keys)) == values


def _optimizer_unchanged(optimizer):
    """A check that ``optimizer`` has the same parameter groups, with the same parameters and the same
    plain settings other than the learning rate."""
    checks = [(group, tuple(map(id, group["params"])),
               _unchanged(group, {k: v for k, v in group.items() if k not in ("params", "lr") and _plain(v)}))
              for group in optimizer.param_groups]

    def check():
        groups = optimizer.param_groups
        return len(groups) == len(checks) and all(
            now is group and tuple(map(id, group["params"])) == ids and same()
            for now, (group, ids, same) in zip(groups, checks))
    return check


def _settings(module):
    """A module's plain attributes (``training``, a dropout's ``p``, a norm's ``eps``...): what its
    forward decided on while recording."""
    return {k: v for k, v in vars(module).items() if _plain(v)}


def _describe(settings):
    text = ", ".join(f"{k}={v!r}" for k, v in settings.items())
    return text if len(text) <= 60 else text[:57] + "..."


def _plain(value):
    return isinstance(value, (bool, int, float, str, tuple, type(None)))


_TENSOR_BACKWARD = Tensor.backward.__wrapped__


class recording:
    """Install a :class:`Recorder` on the engine's hooks inside a ``with`` block (and restore them)."""

    def __init__(self, recorder):
        self.recorder = recorder

    def __enter__(self):
        self.saved = hooks.on_forward, hooks.on_call, hooks.on_value, hooks.on_module
        if any(self.saved[1:]):
            raise CompileError("chainrule.compile: a compiled step cannot be called while another one "
                               "is being recorded")
        r = self.recorder
        hooks.on_forward = chained(hooks.on_forward, r.on_forward)
        hooks.on_call, hooks.on_value, hooks.on_module = r.on_call, r.on_value, r.on_module
        return r

    def __exit__(self, *exc):
        hooks.on_forward, hooks.on_call, hooks.on_value, hooks.on_module = self.saved
        return False
