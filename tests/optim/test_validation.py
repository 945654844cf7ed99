"""Bad arguments to optimisers give errors naming the argument, its value and the allowed range."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from chainrule import optim


def param():
    return SimpleNamespace(data=np.zeros(2), grad=None)


BAD = [
    (optim.SGD, dict(lr=-0.1), ["SGD", "lr", "-0.1", ">= 0"]),
    (optim.SGD, dict(lr=math.nan), ["lr", "nan", ">= 0"]),
    (optim.SGD, dict(lr="fast"), ["lr", "'fast'"]),
    (optim.SGD, dict(momentum=1.0), ["momentum", "1.0", "in [0, 1)"]),
    (optim.SGD, dict(momentum=-0.5), ["momentum", "-0.5", "in [0, 1)"]),
    (optim.SGD, dict(dampening=2), ["dampening", "2", "in [0, 1]"]),
    (optim.SGD, dict(weight_decay=-1e-4), ["weight_decay", "-0.0001", ">= 0"]),
    (optim.SGD, dict(nesterov=True), ["nesterov", "momentum > 0", "momentum=0"]),
    (optim.SGD, dict(nesterov=True, momentum=0.9, dampening=0.1), ["nesterov", "dampening=0.1"]),
    (optim.Adam, dict(lr=-1), ["Adam", "lr", "-1"]),
    (optim.Adam, dict(betas=(1.0, 0.999)), ["betas[0]", "1.0", "in [0, 1)"]),
    (optim.Adam, dict(betas=(0.9, -0.1)), ["betas[1]", "-0.1", "in [0, 1)"]),
    (optim.Adam, dict(betas=0.9), ["betas", "0.9", "pair"]),
    (optim.Adam, dict(eps=-1e-8), ["eps", "-1e-08", ">= 0"]),
    (optim.Adam, dict(weight_decay=-0.1), ["weight_decay", "-0.1"]),
    (optim.AdamW, dict(betas=(0.9, 1.5)), ["AdamW", "betas[1]", "1.5"]),
    (optim.AdamW, dict(weight_decay=math.inf), ["AdamW", "weight_decay", "inf"]),
    (optim.RMSprop, dict(alpha=1.5), ["RMSprop", "alpha", "1.5", "in [0, 1]"]),
    (optim.RMSprop, dict(momentum=1), ["momentum", "1", "in [0, 1)"]),
    (optim.RMSprop, dict(eps=-1.0), ["eps", "-1.0"]),
    (optim.RMSprop, dict(weight_decay=-1.0), ["weight_decay", "-1.0"]),
    (optim.Adagrad, dict(lr_decay=-0.1), ["Adagrad", "lr_decay", "-0.1", ">= 0"]),
    (optim.Adagrad, dict(initial_accumulator_value=-1), ["initial_accumulator_value", "-1"]),
    (optim.Adagrad, dict(eps=-1e-10), ["eps", "-1e-10"]),
    (optim.Adagrad, dict(weight_decay=-2), ["weight_decay", "-2"]),
]


@pytest.mark.parametrize("cls, kwargs, words", BAD, ids=[f"{c.__name__}-{list(k)}" for c, k, _ in BAD])
def test_bad_hyperparameters_are_named(cls, kwargs, words):
    with pytest.raises(ValueError) as info:
        cls([param()], **kwargs)
    for word in words:
        assert word in str(info.value)


def test_bad_hyperparameter_in_a_group():
    with pytest.raises(ValueError, match="momentum must be a number in \\[0, 1\\), not 2"):
        optim.SGD([{"params": [param()]}, {"params": [param()], "momentum": 2}], lr=0.1)
    opt = optim.Adam([param()])
    with pytest.raises(ValueError, match="lr must be a number >= 0, not -1"):
        opt.add_param_group({"params": [param()], "lr": -1})
    assert len(opt.param_groups) == 1


@pytest.mark.parametrize("params", [[], iter([])])
def test_empty_parameter_list(params):
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        optim.SGD(params, lr=0.1)


def test_empty_parameter_group():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([{"params": [param()]}, {"params": []}])


def test_parameter_in_two_groups():
    p = param()
    with pytest.raises(ValueError, match="appears more than once"):
        optim.SGD([{"params": [p]}, {"params": [param(), p]}], lr=0.1)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="appears more than once"):
        opt.add_param_group({"params": [p]})
    with pytest.raises(ValueError, match="appears more than once"):
        optim.SGD([p, p], lr=0.1)


def test_not_parameters():
    with pytest.raises(TypeError, match="single SimpleNamespace; wrap it in a list"):
        optim.SGD(param(), lr=0.1)
    with pytest.raises(TypeError, match=r"needs an array \(NumPy's, or a device's\) in .data, got ndarray"):
        optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD([{"params": {1, 2}}], lr=0.1)
    with pytest.raises(ValueError, match="'params' entry"):
        optim.SGD([{"lr": 0.1}])
