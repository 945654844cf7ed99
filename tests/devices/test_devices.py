"""Devices without a GPU: the CUDA device's one clear error here, and the whole plumbing (transfers,
gradients across devices, mixing errors, ``model.to``, optimiser state, checkpoints) on the fake
device, whose arrays refuse NumPy's as CuPy's do (``chainrule.fake_device``)."""

import sys
import types

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import backend, devices, fake_device
from chainrule.core.tensor import unwrap
from chainrule.errors import DeviceError


@pytest.fixture(scope="module", autouse=True)
def fake():
    return fake_device.enable()


def _host(t):
    return devices.to_host(t.data)


# -- CUDA on a machine without one ----------------------------------------------------------------

def _forget_cuda():
    for key in [k for k in devices._made if k[0] == "cuda"]:
        del devices._made[key]


def test_cuda_without_cupy_is_one_clear_error(monkeypatch):
    _forget_cuda()
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    with pytest.raises(DeviceError, match=r"no CUDA device is available: CuPy is not installed.*chainrule\[gpu\]"):
        cr.tensor([1.0, 2.0], device="cuda")
    with pytest.raises(DeviceError, match="no CUDA device is available"):
        cr.tensor([1.0]).to("cuda")
    with pytest.raises(DeviceError, match="no CUDA device is available"):
        cr.nn.Linear(2, 2).cuda()
    assert cr.cuda.is_available() is False
    assert cr.cuda.device_count() == 0


def test_cuda_with_cupy_but_no_gpu_says_what_cuda_answered(monkeypatch):
    _forget_cuda()

    class CUDARuntimeError(RuntimeError):
        pass

    def no_device():
        raise CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
    runtime = types.SimpleNamespace(getDeviceCount=no_device)
    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime)))
    with pytest.raises(DeviceError, match="CuPy is installed but CUDA answers CUDARuntimeError: "
                                          "cudaErrorNoDevice"):
        cr.zeros(2, 3, device="cuda")
    runtime.getDeviceCount = lambda: 1
    with pytest.raises(DeviceError, match=r"no CUDA device cuda:1: this machine has 1 \(cuda:0 to cuda:0\)"):
        cr.zeros(2, device="cuda:1")


def test_unknown_devices_and_indices_are_refused_by_name():
    with pytest.raises(ValueError, match="unknown device 'mps'; chainrule's devices are 'cpu', 'cuda'"):
        cr.tensor([1.0]).to("mps")
    with pytest.raises(ValueError, match="one CPU device"):
        cr.tensor([1.0], device="cpu:1")
    with pytest.raises(ValueError, match="whole number"):
        cr.tensor([1.0], device="cuda:x")


# -- devices by name, as PyTorch's ----------------------------------------------------------------

def test_device_names_compare_as_pytorch_users_write_them():
    x = cr.tensor([1.0, 2.0])
    assert x.device == "cpu" and str(x.device) == "cpu" and repr(x.device) == "device(type='cpu')"
    assert not x.is_cuda and x.cpu() is x and x.to("cpu") is x
    y = x.to("fake")
    assert y.device == "fake" and y.device == "fake:0" and y.device != "cpu"
    assert repr(y.device) == "device(type='fake', index=0)" and y.device.type == "fake"
    assert repr(y) == "tensor([1., 2.], device='fake:0')"
    assert type(y.data) is fake_device.FakeArray and type(x.data) is np.ndarray
    assert y.to("fake") is y


def test_creation_takes_a_device_and_draws_what_the_cpu_draws():
    for make in (lambda d: cr.zeros(2, 3, device=d), lambda d: cr.full((2,), 1.5, device=d),
                 lambda d: cr.arange(5, device=d), lambda d: cr.eye(3, device=d),
                 lambda d: cr.randn(4, generator=7, device=d), lambda d: cr.rand(2, 2, generator=3, device=d),
                 lambda d: cr.randint(0, 9, (3,), generator=1, device=d),
                 lambda d: cr.tensor([[1, 2]], dtype="float32", device=d)):
        on_cpu, on_fake = make(None), make("fake")
        assert on_fake.device == "fake" and on_fake.dtype == on_cpu.dtype
        np.testing.assert_array_equal(_host(on_fake), on_cpu.data)
    like = cr.zeros_like(cr.ones(2, device="fake"))
    assert like.device == "fake"


