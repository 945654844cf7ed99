"""Recurrent layers on their own: the fused scan against the plain cells, padding invariance, dropout
between layers, bad input; Embedding's padding_idx and from_pretrained."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.errors import ShapeError

LAYERS = [(nn.LSTM, nn.LSTMCell, {}), (nn.GRU, nn.GRUCell, {}), (nn.RNN, nn.RNNCell, {}),
          (nn.RNN, nn.RNNCell, {"nonlinearity": "relu"})]


@pytest.mark.parametrize("layer_class,cell_class,kind", LAYERS)
def test_scan_equals_the_cell_applied_step_by_step(layer_class, cell_class, kind):
    layer = layer_class(3, 5, **kind, dtype="float64", generator=0)
    cell = cell_class(3, 5, **kind, dtype="float64")
    cell.load_state_dict({name[:-3]: value for name, value in layer.state_dict().items()})
    x = np.random.default_rng(0).normal(size=(6, 2, 3))
    x_layer, x_cell = cr.tensor(x, requires_grad=True), cr.tensor(x, requires_grad=True)
    output, _ = layer(x_layer)
    state = None
    outputs = []
    for t in range(6):
        state = cell(x_cell[t], state)
        outputs.append(state[0] if isinstance(state, tuple) else state)
    expected = cr.stack(outputs)
    np.testing.assert_allclose(output.data, expected.data, atol=1e-13)
    weights = np.random.default_rng(1).normal(size=expected.shape)
    (output * weights).sum().backward()
    (expected * weights).sum().backward()
    np.testing.assert_allclose(x_layer.grad.data, x_cell.grad.data, atol=1e-13)
    for name, parameter in layer.named_parameters():
        np.testing.assert_allclose(parameter.grad.data, dict(cell.named_parameters())[name[:-3]].grad.data,
                                   atol=1e-12)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _reference_step(kind, parameters, x, states):
    """One step of PyTorch's documented cell equations, in plain NumPy (gates i, f, g, o and r, z, n)."""
    xw = x @ parameters["weight_ih"].T + parameters["bias_ih"]
    hw = states[0] @ parameters["weight_hh"].T + parameters["bias_hh"]
    if kind == "lstm":
        i, f, g, o = np.split(xw + hw, 4, axis=-1)
        c = _sigmoid(f) * states[1] + _sigmoid(i) * np.tanh(g)
        return _sigmoid(o) * np.tanh(c), c
    if kind == "gru":
        (x_r, x_z, x_n), (h_r, h_z, h_n) = np.split(xw, 3, axis=-1), np.split(hw, 3, axis=-1)
        r, z = _sigmoid(x_r + h_r), _sigmoid(x_z + h_z)
        n = np.tanh(x_n + r * h_n)
        return ((1 - z) * n + z * states[0],)
    return (np.tanh(xw + hw) if kind == "tanh" else np.maximum(xw + hw, 0),)


@pytest.mark.parametrize("cell_class,kind", [(nn.LSTMCell, "lstm"), (nn.GRUCell, "gru"),
                                             (nn.RNNCell, "tanh"), (nn.RNNCell, "relu")])
