"""Fused kernels: compiled steps agree with eager mode to float32 rounding over 100 steps for each model
family, the listing shows each kernel and Program.source() its C, kernels are cached on disk, vector
math is accurate, and without a C compiler a step replays NumPy after one warning."""

import os
import sys
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.compile import c_backend, fusion
from chainrule.nn import functional as F
from chainrule.nn.gpt import GPT, GPTConfig

pytestmark = pytest.mark.skipif(c_backend.unavailable() is not None, reason="no C compiler")

RNG = np.random.default_rng(22)

# Tolerances of a fused step against eager mode, float32: one step's values agree to a few ulp
# (FUSED_RTOL); after 100 steps parameters agree to 1e-4 relative, and to 1e-4 absolute where Adam
# turns a gradient at rounding level into a step of its sign. A loss near zero is logsumexp(z) - z_y, a
# difference of two numbers near |z|: it agrees to LOSS_ATOL (a few ulp of |z|), not relatively.
# In the CNN a last-bit difference (the cross-entropy's row kernel: glibc's expf against NumPy's) moves
# a max-pool choice at a near tie around step 25; the parameters then keep an offset of ~1e-3 that does
# not grow (KINK_ATOL), while the losses still agree.
FUSED_RTOL, STEPS_RTOL, STEPS_ATOL, LOSS_ATOL, KINK_ATOL = 1e-6, 1e-4, 1e-4, 1e-5, 2e-3


def _train(make, batches, steps, compiled):
    cr.manual_seed(0)
    model, optimizer, step = make()
    if compiled:
        step = cr.compile(step)
    losses = [step(*batches[i % len(batches)]).item() for i in range(steps)]
    return model, losses, step


def _step(model, optimizer, loss_fn=F.cross_entropy, clip=None):
    def step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        return loss
    return step


class _Recurrent(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.rnn = cell(3, 6, batch_first=True)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        output, _ = self.rnn(x)
        return self.head(F.gelu(output[:, -1]))


def _gpt():
    model = GPT(GPTConfig(vocab_size=11, block_size=6, n_layer=1, n_head=2, n_embd=8, dropout=0.1),
                generator=0)
    optimizer = optim.AdamW(model.parameters(), lr=1e-3)

    def step(idx, targets):
        optimizer.zero_grad()
        _, loss = model(idx, targets)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss
    return model, optimizer, step


MLP = [(RNG.standard_normal((16, 12)).astype(np.float32), RNG.integers(0, 4, 16)) for _ in range(5)]
IMAGES = [(RNG.standard_normal((4, 1, 8, 8)).astype(np.float32), RNG.integers(0, 3, 4)) for _ in range(3)]
SEQUENCES = [(RNG.standard_normal((4, 5, 3)).astype(np.float32), RNG.integers(0, 3, 4)) for _ in range(3)]
TOKENS = [(RNG.integers(0, 11, (2, 6)), RNG.integers(0, 11, (2, 6))) for _ in range(3)]

FAMILIES = {
    "mlp-sgd-nesterov": (MLP, lambda: _with(nn.MLP([12, 16, 16, 4], dropout=0.2, norm="batch", seed=0),
                                            lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True,
                                                                weight_decay=1e-4))),
    "mlp-gelu-adam": (MLP, lambda: _with(nn.Sequential(nn.Linear(12, 16), nn.GELU(), nn.Linear(16, 16),
                                                       nn.Tanh(), nn.Linear(16, 4)),
                                         lambda p: optim.Adam(p, lr=1e-3))),
    "mlp-adamw": (MLP, lambda: _with(nn.MLP([12, 16, 16, 4], seed=0), lambda p: optim.AdamW(p, lr=1e-3))),
    "cnn": (IMAGES, lambda: _with(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                                nn.Linear(36, 3)), lambda p: optim.SGD(p, lr=0.05, momentum=0.9))),
    "lstm": (SEQUENCES, lambda: _with(_Recurrent(nn.LSTM), lambda p: optim.Adam(p, lr=1e-2), clip=1.0)),
    "gru": (SEQUENCES, lambda: _with(_Recurrent(nn.GRU), lambda p: optim.AdamW(p, lr=1e-2))),
    "gpt": (TOKENS, _gpt),
}


