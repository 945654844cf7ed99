"""What PyTorch users type works, or says what to write instead."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F


def _x():
    return cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)


def test_size_numel_dim():
    x = cr.ones(2, 3)
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-1) == 3
    assert x.size == 6 and x.numel() == 6 and x.dim() == 2  # NumPy's x.size still counts elements
    with pytest.raises(IndexError, match=r"size\(2\): dim out of range .* \(2, 3\)"):
        x.size(2)


def test_dtype_conversions_keep_the_gradient():
    x = _x()
    assert x.float().dtype == np.float32 and x.double() is x and x.long().dtype == np.int64
    x.float().sum().backward()
    assert x.grad.dtype == np.float64 and x.grad.tolist() == [[1, 1, 1], [1, 1, 1]]


def test_to_takes_a_dtype_a_device_or_a_tensor():
    x = cr.ones(2, 3)
    assert x.to("cpu") is x and x.cpu() is x
    assert x.to("float64").dtype == np.float64
    assert x.to("cpu", "float64").dtype == np.float64
    assert x.to(dtype="float16", device="cpu").dtype == np.float16
    assert x.to(cr.ones(1, dtype="float64")).dtype == np.float64
    if not cr.cuda.is_available():  # a GPU's own tests: tests/devices
        for move in (lambda: x.to("cuda"), lambda: x.to("cuda:0"), x.cuda):
            with pytest.raises(cr.errors.DeviceError, match=r"no CUDA device is available"):
                move()
    with pytest.raises(TypeError, match=r"'bogus' is neither a dtype .* nor a device"):
        x.to("bogus")


def test_clone_is_a_differentiable_copy():
    x = _x()
    y = x.clone()
    assert y.data is not x.data and np.array_equal(y.data, x.data)
    (y * y).sum().backward()
    assert np.array_equal(x.grad.data, 2 * x.data)


def test_t_and_two_axis_transpose_as_in_pytorch():
    x = cr.ones(2, 3, 4)
    assert x.transpose(0, 2).shape == (4, 3, 2)  # PyTorch swaps the two axes
    assert x.transpose(1, 2, 0).shape == (3, 4, 2)  # NumPy permutes
    assert x.transpose().shape == (4, 3, 2)
    m = cr.tensor([[1.0, 2.0, 3.0]])
    assert m.t().tolist() == [[1], [2], [3]] and m.transpose(0, 1).tolist() == [[1], [2], [3]]


def test_dim_and_keepdim_on_tensor_methods():
    x = _x()
    assert x.sum(dim=1, keepdim=True).shape == (2, 1)
    assert x.mean(dim=0).tolist() == [1.5, 2.5, 3.5]
    assert x.max(dim=1).values.tolist() == [2, 5] and x.min(dim=1, keepdim=True).values.shape == (2, 1)
    assert x.max(axis=1).tolist() == [2, 5]  # NumPy's spelling: the values
    assert x.var(dim=1).shape == (2,) and x.logsumexp(dim=1).shape == (2,)
    assert x.var(dim=1, correction=1).tolist() == [1, 1]  # PyTorch's unbiased variance
    assert x.argmax(dim=1).tolist() == [2, 2] and x.argmin(dim=0).tolist() == [0, 0, 0]
    assert np.allclose(x.softmax(dim=1).sum(dim=1).data, 1)
    assert np.allclose(np.exp(x.log_softmax(dim=0).data).sum(0), 1)
    assert x.unsqueeze(dim=1).shape == (2, 1, 3) and x.unsqueeze(dim=0).squeeze(dim=0).shape == (2, 3)
    assert x.gather(dim=1, index=np.array([[0], [2]])).tolist() == [[0], [5]]
    assert x.take(np.array([1]), dim=1).tolist() == [[1], [4]]
    assert cr.ones(2, 3, 4).flatten(start_dim=1).shape == (2, 12)
    assert cr.ones(2, 3, 4).flatten(0, 1).shape == (6, 4)


def test_model_to_cpu_float_double():
    model = nn.MLP([3, 4, 2])
    assert model.to("cpu") is model and model.cpu() is model
    assert model.double()[0].weight.dtype == np.float64
    assert model.float()[0].weight.dtype == np.float32
    assert model.to("cpu", dtype="float64")[0].weight.dtype == np.float64
    if not cr.cuda.is_available():
        with pytest.raises(cr.errors.DeviceError, match=r"no CUDA device is available"):
            model.to("cuda")
        with pytest.raises(cr.errors.DeviceError, match=r"no CUDA device is available"):
            model.cuda()


def test_dim_on_functional_wrappers_and_softmax_modules():
    logits = cr.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]])
    labels = np.array([0, 2])
    assert np.isclose(F.cross_entropy(logits, labels, dim=1).item(), F.cross_entropy(logits, labels).item())
    assert np.isclose(F.nll_loss(logits.log_softmax(dim=1), labels, dim=1).item(),
                      F.cross_entropy(logits, labels).item())
    assert F.hinge_loss(logits, labels, dim=1).shape == ()
    assert np.allclose(nn.Softmax(dim=0)(logits).data.sum(0), 1)
    assert np.allclose(np.exp(nn.LogSoftmax(dim=0)(logits).data).sum(0), 1)
    assert nn.Softmax().axis == -1 and nn.Softmax(1).axis == 1
    with pytest.raises(TypeError, match=r"Softmax: give axis or dim"):
        nn.Softmax(axis=0, dim=1)


@pytest.mark.parametrize("call, name", [
    (lambda: F.mse_loss(cr.ones(2), cr.ones(2), size_average=True), "mse_loss"),
    (lambda: F.cross_entropy(cr.ones((2, 3)), np.array([0, 1]), axes=1), "cross_entropy"),
    (lambda: F.dropout(cr.ones(2), prob=0.5), "dropout"),
    (lambda: F.layer_norm(cr.ones((2, 3)), 3, epsilon=1e-5), "layer_norm"),
])
def test_unknown_keywords_are_type_errors_listing_the_accepted_ones(call, name):
    with pytest.raises(TypeError, match=rf"{name}\(\) got an unexpected keyword argument .*; it accepts "):
        call()


def test_method_forms_of_operators_and_small_spellings():
    x = _x()
    assert x.add(1).sub(2).mul(3).div(3).pow(2).neg().tolist() == (-((x.data - 1) ** 2)).tolist()
    assert x.half().dtype == np.float16 and x.type_as(cr.ones(1)).dtype == np.float32
    assert x.contiguous() is x and x.device == "cpu" and not x.is_cuda
    assert cr.ones(3, 1).expand(-1, 4).shape == (3, 4) and cr.ones(3).expand(2, 3).shape == (2, 3)
    assert cr.ones(3, 1).expand((2, 3, 4)).shape == (2, 3, 4)


@pytest.mark.parametrize("name, hint", [
    ("repeat", r"write chainrule.tile\(x, sizes\): PyTorch's repeat is NumPy's tile"),
    ("new_zeros", r"write chainrule.zeros\(shape, dtype=x.dtype\)"), ("eq", r"write the operator: x == y"),
    ("masked_fill", r"write chainrule.where\(mask, value, x\)"),
    ("add_", r"write x \+= y, under chainrule.no_grad\(\)"), ("int", r"write x.astype\('int32'\)"),
])
def test_missing_pytorch_methods_say_what_to_write_instead(name, hint):
    with pytest.raises(AttributeError, match=rf"'Tensor' object has no attribute '{name}'; {hint}"):
        getattr(cr.ones(2), name)


def test_plain_missing_attributes_stay_plain_attribute_errors():
    with pytest.raises(AttributeError, match=r"^'Tensor' object has no attribute 'nonsense'$"):
        cr.ones(2).nonsense
    assert not hasattr(cr.ones(2), "__array_interface__")


def test_every_function_taking_an_axis_accepts_dim():
    import inspect
    x = cr.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    assert np.allclose(cr.std(x, dim=1).data, x.data.std(1))
    assert cr.cumsum(x, dim=1).tolist() == [[3, 4, 6], [0, 5, 9]]
    assert cr.flip(x, dim=0).tolist() == [[0, 5, 4], [3, 1, 2]]
    assert cr.sort(x, dim=1).values.tolist() == [[1, 2, 3], [0, 4, 5]]
    without = [name for name in dir(cr) if not name.startswith("_") and inspect.isfunction(getattr(cr, name))
               and "axis" in inspect.signature(getattr(cr, name)).parameters
               and not hasattr(getattr(cr, name), "__wrapped__")]
    assert without == []
    with pytest.raises(TypeError, match=r"std\(\) got an unexpected keyword argument 'dimension'.*; "
                                        r"it accepts "
                                        r"x, axis \(or dim\), keepdims \(or keepdim\), ddof"):
        cr.std(x, dimension=1)


def test_every_tensor_method_taking_an_axis_accepts_dim():
    import inspect
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    without = [name for name, method in vars(cr.Tensor).items() if inspect.isfunction(method)
               and any(p.name in ("axis", "keepdims") and p.kind in named
                       for p in inspect.signature(method).parameters.values())
               and not hasattr(method, "__wrapped__") and "dim" not in inspect.signature(method).parameters]
    assert without == []


def test_module_methods_pytorch_users_call():
    model = nn.MLP([3, 4, 2])
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())
    assert model.get_submodule("2") is model[2] and model.get_submodule("") is model
    with pytest.raises(AttributeError, match=r"MLP has no submodule '9'; it has '0', '1', '2'"):
        model.get_submodule("9")
    assert model.half()[0].weight.dtype == np.float16
    layer = nn.Linear(2, 2)
    layer.register_parameter("scale", nn.Parameter([1.0]))
    layer.register_parameter("shift", None)
    layer.add_module("act", nn.ReLU())
    assert list(layer.state_dict()) == ["weight", "bias", "scale"] and layer.shift is None
    assert isinstance(layer.get_submodule("act"), nn.ReLU)


def test_pytorch_constructor_arguments():
    assert isinstance(nn.ReLU(inplace=True), nn.ReLU)
    assert nn.LeakyReLU(0.2, inplace=True).negative_slope == 0.2
    assert nn.Dropout(0.1, inplace=True).p == 0.1
    with pytest.raises(TypeError, match=r"ReLU: inplace must be True or False"):
        nn.ReLU(inplace="yes")
    assert nn.CrossEntropyLoss(dim=1).axis == 1
    with pytest.raises(TypeError, match=r"MSELoss.__init__\(\) got an unexpected keyword argument "
                                        r"'size_average'; it accepts reduction"):
        nn.MSELoss(size_average=True)
    from chainrule import data
    loader = data.DataLoader(np.ones((4, 3)), batch_size=2, num_workers=2, pin_memory=True)
    assert len(list(loader)) == 2


def test_python_protocols_on_tensors():
    assert f"{cr.tensor(1.234):.2f}" == "1.23" and f"{cr.ones(2)}" == str(cr.ones(2))
    with pytest.raises(TypeError, match=r"format '.2f' needs a 0-d tensor"):
        f"{cr.ones(2):.2f}"
    with pytest.raises(TypeError, match=r"len\(\) of a 0-d tensor"):
        len(cr.ones(()))
    with pytest.raises(ValueError, match=r"the truth value of a tensor of shape \(2,\) is ambiguous"):
        bool(cr.ones(2))
    assert (cr.tensor([5, -5]) // 2).tolist() == [2, -3] and (7 // cr.tensor([2])).tolist() == [3]
    assert (cr.tensor([5.0, -5.0]) // 2).tolist() == [2, -3]
    assert (cr.tensor([5, -5]) % 3).tolist() == [2, 1] and (7.5 % cr.tensor([2.0])).tolist() == [1.5]


def test_functional_names_pytorch_users_reach_for():
    assert F.one_hot(cr.tensor([0, 2]), 3).tolist() == [[1, 0, 0], [0, 0, 1]]
    with pytest.raises(AttributeError, match=r"'chainrule.nn.functional' has no attribute "
                                             r"'binary_cross_entropy'; write binary_cross_entropy_with_logits"):
        F.binary_cross_entropy
    with pytest.raises(AttributeError, match=r"no attribute 'crossentropy'; did you mean cross_entropy"):
        F.crossentropy


def test_matrix_products_and_in_place_method_hints():
    assert cr.ones(2, 3).mm(cr.ones(3, 2)).shape == (2, 2)
    assert cr.ones(4, 2, 3).bmm(cr.ones(4, 3, 2)).shape == (4, 2, 2)
    for name in ("exp_", "clamp_", "relu_"):
        with pytest.raises(AttributeError, match=rf"no attribute '{name}'; write x = x.{name[:-1]}\(...\), a new "):
            getattr(cr.ones(2), name)
