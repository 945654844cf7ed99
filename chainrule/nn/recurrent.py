"""Recurrent layers: RNN, LSTM and GRU (whole sequences, one fused scan per layer and direction) and
their one-step cells, with PyTorch's equations, gate order, parameter names, shapes and initialisation.

Every parameter starts uniform in ``±1/√hidden_size``, as in PyTorch, so a PyTorch ``state_dict`` loads
as it is and gives the same outputs. Variable-length batches: pass ``lengths`` (one per sequence) to
``forward``; steps past a sequence's length leave its state unchanged and its outputs zero, so padding
never changes a result or a gradient (PyTorch's ``pack_padded_sequence`` in one argument).

Example:
    >>> import chainrule as cr
    >>> lstm = LSTM(3, 5, num_layers=2, batch_first=True, generator=0)
    >>> output, (h_n, c_n) = lstm(cr.ones(4, 7, 3), lengths=[7, 5, 2, 1])
    >>> output.shape, h_n.shape
    ((4, 7, 5), (2, 4, 5))
"""

import math

import numpy as np

from .. import backend, ops
from ..core.graph import is_recording
from ..core.tensor import Tensor, unwrap
from ..errors import ShapeError
from ..ops.recurrent import CELLS, recurrent_hidden, recurrent_scan
from . import functional as F
from . import init as initializers
from .layers import _cast, _positive_int
from .module import Module, Parameter
from .rng import as_generator

def _uniform_parameters(module, generator):
    """PyTorch's ``reset_parameters`` of recurrent layers: every parameter uniform in ±1/√H."""
    bound = 1 / math.sqrt(module.hidden_size)
    for parameter in module.parameters():
        initializers.uniform_(parameter, -bound, bound, generator)


# ---- cells: one step, a scan of one step (the cell's one definition is ops/recurrent.py's CELLS) -----


class _CellBase(Module):
    def __init__(self, input_size, hidden_size, bias, mode, generator, dtype):
        super().__init__()
        name = type(self).__name__
        self._mode = mode
        gates = CELLS[mode].gates
        self.input_size = _positive_int(input_size, f"{name}: input_size")
        self.hidden_size = _positive_int(hidden_size, f"{name}: hidden_size")
        self.weight_ih = Parameter(np.zeros((gates * hidden_size, input_size)), dtype=dtype)
        self.weight_hh = Parameter(np.zeros((gates * hidden_size, hidden_size)), dtype=dtype)
        self.bias_ih = Parameter(np.zeros(gates * hidden_size), dtype=dtype) if bias else None
        self.bias_hh = Parameter(np.zeros(gates * hidden_size), dtype=dtype) if bias else None
        _uniform_parameters(self, as_generator(generator))

    def _step(self, input, hx):
        """The new state (LSTM: the pair ``(h', c')``) from the input and the states ``hx``: the
        scan of one step."""
        x, states, single = self._batched(input, hx)
        state0 = states[0] if len(states) == 1 else ops.concatenate(states, axis=-1)
        xw = ops.unsqueeze(F.linear(x, self.weight_ih, self.bias_ih), 0)
        state = _scan(xw, state0, self.weight_hh, self.bias_hh, self._mode)[0]
        if len(states) == 1:
            return _unbatched(state, single)
        return tuple(_unbatched(state[:, k * self.hidden_size:(k + 1) * self.hidden_size], single)
                     for k in range(len(states)))

    def _batched(self, x, hx):
        """The input as ``(B, input_size)`` (a single example gets a batch axis), the states alike,
        zeros where not given, and whether the batch axis was added."""
        x = _cast(x, self.weight_ih.dtype)
        shape = np.shape(unwrap(x))
        if len(shape) not in (1, 2) or shape[-1] != self.input_size:
            raise ShapeError(f"{self._name()}: expected an input of shape (B, {self.input_size}) or "
                             f"({self.input_size},), got {shape}")
        single = len(shape) == 1
        if single:
            x = ops.unsqueeze(x, 0)
        batch = np.shape(unwrap(x))[0]
        states = []
        for state in (hx if isinstance(hx, tuple) else (hx,)):
            if state is None:
                state = np.zeros((batch, self.hidden_size), dtype=self.weight_ih.dtype)
            elif single:
                state = ops.unsqueeze(state, 0)
            if np.shape(unwrap(state)) != (batch, self.hidden_size):
                raise ShapeError(f"{self._name()}: expected states of shape {(batch, self.hidden_size)}, "
                                 f"got {np.shape(unwrap(state))}")
            states.append(state)
        return x, states, single

    def _name(self):
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size})"

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"


