"""The LSTM and GRU step kernels give NumPy's numbers: states and every cotangent of the scan, both
dtypes, with and without lengths, NaN and infinities where NumPy puts them; the gates are kept only
for a backward pass (the PyTorch, finite-difference and second-order tests of the recurrent layers run
the kernels too, wherever a compiler is)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.mode import BARE
from chainrule.ops import recurrent, recurrent_kernels

pytestmark = pytest.mark.skipif(not recurrent_kernels.applies("lstm", "float32"),
                                reason="no C compiler: NumPy alone runs")


def _case(mode, dtype, lengths, seed, steps=6, batch=4, hidden=5):
    cell = recurrent.CELLS[mode]
    rng = np.random.default_rng(seed)
    xw = rng.normal(size=(steps, batch, cell.gates * hidden)).astype(dtype)
    state0 = rng.normal(size=(batch, cell.state_width * hidden)).astype(dtype)
    weight = rng.normal(size=(cell.gates * hidden, hidden)).astype(dtype)
    bias = rng.normal(size=cell.gates * hidden).astype(dtype)
    g = rng.normal(size=(steps, batch, cell.state_width * hidden)).astype(dtype)
    return (xw, state0, weight, bias), g


def _scan_and_vjp(args, g, mode, lengths):
    states = recurrent._scan_impl(np, *args, mode=mode, lengths=lengths)
    return states, recurrent._vjp((0, 1, 2, 3), BARE.ns, g, states, *args, mode=mode, lengths=lengths)


@pytest.mark.parametrize("mode", ["lstm", "gru"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lengths", [None, (6, 2, 1, 4)])
def test_kernels_equal_the_numpy_scan_and_its_rules(monkeypatch, mode, dtype, lengths):
    for seed in range(3):
        args, g = _case(mode, dtype, lengths, seed)
        states, cotangents = _scan_and_vjp(args, g, mode, lengths)
        assert recurrent_kernels.saved_gates(states, mode) is not None
        with monkeypatch.context() as patch:
            patch.setattr(recurrent_kernels, "applies", lambda *a: False)
            numpy_states, numpy_cotangents = _scan_and_vjp(args, g, mode, lengths)
        assert recurrent_kernels.saved_gates(numpy_states, mode) is None
        tolerance = 2e-6 if dtype == np.float32 else 1e-13
        assert states.dtype == dtype and states.flags.c_contiguous
        np.testing.assert_allclose(states, numpy_states, rtol=tolerance, atol=tolerance)
        for ours, theirs in zip(cotangents, numpy_cotangents, strict=True):
            assert ours.shape == theirs.shape and ours.dtype == dtype
            np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance * np.abs(theirs).max())


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_nan_and_infinities_come_out_where_numpy_puts_them(monkeypatch, mode):
    args, g = _case(mode, np.float32, None, 0)
    xw = args[0].copy()
    xw[0, 0, 0], xw[1, 1, :] = np.nan, np.inf
    xw[2, 2, 1::2] = -np.inf
    args = (xw, *args[1:])
    with np.errstate(invalid="ignore", over="ignore"):
        states, cotangents = _scan_and_vjp(args, g, mode, None)
        monkeypatch.setattr(recurrent_kernels, "applies", lambda *a: False)
        numpy_states, numpy_cotangents = _scan_and_vjp(args, g, mode, None)
    for ours, theirs in zip((states, *cotangents), (numpy_states, *numpy_cotangents)):
        assert np.isnan(theirs).any()
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        np.testing.assert_array_equal(np.isposinf(ours), np.isposinf(theirs))
        finite = np.isfinite(theirs)
        np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-5, atol=1e-5)


def test_gates_are_kept_only_for_a_backward_pass():
    args, _ = _case("lstm", np.float32, None, 0)
    with cr.no_grad():
        states = recurrent._scan_impl(np, *args, mode="lstm")
    assert states.base is None and recurrent_kernels.saved_gates(states, "lstm") is None
    kept = recurrent._scan_impl(np, *args, mode="lstm")
    np.testing.assert_array_equal(kept, states)
    gates = recurrent_kernels.saved_gates(kept, "lstm")
    hidden = args[2].shape[1]
    # the saved tanh(c_t) and the output gate give h_t back
    np.testing.assert_allclose(gates[..., 4 * hidden:], np.tanh(kept[..., hidden:]), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gates[..., 3 * hidden:4 * hidden] * gates[..., 4 * hidden:], kept[..., :hidden],
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lengths", [None, (6, 2, 1, 4)])
def test_the_lstm_hidden_states_come_contiguous_from_the_kernels(dtype, lengths):
    args, _ = _case("lstm", dtype, lengths, 4)
    states = recurrent._scan_impl(np, *args, mode="lstm", lengths=lengths)
    hidden = recurrent.recurrent_hidden(states, hidden=5).data
    assert hidden.flags.c_contiguous and np.shares_memory(hidden, states.base)
    np.testing.assert_array_equal(hidden, states[..., :5])  # the masked rows' copies too
    assert recurrent_kernels.saved_hidden(states.copy(), "lstm") is None
    with cr.no_grad():
        bare = recurrent._scan_impl(np, *args, mode="lstm", lengths=lengths)
    np.testing.assert_array_equal(bare, states)
    assert recurrent.recurrent_hidden(bare, hidden=5).data.base is bare  # no plane kept: a view


def test_the_weight_gradient_reads_the_contiguous_hidden_states():
    args, g = _case("lstm", np.float32, None, 5)
    states, (_, _, dweight, _) = _scan_and_vjp(args, g, "lstm", None)
    recurrent_kernels.saved_hidden(states, "lstm")[...] = np.nan  # what dW_hh reads, poisoned after the fact
    _, _, poisoned, _ = recurrent._vjp((0, 1, 2, 3), BARE.ns, g, states, *args, mode="lstm")
    assert np.isfinite(dweight).all() and np.isnan(poisoned).all()


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_a_compiled_training_step_follows_the_eager_one_over_steps(kind):
    def run(compiled):
        layer = getattr(cr.nn, kind)(4, 8, generator=1)
        optimizer = cr.optim.SGD(layer.parameters(), lr=0.5)

        def step(x):
            optimizer.zero_grad()
            output, _ = layer(x)
            loss = (output * output).mean()
            loss.backward()
            optimizer.step()
            return loss
        step = cr.compile(step) if compiled else step
        rng = np.random.default_rng(2)
        losses = [float(step(rng.normal(size=(7, 3, 4)).astype(np.float32)).item()) for _ in range(20)]
        return losses, {name: p.data for name, p in layer.named_parameters()}
    (eager_losses, eager_weights), (losses, weights) = run(False), run(True)
    assert eager_losses[-1] < eager_losses[0]
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for name, value in eager_weights.items():
        np.testing.assert_allclose(weights[name], value, rtol=1e-5, atol=1e-6)


def test_the_float32_tanh_of_the_kernels_is_within_a_few_ulp():
    x = np.concatenate([np.linspace(-12, 12, 1_000_001, dtype=np.float32),
                        np.float32([3e-4, 5e-4, 0.0, -0.0, 1e-30, -1e-30, np.inf, -np.inf, np.nan])])
    got = recurrent_kernels.tanh_float32(x)
    want = np.tanh(x.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(got[-7:-1], want[-7:-1])  # signed zeros, tiny values, ±1 at ±inf
    assert np.isnan(got[-1])
    normal = np.abs(want) > np.finfo(np.float32).tiny
    ulp = np.abs(got[normal].astype(np.float64) - want[normal]) / np.spacing(np.abs(want[normal]))
    assert ulp.max() <= 6 and ulp.mean() < 1
    assert np.abs(got[:-1]).max() <= 1


def test_a_buffer_is_reused_only_when_nothing_refers_to_it():
    args, g = _case("lstm", np.float32, None, 3, steps=9, batch=3, hidden=7)
    states = recurrent._scan_impl(np, *args, mode="lstm")
    first = states.copy()
    output = states[..., :7]  # a view keeps the buffer: the next scan gets another one
    del states
    again = recurrent._scan_impl(np, *args, mode="lstm")
    assert not np.shares_memory(again, output)
    np.testing.assert_array_equal(output, first[..., :7])
    address = again.__array_interface__["data"][0]
    del again
    reused = recurrent._scan_impl(np, *args, mode="lstm")  # the freed buffer, overwritten in full
    assert reused.__array_interface__["data"][0] == address
    np.testing.assert_array_equal(reused, first)
    assert len(recurrent_kernels._pool) <= recurrent_kernels.POOL_SIZE
