"""Convolution and pooling layers: PyTorch's state_dicts load and give the same logits and gradients;
bad input is refused with one clear error naming the user's line."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.errors import ShapeError

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


def _lenet(lib, **dtype):
    return lib.Sequential(
        lib.Conv2d(1, 6, 5, padding=2, **dtype), lib.BatchNorm2d(6, **dtype), lib.ReLU(), lib.MaxPool2d(2),
        lib.Conv2d(6, 8, 3, groups=2, **dtype), lib.ReLU(), lib.AvgPool2d(2, ceil_mode=True),
        lib.Dropout2d(0.25), lib.Flatten(), lib.Linear(8 * 3 * 3, 10, **dtype))


def _mnist1d_cnn(lib, **dtype):
    return lib.Sequential(
        lib.Conv1d(1, 8, 5, stride=2, padding=1, **dtype), lib.ReLU(), lib.BatchNorm1d(8, **dtype),
        lib.Conv1d(8, 8, 3, stride=2, padding=1, **dtype), lib.ReLU(), lib.MaxPool1d(2),
        lib.Flatten(), lib.Linear(8 * 5, 10, **dtype))


@pytest.mark.parametrize("build,shape", [(_lenet, (4, 1, 14, 14)), (_mnist1d_cnn, (4, 1, 40))])
@pytest.mark.parametrize("training", [True, False])
def test_a_torch_state_dict_gives_the_same_logits_and_gradients(build, shape, training):
    theirs = build(torch.nn).double()
    ours = build(nn, dtype="float64")
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.train(training)
    theirs.train(training)
    for module in (*ours, *theirs):  # dropout's masks differ between the libraries: switch it off
        if type(module).__name__ == "Dropout2d":
            module.p = 0.0
    x = np.random.default_rng(0).standard_normal(shape)
    labels = np.array([0, 3, 9, 1])
    logits, their_logits = ours(x), theirs(torch.tensor(x))
    np.testing.assert_allclose(logits.data, their_logits.detach().numpy(), rtol=1e-9, atol=1e-10)
    F.cross_entropy(logits, labels).backward()
    torch.nn.functional.cross_entropy(their_logits, torch.tensor(labels)).backward()
    for (name, parameter), (_, theirs_parameter) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(parameter.grad.data, theirs_parameter.grad.numpy(), rtol=1e-8, atol=1e-10,
                                   err_msg=name)
    for name, buffer in theirs.state_dict().items():  # running statistics moved the same way
        np.testing.assert_allclose(ours.state_dict()[name].data, buffer.numpy(), rtol=1e-9, atol=1e-12)


def test_conv_transpose_layer_loads_torch_weights():
    theirs = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2).double()
    ours = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dtype="float64")
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((2, 4, 5, 5))
    np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).detach().numpy(), atol=1e-12)


def test_default_initialisation_is_torchs_uniform_bound():
    layer = nn.Conv2d(6, 16, 5, generator=0)
    bound = 1 / np.sqrt(6 * 25)
    for values in (layer.weight.data, layer.bias.data):
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.9 * bound
    transposed = nn.ConvTranspose2d(16, 6, 3, groups=2, generator=0)
    assert transposed.weight.shape == (16, 3, 3, 3)
    assert np.abs(transposed.weight.data).max() <= 1 / np.sqrt(3 * 9)


def test_dropout2d_zeroes_whole_channels_and_scales_the_rest():
    layer = nn.Dropout2d(0.5, generator=0)
    y = layer(cr.ones(8, 16, 3, 3)).data
    per_channel = y.reshape(8, 16, 9)
    assert set(np.unique(per_channel)) == {0.0, 2.0}
    assert (per_channel.min(axis=2) == per_channel.max(axis=2)).all()
    layer.eval()
    np.testing.assert_array_equal(layer(cr.ones(2, 3, 4, 4)).data, 1.0)


def _assert_users_line(error):
    message = str(error.value)
    assert f"{__file__}:" in message.splitlines()[-1], message
    return message


def test_wrong_channel_count_names_the_layer_expected_and_got():
    layer = nn.Conv2d(3, 8, 3)
    with pytest.raises(ShapeError) as error:
        layer(cr.zeros(2, 1, 28, 28))
    message = _assert_users_line(error)
    assert "Conv2d(3, 8, kernel_size=(3, 3)" in message and "3 channels" in message and \
        "(2, 1, 28, 28)" in message


def test_kernel_larger_than_padded_input_is_refused():
    with pytest.raises(ShapeError) as error:
        nn.Conv1d(1, 2, 7, padding=1)(cr.zeros(2, 1, 4))
    message = _assert_users_line(error)
    assert "larger than the padded input (6,)" in message
    with pytest.raises(ShapeError) as error:
        F.max_pool2d(cr.zeros(1, 1, 3, 3), 4)
    _assert_users_line(error)


def test_non_positive_stride_and_groups_that_do_not_divide_are_refused():
    with pytest.raises(ValueError, match="Conv2d: stride must be positive, got 0") as error:
        nn.Conv2d(3, 8, 3, stride=0)
    _assert_users_line(error)
    with pytest.raises(ValueError, match="stride must be positive") as error:
        F.conv2d(cr.zeros(1, 3, 5, 5), cr.zeros(8, 3, 3, 3), stride=(1, -1))
    _assert_users_line(error)
    with pytest.raises(ValueError, match=r"Conv2d: groups=2 must divide the channel counts \(3 and 8\)"):
        nn.Conv2d(3, 8, 3, groups=2)
    with pytest.raises(ValueError, match=r"groups=3 must divide the channel counts \(6 and 4\)") as error:
        F.conv2d(cr.zeros(1, 6, 5, 5), cr.zeros(4, 2, 3, 3), groups=3)
    _assert_users_line(error)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_padding_same_keeps_the_size_and_valid_shrinks_it():
    x = cr.zeros(2, 3, 9, 8)
    assert nn.Conv2d(3, 4, (4, 3), padding="same", dilation=2)(x).shape == (2, 4, 9, 8)
    assert nn.Conv2d(3, 4, 3, padding="valid")(x).shape == (2, 4, 7, 6)
    theirs = torch.nn.functional.conv2d(torch.zeros(2, 3, 9, 8), torch.zeros(4, 3, 4, 3), padding="same")
    assert tuple(theirs.shape) == (2, 4, 9, 8)


def test_pooling_layers_and_global_average():
    x = np.random.default_rng(2).standard_normal((2, 3, 8, 6))
    np.testing.assert_allclose(nn.AdaptiveAvgPool2d(1)(x).data, x.mean(axis=(2, 3), keepdims=True))
    np.testing.assert_allclose(nn.AvgPool1d(2)(x[:, :, 0]).data, x[:, :, 0].reshape(2, 3, 3, 2).mean(-1))
    assert nn.MaxPool2d(3, stride=2, padding=1)(x).shape == (2, 3, 4, 3)
    assert nn.Flatten(0, 1)(x).shape == (6, 8, 6)


def test_padding_strings_are_checked_when_the_layer_is_built():
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding must be an int, a tuple, 'valid', 'same'; not 'full'"):
        nn.Conv1d(3, 4, 3, padding="full")


def test_batchnorm2d_names_itself_in_errors():
    with pytest.raises(ValueError, match="BatchNorm2d: momentum must be"):
        nn.BatchNorm2d(4, momentum=2)
    with pytest.raises(ShapeError, match=r"BatchNorm2d\(4\): expected an input of shape \(N, 4, H, W\)"):
        nn.BatchNorm2d(4)(cr.zeros(2, 4, 3))
