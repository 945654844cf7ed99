"""The GPU script's timed steps, run here on the CPU: one step definition serves chainrule and PyTorch,
and it trains in both (the GPT from the same weights: the same losses)."""

import math

import numpy as np
import pytest

from benchmarks import gpu


def test_the_gpt_step_is_the_same_program_in_both():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    ours, theirs = gpu._step("chainrule", "gpt-12x64", "cpu"), gpu._step("torch", "gpt-12x64", "cpu")
    np.testing.assert_allclose([ours().item() for _ in range(2)], [theirs().item() for _ in range(2)],
                               rtol=2e-4)


@pytest.mark.parametrize("name", ["lenet-512", "mlp-4096"])
@pytest.mark.parametrize("framework", ["chainrule", "torch"])
def test_the_classifier_steps_train(framework, name):
    if framework == "torch":
        pytest.importorskip("torch").set_num_threads(1)
    step = gpu._step(framework, name, "cpu")
    first, second = step().item(), step().item()
    assert abs(first - math.log(10)) < 0.05 and second < first
