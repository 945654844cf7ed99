"""chainrule.nn against PyTorch: the same model with the same weights, every activation and loss (values
and gradients), normalisation layers in both modes, gradient clipping."""

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

RTOL, ATOL = 1e-5, 1e-6


def close(ours, theirs, rtol=RTOL, atol=ATOL):
    ours = ours.data if isinstance(ours, cr.Tensor) else ours
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def pair(array):
    """The same float32 values as a chainrule and a torch leaf that require gradients."""
    array = np.asarray(array, dtype=np.float32)
    return cr.tensor(array.copy(), requires_grad=True), torch.tensor(array.copy(), requires_grad=True)


def torch_twin(model):
    """A torch.nn.Sequential with the layout of a plain chainrule MLP, loaded with its weights."""
    layers = []
    for module in model:
        if isinstance(module, nn.Linear):
            layers.append(torch.nn.Linear(module.in_features, module.out_features))
        else:
            layers.append({nn.ReLU: torch.nn.ReLU, nn.Tanh: torch.nn.Tanh}[type(module)]())
    twin = torch.nn.Sequential(*layers)
    twin.load_state_dict({name: torch.tensor(value) for name, value in model.state_dict().items()})
    return twin


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_mlp_outputs_and_gradients_match_torch(activation):
    rng = np.random.default_rng(0)
    model = nn.MLP([6, 16, 16, 4], activation=activation, seed=3)
    twin = torch_twin(model)
    x, y = rng.normal(size=(10, 6)).astype(np.float32), rng.integers(0, 4, size=10)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    t_loss = torch.nn.functional.cross_entropy(twin(torch.tensor(x)), torch.tensor(y))
    t_loss.backward()
    assert loss.item() == pytest.approx(t_loss.item(), rel=1e-6)
    theirs = dict(twin.named_parameters())
    for name, parameter in model.named_parameters():
        close(parameter.grad, theirs[name].grad)


def test_state_dict_names_match_torch_sequential():
    model = nn.MLP([3, 5, 2])
    assert list(model.state_dict()) == list(torch_twin(model).state_dict())


X = np.array([[-2.5, -1.0, -1e-3, 0.0, 0.4, 1.0, 3.0], [30.0, -30.0, 0.7, -0.2, 0.0, 2.0, -4.0]])

ACTIVATION_CASES = {
    "sigmoid": (nn.Sigmoid(), torch.sigmoid),
    "tanh": (nn.Tanh(), torch.tanh),
    "relu": (nn.ReLU(), torch.relu),
    "leaky_relu": (nn.LeakyReLU(0.2), lambda x: torch.nn.functional.leaky_relu(x, 0.2)),
    "gelu": (nn.GELU(), torch.nn.functional.gelu),
    "gelu_tanh": (nn.GELU("tanh"), lambda x: torch.nn.functional.gelu(x, approximate="tanh")),
    "softmax": (nn.Softmax(axis=1), lambda x: torch.softmax(x, 1)),
    "log_softmax": (nn.LogSoftmax(axis=0), lambda x: torch.log_softmax(x, 0)),
    "softplus": (F.softplus, torch.nn.functional.softplus),
}


@pytest.mark.parametrize("name", ACTIVATION_CASES)
def test_activation_values_and_gradients_match_torch(name):
    ours_fn, theirs_fn = ACTIVATION_CASES[name]
    x, t_x = pair(X)
    cotangent = np.random.default_rng(1).normal(size=X.shape).astype(np.float32)
    y, t_y = ours_fn(x), theirs_fn(t_x)
    y.backward(cotangent)
    t_y.backward(torch.tensor(cotangent))
    close(y, t_y)
    close(x.grad, t_x.grad)


def test_step_matches_heaviside_and_has_zero_gradients():
    x, t_x = pair(X)
    y = nn.Step()(x)
    (y * 3).sum().backward()
    close(y, torch.heaviside(t_x, torch.tensor(0.0)))
    np.testing.assert_array_equal(x.grad.data, np.zeros(X.shape))


