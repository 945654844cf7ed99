"""Recording a step: the executor of the engine's walks while ``fn`` runs eagerly once.

Each primitive's forward (``hooks.on_forward``) becomes an operation on numbered buffers; the one backward
walk (:mod:`chainrule.core.reverse`) runs each VJP rule through this executor, which runs it and emits it
(so ``backward()`` and the transforms inside a step are recorded, and recording and replay share one
code path); calls marked :func:`~chainrule.core.graph.replayable` (optimiser steps, ``zero_grad``,
schedules, clipping) are run and kept as calls to repeat.
"""

import functools
import operator
import types

from .. import backend
from ..core.graph import Unsaved, chained, hooks
from ..core.mode import BARE
from ..core.reverse import accumulate, finish
from ..core.tensor import Tensor, unwrap
from ..errors import user_line, user_site
from ..tree import tree_flatten
from . import fusion
from .arguments import CompileError, Traced, derived, describe, plain, trace
from .optimize import drop_dead, fold_constants, reuse_buffers
from .program import CONSTANT, SLOT, TENSOR, Op, Program


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
        self.made = []          # arrays the engine made from shapes alone (seeds)
        self.steps = []         # (op, optimiser) of every optimiser step recorded
        self.views = set()      # buffers that view an argument's memory
        self.proxies = []       # results that are a leaf's gradient (_GradOf)
        self.arguments = [unwrap(leaf) for leaf in leaves]
        self.arg_slots = [self._new_slot(a) if isinstance(a, backend.ndarray) else None
                          for a in self.arguments]
        # What the step sees of each array argument while recorded (:mod:`.arguments`).
        self.traced = [trace(a) if slot is not None else None
                       for a, slot in zip(self.arguments, self.arg_slots)]
        for slot, view in zip(self.arg_slots, self.traced):
            if view is not None:
                self.slot_of[id(view)] = slot

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
            self._check_not_derived(array, "a tensor", compare=not x.requires_grad)
            self.tensors[id(x)] = x
            return TENSOR, x
        if isinstance(array, backend.ndarray):
            self._check_not_derived(array, "an array")
        return CONSTANT, x

    def _slot(self, array):
        """The buffer holding ``array``: an operation's result, an argument, or a view of an argument
        (``Tensor(x)``, ``targets.reshape(-1)``: recorded as a view operation of the argument)."""
        slot = self.slot_of.get(id(array))
        if slot is not None:
            return slot
        if isinstance(array, Traced):
            if derived(array, self.arguments):
                return None
            array = plain(array)  # a view of an argument
        if type(array) is not backend.ndarray or array.base is None:
            return None
        address = array.__array_interface__["data"][0]
        for slot, argument in zip(self.arg_slots, self.arguments):
            if slot is None or not argument.flags.c_contiguous or argument.dtype != array.dtype:
                continue
            offset = address - argument.__array_interface__["data"][0]
            if 0 <= offset < argument.nbytes and backend.xp.shares_memory(array, argument):
                if offset == 0 and argument.shape == array.shape and argument.strides == array.strides:
                    return slot
                view = _view(offset // array.itemsize, array.shape, array.strides)
                slot = self._emit(self.part, "view", view, [(SLOT, slot)], view(argument), None)
                self.views.add(slot)
                return slot
        return None

    def _params(self, name, params):
        """The arrays among ``params`` (integer indices) that hold an argument's values: inputs read at
        every replay, as ``[(key, position in a tuple or None, ref)]``; any other array derived from an
        argument is refused."""
        dynamic = []
        for key, value in params.items():
            items = value if isinstance(value, tuple) else (value,)
            for position, item in enumerate(items):
                if isinstance(item, backend.ndarray) and (item.ndim or isinstance(item, Traced)):
                    slot = self._slot(item)
                    if slot is not None:
                        dynamic.append((key, position if isinstance(value, tuple) else None, (SLOT, slot)))
                    else:
                        self._check_not_derived(item, f"an index or setting of {name}")
        return dynamic

    def _check_not_derived(self, array, what, compare=True):
        """Refuse an array made from an argument outside chainrule's operations. Arguments are followed
        by where arrays come from (the buffers of operations, views of an argument, conversions made by
        ``Tensor()``), so an array sharing an argument's memory and reaching an operation any other way
        was made with NumPy. As a net for NumPy copies (``np.asarray(x, np.float32)``), ``compare``
        also refuses a constant holding exactly an argument's values when those are not all one value:
        a fill (an all-zero batch beside a zeros constant) is no evidence of a copy."""
        self._refuse_derived(array, what)
        for slot, argument in zip(self.arg_slots, self.arguments):
            if slot is None:
                continue
            if backend.xp.shares_memory(array, argument) or (
                    compare and array.size == argument.size and array.size > 1 and
                    (array.shape == argument.shape or array.dtype == argument.dtype) and
                    backend.xp.array_equal(array.reshape(-1), argument.reshape(-1)) and
                    not backend.xp.all(argument.reshape(-1) == argument.reshape(-1)[0])):
                raise CompileError(
                    f"chainrule.compile: an argument of the step reaches an operation as {what} made "
                    f"from it outside chainrule's operations (a copy, a conversion or an index made with "
                    f"NumPy), so a replay would keep the recorded values; pass it to chainrule's "
                    f"operations as it is (or convert it before calling the step){user_line()}")

    def _refuse_derived(self, array, what):
        """Refuse an array NumPy computed from an argument (a :class:`~.arguments.Traced` copy)."""
        if derived(array, self.arguments):
            raise CompileError(
                f"chainrule.compile: an argument of the step reaches an operation as {what} that NumPy "
                f"computed from it ({describe(array)}), so a replay would keep the recorded values; "
                f"use chainrule's operations, which take arrays (cr.concatenate, cr.where, x * 2 on a "
                f"tensor), or compute it before calling the step{user_line()}")

    # -- the engine's hooks -----------------------------------------------------------------------

    def on_forward(self, prim, inputs, out, params):
        if self.depth:
            return
        dynamic = self._params(prim.name, params)
        refs = [self.ref(x) for x in inputs] + [ref for _, _, ref in dynamic]
        into = None
        if prim.into is not None and not dynamic:
            into = functools.partial(prim.into, backend.xp, **params)
        count = len(self.ops)
        self._emit(self.part, prim.name, _forward(prim, params, dynamic), refs, out.data, user_site(),
                   pure=not prim.stateful, into=into)
        if len(self.ops) > count and not dynamic and not prim.stateful:
            self.ops[-1].kind, self.ops[-1].params = ("forward", prim.name), params

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
        args = tuple(list(a) if isinstance(a, (types.GeneratorType, map, filter)) else a for a in args)
        self.depth += 1
        hooks.executor = hooks.on_array = None  # the call's own operations run eagerly: it is replayed
        try:
            result = method(*args, **kwargs)
        finally:
            self.depth -= 1
            hooks.executor, hooks.on_array = self, self.on_array
        if hasattr(args[0] if args else None, "param_groups") and method.__name__ == "step":
            self.optimizers[id(args[0])] = args[0]
        op = self._emit("update", _call_name(method, args), _call(method, args, kwargs), (), None,
                        user_site(), out=False, run=False)
        if method.__name__ == "step" and id(args[0]) in self.optimizers and not kwargs and len(args) == 1:
            self.steps.append((op, args[0]))
        return result

    # -- the executor of the engine's reverse walk (core/reverse.py) --------------------------------

    def _rule_operands(self, node, g, ans):
        """What a VJP rule of ``node`` reads, as refs, and the arrays among its parameters."""
        # Inputs by the tensors the node holds, so that a parameter is read live at replay.
        refs = [self.ref(g), self.ref(ans)] + [self.ref(v) for v in node.inputs]
        dynamic = self._params(node.prim.name, node.params)
        return refs + [ref for _, _, ref in dynamic], dynamic

    def vjps(self, node, wanted, g, ans, args):
        """Run ``node``'s rule for several inputs once for the positions ``wanted`` and emit it, then
        each input's cotangent taken from its results: ``{argnum: (g_full, g_input)}``."""
        prim, params, args = node.prim, node.params, [plain(a) for a in args]
        refs, dynamic = self._rule_operands(node, g, ans)
        rule = functools.partial(prim.vjp_argnums, wanted)
        results = rule(BARE.ns, g, ans, *args, **params)
        site = node.site or user_site()
        joint = self._emit("backward", f"vjp {prim.name}{list(wanted)}",
                           _vjp(rule, params, dynamic, None, plain=True), refs, results, site)
        if not dynamic and self.ops and self.ops[-1].out == joint:
            self.ops[-1].kind, self.ops[-1].params = ("vjps", f"{prim.name}{list(wanted)}"), params
        out = {}
        for k, i in enumerate(wanted):
            g_full, x = results[k], args[i]
            g_input = finish(BARE.ns, g_full, x)
            fn = functools.partial(_selected, k, Unsaved(x) if g_input is not g_full else None)
            if type(g_input) is not backend.ndarray:
                g_input, fn = backend.asarray(g_input), _as_array(fn)
            slot = self._emit("backward", f"vjp {prim.name}[{i}]", fn, [(SLOT, joint)], g_input, site)
            out[i] = g_full, self.values[slot]
        return out

    def vjp(self, node, i, g, ans, args):
        """Run VJP rule ``i`` of ``node`` on bare arrays and emit it: ``(g_full, g_input)``."""
        prim, params, args = node.prim, node.params, [plain(a) for a in args]
        x = args[i]
        refs, dynamic = self._rule_operands(node, g, ans)
        rule = prim.vjps[i]
        g_full = rule(BARE.ns, g, ans, *args, **params)
        g_input = finish(BARE.ns, g_full, x)
        fn = _vjp(rule, params, dynamic, x, plain=g_input is g_full)
        if type(g_input) is not backend.ndarray:  # a NumPy scalar (a sum over every axis)
            g_input, fn = backend.asarray(g_input), _as_array(fn)
        count = len(self.ops)
        slot = self._emit("backward", f"vjp {prim.name}[{i}]", fn, refs, g_input, node.site or user_site())
        if len(self.ops) > count and not dynamic:  # "vjp-sum": the rule's result summed to x's shape
            self.ops[-1].kind = ("vjp" if g_input is g_full else "vjp-sum", f"{prim.name}[{i}]")
            self.ops[-1].params = params
        return g_full, self.values[slot]

    def add(self, a, b):
        """Add two cotangents of one value, emitted."""
        count = len(self.ops)
        slot = self._emit("backward", "add", operator.add, [self.ref(a), self.ref(b)], None, user_site(),
                          into=_add_into)
        if len(self.ops) > count:
            self.ops[-1].kind = ("forward", "add")
        return self.values[slot]

    def accumulate(self, tensor, g, records):
        """Accumulate ``g`` into a leaf tensor's gradient, emitted (whether the replay's gradient may be
        the array itself is decided when the program is finished: :meth:`program`)."""
        if records:
            self.refuse("backward(create_graph=True)")
        if tensor is None:
            return
        op = self._emit("backward", f"accumulate {self.names.get(id(tensor), 'grad')}{list(tensor.shape)}",
                        functools.partial(accumulate, tensor, copy=True), [self.ref(g)], None, user_site(),
                        out=False)
        op.kind = ("accumulate", None)
        self.accumulates.append((op, tensor))
        self.tensors[id(tensor)] = tensor

    def constant(self, array):
        """An array the engine made from shapes alone (the seed of ones of ``loss.backward()``): the same
        at every replay, so what follows from it alone is computed once (:func:`fold_constants`)."""
        self.made.append(array)

    def refuse(self, what):
        raise CompileError(f"chainrule.compile: {what} cannot be recorded; compile the step without "
                           f"it{user_line()}")

    def on_array(self, source, array):
        """A tensor or a seed made by converting ``source`` (another dtype): when ``source`` is an
        argument or a value of the step, the conversion is an operation of the program."""
        if not isinstance(source, backend.ndarray):
            return
        if isinstance(source, Traced):
            self._refuse_derived(source, "a tensor")
            if array.dtype == source.dtype and backend.xp.shares_memory(array, source):
                return  # a view of an argument: followed by its memory (_slot)
        slot = self._slot(source)
        if slot is not None:
            dtype = array.dtype
            self._emit(self.part, f"astype {dtype}", lambda a: a.astype(dtype), [(SLOT, slot)], array,
                       user_site())

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

    def program(self, result, fuse=False):
        """The finished :class:`Program`, returning the leaves of ``result`` as the step did; with
        ``fuse``, optimiser updates and elementwise chains run as fused kernels (:mod:`.fusion`)."""
        leaves, treedef = tree_flatten(result)
        outputs = (treedef, [self._output(leaf) for leaf in leaves],
                   [isinstance(leaf, Tensor) for leaf in leaves])
        keep = {ref for code, ref in outputs[1] if code == SLOT}
        ops = drop_dead(fold_constants(self.ops, self.values, keep, {id(a) for a in self.made}), keep)
        if fuse:
            ops = fusion.fuse(ops, self.values, keep | set(self.arg_slots), self.steps)
        reuse_buffers(ops, self.values, keep | set(self.arg_slots))
        readers = {}
        for op in ops:
            for code, ref in op.refs:
                if code == SLOT:
                    readers[ref] = readers.get(ref, 0) + 1
        arguments = set(self.arg_slots) | self.views
        for op, tensor in self.accumulates:
            # A gradient becomes the tensor's own array unless other operations still read it (an add
            # passes it on as it is), or it is an argument or a constant that every replay shares.
            code, ref = op.refs[0]
            op.fn = functools.partial(accumulate, tensor,
                                      copy=code != SLOT or ref in arguments or readers[ref] > 1)
        return Program(ops, self.arg_slots, outputs, len(self.values), self._guards(),
                       {id(t): self.names[id(t)] for t in (*self.tensors.values(), *self.proxies)
                        if id(t) in self.names})

    def _output(self, leaf):
        """Where a returned leaf comes from. An array that no operation of the step made was computed
        outside chainrule (NumPy on an argument): a replay could only return the recorded value."""
        if isinstance(leaf, Tensor):
            for _, tensor in self.accumulates:
                if tensor.grad is leaf:  # a replay makes a new gradient tensor: return that one's array
                    proxy = _GradOf(tensor)
                    self.names[id(proxy)] = f"{self.names.get(id(tensor), 'tensor')}.grad"
                    self.proxies.append(proxy)
                    return TENSOR, proxy
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


class _GradOf:
    """A step's result that is a leaf's ``.grad``: its array at each replay (where the gradient is
    accumulated anew)."""

    __slots__ = ("tensor",)
    requires_grad = False

    def __init__(self, tensor):
        self.tensor = tensor

    @property
    def data(self):
        return self.tensor.grad.data


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


def _vjp(rule, params, dynamic, x, plain):
    """A VJP rule on bare arrays, its result summed to input ``x``'s shape and kept in its dtype as the
    engine does (:func:`~chainrule.core.reverse.finish`); ``plain`` when recording showed neither is
    needed (shapes are fixed by the signature)."""
    ns, x = BARE.ns, Unsaved(x) if isinstance(x, backend.ndarray) else x
    if dynamic:
        count = len(dynamic)
        if x is None:  # a rule for several inputs: each cotangent is finished by _selected
            return lambda g, ans, *args: rule(ns, g, ans, *args[:-count],
                                              **_rebuild(params, dynamic, args[-count:]))
        return lambda g, ans, *args: finish(
            ns, rule(ns, g, ans, *args[:-count], **_rebuild(params, dynamic, args[-count:])), x)
    if plain:
        return lambda g, ans, *args: rule(ns, g, ans, *args, **params)
    return lambda g, ans, *args: finish(ns, rule(ns, g, ans, *args, **params), x)


def _as_array(fn):
    asarray = backend.asarray
    return lambda *values: asarray(fn(*values))


def _selected(k, x, cotangents):
    """The ``k``-th of the cotangents a rule for several inputs returned, finished for input ``x``
    (``None``: as it is)."""
    return cotangents[k] if x is None else finish(BARE.ns, cotangents[k], x)


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


def _add_into(out, a, b):
    return backend.xp.add(a, b, out=out)


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


class recording:
    """Install a :class:`Recorder` on the engine's hooks inside a ``with`` block (and restore them)."""

    def __init__(self, recorder):
        self.recorder = recorder

    def __enter__(self):
        self.saved = (hooks.on_forward, hooks.on_call, hooks.on_value, hooks.on_module, hooks.executor,
                      hooks.on_array)
        if any(self.saved[1:]):
            raise CompileError("chainrule.compile: a compiled step cannot be called while another one "
                               "is being recorded")
        r = self.recorder
        hooks.on_forward = chained(hooks.on_forward, r.on_forward)
        hooks.on_call, hooks.on_value, hooks.on_module = r.on_call, r.on_value, r.on_module
        hooks.executor, hooks.on_array = r, r.on_array
        return r

    def __exit__(self, *exc):
        (hooks.on_forward, hooks.on_call, hooks.on_value, hooks.on_module, hooks.executor,
         hooks.on_array) = self.saved
        return False
