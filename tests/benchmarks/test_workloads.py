"""The benchmarked computations are the same in every framework: losses, gradients and Jacobians agree."""

import numpy as np
import pytest

from benchmarks import gpt, models, modes, overhead, recurrent, vision

SIZES = (6, 5, 4, 3)


def installed(framework):
    if framework != "chainrule" and framework != "numpy":
        library = pytest.importorskip(framework)
        if framework == "torch":
            library.set_num_threads(1)
    return framework


def first_losses(framework, steps=3):
    to_batch, step = models.trainer(framework, models.init_params(SIZES))
    batch = to_batch(*models.random_batch(SIZES, batch=8))
    return [float(step(*batch)) for _ in range(steps)]


def test_hand_written_numpy_step_trains_like_chainrule():
    numpy_losses = first_losses("numpy")
    np.testing.assert_allclose(first_losses("chainrule"), numpy_losses, rtol=1e-5)
    assert numpy_losses[2] < numpy_losses[0]


@pytest.mark.parametrize("framework", ["torch", "jax", "autograd"])
def test_every_peer_trains_like_the_numpy_floor(framework):
    np.testing.assert_allclose(first_losses(installed(framework)), first_losses("numpy"), rtol=1e-5)


def test_compiled_mlp_step_replays_chainrule_eager_to_float32_rounding():
    # Fused kernels (the cross-entropy's row kernels) round differently: compile(exact=True) is bit for bit.
    np.testing.assert_allclose(first_losses("compiled"), first_losses("chainrule"), rtol=1e-6)


SMALL_LSTM = {"layer": "LSTM", "seq": 6, "batch": 4, "input": 3, "hidden": 5}
CHAINRULE_STEPS = {
    "CNN": lambda framework: vision._chainrule_step("mnist1d-cnn", compile_step=framework == "compiled"),
    "LSTM": lambda framework: recurrent._step(framework, SMALL_LSTM),
    "GPT": gpt._step,
}


@pytest.mark.parametrize("model", list(CHAINRULE_STEPS))
def test_compiled_workload_steps_replay_chainrule_eager_to_float32_rounding(model):
    installed("torch")  # the CNN and the LSTM start from PyTorch's parameters
    eager, replayed = (CHAINRULE_STEPS[model](framework) for framework in ("chainrule", "compiled"))
    eager_losses = [eager() for _ in range(3)]
    np.testing.assert_allclose([replayed() for _ in range(3)], eager_losses, rtol=1e-6)
    assert eager_losses[2] < eager_losses[0]


SHORT_CHAIN = {"graph": "chain", "length": 7, "size": 3}


@pytest.mark.parametrize("case", overhead.cases(quick=True)[::2] + [SHORT_CHAIN])
def test_hand_written_overhead_gradients_match_chainrule(case):
    values = overhead.inputs(case)
    _, by_hand = overhead.BUILDERS["numpy"](case, values)
    _, engine = overhead.BUILDERS["chainrule"](case, values)
    np.testing.assert_allclose(by_hand, engine, rtol=1e-5)


def test_chainrule_jacobians_match_jax_on_both_shapes():
    installed("jax")
    problem = modes.jacobian_problem(5)
    mine, theirs = modes.JACOBIAN_BUILDERS["chainrule"](*problem), modes.JACOBIAN_BUILDERS["jax"](*problem)
    for name, (compute, checksum) in mine.items():
        np.testing.assert_allclose(checksum(compute()), float(theirs[name][0]().sum()), rtol=1e-5)
