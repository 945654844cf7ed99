"""The recurrence of RNN, LSTM and GRU layers as one fused scan primitive with both rules.

A recurrent layer computes ``xw = x W_ihᵀ + b_ih`` for every step at once (one matrix product), then
the loop ``state_t = cell(xw_t, state_{t-1})`` with ``hw_t = h_{t-1} W_hhᵀ + b_hh``, with PyTorch's
cells (``rnn_tanh``, ``rnn_relu``, ``lstm``, ``gru``), gate order and equations.

:func:`recurrent_scan` runs the loop in one primitive and returns the states of every step. The node
keeps the states; the rules recompute the gates from them (``hw = h_{t-1} W_hhᵀ + b_hh`` for all steps
in one product, the rest step by step on arrays that stay in cache). Each cell is defined once, in
:data:`CELLS`: its step, its local derivatives (with ``σ' = a(1 - a)``, ``tanh' = 1 - a²``) and one
step of the reverse and forward scans built from them, its equations in its class's docstring; the
scan's forward, both rules and ``nn``'s Cell modules (a scan of one step) all run it.

For every cell, ``dW_hh = Σ_t dhw_tᵀ h_{t-1}`` (one product over all steps) and ``db_hh = Σ_t dhw_t``;
a tangent ``Ẇ_hh, ḃ_hh`` enters as ``h_{t-1} Ẇ_hhᵀ + ḃ_hh`` beside ``ẋw``.

``lengths`` (one per sequence) makes step ``t ≥ length`` copy the state unchanged: padding then never
reaches a state or a gradient. The reverse scan runs once per node: one rule gives the cotangents of all
four inputs (``defvjp_argnums``). The rules are written on ``ns``, so they serve every order.

On float32 and float64 NumPy arrays with a C compiler, LSTM and GRU scans run each step's elementwise
work as one kernel (:mod:`.recurrent_kernels`); under grad mode the forward then keeps the gates beside
the states, and the first-order reverse scan on arrays reads them instead of recomputing ``hw`` (higher
orders, JVPs and the other cells use the rules below).
"""

import functools
from collections import namedtuple

from .. import backend
from ..core.graph import is_grad_enabled
from ..core.primitive import primitive
from ..errors import ShapeError
from . import recurrent_kernels

Step = namedtuple("Step", "input recurrent carry through")
"""A cell's local derivatives at one step: the factors of the cotangent (or tangent) of ``xw_t`` and of
``hw_t`` (``input``, ``recurrent``, ``(B, gates·H)``); the factor ``carry`` of the state passed on as it
is (LSTM's ``f`` on ``c``, GRU's ``z`` on ``h``) and LSTM's ``through = o (1 - tanh² c)`` from ``c_t``
to ``h_t``."""


def _sigmoid_(x, xp):
    # σ(x) = (1 + tanh(x / 2)) / 2, in place: one stable transcendental pass.
    x *= 0.5
    xp.tanh(x, out=x)
    x *= 0.5
    x += 0.5


@functools.lru_cache(maxsize=16)
def _lstm_gate_scale(hidden, dtype):
    """``(scale, 1 - scale)``: 1/2 for the sigmoid gates i, f, o and 1 for g, as
    σ(x) = (1 + tanh(x/2)) / 2."""
    xp = backend.xp
    scale = xp.repeat(xp.asarray([0.5, 0.5, 1.0, 0.5], dtype=dtype), hidden)
    return scale, 1 - scale


