"""Per-example gradients of layers: ``vmap(grad(loss), in_axes=(None, 0, 0))`` equals a loop and, in the
reference tier, ``torch.func.vmap(torch.func.grad(...))`` on the same weights."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import functional as F
from chainrule.nn import functional_call


def _mlp():
    cr.manual_seed(0)
    return cr.nn.Sequential(cr.nn.Linear(12, 16), cr.nn.ReLU(), cr.nn.Linear(16, 5)).double()


def _cnn():
    cr.manual_seed(1)
    return cr.nn.Sequential(cr.nn.Conv2d(2, 4, 3, padding=1), cr.nn.ReLU(), cr.nn.MaxPool2d(2),
                            cr.nn.Conv2d(4, 3, 3), cr.nn.Tanh(), cr.nn.Flatten(),
                            cr.nn.Linear(3 * 2 * 2, 4)).double()


def _data(shape, classes, count=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((count,) + shape), rng.integers(0, classes, count)


def _per_example(model, xs, ys):
    params = {name: p.detach() for name, p in model.named_parameters()}

    def loss(params, x, y):
        return F.cross_entropy(functional_call(model, params, x[None]), y[None])
    return cr.vmap(cr.grad(loss), in_axes=(None, 0, 0))(params, xs, ys)


def _looped(model, xs, ys):
    grads = []
    for x, y in zip(xs, ys):
        model.zero_grad()
        F.cross_entropy(model(cr.tensor(x[None])), y[None]).backward()
        grads.append({name: p.grad.data.copy() for name, p in model.named_parameters()})
    return {name: np.stack([g[name] for g in grads]) for name in grads[0]}


@pytest.mark.parametrize("make,shape,classes", [(_mlp, (12,), 5), (_cnn, (2, 8, 8), 4)], ids=["mlp", "cnn"])
def test_per_example_gradients_equal_a_loop(make, shape, classes):
    model = make()
    xs, ys = _data(shape, classes)
    got = _per_example(model, xs, ys)
    expected = _looped(model, xs, ys)
    assert set(got) == set(expected)
    shapes = {name: p.shape for name, p in model.named_parameters()}
    for name in expected:
        assert got[name].shape == (len(xs),) + shapes[name]
        np.testing.assert_allclose(got[name].data, expected[name], rtol=1e-10, atol=1e-12)


def test_per_example_gradient_norms_of_an_mlp():
    model = _mlp()
    xs, ys = _data((12,), 5)
    grads = _per_example(model, xs, ys)
    norms = cr.sqrt(sum((g.reshape(len(xs), -1) ** 2).sum(axis=1) for g in grads.values()))
    looped = _looped(model, xs, ys)
    expected = np.sqrt(sum((g.reshape(len(xs), -1) ** 2).sum(axis=1) for g in looped.values()))
    np.testing.assert_allclose(norms.data, expected, rtol=1e-12)


@pytest.mark.parametrize("make,shape,classes", [(_mlp, (12,), 5), (_cnn, (2, 8, 8), 4)], ids=["mlp", "cnn"])
def test_per_example_gradients_equal_torch_func(make, shape, classes):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    model = make()
    xs, ys = _data(shape, classes, seed=3)
    got = _per_example(model, xs, ys)
    reference = _torch_model(torch, model)
    params = {name: p.detach() for name, p in reference.named_parameters()}

    def loss(params, x, y):
        logits = torch.func.functional_call(reference, params, (x[None],))
        return torch.nn.functional.cross_entropy(logits, y[None])
    expected = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))(
        params, torch.from_numpy(xs), torch.from_numpy(ys))
    for name, value in expected.items():
        np.testing.assert_allclose(got[name].data, value.numpy(), rtol=1e-9, atol=1e-11)


def _torch_model(torch, model):
    layers = []
    for layer in model:
        kind = type(layer).__name__
        if kind == "Linear":
            layers.append(torch.nn.Linear(layer.in_features, layer.out_features))
        elif kind == "Conv2d":
            weight = layer.weight
            layers.append(torch.nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[2:],
                                          padding=layer.padding))
        else:
            layers.append({"ReLU": torch.nn.ReLU, "Tanh": torch.nn.Tanh, "Flatten": torch.nn.Flatten,
                           "MaxPool2d": lambda: torch.nn.MaxPool2d(2)}[kind]())
    reference = torch.nn.Sequential(*layers).double()
    reference.load_state_dict({name: torch.from_numpy(np.asarray(value.data))
                               for name, value in model.state_dict().items()})
    return reference
