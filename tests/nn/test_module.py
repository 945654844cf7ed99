"""Module: registration, traversal, state dicts and their errors, modes, gradients, printing."""

import copy
import pickle

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.errors import CheckpointError


class Affine(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.full(3, 2.0))
        self.inner = nn.Linear(3, 2, generator=0)
        self.register_buffer("count", np.zeros(()))
        self.note = "not a parameter"

    def forward(self, x):
        return self.inner(x * self.scale)


def test_parameters_submodules_and_buffers_are_found_by_assignment():
    model = Affine()
    assert [name for name, _ in model.named_parameters()] == ["scale", "inner.weight", "inner.bias"]
    assert [name for name, _ in model.named_buffers()] == ["count"]
    assert list(model.children()) == [model.inner]
    assert [name for name, _ in model.named_modules()] == ["", "inner"]
    assert model.note == "not a parameter"
    assert model.scale.dtype == np.float32 and model.scale.requires_grad


def test_reassigning_and_deleting_attributes_updates_the_registry():
    model = Affine()
    model.inner = nn.Identity()
    assert [name for name, _ in model.named_parameters()] == ["scale"]
    del model.scale
    assert list(model.parameters()) == []
    with pytest.raises(AttributeError, match="scale"):
        model.scale  # noqa: B018
    model.note = nn.Parameter([1.0])
    assert [name for name, _ in model.named_parameters()] == ["note"]
    assert "note" not in model.__dict__


def test_assigning_a_plain_value_to_a_parameter_name_is_an_error():
    model = Affine()
    with pytest.raises(TypeError, match="parameter 'scale' of Affine"):
        model.scale = np.zeros(3)


def test_forgetting_super_init_gives_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) first in Broken"):
        Broken()


def test_shared_parameters_are_listed_once_but_saved_under_every_name():
    layer = nn.Linear(2, 2)
    model = nn.Sequential(layer, nn.ReLU(), layer)
    assert len(list(model.parameters())) == 2
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_state_dict_holds_copies():
    model = Affine()
    state = model.state_dict()
    state["scale"][:] = 7
    np.testing.assert_array_equal(model.scale.data, [2, 2, 2])


def test_load_state_dict_copies_values_and_keeps_dtypes():
    source, target = nn.MLP([3, 4, 2], seed=1), nn.MLP([3, 4, 2], seed=2)
    state = {name: value.astype(np.float64) for name, value in source.state_dict().items()}
    result = target.load_state_dict(state)
    assert result == nn.LoadResult([], [])
    for name, value in target.state_dict().items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, source.state_dict()[name])
    state["0.weight"][:] = 0
    assert np.all(target[0].weight.data != 0)


def test_load_state_dict_names_missing_unexpected_and_mis_shaped_keys_and_changes_nothing():
    model = nn.MLP([3, 4, 2])
    before = model.state_dict()
    state = dict(before)
    del state["2.bias"]
    state["0.weight"] = np.zeros((5, 3))
    state["extra.weight"] = np.zeros(1)
    with pytest.raises(CheckpointError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "missing keys: 2.bias" in message
    assert "unexpected keys: extra.weight" in message
    assert "0.weight: expected shape (4, 3), got (5, 3)" in message
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_non_strict_loading_reports_what_it_skipped():
    model = nn.MLP([3, 4, 2])
    state = {"0.weight": np.ones((4, 3)), "head.weight": np.ones(2)}
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["0.bias", "2.weight", "2.bias"]
    assert result.unexpected_keys == ["head.weight"]
    np.testing.assert_array_equal(model[0].weight.data, np.ones((4, 3)))
    with pytest.raises(CheckpointError, match="0.weight: expected shape"):
        model.load_state_dict({"0.weight": np.ones(3)}, strict=False)


def test_train_and_eval_reach_every_submodule():
    model = nn.MLP([2, 3, 3, 1], dropout=0.5, norm="batch")
    assert model.eval() is model
    assert not any(module.training for module in model.modules())
    model.train()
    assert all(module.training for module in model.modules())
    with pytest.raises(TypeError, match="bool"):
        model.train("no")


def test_zero_grad_clears_or_zeroes_gradients():
    model = nn.Linear(2, 1)
    model(cr.ones(3, 2)).sum().backward()
    np.testing.assert_array_equal(model.bias.grad.data, [3.0])
    model.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(model.bias.grad.data, [0.0])
    model.zero_grad()
    assert model.weight.grad is None and model.bias.grad is None


def test_to_converts_parameters_and_buffers():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)).to("float64")
    assert {p.dtype for p in model.parameters()} == {np.dtype("float64")}
    assert model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64
    assert model(np.ones((3, 2))).dtype == np.float64


def test_repr_is_nested_like_pytorch():
    model = nn.Sequential(nn.Linear(2, 3), nn.Residual(nn.Sequential(nn.Linear(3, 3), nn.GELU())))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Residual(\n"
        "    (module): Sequential(\n"
        "      (0): Linear(in_features=3, out_features=3, bias=True)\n"
        "      (1): GELU(approximate='none')\n"
        "    )\n"
        "  )\n"
        ")")


def test_sequential_and_module_list_index_slice_and_iterate():
    layers = [nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1)]
    model = nn.Sequential(*layers)
    assert model[-1] is layers[2] and len(model) == 3
    head = model[:2]
    assert isinstance(head, nn.Sequential) and list(head) == layers[:2]
    x = np.ones((1, 2), dtype=np.float32)
    np.testing.assert_array_equal(model(x).data, layers[2](layers[1](layers[0](x))).data)
    stack = nn.ModuleList(layers)
    assert isinstance(stack[1:], nn.ModuleList) and len(list(stack.parameters())) == 4
    with pytest.raises(IndexError, match="out of range for Sequential of length 3"):
        model[3]  # noqa: B018


def test_containers_reject_non_modules():
    with pytest.raises(TypeError, match=r"Sequential item 1 must be a Module.*nn.ReLU\(\)"):
        nn.Sequential(nn.Linear(2, 2), cr.relu)
    with pytest.raises(TypeError, match="ModuleList item 0 must be a Module"):
        nn.ModuleList([3])


def test_apply_visits_every_module():
    seen = []
    nn.MLP([2, 3, 1]).apply(lambda module: seen.append(type(module).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "MLP"]


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        nn.Module()(1)


def test_deep_copies_and_pickles_train_independently_of_the_original():
    model = nn.MLP([2, 3, 2], norm="batch")
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert not np.shares_memory(clone[0].weight.data, model[0].weight.data)
        clone(np.ones((2, 2))).sum().backward()
        assert clone[0].weight.grad is not None and model[0].weight.grad is None
        np.testing.assert_array_equal(model[1].running_mean.data, np.zeros(3))
        for name, value in clone.state_dict().items():
            assert value.shape == model.state_dict()[name].shape