class _Cell:
    """One recurrent cell: its gate count and state width (in units of H), and side by side its step
    (in place, on arrays), its local derivatives, and one step of the reverse and of the forward scan
    built from them. Every user of a cell (the scan's forward, both rules, ``nn``'s Cell modules
    through a one-step scan) reads it from :data:`CELLS`."""

    gates = state_width = None

    def step_(self, xp, xw_t, hw, state, out, scratch):
        """Write ``state_t`` into ``out`` from ``xw_t``, ``hw = h_{t-1} W_hhᵀ + b_hh`` (overwritten)
        and ``state = state_{t-1}``; ``scratch`` is a free ``(B, H)`` array."""
        raise NotImplementedError

    def derivatives(self, ns, previous, state, xw_t, product, bias_hh):
        """The :class:`Step` derivatives at one step, the gates recomputed from ``xw_t`` and
        ``hw_t = product + bias_hh``."""
        raise NotImplementedError

    def reverse(self, ns, d, local, weight_hh):
        """``(dxw_t, dhw_t, dstate_{t-1})`` from the state's cotangent ``d``."""
        raise NotImplementedError

    def tangent(self, ns, t_state, t_hw, t_xw, local):
        """``state_t``'s tangent from ``state_{t-1}``'s, ``t_hw = ḣ_{t-1} W_hhᵀ (+ h_{t-1} Ẇᵀ + ḃ)`` and
        ``t_xw`` (``None``: zero)."""
        raise NotImplementedError


class _Elman(_Cell):
    """``h_t = act(xw_t + hw_t)``: ``dz = dh ⊙ act'``, ``dh_{t-1} = dz W_hh``;
    ``ḣ = act' ⊙ (ẋw + ḣ_{t-1} W_hhᵀ)``."""

    gates = state_width = 1

    def __init__(self, activation):
        self.activation = activation

    def step_(self, xp, xw_t, hw, state, out, scratch):
        hw += xw_t
        if self.activation == "tanh":
            xp.tanh(hw, out=out)
        else:
            xp.maximum(hw, 0, out=out)

    def derivatives(self, ns, previous, state, xw_t, product, bias_hh):
        if self.activation == "tanh":
            return Step(1 - state * state, None, None, None)
        return Step(ns.sign(state), None, None, None)  # h = relu(z) ≥ 0, so sign(h) = relu'(z)

    def reverse(self, ns, d, local, weight_hh):
        dz = d * local.input
        return dz, dz, ns.matmul(dz, weight_hh)

    def tangent(self, ns, t_state, t_hw, t_xw, local):
        return (t_hw if t_xw is None else t_hw + t_xw) * local.input


class _LSTM(_Cell):
    """Gates i, f, g, o: ``c_t = f c_{t-1} + i g``, ``h_t = o tanh(c_t)``; the state is ``[h, c]``.

    ``P = (g σ'_i, c_{t-1} σ'_f, i tanh'_g, tanh(c_t) σ'_o)`` and ``through = o (1 - tanh² c_t)``. VJP:
    ``dc += dh · through``, ``dz = (dc, dc, dc, dh) ⊙ P``, ``dh_{t-1} = dz W_hh``, ``dc_{t-1} = dc f``.
    JVP: ``u = ż ⊙ P``, ``ċ = f ċ_{t-1} + u_i + u_f + u_g``, ``ḣ = u_o + through · ċ`` with
    ``ż = ẋw + ḣ_{t-1} W_hhᵀ``: the same ``P``, transposed."""

    gates, state_width = 4, 2

    def step_(self, xp, xw_t, hw, state, out, scratch):
        H = scratch.shape[1]
        scale, offset = _lstm_gate_scale(H, hw.dtype)
        hw += xw_t
        hw *= scale  # σ(x) = tanh(x/2)/2 + 1/2 for i, f, o; tanh(x) for g: one tanh for all gates
        xp.tanh(hw, out=hw)
        hw *= scale
        hw += offset
        i, f, g, o = (hw[:, k * H:(k + 1) * H] for k in range(4))
        h, c = out[:, :H], out[:, H:]
        xp.multiply(f, state[:, H:], out=c)
        xp.multiply(i, g, out=scratch)
        c += scratch
        xp.tanh(c, out=h)
        h *= o

    def derivatives(self, ns, previous, state, xw_t, product, bias_hh):
        H = state.shape[-1] // 2
        scale, offset = _lstm_gate_scale(H, state.dtype)
        a = ns.tanh((xw_t + (product + bias_hh)) * scale)
        gates = a * scale + offset
        i, f, g, o = (gates[:, k * H:(k + 1) * H] for k in range(4))
        tanh_c = ns.tanh(state[:, H:])
        factors = ns.concatenate(g, previous[:, H:], i, tanh_c, axis=-1) * ((1 - a * a) * (scale * scale))
        return Step(factors, factors, f, o * (1 - tanh_c * tanh_c))

    def reverse(self, ns, d, local, weight_hh):
        H = weight_hh.shape[1]
        dh, dc = d[:, :H], d[:, H:]
        dc = dc + dh * local.through
        dz = ns.concatenate(dc, dc, dc, dh, axis=-1) * local.input
        return dz, dz, ns.concatenate(ns.matmul(dz, weight_hh), dc * local.carry, axis=-1)

    def tangent(self, ns, t_state, t_hw, t_xw, local):
        H = t_state.shape[-1] // 2
        u = (t_hw if t_xw is None else t_hw + t_xw) * local.input
        t_c = local.carry * t_state[:, H:] + u[:, :H] + u[:, H:2 * H] + u[:, 2 * H:3 * H]
        return ns.concatenate(u[:, 3 * H:] + local.through * t_c, t_c, axis=-1)