def _unbatched(state, single):
    return ops.squeeze(state, 0) if single else state


class RNNCell(_CellBase):
    """One step of an Elman RNN: ``h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``.

    Args:
        input_size, hidden_size: the widths of ``x`` and ``h``.
        bias: whether to learn ``bias_ih`` and ``bias_hh``.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        generator, dtype: for the parameters.
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", generator=None,
                 dtype="float32"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', not {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, f"rnn_{nonlinearity}", generator, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        return self._step(input, hx)


class LSTMCell(_CellBase):
    """One step of an LSTM, gates ``i, f, g, o`` in that order: ``c' = σ(f) c + σ(i) tanh(g)``,
    ``h' = σ(o) tanh(c')``. ``forward(input, (h, c))`` returns ``(h', c')``."""

    def __init__(self, input_size, hidden_size, bias=True, generator=None, dtype="float32"):
        super().__init__(input_size, hidden_size, bias, "lstm", generator, dtype)

    def forward(self, input, hx=None):
        return self._step(input, (None, None) if hx is None else tuple(hx))


class GRUCell(_CellBase):
    """One step of a GRU, gates ``r, z, n``: ``n = tanh(xw_n + r (h W_hnᵀ + b_hn))``,
    ``h' = (1 − z) n + z h``."""

    def __init__(self, input_size, hidden_size, bias=True, generator=None, dtype="float32"):
        super().__init__(input_size, hidden_size, bias, "gru", generator, dtype)

    def forward(self, input, hx=None):
        return self._step(input, hx)


def _projection(x, weight, bias):
    """``x Wᵀ (+ b)`` for every step at once, one product of all rows (without a bias too: a stacked
    product's weight gradient would be a ``(T, gates·H, input)`` array summed over the steps)."""
    if bias is not None:
        return F.linear(x, weight, bias)
    shape = np.shape(unwrap(x))
    rows = ops.matmul(ops.reshape(x, shape=(-1, shape[-1])), ops.transpose(weight))
    return ops.reshape(rows, shape=(*shape[:-1], np.shape(unwrap(weight))[0]))


def _scan(xw, state0, weight_hh, bias_hh, mode, lengths=None):
    """The fused scan of ``ops/recurrent.py``; no ``bias_hh`` is a zero one."""
    if bias_hh is None:
        bias_hh = np.zeros(weight_hh.shape[0], dtype=weight_hh.dtype)
    return recurrent_scan(xw, state0, weight_hh, bias_hh, mode=mode, lengths=lengths)


# ---- layers: whole sequences ------------------------------------------------------------------------


