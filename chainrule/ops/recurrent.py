"""The recurrence of RNN, LSTM and GRU layers as one fused scan primitive with both rules.

A recurrent layer computes ``xw = x W_ihᵀ + b_ih`` for every step at once (one matrix product), then
the loop ``state_t = cell(xw_t, state_{t-1})`` with ``hw_t = h_{t-1} W_hhᵀ + b_hh``. PyTorch's cells,
gate order and equations:

- ``rnn_tanh`` / ``rnn_relu``: ``h_t = act(xw_t + hw_t)``.
- ``lstm`` (gates i, f, g, o): ``c_t = f c_{t-1} + i g``, ``h_t = o tanh(c_t)``; the state is ``[h, c]``.
- ``gru`` (gates r, z, n): ``n = tanh(xw_n + r hw_n)``, ``h_t = (1 - z) n + z h_{t-1}``.

:func:`recurrent_scan` runs the loop in one primitive and returns the states of every step. The node
keeps the states; the rules recompute the gates from them (``hw = h_{t-1} W_hhᵀ + b_hh`` for all steps
in one product, the rest step by step on arrays that stay in cache) and derive the cell's local
derivatives in :func:`_step_derivatives`, the helper both rules share. With ``σ' = a(1 - a)``, ``tanh' = 1 - a²``:

- LSTM: ``P = (g σ'_i, c_{t-1} σ'_f, i tanh'_g, tanh(c_t) σ'_o)`` and ``through = o (1 - tanh² c_t)``.
  VJP (reverse scan): ``dc += dh · through``, ``dz = (dc, dc, dc, dh) ⊙ P``, ``dh_{t-1} = dz W_hh``,
  ``dc_{t-1} = dc f``. JVP (forward scan): ``u = ż ⊙ P``, ``ċ = f ċ_{t-1} + u_i + u_f + u_g``,
  ``ḣ = u_o + through · ċ`` with ``ż = ẋw + ḣ_{t-1} W_hhᵀ``: the same ``P``, transposed.
- GRU: with ``A_n = (1 - z) tanh'_n``, ``A_r = A_n hw_n σ'_r``, ``A_z = (h_{t-1} - n) σ'_z``:
  ``X = (A_r, A_z, A_n)`` (the factor of ``xw``) and ``Y = (A_r, A_z, A_n r)`` (of ``hw``). VJP:
  ``dhw = (dh, dh, dh) ⊙ Y``, ``dh_{t-1} = dhw W_hh + dh z``, ``dxw = (dh, dh, dh) ⊙ X``. JVP:
  ``ḣ = Σ_gates (ẋw ⊙ X + ḣw ⊙ Y) + z ḣ_{t-1}``.
- RNN: ``dz = dh ⊙ act'``, ``dh_{t-1} = dz W_hh``; ``ḣ = act' ⊙ (ẋw + ḣ_{t-1} W_hhᵀ)``.

Then ``dW_hh = Σ_t dhw_tᵀ h_{t-1}`` (one product over all steps) and ``db_hh = Σ_t dhw_t``; a tangent
``Ẇ_hh, ḃ_hh`` enters as ``h_{t-1} Ẇ_hhᵀ + ḃ_hh`` beside ``ẋw``.

``lengths`` (one per sequence) makes step ``t ≥ length`` copy the state unchanged: padding then never
reaches a state or a gradient. The reverse scan runs once per node: one rule gives the cotangents of all
four inputs (``defvjp_argnums``). The rules are written on ``ns``, so they serve every order.
"""

import functools
from collections import namedtuple

from .. import backend
from ..core.primitive import primitive
from ..errors import ShapeError

# mode -> (number of gates, width of the state), the widths in units of the hidden size H
MODES = {"rnn_tanh": (1, 1), "rnn_relu": (1, 1), "lstm": (4, 2), "gru": (3, 1)}

Step = namedtuple("Step", "input recurrent carry through")
"""A cell's local derivatives at one step: the factors of the cotangent (or tangent) of ``xw_t`` and of
``hw_t`` (``input``, ``recurrent``, ``(B, gates·H)``); the factor ``carry`` of the state passed on as it
is (LSTM's ``f`` on ``c``, GRU's ``z`` on ``h``) and LSTM's ``through = o (1 - tanh² c)`` from ``c_t``
to ``h_t``."""


