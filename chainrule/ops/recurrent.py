"""The recurrence of RNN, LSTM and GRU layers as one fused scan primitive with both rules.

A recurrent layer computes ``xw = x W_ihᵀ + b_ih`` for every step at once (one matrix product), then
the loop ``state_t = cell(xw_t, state_{t-1})`` with ``hw_t = h_{t-1} W_hhᵀ + b_hh``. PyTorch's cells,
gate order and equations:

- ``rnn_tanh`` / ``rnn_relu``: ``h_t = act(xw_t + hw_t)``.
- ``lstm`` (gates i, f, g, o): ``c_t = f c_{t-1} + i g``, ``h_t = o tanh(c_t)``; the state is ``[h, c]``.
- ``gru`` (gates r, z, n): ``n = tanh(xw_n + r hw_n)``, ``h_t = (1 - z) n + z h_{t-1}``.

:func:`recurrent_scan` runs the loop in one primitive and returns its trace: per step the state and,
for LSTM and GRU, the activated gates (``[h, c, i, f, g, o]`` and ``[h, r, z, n, hw_n]``). The rules
read the trace instead of recomputing the cell. With ``z`` the gates' pre-activations and ``slope`` the
activations' derivatives (``a(1 - a)`` for a sigmoid, ``1 - a²`` for tanh, read off the trace once for
all steps by :func:`_slopes`, the helper both rules share):

- VJP, a reverse scan. LSTM: ``dc += dh o (1 - tanh² c_t)``; ``dz = slope ⊙ (dc g, dc c_{t-1}, dc i,
  dh tanh c_t)`` plus the trace's own gate cotangents; ``dh_{t-1} = dz W_hh``, ``dc_{t-1} = dc f``.
  GRU: ``dn = dh (1 - z)``, ``dz_z = dh (h_{t-1} - n)``, ``dz_n = dn (1 - n²)``, ``dr = dz_n hw_n``,
  ``dhw_n = dz_n r``; ``dh_{t-1} = dhw W_hh + dh z``. Then ``dxw = dz`` (GRU: ``dz_n`` for n),
  ``dW_hh = Σ_t dhw_tᵀ h_{t-1}`` (one product over all steps), ``db_hh = Σ_t dhw_t``.
- JVP, a forward scan of the same local derivatives: ``ż = ẋw + (h_{t-1} Ẇ_hhᵀ + ḃ_hh) + ḣ_{t-1} W_hhᵀ``
  (the middle term for all steps in one product), ``ȧ = slope ⊙ ż``, then the cell's product rule.

``lengths`` (one per sequence) makes step ``t ≥ length`` copy the state unchanged: padding then never
reaches a state, an output or a gradient. The reverse scan runs once per node: its rules (one per
input) share it through a one-entry memo. The rules are written on ``ns``, so they serve every order.
"""

from ..core.primitive import primitive
from ..errors import ShapeError
from .attention import _LastCall

# mode -> (number of gates, width of the state, width of the trace), in units of the hidden size H
MODES = {"rnn_tanh": (1, 1, 1), "rnn_relu": (1, 1, 1), "lstm": (4, 2, 6), "gru": (3, 1, 5)}

_backward_memo = _LastCall()


def _mask(xp, lengths, steps, batch):
    """``(T, B, 1)`` booleans, true where step ``t`` is inside sequence ``b``; ``None`` for no lengths."""
    if lengths is None:
        return None
    return (xp.arange(steps)[:, None] < xp.asarray(lengths)[None, :])[:, :, None]


def _sigmoid_into(x, out, xp):
    # σ(x) = (1 + tanh(x / 2)) / 2: one stable ufunc pass instead of exp, add and divide.
    xp.multiply(x, 0.5, out=out)
    xp.tanh(out, out=out)
    out *= 0.5
    out += 0.5