def test_values_leave_a_device_only_when_asked():
    y = cr.tensor([1.0, 2.0], device="fake")
    with pytest.raises(TypeError, match="on fake:0; copy it to the host first with .cpu"):
        y.numpy()
    with pytest.raises(TypeError, match="copy it to the host first with .cpu"):
        np.asarray(y)
    np.testing.assert_array_equal(y.cpu().numpy(), [1.0, 2.0])
    assert y.tolist() == [1.0, 2.0] and (y * 2).sum().item() == 6.0 and float(y[1]) == 2.0


# -- operations, gradients and transfers ----------------------------------------------------------

def test_mixing_devices_is_an_error_naming_both_and_the_users_line():
    x, y = cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0], device="fake")
    with pytest.raises(DeviceError) as caught:
        x + y  # the line the message must point to
    message = str(caught.value)
    assert message.startswith("add: its inputs are on two devices, cpu and fake:0")
    assert "test_devices.py" in message and "x + y  # the line the message must point to" in message
    with pytest.raises(DeviceError, match="matmul: its inputs are on two devices, fake:0 and cpu"):
        cr.matmul(y.reshape(1, 2), np.ones((2, 1)))


def test_a_0d_cpu_value_joins_a_device_operation_as_in_pytorch():
    y = cr.tensor([1.0, 2.0], device="fake")
    z = y * cr.tensor(3.0) + np.float64(1.0) + np.array(1.0)
    assert z.device == "fake"
    np.testing.assert_array_equal(_host(z), [5.0, 8.0])


def test_gradients_flow_back_across_a_transfer_to_the_device_they_came_from():
    x = cr.tensor([0.5, -1.0, 2.0], requires_grad=True)
    on_fake = x.to("fake")
    assert on_fake.grad_fn == "transfer"
    loss = (cr.tanh(on_fake) * on_fake).sum().cpu()
    assert loss.device == "cpu"
    loss.backward()
    assert x.grad.device == "cpu"
    expected = np.tanh(x.data) + x.data * (1 - np.tanh(x.data) ** 2)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12)


def test_leaves_on_a_device_get_gradients_there_to_any_order():
    w = cr.tensor([0.3, 0.7], device="fake", requires_grad=True)
    (w ** 3).sum().backward()
    assert w.grad.device == "fake"
    np.testing.assert_allclose(_host(w.grad), 3 * np.array([0.3, 0.7]) ** 2)
    second = cr.grad(lambda v: cr.grad(lambda u: (u ** 3).sum())(v).sum())(w.detach())
    assert second.device == "fake"
    np.testing.assert_allclose(_host(second), 6 * np.array([0.3, 0.7]))
    primal, tangent = cr.jvp(lambda u: cr.sin(u).cpu(), (w.detach(),), (cr.ones(2, dtype="float64", device="fake"),))
    assert primal.device == tangent.device == "cpu"
    np.testing.assert_allclose(tangent.data, np.cos([0.3, 0.7]))


# -- modules, optimisers and checkpoints ----------------------------------------------------------

def _mlp(seed=0):
    cr.manual_seed(seed)
    return cr.nn.Sequential(cr.nn.Linear(6, 8), cr.nn.ReLU(), cr.nn.Dropout(0.0), cr.nn.Linear(8, 3))


def _train(model, device, optimizer, steps=4):
    rng = np.random.default_rng(1)
    x = cr.tensor(rng.standard_normal((5, 6)).astype("float32"), device=device)
    y = cr.tensor(rng.integers(0, 3, 5), device=device)
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        cr.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("make", [lambda p: cr.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-3),
                                  lambda p: cr.optim.AdamW(p, lr=0.01), lambda p: cr.optim.RMSprop(p, lr=0.01),
                                  lambda p: cr.optim.Adagrad(p, lr=0.1)],
                         ids=["sgd", "adamw", "rmsprop", "adagrad"])
def test_a_model_moved_to_a_device_trains_exactly_as_on_the_cpu(make):
    on_cpu = _mlp()
    expected = _train(on_cpu, None, make(on_cpu.parameters()))
    model = _mlp().to("fake")
    assert all(p.device == "fake" for p in model.parameters())
    optimizer = make(model.parameters())
    assert _train(model, "fake", optimizer) == expected
    for state in optimizer.state.values():  # the optimiser's state was made beside its parameters
        assert all(type(v) is fake_device.FakeArray for v in state.values() if hasattr(v, "shape") and v.ndim)
    for p, q in zip(model.parameters(), on_cpu.parameters()):
        np.testing.assert_array_equal(_host(p), q.data)
        assert p.grad.device == "fake"