def _mask(lengths, steps):
    """``(T, B, 1)`` booleans, true where step ``t`` is inside sequence ``b``; ``None`` for no lengths."""
    if lengths is None:
        return None
    xp = backend.xp
    return (xp.arange(steps)[:, None] < xp.asarray(lengths)[None, :])[:, :, None]


def _sigmoid_(x, xp):
    # σ(x) = (1 + tanh(x / 2)) / 2, in place: one stable transcendental pass.
    x *= 0.5
    xp.tanh(x, out=x)
    x *= 0.5
    x += 0.5


@functools.lru_cache(maxsize=16)
def _lstm_gate_scale(hidden, dtype):
    """1/2 for the sigmoid gates i, f, o and 1 for g: σ(x) = (1 + tanh(x/2)) / 2."""
    xp = backend.xp
    return xp.repeat(xp.asarray([0.5, 0.5, 1.0, 0.5], dtype=dtype), hidden)


def _check(xw, state0, weight_hh, bias_hh, mode, lengths):
    if mode not in MODES:
        raise ValueError(f"recurrent_scan: mode must be one of {sorted(MODES)}, not {mode!r}")
    gates, state_width = MODES[mode]
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


def _scan_impl(xp, xw, state0, weight_hh, bias_hh, mode="lstm", lengths=None):
    steps, batch, H = _check(xw, state0, weight_hh, bias_hh, mode, lengths)
    gates, state_width = MODES[mode]
    dtype = xp.result_type(xw, state0, weight_hh)
    states = xp.empty((steps, batch, state_width * H), dtype=dtype)
    mask = _mask(lengths, steps)
    weight_t = xp.ascontiguousarray(weight_hh.T)
    scale = _lstm_gate_scale(H, dtype)
    offset = 1 - scale
    hw = xp.empty((batch, gates * H), dtype=dtype)
    scratch = xp.empty((batch, H), dtype=dtype)
    state = state0
    for t in range(steps):
        out = states[t]
        xp.matmul(state[:, :H], weight_t, out=hw)
        hw += bias_hh
        if mode == "lstm":
            hw += xw[t]
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
        elif mode == "gru":
            rz = hw[:, :2 * H]
            rz += xw[t, :, :2 * H]
            _sigmoid_(rz, xp)
            n = scratch
            xp.multiply(hw[:, :H], hw[:, 2 * H:], out=n)
            n += xw[t, :, 2 * H:]
            xp.tanh(n, out=n)
            xp.subtract(state, n, out=out)  # h = n + z (h_prev - n)
            out *= hw[:, H:2 * H]
            out += n
        else:
            hw += xw[t]
            if mode == "rnn_tanh":
                xp.tanh(hw, out=out)
            else:
                xp.maximum(hw, 0, out=out)
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


def _step_derivatives(ns, mode, previous, state, xw_t, product, bias_hh):
    """The cell's :class:`Step` derivatives at one step, its gates recomputed from ``xw_t`` and
    ``hw_t = product + bias_hh``; shared by both rules."""
    H = state.shape[-1] // MODES[mode][1]
    if mode == "rnn_tanh":
        return Step(1 - state * state, None, None, None)
    if mode == "rnn_relu":
        return Step(ns.sign(state), None, None, None)  # h = relu(z) ≥ 0, so sign(h) = relu'(z)
    hw = product + bias_hh
    if mode == "lstm":
        scale = _lstm_gate_scale(H, state.dtype)
        a = ns.tanh((xw_t + hw) * scale)
        gates = a * scale + (1 - scale)
        i, f, g, o = (gates[:, k * H:(k + 1) * H] for k in range(4))
        tanh_c = ns.tanh(state[:, H:])
        factors = ns.concatenate(g, previous[:, H:], i, tanh_c, axis=-1) * ((1 - a * a) * (scale * scale))
        return Step(factors, factors, f, o * (1 - tanh_c * tanh_c))
    a = ns.tanh((xw_t[:, :2 * H] + hw[:, :2 * H]) * 0.5)
    rz, rz_slope = a * 0.5 + 0.5, (1 - a * a) * 0.25
    r, z, hw_n = rz[:, :H], rz[:, H:], hw[:, 2 * H:]
    n = ns.tanh(xw_t[:, 2 * H:] + r * hw_n)
    a_n = (1 - z) * (1 - n * n)
    a_r = a_n * hw_n * rz_slope[:, :H]
    a_z = (previous - n) * rz_slope[:, H:]
    return Step(ns.concatenate(a_r, a_z, a_n, axis=-1), ns.concatenate(a_r, a_z, a_n * r, axis=-1), z, None)


