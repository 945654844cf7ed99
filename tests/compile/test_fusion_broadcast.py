"""Fused kernels over broadcast operands: a convolution's bias ``(C, 1)`` added to ``(N, C, L)`` and the
ReLU after it are one loop walking ``C * L`` per row; the ReLU's VJP and the bias's gradient (a sum over
``N`` and ``L``) are one loop too; values agree with eager mode in float32 and float64, NaN and
infinities included."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.compile import c_backend, fusion
from chainrule.nn import functional as F

pytestmark = pytest.mark.skipif(c_backend.unavailable() is not None, reason="no C compiler")

RNG = np.random.default_rng(21)


def _bias_relu(shape, bias_shape, dtype):
    bias = cr.tensor(RNG.standard_normal(bias_shape).astype(dtype), requires_grad=True)

    def step(x, g):
        out = cr.relu(cr.tensor(x) * 1.0 + bias)
        out.backward(gradient=g)
        return out, bias.grad
    return bias, step


def _run(step, bias, *args):
    bias.grad = None
    return [np.array(t.data) for t in step(*args)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, bias_shape", [((6, 5, 7), (5, 1)), ((3, 4, 2, 9), (4, 1, 1)),
                                               ((40, 3, 5), (1, 3, 1)), ((4, 6, 40), (6, 1)),
                                               ((5, 8), (8,)), ((2, 3, 4), (3, 4))])
def test_a_broadcast_bias_its_relu_and_the_bias_gradient_agree_with_eager_mode(shape, bias_shape, dtype):
    bias, step = _bias_relu(shape, bias_shape, dtype)
    compiled = cr.compile(step)
    for _ in range(3):
        x = RNG.standard_normal(shape).astype(dtype)
        g = RNG.standard_normal(shape).astype(dtype)
        got, want = _run(compiled, bias, x, g), _run(step, bias, x, g)
        rtol = 1e-6 if dtype == np.float32 else 1e-13
        np.testing.assert_allclose(got[0], want[0], rtol=rtol)
        np.testing.assert_allclose(got[1], want[1], rtol=rtol, atol=rtol * np.abs(g).sum())
    kernels = compiled.program(x, g).kernels()
    members = [[op.name for op in kernel.members] for kernel in kernels]
    assert ["vjp relu[0]", "vjp add[1]"] in [m[-2:] for m in members], members


def test_a_short_last_axis_is_walked_with_the_axes_before_it():
    bias, step = _bias_relu((6, 5, 7), (5, 1), np.float32)
    x = RNG.standard_normal((6, 5, 7)).astype(np.float32)
    program = cr.compile(step).program(x, x)
    [kernel] = program.kernels()
    # One row per example: the inner loop runs over C * L = 35 values, the bias gathered once per call.
    assert "ea" in kernel.source and "(j / 7L)" in kernel.source
    assert kernel.body is None  # a kernel that sums is not rendered for a GPU
    assert "vjp add[1]" in str(program)


def test_index_expressions_read_each_operand_where_numpy_broadcasts_it():
    shape = (3, 4, 5)
    assert fusion._access((3, 4, 5), shape, 2) == (False, "i")
    assert fusion._access((5,), shape, 2) == (False, "j")
    assert fusion._access((3, 4, 1), shape, 2) == (False, "r")
    assert fusion._access((4, 1), shape, 2) == (False, "(r % 4L)")
    assert fusion._access((3, 1, 1), shape, 2) == (False, "(r / 4L)")
    assert fusion._access((4, 1), shape, 1) == (True, "(j / 5L)")
    assert fusion._access((4, 5), shape, 1) == (False, "j")
    assert fusion._access((3, 1, 5), shape, 2) == (False, "(r / 4L) * 5L + j")
    with pytest.raises(fusion._NotFusible):
        fusion._access((2, 5), shape, 2)
    for operand in [(4, 1), (3, 1, 1), (1, 4, 5), (3, 1, 5), (5,), (3, 4, 1)]:  # checked by evaluation
        values = RNG.standard_normal(operand)
        want = np.broadcast_to(values, shape).ravel()
        for split in (1, 2):
            try:
                table, index = fusion._access(operand, shape, split)
            except fusion._NotFusible:
                continue
            m = int(np.prod(shape[split:]))
            flat = values.ravel()
            got = [flat[eval(index.replace("L", "").replace("/", "//"), {"r": i // m, "j": i % m, "i": i})]
                   for i in range(want.size)]
            np.testing.assert_array_equal(got, want, err_msg=f"{operand} split {split}: {index}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_and_infinities_reach_the_bias_gradient_as_in_numpy(dtype):
    bias, step = _bias_relu((2, 3, 8), (3, 1), dtype)
    special = np.array([np.nan, -np.inf, np.inf, -1.5, -0.0, 0.0, 0.5, 2.0])
    x = np.stack([np.stack([special, special[::-1], RNG.standard_normal(8)])] * 2).astype(dtype)
    g = np.where(np.arange(48).reshape(2, 3, 8) % 5 == 0, np.inf, 1.0).astype(dtype)
    g[1, 2, 3] = np.nan
    compiled = cr.compile(step)
    with np.errstate(invalid="ignore"):
        for _ in range(2):
            got, want = _run(compiled, bias, x, g), _run(step, bias, x, g)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
    assert compiled.program(x, g).kernels()


def test_a_conv1d_step_agrees_with_eager_mode_over_20_steps():
    def make():
        cr.manual_seed(0)
        model = nn.Sequential(nn.Conv1d(1, 4, 3), nn.ReLU(), nn.Conv1d(4, 4, 3, stride=2), nn.ReLU(),
                              nn.Flatten(), nn.Linear(12, 3))
        optimizer = optim.Adam(model.parameters(), lr=1e-2)

        def step(x, y):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            return loss
        return model, step
    batches = [(RNG.standard_normal((8, 1, 10)).astype(np.float32), RNG.integers(0, 3, 8)) for _ in range(3)]
    (eager, step), (fused, fused_step) = make(), make()
    compiled = cr.compile(fused_step)
    for i in range(20):
        np.testing.assert_allclose(compiled(*batches[i % 3]).item(), step(*batches[i % 3]).item(), rtol=1e-5)
    for (name, a), b in zip(eager.state_dict().items(), fused.state_dict().values()):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5, err_msg=name)
    names = [[op.name for op in k.members] for k in compiled.program(*batches[0]).kernels()]
    assert ["add", "relu"] in names and ["vjp relu[0]", "vjp add[1]"] in names
