"""Bad input to layers, losses and state dicts: one clear error naming the layer, argument or key."""

import numpy as np
import pytest

import chainrule.nn as nn
from chainrule.errors import CheckpointError


@pytest.mark.parametrize("value, reason", [
    (np.array([["a", "b"], ["c", "d"]]), r"weight: load_state_dict\(\): data must be numbers .*dtype <U1"),
    ([[1.0, 2.0], [3.0]], r"weight: load_state_dict\(\): a ragged nested list"),
    (None, r"weight: load_state_dict\(\): data must be numbers .* NoneType"),
    (np.ones((2, 2)) * 1j, r"weight: complex values for a real float32 tensor"),
])
def test_load_state_dict_names_the_key_holding_what_is_not_numbers(value, reason):
    layer = nn.Linear(2, 2)
    before = layer.weight.numpy().copy()
    with pytest.raises(CheckpointError, match=r"cannot load the state dict into Linear:\n  values that "
                                              r"cannot be loaded: " + reason):
        layer.load_state_dict({"weight": value, "bias": np.zeros(2)})
    assert np.array_equal(layer.weight.numpy(), before)


def test_layers_and_losses_refuse_what_is_not_numbers():
    import chainrule as cr
    import chainrule.nn.functional as F
    for call, where in [(lambda: nn.Linear(3, 2)("abc"), "Linear"), (lambda: nn.Linear(3, 2)(None), "Linear"),
                        (lambda: F.mse_loss(cr.ones(3), "abc"), "mse_loss"),
                        (lambda: F.l1_loss(None, cr.ones(3)), "l1_loss")]:
        with pytest.raises(TypeError, match=rf"{where}\(\): data must be numbers"):
            call()


@pytest.mark.parametrize("labels", [np.array([0.0, 1, 2, 0]), np.array([True, False, True, False])])
def test_cross_entropy_names_labels_that_are_not_integers(labels):
    import chainrule as cr
    import chainrule.nn.functional as F
    with pytest.raises(TypeError, match=r"cross_entropy: target of shape \(4,\) looks like class labels but "
                                        r"holds .*; labels must be integers \(write target.astype\(int\)\)"):
        F.cross_entropy(cr.ones(4, 3), labels)


def test_functional_norms_check_eps():
    import chainrule as cr
    import chainrule.nn.functional as F
    with pytest.raises(ValueError, match=r"layer_norm: eps must be a number > 0, not -1"):
        F.layer_norm(cr.ones(2, 3), 3, eps=-1)
    with pytest.raises(ValueError, match=r"batch_norm: eps must be a number > 0, not 0"):
        F.batch_norm(cr.ones(2, 3), None, None, training=True, eps=0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["weight", "bias"])
def test_layer_norm_refuses_a_weight_or_bias_not_of_the_normalized_shape(name, dtype):
    """Before, the one-kernel path read past a too-short weight and returned memory as values."""
    import chainrule as cr
    import chainrule.nn.functional as F
    from chainrule.ops.layer_norm import layer_norm
    x = cr.ones(4, 8, dtype=dtype)
    with pytest.raises(ValueError, match=rf"layer_norm: {name} must have normalized_shape \(8,\), not \(7,\)"):
        F.layer_norm(x, (8,), **{name: cr.ones(7, dtype=dtype)})
    with pytest.raises(ValueError, match=rf"layer_norm: .* do not fit: {name} must have the last axis' shape "
                                         r"\(8,\), not \(1, 8\)"):
        layer_norm(x.numpy(), *((np.ones((1, 8), dtype), None) if name == "weight" else (None, np.ones((1, 8), dtype))))


def test_integer_parameters_say_how_to_convert():
    with pytest.raises(TypeError, match=r"only floating-point tensors can require gradients, not int32; "
                                        r"convert first"):
        nn.Linear(3, 2, dtype="int32")


def test_init_constant():
    layer = nn.Linear(3, 2)
    assert (nn.init.constant_(layer.bias, 0.5).numpy() == 0.5).all()
    with pytest.raises(TypeError, match=r"constant_: val must be a number, not 'a'"):
        nn.init.constant_(layer.bias, "a")