def _with(model, make_optimizer, loss_fn=F.cross_entropy, clip=None):
    optimizer = make_optimizer(model.parameters())
    return model, optimizer, _step(model, optimizer, loss_fn, clip)


@pytest.mark.parametrize("family", FAMILIES)
def test_100_fused_steps_agree_with_100_eager_steps_to_float32_rounding(family):
    batches, make = FAMILIES[family]
    eager, eager_losses, _ = _train(make, batches, 100, compiled=False)
    fused, fused_losses, step = _train(make, batches, 100, compiled=True)
    assert step.recordings == 1
    np.testing.assert_allclose(fused_losses[:2], eager_losses[:2], rtol=FUSED_RTOL)
    np.testing.assert_allclose(fused_losses, eager_losses, rtol=STEPS_RTOL, atol=LOSS_ATOL)
    first, second = eager.state_dict(), fused.state_dict()
    assert first.keys() == second.keys()
    for key in first:
        np.testing.assert_allclose(second[key], first[key], rtol=STEPS_RTOL,
                                   atol=KINK_ATOL if family == "cnn" else STEPS_ATOL, err_msg=key)
    assert eager_losses[-1] < eager_losses[0]


def _gelu_chain(x):
    """The exact GELU as five elementwise operations (``F.gelu`` on the CPU is one primitive with its
    own kernels, chainrule/ops/gelu.py; composed, it is fused, as on a device)."""
    return 0.5 * x * (1 + cr.erf(x * 2 ** -0.5))


def test_a_gelu_chain_and_its_gradient_become_one_kernel_each_shown_in_the_listing():
    w = cr.tensor(RNG.standard_normal((5, 7)).astype(np.float32), requires_grad=True)

    def step(x):
        loss = _gelu_chain(x @ w).sum()
        loss.backward()
        return loss
    compiled = cr.compile(step)
    for _ in range(3):
        x = RNG.standard_normal((4, 5)).astype(np.float32)
        w.grad = None
        value = compiled(x).item()
        gradient, w.grad = w.grad.numpy().copy(), None
        assert value == pytest.approx(step(x).item(), rel=FUSED_RTOL)
        np.testing.assert_allclose(gradient, w.grad.numpy(), rtol=1e-5, atol=1e-6)
    program = compiled.program(x)
    kernels = program.kernels()
    assert [[op.name for op in k.members] for k in kernels] == [
        ["mul", "mul", "erf", "add", "mul"], ["vjp mul[0]", "vjp mul[1]", "vjp erf[0]", "vjp mul[0]",
                                              "vjp mul[1]", "add"]]
    assert kernels[0].bytes_read == 4 * 7 * 4 and kernels[0].bytes_written == 4 * 7 * 4 * 4
    listing = str(program)
    assert f"kernel {kernels[0].name}: reads 112 B, writes 448 B (5 operations in one loop)" in listing
    assert "loss = _gelu_chain(x @ w).sum()  (test_fusion.py:" in listing
    source = program.source()
    assert source.startswith("def replay(") and "ERF(v" in source and "#pragma omp simd" in source


def test_a_bias_and_per_row_statistics_are_read_by_the_loop():
    x = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    bias = RNG.standard_normal(5).astype(np.float32)

    def f(x):
        t = cr.tensor(x)
        centred = t - t.mean(axis=-1, keepdims=True)
        return cr.tanh(centred * 2.0 + bias)
    compiled = cr.compile(f)
    np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=FUSED_RTOL, atol=1e-7)
    np.testing.assert_allclose(compiled(x * 3).numpy(), f(x * 3).numpy(), rtol=FUSED_RTOL, atol=1e-7)
    [kernel] = compiled.program(x).kernels()
    assert len(kernel.members) == 4


def test_exact_keeps_numpy_operations_and_the_optimisers_own_step():
    model = nn.MLP([4, 8, 3], seed=0)
    optimizer = optim.Adam(model.parameters())
    step = cr.compile(_step(model, optimizer), exact=True)
    x, y = np.ones((2, 4), np.float32), np.array([0, 2])
    program = step.program(x, y)
    assert program.kernels() == [] and "fused" not in str(program)