LOGITS = np.random.default_rng(2).normal(size=(6, 5)) * 3
LABELS = np.array([0, 4, 2, -100, 1, 4])
CLASS_WEIGHT = np.array([0.5, 1.0, 2.0, 0.1, 1.5], dtype=np.float32)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy_with_labels_matches_torch(reduction, label_smoothing, weighted, ignore):
    labels = LABELS if ignore else np.abs(LABELS) % 5
    weight = CLASS_WEIGHT if weighted else None
    z, t_z = pair(LOGITS)
    loss = F.cross_entropy(z, labels, weight=weight, reduction=reduction, label_smoothing=label_smoothing)
    t_loss = torch.nn.functional.cross_entropy(
        t_z, torch.tensor(labels), weight=None if weight is None else torch.tensor(weight),
        reduction=reduction, label_smoothing=label_smoothing)
    loss.sum().backward()
    t_loss.sum().backward()
    close(loss, t_loss)
    close(z.grad, t_z.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_with_probabilities_matches_torch(reduction, label_smoothing, weighted):
    target = np.random.default_rng(3).dirichlet(np.ones(5), size=6).astype(np.float32)
    weight = CLASS_WEIGHT if weighted else None
    z, t_z = pair(LOGITS)
    loss = F.cross_entropy(z, target, weight=weight, reduction=reduction, label_smoothing=label_smoothing)
    t_loss = torch.nn.functional.cross_entropy(
        t_z, torch.tensor(target), weight=None if weight is None else torch.tensor(weight),
        reduction=reduction, label_smoothing=label_smoothing)
    loss.sum().backward()
    t_loss.sum().backward()
    close(loss, t_loss)
    close(z.grad, t_z.grad)


def test_cross_entropy_over_axis_1_matches_torch_layout():
    logits = np.random.default_rng(4).normal(size=(3, 4, 2)).astype(np.float32)
    labels = np.array([[0, 3], [1, 1], [2, -100]])
    z, t_z = pair(logits)
    loss = nn.CrossEntropyLoss(axis=1, label_smoothing=0.1)(z, labels)
    t_loss = torch.nn.CrossEntropyLoss(label_smoothing=0.1)(t_z, torch.tensor(labels))
    loss.backward()
    t_loss.backward()
    close(loss, t_loss)
    close(z.grad, t_z.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(reduction, weighted):
    weight = CLASS_WEIGHT if weighted else None
    log_probs = torch.log_softmax(torch.tensor(LOGITS, dtype=torch.float32), 1).numpy()
    x, t_x = pair(log_probs)
    loss = nn.NLLLoss(weight=weight, reduction=reduction)(x, LABELS)
    t_loss = torch.nn.NLLLoss(weight=None if weight is None else torch.tensor(weight),
                              reduction=reduction)(t_x, torch.tensor(LABELS))
    loss.sum().backward()
    t_loss.sum().backward()
    close(loss, t_loss)
    close(x.grad, t_x.grad)


PREDICTIONS = np.array([[0.5, -1.0, 2.0], [0.0, 3.0, -0.5]])
TARGETS = np.array([[1.0, -1.0, 0.0], [0.25, 1.0, 1.0]])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ours_cls,theirs_cls", [(nn.MSELoss, torch.nn.MSELoss),
                                                  (nn.L1Loss, torch.nn.L1Loss)])