def _tiled(ns, x, count):
    return ns.concatenate(*([x] * count), axis=-1)


def _gate_sum(ns, x, count):
    """The sum of ``x``'s ``count`` gate blocks along the last axis."""
    H = x.shape[-1] // count
    total = x[..., :H]
    for k in range(1, count):
        total = total + x[..., k * H:(k + 1) * H]
    return total


def _reverse_scan(ns, g, states, xw, state0, weight_hh, bias_hh, mode, lengths):
    """The cotangents ``(dxw, dstate0, dhw)`` of the whole scan, by a loop from the last step."""
    steps = states.shape[0]
    H = weight_hh.shape[1]
    gates = MODES[mode][0]
    previous = _previous_states(ns, states, state0)
    hw = _recurrent_terms(ns, previous, weight_hh, bias_hh, mode)
    mask = _mask(lengths, steps)
    carry = None
    dhw, dxw = [None] * steps, [None] * steps
    for t in reversed(range(steps)):
        local = _step_derivatives(ns, mode, previous[t], states[t], xw[t], None if hw is None else hw[t],
                                  bias_hh)
        d = g[t] if carry is None else g[t] + carry
        keep = None
        if mask is not None:
            keep, d = d * ~mask[t], d * mask[t]
        if mode == "lstm":
            dh, dc = d[:, :H], d[:, H:]
            dc = dc + dh * local.through
            dhw[t] = dxw[t] = ns.concatenate(dc, dc, dc, dh, axis=-1) * local.input
            carry = ns.concatenate(ns.matmul(dhw[t], weight_hh), dc * local.carry, axis=-1)
        elif mode == "gru":
            tiled = _tiled(ns, d, gates)
            dhw[t], dxw[t] = tiled * local.recurrent, tiled * local.input
            carry = ns.matmul(dhw[t], weight_hh) + d * local.carry
        else:
            dhw[t] = dxw[t] = d * local.input
            carry = ns.matmul(dhw[t], weight_hh)
        if keep is not None:
            carry = carry + keep
    dhw_all = ns.stack(*dhw, axis=0)
    return (dhw_all if mode != "gru" else ns.stack(*dxw, axis=0)), carry, dhw_all


def _vjp(wanted, ns, g, states, xw, state0, weight_hh, bias_hh, mode="lstm", lengths=None):
    """The cotangents of the inputs at positions ``wanted`` (xw, state0, weight_hh, bias_hh), from one
    reverse scan."""
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
    gates = MODES[mode][0]
    weight_t = ns.transpose(weight_hh)
    previous = _previous_states(ns, states, state0)
    hw = _recurrent_terms(ns, previous, weight_hh, bias_hh, mode)
    mask = _mask(lengths, steps)
    t_state = ns.zeros_like(states[0]) if t_state0 is None else t_state0
    out = []
    for t in range(steps):
        local = _step_derivatives(ns, mode, previous[t], states[t], xw[t], None if hw is None else hw[t],
                                  bias_hh)
        t_hw_step = ns.matmul(t_state[:, :H], weight_t)
        if t_hw is not None:
            t_hw_step = t_hw_step + t_hw[t]
        if mode == "gru":
            entering = t_hw_step * local.recurrent
            if t_xw is not None:
                entering = entering + t_xw[t] * local.input
            new = _gate_sum(ns, entering, gates) + local.carry * t_state
        else:
            t_pre = t_hw_step if t_xw is None else t_hw_step + t_xw[t]
            if mode == "lstm":
                u = t_pre * local.input
                t_c = local.carry * t_state[:, H:] + u[:, :H] + u[:, H:2 * H] + u[:, 2 * H:3 * H]
                new = ns.concatenate(u[:, 3 * H:] + local.through * t_c, t_c, axis=-1)
            else:
                new = t_pre * local.input
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