def test_kernels_are_cached_on_disk_under_the_users_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_CACHE", str(tmp_path))
    source = "int chainrule_cache_test(int x) { return 3 * x; }"
    before = (c_backend.stats.built, c_backend.stats.cached)
    c_backend._loaded.clear()
    assert c_backend.build(source).chainrule_cache_test(2) == 6
    c_backend._loaded.clear()
    assert c_backend.build(source).chainrule_cache_test(5) == 15
    assert (c_backend.stats.built, c_backend.stats.cached) == (before[0] + 1, before[1] + 1)
    files = sorted(os.listdir(tmp_path / "kernels"))
    assert len(files) == 2 and files[0].endswith(".c") and files[1].endswith(".so")
    assert open(tmp_path / "kernels" / files[0]).read() == source


def test_loading_kernels_leaves_numpys_subnormal_numbers_alone():
    # Regression: a library linked with -ffast-math set flush-to-zero for the whole process on loading.
    c_backend.build("float chainrule_ftz_test(float x) { return x * 0.5f; }")
    cr.compile(lambda t: cr.tanh(t) * 2.0)(np.ones(4, np.float32))
    assert np.float32(1e-39) * np.float32(1) != 0
    assert np.spacing(np.float32(2e-34)) > 0


def test_a_compiler_error_is_reported_with_its_messages():
    with pytest.raises(OSError, match="error"):
        c_backend.build("this is not C")


def test_without_a_compiler_steps_replay_numpy_after_one_warning(monkeypatch):
    compile_module = sys.modules["chainrule.compile"]
    monkeypatch.setattr(c_backend, "unavailable", lambda: "no C compiler found (test)")
    monkeypatch.setattr(compile_module, "_warned", [])
    w = cr.tensor(np.ones(3), requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = cr.compile(lambda x: cr.tanh(w * x).sum())
        g = cr.compile(lambda x: cr.exp(w * x).sum())
        assert f(np.arange(3.0)).item() == cr.tanh(w * np.arange(3.0)).sum().item()
        g(np.arange(3.0))
    messages = [str(c.message) for c in caught if "fused kernels are off" in str(c.message)]
    assert messages == ["chainrule.compile: fused kernels are off (no C compiler found (test)); compiled "
                        "steps replay NumPy operations"]
    assert f.program(np.arange(3.0)).kernels() == []


@pytest.mark.parametrize("name, reference, low, high", [
    ("exp", np.exp, -80.0, 80.0), ("tanh", np.tanh, -10.0, 10.0), ("erf", None, -5.0, 5.0),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), -30.0, 30.0), ("log", np.log, 1e-3, 1e3)])
def test_float32_vector_math_in_kernels_is_within_a_few_ulp_of_numpy(name, reference, low, high):
    if reference is None:
        scipy = pytest.importorskip("scipy.special")
        reference = scipy.erf
    x = np.linspace(low, high, 100_003).astype(np.float32)
    got = cr.compile(lambda t: getattr(cr, name)(t))(x).numpy()
    assert cr.compile(lambda t: getattr(cr, name)(t)).program(x).kernels(), name  # really a kernel
    want = reference(x.astype(np.float64)).astype(np.float32)
    normal = np.abs(want) > np.finfo(np.float32).tiny  # ulp of normal numbers (subnormals: flushed)
    ulp = np.abs(got[normal].astype(np.float64) - want[normal]) / np.spacing(np.abs(want[normal]))
    assert np.max(ulp) <= 4, name


def test_kernel_templates_cover_only_registered_primitives():
    from chainrule.core.primitive import REGISTRY
    assert set(fusion.FORWARD) <= set(REGISTRY)
    assert {name.split("[")[0] for name in fusion.VJP} <= set(REGISTRY)