def test_optimisers_given_the_model_or_named_parameters_say_what_to_pass():
    from chainrule import optim
    model = nn.Linear(3, 2)
    for params, name in [(model, "Linear"), (model.parameters, "Module.parameters")]:
        with pytest.raises(TypeError, match=rf"SGD: params must be an iterable of parameters, not {name}; "
                                            r"pass model.parameters\(\)"):
            optim.SGD(params, lr=0.1)
    with pytest.raises(TypeError, match=r"got tuple; pass model.parameters\(\), not named_parameters\(\)"):
        optim.Adam(model.named_parameters())


def test_cat_and_stack_refuse_a_single_tensor():
    import chainrule as cr
    for join in (cr.cat, cr.stack):
        for one in (cr.ones(2, 3), np.ones((2, 3))):
            with pytest.raises(TypeError, match=r"takes a sequence of tensors, not one .*; write"):
                join(one)
    assert cr.cat((cr.ones(2), cr.zeros(2))).tolist() == [1, 1, 0, 0]


def test_data_loader_refuses_non_data_sets_and_a_tuple_of_arrays():
    from chainrule import data
    from chainrule.errors import DataError
    features, labels = np.ones((10, 3)), np.zeros(10)
    for bad in (None, 5):
        with pytest.raises(DataError, match=r"DataLoader: dataset must have __len__ and __getitem__"):
            data.DataLoader(bad, batch_size=1)
    with pytest.raises(DataError, match=r"a tuple of 2 arrays of 10 rows; pass TensorDataset\(\*arrays\)"):
        data.DataLoader((features, labels), batch_size=1)
    assert len(data.DataLoader(data.TensorDataset(features, labels), batch_size=4)) == 3
    assert len(data.DataLoader([features[0], features[1]], batch_size=1)) == 2


def test_save_and_load_with_odd_paths_and_values(tmp_path):
    import chainrule as cr
    with pytest.raises(IsADirectoryError, match=r"save\(\): .* is a directory; give a file name such as"):
        cr.save({"w": np.ones(2)}, tmp_path)
    assert list(tmp_path.iterdir()) == []
    for call, where in [(lambda: cr.save({}, 42), "save"), (lambda: cr.load(None), "load")]:
        with pytest.raises(TypeError, match=rf"{where}\(\): path must be a str or os.PathLike, not"):
            call()
    for array in (np.array(["x"]), np.array([1j])):
        with pytest.raises(TypeError, match=r"save: 'a' is an array of .*, which safetensors cannot hold"):
            cr.save({"a": array}, tmp_path / "w.safetensors")
    cr.save({"a": np.array([1j], dtype=np.complex64), "s": "text"}, tmp_path / "w.safetensors")
    assert cr.load(tmp_path / "w.safetensors")["s"] == "text"


def test_module_containers_say_how_to_hold_modules():
    model = nn.MLP([3, 4, 2])
    with pytest.raises(TypeError, match=r"MLP is indexed by position .*get_submodule"):
        model["a"]
    with pytest.raises(TypeError, match=r"\(unpack the list: Sequential\(\*modules\)\)"):
        nn.Sequential([nn.Linear(2, 2), nn.ReLU()])
    with pytest.raises(TypeError, match=r"ModuleList takes an iterable of modules, not one Linear"):
        nn.ModuleList(nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"clipping takes the parameters, not MLP; pass model.parameters\(\)"):
        nn.utils.clip_grad_norm_(model, 1.0)
    with pytest.raises(TypeError, match=r"register_parameter: 'w' must be a Parameter or None"):
        model.register_parameter("w", np.ones(2))


def test_data_loader_checks_seed_and_workers():
    from chainrule import data
    from chainrule.errors import DataError
    for name, value in [("seed", "a"), ("seed", -1), ("num_workers", -1)]:
        with pytest.raises(DataError, match=rf"{name} must be a non-negative integer"):
            data.DataLoader(np.ones((4, 3)), batch_size=2, **{name: value})


def test_saving_a_model_or_loading_a_path_says_what_to_write(tmp_path):
    import chainrule as cr
    model = nn.MLP([2, 3, 1])
    for state in (model, {"model": model}, cr.optim.SGD(model.parameters(), lr=0.1)):
        with pytest.raises(TypeError, match=r"save: cannot store a .*; save its state_dict\(\) instead"):
            cr.save(state, tmp_path / "w.safetensors")
    with pytest.raises(TypeError, match=r"read the file first: load_state_dict\(chainrule.load\('w.st'\)\)"):
        model.load_state_dict("w.st")