class _GRU(_Cell):
    """Gates r, z, n: ``n = tanh(xw_n + r hw_n)``, ``h_t = (1 - z) n + z h_{t-1}``.

    With ``A_n = (1 - z) tanh'_n``, ``A_r = A_n hw_n σ'_r``, ``A_z = (h_{t-1} - n) σ'_z``:
    ``X = (A_r, A_z, A_n)`` (the factor of ``xw``) and ``Y = (A_r, A_z, A_n r)`` (of ``hw``). VJP:
    ``dhw = (dh, dh, dh) ⊙ Y``, ``dh_{t-1} = dhw W_hh + dh z``, ``dxw = (dh, dh, dh) ⊙ X``. JVP:
    ``ḣ = Σ_gates (ẋw ⊙ X + ḣw ⊙ Y) + z ḣ_{t-1}``."""

    gates, state_width = 3, 1

    def step_(self, xp, xw_t, hw, state, out, scratch):
        H = scratch.shape[1]
        rz = hw[:, :2 * H]
        rz += xw_t[:, :2 * H]
        _sigmoid_(rz, xp)
        n = scratch
        xp.multiply(hw[:, :H], hw[:, 2 * H:], out=n)
        n += xw_t[:, 2 * H:]
        xp.tanh(n, out=n)
        xp.subtract(state, n, out=out)  # h = n + z (h_prev - n)
        out *= hw[:, H:2 * H]
        out += n

    def derivatives(self, ns, previous, state, xw_t, product, bias_hh):
        H = state.shape[-1]
        hw = product + bias_hh
        a = ns.tanh((xw_t[:, :2 * H] + hw[:, :2 * H]) * 0.5)
        rz, rz_slope = a * 0.5 + 0.5, (1 - a * a) * 0.25
        r, z, hw_n = rz[:, :H], rz[:, H:], hw[:, 2 * H:]
        n = ns.tanh(xw_t[:, 2 * H:] + r * hw_n)
        a_n = (1 - z) * (1 - n * n)
        a_r = a_n * hw_n * rz_slope[:, :H]
        a_z = (previous - n) * rz_slope[:, H:]
        return Step(ns.concatenate(a_r, a_z, a_n, axis=-1), ns.concatenate(a_r, a_z, a_n * r, axis=-1), z,
                    None)

    def reverse(self, ns, d, local, weight_hh):
        tiled = ns.concatenate(d, d, d, axis=-1)
        dhw = tiled * local.recurrent
        return tiled * local.input, dhw, ns.matmul(dhw, weight_hh) + d * local.carry

    def tangent(self, ns, t_state, t_hw, t_xw, local):
        entering = t_hw * local.recurrent
        if t_xw is not None:
            entering = entering + t_xw * local.input
        H = t_state.shape[-1]
        return (entering[:, :H] + entering[:, H:2 * H] + entering[:, 2 * H:]) + local.carry * t_state