SPECIAL = np.array([[np.nan, -np.inf, np.inf, -1.5, -0.0, 0.0, 0.5, 2.0]], np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", [
    lambda x, y: cr.relu(x * 1.5),
    lambda x, y: cr.maximum(x * 1.0, y),
    lambda x, y: cr.minimum(x * 1.0, y),
    lambda x, y: cr.maximum(cr.tensor(y) * 1.0, x),
    lambda x, y: cr.minimum(cr.tensor(y) * 1.0, x),
    lambda x, y: cr.clip(x * 1.0, -1.0, 1.0),
    lambda x, y: cr.clip(x * 1.0, 0.0, None),
    lambda x, y: cr.clip(x * 1.0, None, 0.5),
], ids=["relu", "maximum", "minimum", "maximum-nan-right", "minimum-nan-right", "clip", "clip-low",
        "clip-high"])
def test_nan_and_infinities_pass_through_fused_kernels_as_through_numpy(fn, dtype):
    # Regression: the generated MAX dropped a NaN on its left (x > 0 ? x : 0), and -ffinite-math-only
    # let the compiler assume there is none.
    w = cr.tensor(np.ones(8, dtype), requires_grad=True)
    x = np.concatenate([SPECIAL, SPECIAL[:, ::-1], RNG.standard_normal((2, 8))]).astype(dtype)
    y = np.concatenate([SPECIAL[:, ::-1], SPECIAL, RNG.standard_normal((2, 8))]).astype(dtype)

    def step(x, y, g):
        out = fn(x * w, y)
        out.backward(gradient=g)
        return out, w.grad
    compiled = cr.compile(step)
    gradients = (np.ones((4, 8), dtype), np.where(np.isfinite(x), 2.0, np.nan).astype(dtype))
    with np.errstate(invalid="ignore"):  # inf * 0 in eager mode's rules
        for g in gradients:
            w.grad = None
            got, got_grad = (np.asarray(t.data).copy() for t in compiled(x, y, g))
            w.grad = None
            want, want_grad = (t.data for t in step(x, y, g))
            np.testing.assert_array_equal(got, want)  # NaN where NumPy has NaN, same infinities
            np.testing.assert_allclose(got_grad, want_grad, rtol=1e-6)
    assert compiled.program(x, y, g).kernels(), "the chain ran as a fused kernel"


@pytest.mark.skipif(c_backend.unavailable() is not None, reason="no C compiler")
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_the_update_kernels_take_a_linear_layers_transposed_weights(kind):
    from chainrule.compile.fused_updates import fused_step
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)

    def stepped():  # a Linear whose weight is stored transposed (F-ordered), after its first step
        model = nn.Linear(5, 3, generator=0)
        model.weight.data = np.asfortranarray(model.weight.data)
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if kind == "sgd" else \
            optim.Adam(model.parameters(), lr=0.1)
        for _ in range(2):
            optimizer.zero_grad()
            F.mse_loss(model(x), np.zeros((4, 3), np.float32)).backward()
            if _ == 0:
                optimizer.step()
        return model, optimizer
    model, optimizer = stepped()
    optimizer.step()
    fused_model, fused_optimizer = stepped()
    assert not fused_model.weight.data.flags.c_contiguous
    calls = []
    fused_optimizer.step = lambda: calls.append(1)  # the kernels, not a fall back to the optimiser's step
    fused_step(fused_optimizer)()
    assert calls == []
    for p, q in zip(model.parameters(), fused_model.parameters()):
        np.testing.assert_allclose(q.data, p.data, rtol=1e-6, atol=1e-7)


@pytest.mark.skipif(c_backend.unavailable() is not None, reason="no C compiler")
def test_a_tied_weight_whose_gradient_has_another_layout_is_updated_by_the_kernels():
    # The GPT's embedding is the output layer's weight: F-ordered, while its gradient (the embedding's
    # scatter plus the product's) is C-ordered; the update copies the gradient into the weight's layout
    # instead of falling back to the optimiser's own step for every parameter.
    (idx, targets), = TOKENS[:1]
    model, optimizer, step = _gpt()
    fused, fused_optimizer, fused_step = _gpt()
    step = cr.compile(step, exact=True)
    fused_step = cr.compile(fused_step)
    for _ in range(2):  # recorded (the optimiser makes its state), then replayed
        step(idx, targets), fused_step(idx, targets)
    tied = fused.transformer.wte.weight
    assert tied.data.flags.f_contiguous and not tied.data.flags.c_contiguous
    calls = []
    fused_optimizer.step = lambda: calls.append(1)
    cr.manual_seed(0)
    step(idx, targets)
    cr.manual_seed(0)
    fused_step(idx, targets)
    assert calls == []
    for p, q in zip(model.parameters(), fused.parameters()):
        np.testing.assert_allclose(q.data, p.data, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["adam", "adamw", "sgd", "sgd-nesterov", "sgd-plain"])
