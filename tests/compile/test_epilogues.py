"""A dense layer's bias and ReLU in one pass after the product (chainrule/compile/epilogues.py), and the
ReLU's VJP with the bias's gradient in one loop: values agree with eager mode in float32 and float64,
NaN and infinities included, for 2-D and 3-D inputs."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.compile import c_backend
from chainrule.nn import functional as F

pytestmark = pytest.mark.skipif(c_backend.unavailable() is not None, reason="no C compiler")

RNG = np.random.default_rng(3)


def _layer(dtype, fan_in=6, fan_out=5):
    layer = nn.Linear(fan_in, fan_out, generator=0)
    for p in layer.parameters():
        p.data = p.data.astype(dtype)
    return layer


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 6), (2, 3, 6)])
def test_linear_then_relu_is_one_operation_and_agrees_with_eager_mode(shape, dtype):
    layer = _layer(dtype)

    def step(x, g):
        layer.zero_grad()
        out = F.relu(layer(x))
        out.backward(gradient=g)
        return out, layer.weight.grad, layer.bias.grad
    compiled = cr.compile(step)
    for _ in range(3):
        x = RNG.standard_normal(shape).astype(dtype)
        g = RNG.standard_normal((*shape[:-1], 5)).astype(dtype)
        got = [np.array(t.data) for t in compiled(x, g)]
        want = [np.array(t.data) for t in step(x, g)]
        rtol = 1e-6 if dtype == np.float32 else 1e-13
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
    program = compiled.program(x, g)
    names = [op.name for op in program.ops]
    assert "fused linear+relu" in names and "relu" not in names and "linear" not in names
    [kernel] = program.kernels()
    assert [op.name for op in kernel.members] == ["vjp relu[0]", "vjp linear[2]"]  # the bias's sum in the loop


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_and_infinities_pass_through_the_epilogue_as_through_numpy(dtype):
    layer = _layer(dtype, fan_in=2, fan_out=8)
    layer.bias.data[...] = [np.nan, -np.inf, np.inf, -1.5, -0.0, 0.0, 0.5, 2.0]

    def forward(x):
        return F.relu(layer(x))
    x = np.array([[1.0, 0.0], [np.inf, 1.0], [np.nan, 0.0], [-1e30, 1e30]], dtype)
    compiled = cr.compile(forward)
    with np.errstate(invalid="ignore", over="ignore"):
        for _ in range(2):
            np.testing.assert_array_equal(compiled(x).numpy(), forward(x).numpy())
    assert "fused linear+relu" in str(compiled.program(x))


def test_a_linear_whose_result_is_read_elsewhere_keeps_its_own_operation():
    layer = _layer(np.float32)

    def forward(x):
        z = layer(x)
        return F.relu(z) + z
    x = RNG.standard_normal((4, 6)).astype(np.float32)
    compiled = cr.compile(forward)
    np.testing.assert_allclose(compiled(x).numpy(), forward(x).numpy(), rtol=1e-6)
    assert "linear+relu" not in str(compiled.program(x))


def test_an_mlp_trained_100_steps_agrees_with_eager_mode():
    def make():
        cr.manual_seed(0)
        model = nn.MLP([10, 32, 32, 4], seed=0)
        optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

        def step(x, y):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            return loss
        return model, step
    batches = [(RNG.standard_normal((16, 10)).astype(np.float32), RNG.integers(0, 4, 16)) for _ in range(4)]
    (eager, step), (fused, fused_step) = make(), make()
    compiled = cr.compile(fused_step)
    losses = [(compiled(*batches[i % 4]).item(), step(*batches[i % 4]).item()) for i in range(100)]
    np.testing.assert_allclose(*zip(*losses), rtol=1e-4, atol=1e-5)
    for (name, a), b in zip(eager.state_dict().items(), fused.state_dict().values()):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4, err_msg=name)
    assert "fused linear+relu" in str(compiled.program(*batches[0]))