def test_regression_losses_match_torch(reduction, ours_cls, theirs_cls):
    x, t_x = pair(PREDICTIONS)
    loss = ours_cls(reduction=reduction)(x, TARGETS)
    t_loss = theirs_cls(reduction=reduction)(t_x, torch.tensor(TARGETS, dtype=torch.float32))
    loss.sum().backward()
    t_loss.sum().backward()
    close(loss, t_loss)
    close(x.grad, t_x.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_with_logits_matches_torch(reduction, weighted):
    logits = np.array([[-200.0, -3.0, 0.0], [0.5, 4.0, 200.0]])
    targets = np.array([[0.0, 1.0, 1.0], [0.3, 0.0, 1.0]], dtype=np.float32)
    weight = np.array([[1.0, 2.0, 0.5]], dtype=np.float32) if weighted else None
    pos_weight = np.array([3.0, 1.0, 0.5], dtype=np.float32) if weighted else None
    x, t_x = pair(logits)
    loss = F.binary_cross_entropy_with_logits(x, targets, weight=weight, pos_weight=pos_weight,
                                              reduction=reduction)
    t_loss = torch.nn.functional.binary_cross_entropy_with_logits(
        t_x, torch.tensor(targets), weight=None if weight is None else torch.tensor(weight),
        pos_weight=None if pos_weight is None else torch.tensor(pos_weight), reduction=reduction)
    loss.sum().backward()
    t_loss.sum().backward()
    close(loss, t_loss)
    close(x.grad, t_x.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_hinge_loss_is_torch_multi_margin_loss_times_the_number_of_classes(reduction):
    scores = np.array([[1.0, 0.5, 0.2, -2.0], [0.1, 0.3, 2.0, 0.2], [3.0, -1.0, 0.0, 2.5]])
    labels = np.array([0, 2, 3])
    x, t_x = pair(scores)
    loss = nn.HingeLoss(reduction=reduction)(x, labels)
    t_loss = torch.nn.MultiMarginLoss(reduction=reduction)(t_x, torch.tensor(labels)) * 4
    loss.sum().backward()
    t_loss.sum().backward()
    close(loss, t_loss)
    close(x.grad, t_x.grad)


@pytest.mark.parametrize("shape", [(8, 3), (8, 3, 5)])
def test_batch_norm_matches_torch_in_training_and_evaluation(shape):
    rng = np.random.default_rng(5)
    ours, theirs = nn.BatchNorm1d(3, momentum=0.2), torch.nn.BatchNorm1d(3, momentum=0.2)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor([0.5, 2.0, -1.0]))
        theirs.bias.copy_(torch.tensor([0.1, 0.0, 0.3]))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for _ in range(3):
        batch = (rng.normal(size=shape) * 2 + 1).astype(np.float32)
        x, t_x = pair(batch)
        y, t_y = ours(x), theirs(t_x)
        cotangent = rng.normal(size=shape).astype(np.float32)
        y.backward(cotangent)
        t_y.backward(torch.tensor(cotangent))
        close(y, t_y, atol=1e-5)
        close(x.grad, t_x.grad, atol=1e-5)
        close(ours.weight.grad, theirs.weight.grad, atol=1e-5)
        ours.zero_grad()
        theirs.zero_grad()
    for name, value in theirs.state_dict().items():
        close(ours.state_dict()[name], value)
    ours.eval()
    theirs.eval()
    x, t_x = pair(rng.normal(size=shape))
    y, t_y = ours(x), theirs(t_x)
    y.sum().backward()
    t_y.sum().backward()
    close(y, t_y, atol=1e-5)
    close(x.grad, t_x.grad, atol=1e-5)


def test_layer_norm_matches_torch():
    rng = np.random.default_rng(6)
    ours, theirs = nn.LayerNorm((3, 4)), torch.nn.LayerNorm((3, 4))
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(rng.normal(size=(3, 4))))
        theirs.bias.copy_(torch.tensor(rng.normal(size=(3, 4))))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x, t_x = pair(rng.normal(size=(2, 3, 4)) * 5)
    y, t_y = ours(x), theirs(t_x)
    cotangent = rng.normal(size=(2, 3, 4)).astype(np.float32)
    y.backward(cotangent)
    t_y.backward(torch.tensor(cotangent))
    close(y, t_y, atol=1e-5)
    close(x.grad, t_x.grad, atol=1e-5)
    close(ours.weight.grad, theirs.weight.grad, atol=1e-5)
    close(ours.bias.grad, theirs.bias.grad, atol=1e-5)


def test_embedding_gradient_accumulates_repeated_indices_like_torch():
    ours = nn.Embedding(5, 3, generator=0)
    theirs = torch.nn.Embedding(5, 3)
    theirs.load_state_dict({"weight": torch.tensor(ours.weight.data)})
    indices = np.array([[1, 3, 1], [4, 1, 0]])
    y, t_y = ours(indices), theirs(torch.tensor(indices))
    (y * y).sum().backward()
    (t_y * t_y).sum().backward()
    close(y, t_y)
    close(ours.weight.grad, theirs.weight.grad)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(7)
    grads = [rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)]
    ours = [nn.Parameter(np.zeros_like(g)) for g in grads]
    theirs = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    for p, t_p, g in zip(ours, theirs, grads, strict=True):
        p.grad = cr.tensor(g.copy())
        t_p.grad = torch.tensor(g.copy())
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.item() == pytest.approx(t_total.item(), rel=1e-6)
    for p, t_p in zip(ours, theirs, strict=True):
        close(p.grad, t_p.grad)


def test_default_linear_init_has_torch_bounds():
    bound = 1 / math.sqrt(400)
    layer = nn.Linear(400, 300, generator=0)
    for values in (layer.weight.data, layer.bias.data):
        assert -bound <= values.min() and values.max() <= bound
    assert layer.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)
    reference = torch.nn.Linear(400, 300).weight.detach().numpy()
    assert layer.weight.data.std() == pytest.approx(reference.std(), rel=0.01)