CELLS = {"rnn_tanh": _Elman("tanh"), "rnn_relu": _Elman("relu"), "lstm": _LSTM(), "gru": _GRU()}
"""The cells by mode, PyTorch's equations and gate order."""


def _mask(lengths, steps):
    """``(T, B, 1)`` booleans, true where step ``t`` is inside sequence ``b``; ``None`` for no lengths."""
    if lengths is None:
        return None
    xp = backend.xp
    return (xp.arange(steps)[:, None] < xp.asarray(lengths)[None, :])[:, :, None]


def _check(xw, state0, weight_hh, bias_hh, mode, lengths):
    if mode not in CELLS:
        raise ValueError(f"recurrent_scan: mode must be one of {sorted(CELLS)}, not {mode!r}")
    gates, state_width = CELLS[mode].gates, CELLS[mode].state_width
    if weight_hh.ndim != 2 or xw.ndim != 3:
        raise ShapeError(f"recurrent_scan: xw must be (T, B, {gates}·H) and weight_hh ({gates}·H, H), got "
                         f"{xw.shape} and {weight_hh.shape}")
    steps, batch, _ = xw.shape
    hidden = weight_hh.shape[1]
    expected = {"xw": (steps, batch, gates * hidden), "state0": (batch, state_width * hidden),
                "weight_hh": (gates * hidden, hidden), "bias_hh": (gates * hidden,)}
    for name, array in (("xw", xw), ("state0", state0), ("weight_hh", weight_hh), ("bias_hh", bias_hh)):
        if tuple(array.shape) != expected[name]:
            raise ShapeError(f"recurrent_scan ({mode}, hidden size {hidden}): {name} must have shape "
                             f"{expected[name]}, got {tuple(array.shape)}")
    if steps == 0:
        raise ShapeError("recurrent_scan: the sequence has no step")
    if lengths is not None and (len(lengths) != batch or min(lengths) < 1 or max(lengths) > steps):
        raise ShapeError(f"recurrent_scan: lengths must hold {batch} values in [1, {steps}] (the padded "
                         f"length), got {list(lengths)}")
    return steps, batch, hidden


def _rows(mask):
    """The mask as the kernels read it: ``(T, B)`` bytes, or ``None``."""
    return None if mask is None else backend.xp.ascontiguousarray(mask[:, :, 0], dtype="uint8")


def _scan_impl(xp, xw, state0, weight_hh, bias_hh, mode="lstm", lengths=None):
    steps, batch, H = _check(xw, state0, weight_hh, bias_hh, mode, lengths)
    cell = CELLS[mode]
    dtype = xp.result_type(xw, state0, weight_hh)
    mask = _mask(lengths, steps)
    if recurrent_kernels.applies(mode, dtype, xw, state0, weight_hh, bias_hh):
        return recurrent_kernels.scan(xw, state0, weight_hh, bias_hh, mode, dtype, _rows(mask),
                                      save=is_grad_enabled())
    states = xp.empty((steps, batch, cell.state_width * H), dtype=dtype)
    weight_t = xp.ascontiguousarray(weight_hh.T)
    hw = xp.empty((batch, cell.gates * H), dtype=dtype)
    scratch = xp.empty((batch, H), dtype=dtype)
    state = state0
    for t in range(steps):
        out = states[t]
        xp.matmul(state[:, :H], weight_t, out=hw)
        hw += bias_hh
        cell.step_(xp, xw[t], hw, state, out, scratch)
        if mask is not None:
            xp.copyto(out, state, where=~mask[t])
        state = out
    return states


def _previous_states(ns, states, state0):
    """``state_{t-1}`` for every step: ``state0``, then the states but the last."""
    return ns.concatenate(ns.unsqueeze(state0, axis=0), states[:-1], axis=0)


def _recurrent_terms(ns, previous, weight_hh, bias_hh, mode):
    """``h_{t-1} W_hhᵀ`` for every step at once, one product (``None`` for RNN, whose derivatives need
    only the states); the bias is added step by step."""
    if mode.startswith("rnn"):
        return None
    return ns.matmul(previous[..., :weight_hh.shape[1]], ns.transpose(weight_hh))