def _check(xw, state0, weight_hh, bias_hh, mode, lengths):
    if mode not in MODES:
        raise ValueError(f"recurrent_scan: mode must be one of {sorted(MODES)}, not {mode!r}")
    gates, state_width, _ = MODES[mode]
    if weight_hh.ndim != 2 or xw.ndim != 3:
        raise ShapeError(f"recurrent_scan: xw must be (T, B, {gates}·H) and weight_hh ({gates}·H, H), got "
                         f"{xw.shape} and {weight_hh.shape}")
    steps, batch, width = xw.shape
    hidden = weight_hh.shape[1]
    expected = {"xw": (steps, batch, gates * hidden), "state0": (batch, state_width * hidden),
                "weight_hh": (gates * hidden, hidden), "bias_hh": (gates * hidden,)}
    for name, array in (("xw", xw), ("state0", state0), ("weight_hh", weight_hh), ("bias_hh", bias_hh)):
        if tuple(array.shape) != expected[name]:
            raise ShapeError(f"recurrent_scan ({mode}, hidden size {hidden}): {name} must have shape "
                             f"{expected[name]}, got {tuple(array.shape)}")
    if lengths is not None and (len(lengths) != batch or min(lengths) < 1 or max(lengths) > steps):
        raise ShapeError(f"recurrent_scan: lengths must hold {batch} values in [1, {steps}] (the padded "
                         f"length), got {list(lengths)}")
    return steps, batch, hidden


def _scan_impl(xp, xw, state0, weight_hh, bias_hh, mode="lstm", lengths=None):
    steps, batch, hidden = _check(xw, state0, weight_hh, bias_hh, mode, lengths)
    _, state_width, trace_width = MODES[mode]
    H, S = hidden, state_width * hidden
    trace = xp.empty((steps, batch, trace_width * H), dtype=xp.result_type(xw, state0, weight_hh))
    mask = _mask(xp, lengths, steps, batch)
    weight_t = weight_hh.T
    state = state0
    for t in range(steps):
        out = trace[t]
        hw = xp.matmul(state[:, :H], weight_t)
        hw += bias_hh
        if mode == "lstm":
            hw += xw[t]
            _sigmoid_into(hw[:, :2 * H], out[:, 2 * H:4 * H], xp)
            xp.tanh(hw[:, 2 * H:3 * H], out=out[:, 4 * H:5 * H])
            _sigmoid_into(hw[:, 3 * H:], out[:, 5 * H:], xp)
            i, f, g, o = (out[:, k * H:(k + 1) * H] for k in range(2, 6))
            c = out[:, H:2 * H]
            xp.multiply(f, state[:, H:], out=c)
            c += i * g
            xp.tanh(c, out=out[:, :H])
            out[:, :H] *= o
        elif mode == "gru":
            rz = out[:, H:3 * H]
            xp.add(xw[t, :, :2 * H], hw[:, :2 * H], out=rz)
            _sigmoid_into(rz, rz, xp)
            r, z, n = out[:, H:2 * H], out[:, 2 * H:3 * H], out[:, 3 * H:4 * H]
            out[:, 4 * H:] = hw[:, 2 * H:]
            xp.multiply(r, hw[:, 2 * H:], out=n)
            n += xw[t, :, 2 * H:]
            xp.tanh(n, out=n)
            # h = n + z (h_prev - n)
            xp.subtract(state, n, out=out[:, :H])
            out[:, :H] *= z
            out[:, :H] += n
        else:
            hw += xw[t]
            if mode == "rnn_tanh":
                xp.tanh(hw, out=out)
            else:
                xp.maximum(hw, 0, out=out)
        if mask is not None:
            xp.copyto(out[:, :S], state, where=~mask[t])
        state = out[:, :S]
    return trace


def _slopes(ns, trace, mode, hidden):
    """The activations' derivatives at every step, ``(T, B, gates·H)``, read off the trace; for LSTM
    also ``tanh(c_t)``. Shared by both rules."""
    H = hidden
    if mode == "rnn_tanh":
        return 1 - trace * trace, None
    if mode == "rnn_relu":
        return ns.sign(trace), None  # h = relu(z) ≥ 0, so sign(h) is relu's derivative
    if mode == "gru":
        rz, n = trace[..., H:3 * H], trace[..., 3 * H:4 * H]
        return ns.concatenate(rz * (1 - rz), 1 - n * n, axis=-1), None
    ifo_sigmoid = [trace[..., k * H:(k + 1) * H] for k in (2, 3, 5)]
    g = trace[..., 4 * H:5 * H]
    i, f, o = (a * (1 - a) for a in ifo_sigmoid)
    return ns.concatenate(i, f, 1 - g * g, o, axis=-1), ns.tanh(trace[..., H:2 * H])


def _previous_states(ns, trace, state0, width):
    """The first ``width`` columns of ``state_{t-1}`` for every step: ``state0``, then the trace's
    states but the last."""
    return ns.concatenate(ns.unsqueeze(state0[:, :width], axis=0), trace[:-1, :, :width], axis=0)