def test_cells_follow_pytorchs_equations(cell_class, kind):
    options = {"nonlinearity": kind} if cell_class is nn.RNNCell else {}
    cell = cell_class(3, 5, **options, dtype="float64", generator=3)
    parameters = {name: value.data for name, value in cell.named_parameters()}
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 3))
    states = tuple(rng.normal(size=(4, 5)) for _ in range(2 if kind == "lstm" else 1))
    out = cell(x, states if kind == "lstm" else states[0])
    for ours, expected in zip(out if kind == "lstm" else (out,), _reference_step(kind, parameters, x, states),
                              strict=True):
        np.testing.assert_allclose(ours.data, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("layer_class", [nn.LSTM, nn.GRU, nn.RNN])
def test_padding_never_changes_a_result_or_a_gradient(layer_class, bidirectional):
    layer = layer_class(3, 4, num_layers=2, bidirectional=bidirectional, dtype="float64", generator=0)
    rng = np.random.default_rng(2)
    lengths = [5, 2, 3]
    x = rng.normal(size=(5, 3, 3))
    other = x.copy()
    for b, n in enumerate(lengths):
        other[n:, b] = rng.normal(size=(5 - n, 3)) * 100  # different padding
    results = []
    for data in (x, other):
        layer.zero_grad()
        x_tensor = cr.tensor(data, requires_grad=True)
        output, state = layer(x_tensor, lengths=lengths)
        h_n = state[0] if isinstance(state, tuple) else state
        ((output * output).sum() + (h_n * h_n).sum()).backward()
        results.append((output.data, h_n.data, x_tensor.grad.data,
                        [p.grad.data.copy() for p in layer.parameters()]))
    (out_a, h_a, gx_a, gp_a), (out_b, h_b, gx_b, gp_b) = results
    np.testing.assert_array_equal(out_a, out_b)
    np.testing.assert_array_equal(h_a, h_b)
    np.testing.assert_array_equal(gx_a, gx_b)
    for a, b in zip(gp_a, gp_b, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)
    for b, n in enumerate(lengths):
        assert not out_a[n:, b].any() and not gx_a[n:, b].any()
        alone, state = layer(x[:n, b:b + 1])  # the sequence by itself, no padding at all
        np.testing.assert_allclose(out_a[:n, b:b + 1], alone.data, atol=1e-12)
        h_alone = state[0] if isinstance(state, tuple) else state
        np.testing.assert_allclose(h_a[:, b:b + 1], h_alone.data, atol=1e-12)


def test_dropout_between_layers_only_in_training():
    layer = nn.GRU(3, 4, num_layers=2, dropout=0.5, generator=0)
    x = np.random.default_rng(3).normal(size=(4, 2, 3)).astype(np.float32)
    first, second = layer(x)[0].data, layer(x)[0].data
    assert not np.allclose(first, second)  # fresh masks each call
    layer.eval()
    np.testing.assert_array_equal(layer(x)[0].data, layer(x)[0].data)
    single = nn.GRU(3, 4, num_layers=1, dropout=0.5, generator=0)
    np.testing.assert_array_equal(single(x)[0].data, single(x)[0].data)  # nothing between layers


def test_bad_input_is_named():
    layer = nn.LSTM(3, 4)
    with pytest.raises(ShapeError, match=r"LSTM\(3, 4\): expected an input of shape \(T, B, 3\)"):
        layer(np.zeros((5, 2, 7)))
    with pytest.raises(ShapeError, match=r"lengths must lie in \[1, 5\] \(the padded length\), got \[6, 2\]"):
        layer(np.zeros((5, 2, 3)), lengths=[6, 2])
    with pytest.raises(ShapeError, match="lengths must be 2 integers"):
        layer(np.zeros((5, 2, 3)), lengths=[3])
    with pytest.raises(ShapeError, match=r"initial states must have shape \(1, 2, 4\)"):
        layer(np.zeros((5, 2, 3)), (np.zeros((1, 3, 4)), np.zeros((1, 3, 4))))
    with pytest.raises(ShapeError, match="hx must be a pair"):
        layer(np.zeros((5, 2, 3)), np.zeros((1, 2, 4)))
    with pytest.raises(ShapeError, match="holds no step"):
        layer(np.zeros((0, 2, 3)))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ShapeError, match=r"GRUCell\(3, 4\): expected an input of shape \(B, 3\)"):
        nn.GRUCell(3, 4)(np.zeros((2, 5)))


def test_float32_training_step_keeps_dtype():
    layer = nn.LSTM(3, 4, batch_first=True, generator=0)
    output, (h_n, c_n) = layer(np.ones((2, 5, 3)), lengths=np.array([5, 3]))
    assert output.dtype == np.float32 and output.shape == (2, 5, 4) and c_n.shape == (1, 2, 4)
    (output.sum() + h_n.sum()).backward()
    assert layer.weight_hh_l0.grad.dtype == np.float32


def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient():
    embedding = nn.Embedding(5, 3, padding_idx=0, generator=0)
    assert not embedding.weight.data[0].any()
    embedding.weight.data[0] = 7.0  # a loaded non-zero padding row is returned as it is, as in PyTorch
    out = embedding(np.array([[0, 2, 0], [1, 2, 3]]))
    np.testing.assert_array_equal(out.data[0, 0], [7.0, 7.0, 7.0])
    (out * out).sum().backward()
    assert not embedding.weight.grad.data[0].any()
    np.testing.assert_allclose(embedding.weight.grad.data[2], 4 * embedding.weight.data[2])
    assert nn.Embedding(5, 3, padding_idx=-1).padding_idx == 4
    with pytest.raises(ValueError, match=r"padding_idx must be an int in \[-5, 5\)"):
        nn.Embedding(5, 3, padding_idx=5)


def test_embedding_from_pretrained_freezes_by_default():
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    frozen = nn.Embedding.from_pretrained(vectors)
    np.testing.assert_array_equal(frozen(np.array([3, 1])).data, vectors[[3, 1]])
    assert not frozen.weight.requires_grad
    trainable = nn.Embedding.from_pretrained(vectors, freeze=False, padding_idx=0)
    out = trainable(np.array([0, 2]))
    out.sum().backward()
    np.testing.assert_array_equal(trainable.weight.grad.data, [[0, 0, 0], [0, 0, 0], [1, 1, 1], [0, 0, 0]])
    with pytest.raises(ShapeError, match="must be 2-D"):
        nn.Embedding.from_pretrained(np.zeros(3))


def test_embedding_matches_pytorch():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Embedding(6, 2, padding_idx=1)
    ours = nn.Embedding(6, 2, padding_idx=1)
    ours.load_state_dict({"weight": theirs.weight.detach().numpy()})
    index = np.array([[1, 4, 1], [0, 5, 4]])
    out = ours(index)
    expected = theirs(torch.tensor(index))
    np.testing.assert_allclose(out.data, expected.detach().numpy())
    (out * out).sum().backward()
    expected.pow(2).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-6)