def _local(ns, cell, previous, states, xw, hw, bias_hh, t):
    return cell.derivatives(ns, previous[t], states[t], xw[t], None if hw is None else hw[t], bias_hh)


def _reverse_scan(ns, g, states, xw, state0, weight_hh, bias_hh, mode, lengths):
    """The cotangents ``(dxw, dstate0, dhw)`` of the whole scan, by a loop from the last step."""
    steps = states.shape[0]
    cell = CELLS[mode]
    previous = _previous_states(ns, states, state0)
    hw = _recurrent_terms(ns, previous, weight_hh, bias_hh, mode)
    mask = _mask(lengths, steps)
    carry = None
    dhw, dxw = [None] * steps, [None] * steps
    for t in reversed(range(steps)):
        local = _local(ns, cell, previous, states, xw, hw, bias_hh, t)
        d = g[t] if carry is None else g[t] + carry
        keep = None
        if mask is not None:
            keep, d = d * ~mask[t], d * mask[t]
        dxw[t], dhw[t], carry = cell.reverse(ns, d, local, weight_hh)
        if keep is not None:
            carry = carry + keep
    dhw_all = ns.stack(*dhw, axis=0)
    same = all(a is b for a, b in zip(dxw, dhw, strict=True))  # LSTM and RNN: one factor for both
    return (dhw_all if same else ns.stack(*dxw, axis=0)), carry, dhw_all


def _vjp(wanted, ns, g, states, xw, state0, weight_hh, bias_hh, mode="lstm", lengths=None):
    """The cotangents of the inputs at positions ``wanted`` (xw, state0, weight_hh, bias_hh), from one
    reverse scan (on arrays, by the kernels when the forward kept its gates)."""
    saved = recurrent_kernels.saved_gates(states, mode) if type(g) is backend.ndarray else None
    if saved is not None and recurrent_kernels.applies(mode, states.dtype, g, xw, state0, weight_hh):
        dxw, dhw, dstate0 = recurrent_kernels.reverse(g, states, saved, state0, weight_hh, mode,
                                                      _rows(_mask(lengths, states.shape[0])), 1 in wanted)
        results = {0: dxw, 1: dstate0}
        if 2 in wanted:
            results[2] = recurrent_kernels.weight_gradient(dhw, states, state0, weight_hh.shape[1],
                                                           recurrent_kernels.saved_hidden(states, mode))
        if 3 in wanted:
            results[3] = dhw.sum(axis=(0, 1))
        return tuple(results[i] for i in wanted)
    dxw, dstate0, dhw = _reverse_scan(ns, g, states, xw, state0, weight_hh, bias_hh, mode, lengths)
    cotangents = []
    for i in wanted:
        if i == 0:
            cotangents.append(dxw)
        elif i == 1:
            cotangents.append(dstate0)
        elif i == 2:
            H = weight_hh.shape[1]
            rows = dhw.shape[0] * dhw.shape[1]
            h_previous = _hidden_previous(ns, states, state0, H)
            cotangents.append(ns.matmul(ns.transpose(ns.reshape(dhw, shape=(rows, dhw.shape[2]))),
                                        ns.reshape(h_previous, shape=(rows, H))))
        else:
            cotangents.append(ns.sum(dhw, axis=(0, 1)))
    return tuple(cotangents)


def _forward_scan(ns, states, xw, state0, weight_hh, bias_hh, mode, lengths, t_xw=None, t_state0=None,
                  t_hw=None):
    """The states' tangent, given the tangents ``t_xw`` of xw, ``t_state0`` of state0 and ``t_hw`` of
    the recurrent term through the weights and bias (``h_{t-1} Ẇᵀ + ḃ`` for all steps); ``None`` is
    zero."""
    steps = states.shape[0]
    H = weight_hh.shape[1]
    cell = CELLS[mode]
    weight_t = ns.transpose(weight_hh)
    previous = _previous_states(ns, states, state0)
    hw = _recurrent_terms(ns, previous, weight_hh, bias_hh, mode)
    mask = _mask(lengths, steps)
    t_state = ns.zeros_like(states[0]) if t_state0 is None else t_state0
    out = []
    for t in range(steps):
        local = _local(ns, cell, previous, states, xw, hw, bias_hh, t)
        t_hw_step = ns.matmul(t_state[:, :H], weight_t)
        if t_hw is not None:
            t_hw_step = t_hw_step + t_hw[t]
        new = cell.tangent(ns, t_state, t_hw_step, None if t_xw is None else t_xw[t], local)
        if mask is not None:
            new = new * mask[t] + t_state * ~mask[t]
        out.append(new)
        t_state = new
    return ns.stack(*out, axis=0)