def test_one_update_call_per_dtype_takes_every_group_and_its_own_step_counts(kind):
    from chainrule.compile.fused_updates import fused_step
    rng = np.random.default_rng(5)
    shapes = [((3, 4), np.float32), ((5,), np.float64), ((2, 2), np.float32), ((7,), np.float64)]

    def made():
        params = [cr.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
                  for shape, dtype in shapes]
        groups = [{"params": params[:2], "lr": 0.01}, {"params": params[2:], "lr": 0.003, "weight_decay": 0.1}]
        if kind.startswith("sgd"):
            momentum = 0.0 if kind == "sgd-plain" else 0.9
            return params, optim.SGD(groups, lr=0.1, momentum=momentum, nesterov=kind == "sgd-nesterov")
        return params, (optim.Adam if kind == "adam" else optim.AdamW)(groups, betas=(0.8, 0.95))
    state = rng.bit_generator.state
    params, optimizer = made()
    rng.bit_generator.state = state
    fused_params, fused_optimizer = made()
    fused = fused_step(fused_optimizer)
    for step in range(4):
        for i, (p, q) in enumerate(zip(params, fused_params)):
            p.grad = cr.tensor(rng.standard_normal(p.data.shape).astype(p.data.dtype))
            q.grad = cr.tensor(p.grad.data.copy())
            if step == 2 and i == 3:  # no gradient: skipped, its step count one behind the others'
                p.grad = q.grad = None
        optimizer.step()
        fused()  # the first step makes the state through the optimiser's own step
    keys = ("exp_avg", "exp_avg_sq", "step") if kind.startswith("adam") else ("momentum_buffer",)
    if kind.startswith("adam"):
        assert fused_optimizer.state[fused_params[3]]["step"] == 3
    for p, q in zip(params, fused_params):
        rtol = 1e-6 if p.data.dtype == np.float32 else 1e-13
        np.testing.assert_allclose(q.data, p.data, rtol=rtol, atol=rtol)
        for key in keys:
            want, got = optimizer.state[p].get(key), fused_optimizer.state[q].get(key)
            assert (want is None) == (got is None), key
            if want is not None:
                np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


@pytest.mark.skipif(c_backend.unavailable() is not None, reason="no C compiler")
def test_the_update_kernels_follow_a_new_lr_momentum_turned_on_and_a_loaded_state():
    # The kernels' addresses and numbers are kept from step to step: a changed hyperparameter, a
    # momentum buffer that did not exist, and state arrays replaced by load_state_dict are all seen.
    from chainrule.compile.fused_updates import fused_step
    rng = np.random.default_rng(8)
    params, fused_params = ([cr.tensor(a.copy(), requires_grad=True) for a in start]
                            for start in [[rng.standard_normal((3, 2)).astype(np.float32)] * 2] * 2)
    optimizer, fused_optimizer = (optim.SGD(p, lr=0.1, momentum=0.0) for p in (params, fused_params))
    fused = fused_step(fused_optimizer)
    for step in range(6):
        for p, q in zip(params, fused_params):
            p.grad = cr.tensor(rng.standard_normal(p.data.shape).astype(np.float32))
            q.grad = cr.tensor(p.grad.data.copy())
        if step == 2:
            for o in (optimizer, fused_optimizer):
                o.param_groups[0]["lr"], o.param_groups[0]["momentum"] = 0.05, 0.9
        if step == 4:
            saved = optimizer.state_dict()
            saved["state"][0]["momentum_buffer"] = np.ones((3, 2), np.float32)
            optimizer.load_state_dict(saved)
            fused_optimizer.load_state_dict(saved)
        optimizer.step()
        fused()
        for p, q in zip(params, fused_params):
            np.testing.assert_allclose(q.data, p.data, rtol=1e-6, atol=1e-7, err_msg=f"step {step}")