def test_model_to_moves_gradients_and_back_and_keeps_the_parameters_objects():
    model = _mlp()
    weight = model[0].weight
    F.cross_entropy(model(cr.ones(2, 6)), np.array([0, 1])).backward()
    grad = weight.grad.data.copy()
    assert model.to("fake") is model and model[0].weight is weight
    assert weight.device == "fake" and weight.grad.device == "fake"
    np.testing.assert_array_equal(_host(weight.grad), grad)
    model.cpu()
    assert type(weight.data) is np.ndarray and type(weight.grad.data) is np.ndarray


def test_checkpoints_from_a_device_load_on_the_cpu_and_the_other_way_round(tmp_path):
    model = _mlp(seed=3).to("fake")
    optimizer = cr.optim.Adam(model.parameters(), lr=0.01)
    _train(model, "fake", optimizer, steps=2)
    cr.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "fake.ckpt")
    loaded = cr.load(tmp_path / "fake.ckpt")
    assert all(type(unwrap(v)) is np.ndarray for v in loaded["model"].values())
    on_cpu = _mlp(seed=9)
    on_cpu.load_state_dict(loaded["model"])
    for p, q in zip(on_cpu.parameters(), model.parameters()):
        np.testing.assert_array_equal(p.data, _host(q))
    cpu_optimizer = cr.optim.Adam(on_cpu.parameters(), lr=0.01)
    cpu_optimizer.load_state_dict(loaded["optimizer"])
    # both continue identically: the state travelled with the weights
    assert _train(on_cpu, None, cpu_optimizer, steps=2) == _train(model, "fake", optimizer, steps=2)
    # and back: a CPU checkpoint into a model on the device keeps it there
    back = _mlp(seed=5).to("fake")
    back.load_state_dict(on_cpu.state_dict())
    assert all(p.device == "fake" for p in back.parameters())
    back_optimizer = cr.optim.Adam(back.parameters(), lr=0.01)
    back_optimizer.load_state_dict(cpu_optimizer.state_dict())
    assert all(type(v) is fake_device.FakeArray for s in back_optimizer.state.values()
               for v in s.values() if hasattr(v, "ndim") and v.ndim)


def test_the_cpu_path_never_looks_at_types_until_an_array_leaves_it():
    # backend.placed switches the per-operation device check on; the fake device turned it on here
    assert backend.placed is True
    assert backend.namespace_of(np.ones(2)) is np
    assert backend.namespace_of(cr.ones(2, device="fake").data) is fake_device.namespace


def test_a_gpt_on_a_device_samples_the_cpus_tokens_through_its_cache():
    # the cache's causal mask is made on the host and must follow the queries to their device; the
    # samples are drawn on the host, so a seed gives the same tokens on either device
    from chainrule.nn.gpt import GPT, GPTConfig
    model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8))
    model.eval()
    prompt = np.array([[1, 2, 3]])
    on_cpu = model.generate(prompt, 12, top_k=5, generator=5)  # 12 tokens: the cache is rebuilt twice
    on_fake = model.to("fake").generate(prompt, 12, top_k=5, generator=5)
    assert type(on_fake) is np.ndarray and on_fake.shape == (1, 15)
    np.testing.assert_array_equal(on_fake, on_cpu)
    with pytest.raises(DeviceError, match="attention: its inputs are on two devices, fake:0 and cpu"):
        q = cr.ones(1, 2, 4, device="fake")
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((2, 2), dtype=bool))


def test_batches_are_placed_where_the_model_is_from_arrays_and_tensors():
    from chainrule.train.placing import on_host, placer
    put = placer(_mlp().to("fake"))
    for batch in (np.arange(6.0).reshape(2, 3), cr.tensor(np.arange(6.0).reshape(2, 3)), [[0, 1, 2], [3, 4, 5]]):
        placed = put(batch)
        assert placed.device == "fake"
        np.testing.assert_array_equal(on_host(placed), np.arange(6.0).reshape(2, 3))
    assert placer(_mlp()) is cr.Tensor  # on the CPU: no copy
