"""Optimisers refuse parameters they could not train."""

import pytest

import chainrule as cr
from chainrule import optim


@pytest.mark.parametrize("make", [optim.SGD, optim.Adam, optim.RMSprop, optim.Adagrad])
def test_non_leaf_tensors_are_refused_by_every_optimiser(make):
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=rf"{make.__name__}: can only optimise leaf tensors, but got one "
                                         r"computed by mul.*\.detach\(\)\.requires_grad_\(\)"):
        make([w * 2], lr=0.1)
    optimiser = make([w], lr=0.1)
    with pytest.raises(ValueError, match=r"can only optimise leaf tensors"):
        optimiser.add_param_group({"params": [w + 1]})


def test_a_leaf_made_from_a_result_trains():
    w = (cr.tensor([1.0, 2.0], requires_grad=True) * 2).detach().requires_grad_()
    optimiser = optim.SGD([w], lr=0.5)
    (w * w).sum().backward()
    optimiser.step()
    assert w.tolist() == [0.0, 0.0]
