"""Recurrent layers and cells against PyTorch: a state_dict loads and gives the same outputs and gradients
(float64), for every option; variable lengths against pack_padded_sequence."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

LAYERS = [(nn.LSTM, torch.nn.LSTM, {}), (nn.GRU, torch.nn.GRU, {}), (nn.RNN, torch.nn.RNN, {}),
          (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"})]
OPTIONS = [{}, {"num_layers": 2, "bidirectional": True}, {"batch_first": True, "bias": False},
           {"num_layers": 3}]


def _pair(ours_class, theirs_class, kind, options, input_size=3, hidden_size=4):
    theirs = theirs_class(input_size, hidden_size, **kind, **options).double()
    ours = ours_class(input_size, hidden_size, **kind, **options, dtype="float64")
    ours.load_state_dict({name: value.detach().numpy() for name, value in theirs.state_dict().items()})
    return ours, theirs


def _loss(output, state, lib):
    """A loss touching the output and every returned state, each differently weighted."""
    states = state if isinstance(state, tuple) else (state,)
    total = (output * output).sum() if lib is cr else output.pow(2).sum()
    for k, s in enumerate(states):
        weights = np.linspace(-1, 1, int(np.prod(s.shape))).reshape(s.shape) * (k + 1)
        total = total + ((s * weights).sum() if lib is cr else (s * torch.tensor(weights)).sum())
    return total


def _compare(ours, theirs, x, hx=None, lengths=None):
    x_ours = cr.tensor(x, requires_grad=True)
    x_theirs = torch.tensor(x, requires_grad=True)
    hx_ours = hx_theirs = None
    if hx is not None:
        hx_ours = tuple(cr.tensor(h, requires_grad=True) for h in hx)
        hx_theirs = tuple(torch.tensor(h, requires_grad=True) for h in hx)
    output, state = ours(x_ours, None if hx is None else (hx_ours if len(hx) == 2 else hx_ours[0]),
                         lengths=lengths)
    if lengths is None:
        expected, expected_state = theirs(x_theirs, None if hx is None else
                                          (hx_theirs if len(hx) == 2 else hx_theirs[0]))
    else:
        pack = torch.nn.utils.rnn
        packed = pack.pack_padded_sequence(x_theirs, torch.tensor(lengths), batch_first=theirs.batch_first,
                                           enforce_sorted=False)
        expected, expected_state = theirs(packed, None if hx is None else
                                          (hx_theirs if len(hx) == 2 else hx_theirs[0]))
        expected, _ = pack.pad_packed_sequence(expected, batch_first=theirs.batch_first,
                                               total_length=x.shape[1 if theirs.batch_first else 0])
    np.testing.assert_allclose(output.data, expected.detach().numpy(), atol=1e-12)
    states, expected_states = (state, expected_state) if isinstance(state, tuple) else ((state,), (expected_state,))
    for s, e in zip(states, expected_states, strict=True):
        np.testing.assert_allclose(s.data, e.detach().numpy(), atol=1e-12)
    _loss(output, state, cr).backward()
    _loss(expected, expected_state, torch).backward()
    np.testing.assert_allclose(x_ours.grad.data, x_theirs.grad.numpy(), atol=1e-11)
    for name, parameter in theirs.named_parameters():
        np.testing.assert_allclose(dict(ours.named_parameters())[name].grad.data, parameter.grad.numpy(),
                                   atol=1e-11, err_msg=name)
    if hx is not None:
        for h_ours, h_theirs in zip(hx_ours, hx_theirs, strict=True):
            np.testing.assert_allclose(h_ours.grad.data, h_theirs.grad.numpy(), atol=1e-11)


@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("layer", LAYERS, ids=lambda c: c[0].__name__ + str(c[2]) if isinstance(c, tuple) else "")
def test_layer_matches_pytorch(layer, options):
    ours, theirs = _pair(*layer, options)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = np.random.default_rng(0).normal(size=(5, 2, 3))
    _compare(ours, theirs, x)


@pytest.mark.parametrize("layer", LAYERS[:3], ids=lambda c: c[0].__name__)
def test_initial_states_and_their_gradients(layer):
    ours, theirs = _pair(*layer, {"num_layers": 2, "bidirectional": True})
    rng = np.random.default_rng(1)
    hx = tuple(rng.normal(size=(4, 3, 4)) for _ in range(2 if layer[0] is nn.LSTM else 1))
    _compare(ours, theirs, rng.normal(size=(6, 3, 3)), hx=hx)


@pytest.mark.parametrize("options", [{}, {"num_layers": 2, "bidirectional": True}, {"batch_first": True}],
                         ids=str)
@pytest.mark.parametrize("layer", LAYERS[:3], ids=lambda c: c[0].__name__)
def test_lengths_match_pack_padded_sequence(layer, options):
    ours, theirs = _pair(*layer, options)
    shape = (4, 6, 3) if options.get("batch_first") else (6, 4, 3)
    _compare(ours, theirs, np.random.default_rng(2).normal(size=shape), lengths=[6, 2, 4, 1])


def test_unbatched_sequence():
    ours, theirs = _pair(nn.LSTM, torch.nn.LSTM, {}, {"num_layers": 2})
    x = np.random.default_rng(3).normal(size=(5, 3))
    output, (h_n, c_n) = ours(x)
    expected, (_expected_h, expected_c) = theirs(torch.tensor(x))
    assert output.shape == (5, 4) and h_n.shape == (2, 4)
    np.testing.assert_allclose(output.data, expected.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(c_n.data, expected_c.detach().numpy(), atol=1e-12)


CELLS = [(nn.LSTMCell, torch.nn.LSTMCell, {}), (nn.GRUCell, torch.nn.GRUCell, {}),
         (nn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}), (nn.RNNCell, torch.nn.RNNCell, {})]


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c[0].__name__ + str(c[2]))
def test_cell_matches_pytorch(cell):
    ours_class, theirs_class, kind = cell
    theirs = theirs_class(3, 4, **kind).double()
    ours = ours_class(3, 4, **kind, dtype="float64")
    ours.load_state_dict({name: value.detach().numpy() for name, value in theirs.state_dict().items()})
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3))
    states = [rng.normal(size=(2, 4)) for _ in range(2 if ours_class is nn.LSTMCell else 1)]
    x_ours, x_theirs = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    hx_ours = [cr.tensor(s, requires_grad=True) for s in states]
    hx_theirs = [torch.tensor(s, requires_grad=True) for s in states]
    out = ours(x_ours, tuple(hx_ours) if len(states) == 2 else hx_ours[0])
    expected = theirs(x_theirs, tuple(hx_theirs) if len(states) == 2 else hx_theirs[0])
    out, expected = (out if isinstance(out, tuple) else (out,)), (expected if isinstance(expected, tuple)
                                                                  else (expected,))
    for o, e in zip(out, expected, strict=True):
        np.testing.assert_allclose(o.data, e.detach().numpy(), atol=1e-12)
    sum((o * o).sum() for o in out).backward()
    sum(e.pow(2).sum() for e in expected).backward()
    np.testing.assert_allclose(x_ours.grad.data, x_theirs.grad.numpy(), atol=1e-12)
    for h_ours, h_theirs in zip(hx_ours, hx_theirs, strict=True):
        np.testing.assert_allclose(h_ours.grad.data, h_theirs.grad.numpy(), atol=1e-12)
    for name, parameter in theirs.named_parameters():
        np.testing.assert_allclose(dict(ours.named_parameters())[name].grad.data, parameter.grad.numpy(),
                                   atol=1e-12)
    single = ours(x[0])
    assert (single[0] if isinstance(single, tuple) else single).shape == (4,)


def test_state_dict_goes_back_to_pytorch():
    ours = nn.GRU(3, 4, num_layers=2, bidirectional=True, generator=0)
    theirs = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True)
    theirs.load_state_dict({name: torch.tensor(value) for name, value in ours.state_dict().items()})
    x = np.random.default_rng(5).normal(size=(4, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(x)[0].data, theirs(torch.tensor(x))[0].detach().numpy(), atol=1e-5)


def test_initialisation_matches_pytorch_distribution():
    layer = nn.LSTM(10, 100, generator=0)
    weights = layer.weight_hh_l0.data
    bound = 1 / np.sqrt(100)
    assert weights.dtype == np.float32 and np.abs(weights).max() <= bound
    assert abs(weights.std() - bound / np.sqrt(3)) < 0.003  # uniform(-b, b) has std b/√3
