"""The vision benchmark runs the same computation in chainrule and PyTorch: the first losses agree."""

import numpy as np
import pytest

from benchmarks import vision


# conv3x3 at full size is slow to run twice here; tests/nn/test_conv_torch.py checks the same primitive.
@pytest.mark.parametrize("name", ["mnist1d-cnn", "lenet5", "maxpool2x2"])
def test_chainrule_and_torch_steps_agree(name):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    theirs, ours = vision._torch_step(name), vision._chainrule_step(name)
    np.testing.assert_allclose([ours() for _ in range(2)], [theirs() for _ in range(2)], rtol=2e-4)


@pytest.mark.parametrize("name", ["lenet5"])  # conv, max-pool and dense layers in one
def test_jax_steps_agree_with_torch(name):
    pytest.importorskip("jax")
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    theirs, jax_step = vision._torch_step(name), vision._jax_step(name)
    np.testing.assert_allclose([jax_step() for _ in range(2)], [theirs() for _ in range(2)], rtol=2e-4)