class _RNNBase(Module):
    """Stacked, optionally bidirectional recurrent layers over whole sequences (see the module doc)."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, generator=None, dtype="float32"):
        super().__init__()
        name = mode.split("_")[0]
        self.mode = mode
        self.input_size = _positive_int(input_size, f"{name}: input_size")
        self.hidden_size = _positive_int(hidden_size, f"{name}: hidden_size")
        self.num_layers = _positive_int(num_layers, f"{name}: num_layers")
        F.check_probability(dropout, name, "dropout")
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), dropout
        self.bidirectional = bool(bidirectional)
        self.generator = None if generator is None else as_generator(generator)
        gates = CELLS[mode.lower()].gates
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                setattr(self, f"weight_ih_l{layer}{suffix}",
                        Parameter(np.zeros((gates * hidden_size, width)), dtype=dtype))
                setattr(self, f"weight_hh_l{layer}{suffix}",
                        Parameter(np.zeros((gates * hidden_size, hidden_size)), dtype=dtype))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", Parameter(np.zeros(gates * hidden_size), dtype=dtype))
                    setattr(self, f"bias_hh_l{layer}{suffix}", Parameter(np.zeros(gates * hidden_size), dtype=dtype))
        _uniform_parameters(self, as_generator(generator))

    @property
    def _directions(self):
        return 2 if self.bidirectional else 1

    def _name(self):
        return f"{self.mode.split('_')[0]}({self.input_size}, {self.hidden_size})"

    def forward(self, input, hx=None, lengths=None):
        """Run the layers over a batch of sequences.

        Args:
            input: ``(T, B, input_size)`` (``(B, T, input_size)`` with ``batch_first``), or one
                unbatched sequence ``(T, input_size)``.
            hx: initial states ``(num_layers · directions, B, hidden_size)`` (LSTM: a pair ``(h0, c0)``);
                zeros when ``None``.
            lengths: ``None`` or one length per sequence, each in ``[1, T]``.

        Returns:
            ``(output, h_n)`` (LSTM: ``(output, (h_n, c_n))``); ``output`` holds the last layer's
            hidden states, ``(T, B, directions · hidden_size)`` (zero past each length), ``h_n`` each
            layer's and direction's last state.
        """
        x, single = self._sequence(input)
        steps, batch = np.shape(unwrap(x))[:2]
        lengths = self._lengths(lengths, steps, batch)
        states = self._initial_states(hx, batch, single)
        mask, dtype = None, unwrap(x).dtype
        if isinstance(lengths, Tensor):  # a compiled step: the mask is an operation on its batch's lengths
            mask = ops.astype(ops.unsqueeze(ops.unsqueeze(lengths, 0) > np.arange(steps)[:, None], -1), dtype)
        elif lengths is not None:
            mask = (np.arange(steps)[:, None] < backend.asarray(lengths))[:, :, None].astype(dtype)
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self._directions):
                index = layer * self._directions + direction
                output, final = self._run(x, layer, direction, states[index], lengths)
                outputs.append(output if mask is None else output * mask)
                finals.append(final)
            x = outputs[0] if len(outputs) == 1 else ops.concatenate(outputs, axis=-1)
            if layer < self.num_layers - 1 and self.dropout and self.training:
                x = F.dropout(x, self.dropout, True, self.generator)
        output = ops.swapaxes(x, 0, 1) if self.batch_first else x
        h_n = ops.stack([final[:, :self.hidden_size] for final in finals], axis=0)
        if single:
            output, h_n = ops.squeeze(output, 1), ops.squeeze(h_n, 1)
        if self.mode != "LSTM":
            return output, h_n
        c_n = ops.stack([final[:, self.hidden_size:] for final in finals], axis=0)
        return output, (h_n, ops.squeeze(c_n, 1) if single else c_n)

    def _run(self, x, layer, direction, state0, lengths):
        """One layer in one direction: the input projection of every step in one product, then the scan."""
        suffix = f"l{layer}{'_reverse' if direction else ''}"
        bias_ih, bias_hh = getattr(self, f"bias_ih_{suffix}", None), getattr(self, f"bias_hh_{suffix}", None)
        if bias_ih is not None and self.mode != "GRU":
            # b_ih and b_hh add before every gate (not GRU's n): one bias, added in the scan's step
            bias_ih, bias_hh = None, bias_ih + bias_hh
        xw = _projection(x, getattr(self, f"weight_ih_{suffix}"), bias_ih)
        if direction:
            xw = _reverse_in_time(xw, lengths)
        # The scan takes its lengths as a setting, which a compiled step would freeze at the recorded
        # batch's: there it runs over every step, and the final state is read at each sequence's last
        # step. The steps past a length change nothing that is read (outputs are masked), so values and
        # gradients are the masked scan's.
        recorded = isinstance(lengths, Tensor)
        states = _scan(xw, state0, getattr(self, f"weight_hh_{suffix}"), bias_hh, self.mode.lower(),
                       None if recorded else lengths)
        output = recurrent_hidden(states, hidden=self.hidden_size) if self.mode == "LSTM" else states
        if direction:
            output = _reverse_in_time(output, lengths)
        final = states[lengths - 1, np.arange(np.shape(unwrap(state0))[0])] if recorded else states[-1]
        return output, final

    def _sequence(self, input):
        x = _cast(input, self.weight_ih_l0.dtype)
        shape = np.shape(unwrap(x))
        if len(shape) not in (2, 3) or shape[-1] != self.input_size:
            layout = "(B, T" if self.batch_first else "(T, B"
            raise ShapeError(f"{self._name()}: expected an input of shape {layout}, {self.input_size}) or "
                             f"(T, {self.input_size}), got {shape}")
        if shape[-2 if len(shape) == 2 else 0] == 0 or (len(shape) == 3 and 0 in shape[:2]):
            raise ShapeError(f"{self._name()}: the input {shape} holds no step or no sequence")
        if len(shape) == 2:
            return ops.unsqueeze(x, 1), True
        return (ops.swapaxes(x, 0, 1) if self.batch_first else x), False

    def _lengths(self, lengths, steps, batch):
        """A tuple of ints; while a step is recorded, an integer tensor (an operation of the step, so that
        every replay reads its own batch's lengths)."""
        if lengths is None:
            return None
        values = backend.asarray(unwrap(lengths))
        if values.ndim != 1 or values.dtype.kind not in "iu" or len(values) != batch:
            raise ShapeError(f"{self._name()}: lengths must be {batch} integers (one per sequence), got "
                             f"{values.tolist()}")
        if values.min() < 1 or values.max() > steps:
            raise ShapeError(f"{self._name()}: lengths must lie in [1, {steps}] (the padded length), got "
                             f"{values.tolist()}")
        if is_recording():
            return lengths if isinstance(lengths, Tensor) else Tensor(lengths)
        return tuple(int(n) for n in values)

    def _initial_states(self, hx, batch, single):
        """One ``(B, width)`` state per layer and direction; an LSTM's ``[h0, c0]`` side by side."""
        count, hidden = self.num_layers * self._directions, self.hidden_size
        parts = (hx if self.mode == "LSTM" else (hx,)) if hx is not None else None
        if self.mode == "LSTM" and hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ShapeError(f"{self._name()}: hx must be a pair (h0, c0)")
        width = 2 if self.mode == "LSTM" else 1
        if parts is None:
            return [np.zeros((batch, width * hidden), dtype=self.weight_ih_l0.dtype)] * count
        expected = (count, hidden) if single else (count, batch, hidden)
        checked = []
        for part in parts:
            part = _cast(part, self.weight_ih_l0.dtype)
            if np.shape(unwrap(part)) != expected:
                raise ShapeError(f"{self._name()}: initial states must have shape {expected} "
                                 f"(num_layers * num_directions, batch, hidden_size), got "
                                 f"{np.shape(unwrap(part))}")
            checked.append(ops.unsqueeze(part, 1) if single else part)
        both = checked[0] if width == 1 else ops.concatenate(checked, axis=-1)
        return [both[index] for index in range(count)]

    def extra_repr(self):
        extras = [f"{self.input_size}, {self.hidden_size}"]
        for name, default in (("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False)):
            if getattr(self, name) != default:
                extras.append(f"{name}={getattr(self, name)}")
        return ", ".join(extras)


def _reverse_in_time(x, lengths):
    """Each sequence reversed within its own length (padding stays where it is); an involution."""
    if lengths is None:
        return x[::-1]
    steps, batch = np.shape(unwrap(x))[:2]
    time = np.arange(steps)[:, None]
    if isinstance(lengths, Tensor):  # a compiled step's lengths: the index is an operation
        lengths = ops.unsqueeze(lengths, 0)
        index = ops.where(lengths > time, lengths - 1 - time, time)
    else:
        lengths = backend.asarray(lengths)[None, :]
        index = np.where(time < lengths, lengths - 1 - time, time)
    return x[index, np.arange(batch)[None, :]]


class RNN(_RNNBase):
    """Elman RNN layers, ``h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)``.

    Args:
        input_size, hidden_size, num_layers: the widths and the depth.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        bias: whether to learn the biases.
        batch_first: inputs and outputs ``(B, T, features)``.
        dropout: dropout on each layer's output but the last's, in training mode.
        bidirectional: also run each layer from the end, outputs side by side.
        generator, dtype: for the parameters (and the dropout masks).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, generator=None, dtype="float32"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', not {nonlinearity!r}")
        super().__init__(f"RNN_{nonlinearity.upper()}", input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, generator, dtype)
        self.nonlinearity = nonlinearity


class LSTM(_RNNBase):
    """LSTM layers (gates ``i, f, g, o``); see :class:`RNN` for the arguments. Returns
    ``(output, (h_n, c_n))``."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, generator=None, dtype="float32"):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, generator, dtype)


class GRU(_RNNBase):
    """GRU layers (gates ``r, z, n``); see :class:`RNN` for the arguments."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, generator=None, dtype="float32"):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, generator, dtype)