def _reverse_scan(ns, g, trace, state0, weight_hh, mode, lengths):
    """The cotangents ``(dxw, dstate0, dhw)`` of the whole scan, by a loop from the last step."""
    steps, batch, _ = trace.shape
    H = weight_hh.shape[1]
    S = MODES[mode][1] * H
    slopes, tanh_c = _slopes(ns, trace, mode, H)
    previous = _previous_states(ns, trace, state0, S)
    mask = _mask(_numpy(), lengths, steps, batch)
    d_state = None
    dxw, dhw = [None] * steps, [None] * steps
    for t in reversed(range(steps)):
        g_t = g[t]
        d = g_t[:, :S] if d_state is None else d_state + g_t[:, :S]
        keep = None
        if mask is not None:
            keep = d * ~mask[t]
            d = d * mask[t]
        prev, s = previous[t], slopes[t]
        if mode == "lstm":
            dh, dc = d[:, :H], d[:, H:]
            i, f, gg, o = (trace[t, :, k * H:(k + 1) * H] for k in range(2, 6))
            dc = dc + dh * o * (1 - tanh_c[t] * tanh_c[t])
            gate_cotangent = ns.concatenate(dc * gg, dc * prev[:, H:], dc * i, dh * tanh_c[t], axis=-1)
            dz = (gate_cotangent + g_t[:, 2 * H:]) * s
            d_prev = ns.concatenate(ns.matmul(dz, weight_hh), dc * f, axis=-1)
            dxw[t] = dhw[t] = dz
        elif mode == "gru":
            r, z, n, hn = (trace[t, :, k * H:(k + 1) * H] for k in range(1, 5))
            dn = d * (1 - z) + g_t[:, 3 * H:4 * H]
            dz_n = dn * s[:, 2 * H:]
            dz_r = (dz_n * hn + g_t[:, H:2 * H]) * s[:, :H]
            dz_z = (d * (prev - n) + g_t[:, 2 * H:3 * H]) * s[:, H:2 * H]
            dxw[t] = ns.concatenate(dz_r, dz_z, dz_n, axis=-1)
            dhw[t] = ns.concatenate(dz_r, dz_z, dz_n * r + g_t[:, 4 * H:], axis=-1)
            d_prev = ns.matmul(dhw[t], weight_hh) + d * z
        else:
            dz = d * s
            d_prev = ns.matmul(dz, weight_hh)
            dxw[t] = dhw[t] = dz
        d_state = d_prev if keep is None else d_prev + keep
    return ns.stack(*dxw, axis=0), d_state, ns.stack(*dhw, axis=0)


def _numpy():
    from .. import backend
    return backend.xp


def _backward(ns, g, trace, xw, state0, weight_hh, mode, lengths):
    return _backward_memo.get((ns, g, trace, xw, state0, weight_hh),
                              lambda: _reverse_scan(ns, g, trace, state0, weight_hh, mode, lengths))


def _weight_cotangent(ns, g, trace, xw, state0, weight_hh, bias_hh, mode="lstm", lengths=None):
    _, _, dhw = _backward(ns, g, trace, xw, state0, weight_hh, mode, lengths)
    H = weight_hh.shape[1]
    h_previous = _previous_states(ns, trace, state0, H)
    rows = dhw.shape[0] * dhw.shape[1]
    return ns.matmul(ns.transpose(ns.reshape(dhw, shape=(rows, dhw.shape[2]))),
                     ns.reshape(h_previous, shape=(rows, H)))


def _bias_cotangent(ns, g, trace, xw, state0, weight_hh, bias_hh, mode="lstm", lengths=None):
    return ns.sum(_backward(ns, g, trace, xw, state0, weight_hh, mode, lengths)[2], axis=(0, 1))