def _hidden_previous(ns, states, state0, hidden):
    return _previous_states(ns, states, state0)[..., :hidden]


recurrent_scan = primitive("recurrent_scan", _scan_impl, saves=("inputs", "ans"))
recurrent_scan.__doc__ = """The loop of a recurrent layer over a whole sequence, returning every step's state.

Args:
    xw: the input projection of every step, ``(T, B, gates·H)`` (``x W_ihᵀ + b_ih``).
    state0: the initial state, ``(B, H)``; for LSTM ``(B, 2H)``, ``[h0, c0]``.
    weight_hh: ``(gates·H, H)``, PyTorch's ``weight_hh_l*``.
    bias_hh: ``(gates·H,)``.
    mode: ``"rnn_tanh"``, ``"rnn_relu"``, ``"lstm"`` or ``"gru"``.
    lengths: ``None`` or one int per sequence in ``[1, T]``; later steps keep the state unchanged.

Returns:
    ``(T, B, H)`` hidden states (LSTM: ``(T, B, 2H)``, ``[h, c]`` per step). See the module's docstring
    for the rules.
"""
recurrent_scan.defvjp_argnums(_vjp, argnums=(0, 1, 2, 3))
recurrent_scan.defjvp(
    lambda ns, t, ans, xw, state0, weight_hh, bias_hh, mode="lstm", lengths=None:
        _forward_scan(ns, ans, xw, state0, weight_hh, bias_hh, mode, lengths, t_xw=t),
    lambda ns, t, ans, xw, state0, weight_hh, bias_hh, mode="lstm", lengths=None:
        _forward_scan(ns, ans, xw, state0, weight_hh, bias_hh, mode, lengths, t_state0=t),
    lambda ns, t, ans, xw, state0, weight_hh, bias_hh, mode="lstm", lengths=None:
        _forward_scan(ns, ans, xw, state0, weight_hh, bias_hh, mode, lengths,
                      t_hw=ns.matmul(_hidden_previous(ns, ans, state0, weight_hh.shape[1]),
                                     ns.transpose(t))),
    lambda ns, t, ans, xw, state0, weight_hh, bias_hh, mode="lstm", lengths=None:
        _forward_scan(ns, ans, xw, state0, weight_hh, bias_hh, mode, lengths,
                      t_hw=ns.broadcast_to(t, shape=(*ans.shape[:2], t.shape[0]))))


def _hidden_impl(xp, states, *, hidden):
    plane = recurrent_kernels.saved_hidden(states, "lstm")
    return states[..., :hidden] if plane is None or plane.shape[-1] != hidden else plane


recurrent_hidden = primitive("recurrent_hidden", _hidden_impl, saves=())
recurrent_hidden.__doc__ = """An LSTM scan's hidden states, ``states[..., :hidden]`` (``h`` of ``[h, c]``).

The same values as indexing; where the scan's kernels wrote them once more as a contiguous block beside
the states, that block (no copy): the layer's output then feeds fused kernels and products without a
strided read. Its rules are indexing's.

Args:
    states: a :func:`recurrent_scan`'s LSTM states, ``(..., 2H)``.
    hidden: ``H``.
"""
recurrent_hidden.defvjp(lambda ns, g, ans, states, hidden:
                        ns.scatter_add(g, index=(Ellipsis, slice(0, hidden)), shape=states.shape))
recurrent_hidden.defjvp_linear()