def _forward_scan(ns, trace, state0, weight_hh, mode, lengths, t_xw=None, t_state0=None, t_hw=None):
    """The trace's tangent, given the tangents ``t_xw`` of xw, ``t_state0`` of state0 and ``t_hw`` of
    the recurrent term through the weights and bias (``h_{t-1} Ẇᵀ + ḃ`` for all steps); ``None`` is
    zero."""
    steps, batch, _ = trace.shape
    H = weight_hh.shape[1]
    gates, state_width, _ = MODES[mode]
    S = state_width * H
    slopes, tanh_c = _slopes(ns, trace, mode, H)
    previous = _previous_states(ns, trace, state0, S)
    mask = _mask(_numpy(), lengths, steps, batch)
    zero_gates = ns.zeros_like(trace[0, :, :gates * H])
    t_state = ns.zeros_like(trace[0, :, :S]) if t_state0 is None else t_state0
    out = []
    for t in range(steps):
        t_prev = t_state
        t_x = zero_gates if t_xw is None else t_xw[t]
        t_h = ns.matmul(t_prev[:, :H], ns.transpose(weight_hh))
        if t_hw is not None:
            t_h = t_h + t_hw[t]
        prev, s = previous[t], slopes[t]
        if mode == "lstm":
            i, f, g, o = (trace[t, :, k * H:(k + 1) * H] for k in range(2, 6))
            t_gates = (t_x + t_h) * s
            ti, tf, tg, to = (t_gates[:, k * H:(k + 1) * H] for k in range(4))
            tc = f * t_prev[:, H:] + tf * prev[:, H:] + ti * g + i * tg
            th = to * tanh_c[t] + o * (1 - tanh_c[t] * tanh_c[t]) * tc
            new = ns.concatenate(th, tc, axis=-1)
        elif mode == "gru":
            r, z, n, hn = (trace[t, :, k * H:(k + 1) * H] for k in range(1, 5))
            t_rz = (t_x[:, :2 * H] + t_h[:, :2 * H]) * s[:, :2 * H]
            tr, tz = t_rz[:, :H], t_rz[:, H:]
            t_hn = t_h[:, 2 * H:]
            tn = (t_x[:, 2 * H:] + tr * hn + r * t_hn) * s[:, 2 * H:]
            new = (1 - z) * tn + tz * (prev - n) + z * t_prev
            t_gates = ns.concatenate(t_rz, tn, t_hn, axis=-1)
        else:
            new, t_gates = (t_x + t_h) * s, None
        if mask is not None:
            new = new * mask[t] + t_prev * ~mask[t]
        out.append(new if t_gates is None else ns.concatenate(new, t_gates, axis=-1))
        t_state = new
    return ns.stack(*out, axis=0)


recurrent_scan = primitive("recurrent_scan", _scan_impl, saves=("inputs", "ans"))
recurrent_scan.__doc__ = """The loop of a recurrent layer over a whole sequence, returning its trace.

Args:
    xw: the input projection of every step, ``(T, B, gates·H)`` (``x W_ihᵀ + b_ih``).
    state0: the initial state, ``(B, H)``; for LSTM ``(B, 2H)``, ``[h0, c0]``.
    weight_hh: ``(gates·H, H)``, PyTorch's ``weight_hh_l*``.
    bias_hh: ``(gates·H,)``.
    mode: ``"rnn_tanh"``, ``"rnn_relu"``, ``"lstm"`` or ``"gru"``.
    lengths: ``None`` or one int per sequence in ``[1, T]``; later steps keep the state unchanged.

Returns:
    ``(T, B, width·H)``: per step ``h`` (RNN), ``[h, c, i, f, g, o]`` (LSTM) or ``[h, r, z, n, hw_n]``
    (GRU). See the module's docstring for the rules.
"""
recurrent_scan.defvjp(
    lambda ns, g, ans, xw, state0, weight_hh, bias_hh, mode="lstm", lengths=None:
        _backward(ns, g, ans, xw, state0, weight_hh, mode, lengths)[0],
    lambda ns, g, ans, xw, state0, weight_hh, bias_hh, mode="lstm", lengths=None:
        _backward(ns, g, ans, xw, state0, weight_hh, mode, lengths)[1],
    _weight_cotangent,
    _bias_cotangent)
recurrent_scan.defjvp(
    lambda ns, t, ans, xw, state0, weight_hh, bias_hh, mode="lstm", lengths=None:
        _forward_scan(ns, ans, state0, weight_hh, mode, lengths, t_xw=t),
    lambda ns, t, ans, xw, state0, weight_hh, bias_hh, mode="lstm", lengths=None:
        _forward_scan(ns, ans, state0, weight_hh, mode, lengths, t_state0=t),
    lambda ns, t, ans, xw, state0, weight_hh, bias_hh, mode="lstm", lengths=None:
        _forward_scan(ns, ans, state0, weight_hh, mode, lengths,
                      t_hw=ns.matmul(_previous_states(ns, ans, state0, weight_hh.shape[1]), ns.transpose(t))),
    lambda ns, t, ans, xw, state0, weight_hh, bias_hh, mode="lstm", lengths=None:
        _forward_scan(ns, ans, state0, weight_hh, mode, lengths,
                      t_hw=ns.broadcast_to(t, shape=(ans.shape[0], ans.shape[1], t.shape[0]))))
