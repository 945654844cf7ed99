"""chainrule.compile: replay is bit for bit eager mode, guards re-record, unrecordable code fails
readably, dropout draws fresh numbers, and the listing shows the program."""

import functools
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.compile import CompileError
from chainrule.core.graph import decides_on_values
from chainrule.nn import functional as F
from chainrule.train import Trainer

# The bit-for-bit replay of eager mode (fused kernels agree to rounding: test_fusion.py).
compile_exact = functools.partial(cr.compile, exact=True)

RNG = np.random.default_rng(0)


def _step(model, optimizer, loss_fn=F.cross_entropy):
    def step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss
    return step


def _twins(make, steps, batches):
    """Train two copies built by ``make`` (the same seed), eagerly and compiled; return both models
    and their losses."""
    runs = []
    for compiled in (False, True):
        cr.manual_seed(0)
        model, _, step = make()
        step = compile_exact(step) if compiled else step
        losses = [step(*batches[i % len(batches)]).item() for i in range(steps)]
        runs.append((model, losses, step))
    return runs


def _same_state(a, b):
    first, second = a.state_dict(), b.state_dict()
    return first.keys() == second.keys() and all(np.array_equal(first[k], second[k]) for k in first)


MLP_BATCHES = [(RNG.standard_normal((16, 12)).astype(np.float32), RNG.integers(0, 4, 16)) for _ in range(5)]
OPTIMIZERS = {"sgd-momentum": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4),
              "adam": lambda p: optim.Adam(p, lr=1e-3), "adamw": lambda p: optim.AdamW(p, lr=1e-3)}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_100_replayed_steps_equal_100_eager_steps_bit_for_bit(name):
    def make():
        model = nn.MLP([12, 16, 16, 4], dropout=0.2, norm="batch", seed=0)
        optimizer = OPTIMIZERS[name](model.parameters())
        return model, optimizer, _step(model, optimizer)
    (eager, eager_losses, _), (compiled, compiled_losses, step) = _twins(make, 100, MLP_BATCHES)
    assert eager_losses == compiled_losses
    assert _same_state(eager, compiled)  # weights, running statistics, num_batches_tracked
    assert step.recordings == 1


def test_cnn_recurrent_and_transformer_steps_replay_exactly():
    images = [(RNG.standard_normal((4, 1, 8, 8)).astype(np.float32), RNG.integers(0, 3, 4)) for _ in range(3)]
    sequences = [(RNG.standard_normal((4, 5, 3)).astype(np.float32), RNG.integers(0, 3, 4)) for _ in range(3)]
    tokens = [(RNG.integers(0, 11, (2, 6)), RNG.integers(0, 11, (2, 6))) for _ in range(3)]

    class Recurrent(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 6, batch_first=True)
            self.head = nn.Linear(6, 3)

        def forward(self, x):
            output, _ = self.lstm(x)
            return self.head(output[:, -1])

    from chainrule.nn.gpt import GPT, GPTConfig

    families = {
        "cnn": (lambda: nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                      nn.Linear(48, 3)), images, F.cross_entropy),
        "lstm": (Recurrent, sequences, F.cross_entropy),
    }
    for name, (build, batches, loss_fn) in families.items():
        def make(build=build, loss_fn=loss_fn):
            model = build()
            optimizer = optim.Adam(model.parameters(), lr=1e-2)
            return model, optimizer, _step(model, optimizer, loss_fn)
        (eager, eager_losses, _), (compiled, compiled_losses, _) = _twins(make, 12, batches)
        assert eager_losses == compiled_losses, name
        assert _same_state(eager, compiled), name

    def make_gpt():
        model = GPT(GPTConfig(block_size=8, vocab_size=11, n_layer=1, n_head=2, n_embd=8, dropout=0.1),
                    generator=0)
        optimizer = optim.AdamW(model.parameters(), lr=1e-2)

        def step(idx, targets):
            optimizer.zero_grad()
            _, loss = model(idx, targets)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            return loss
        return model, optimizer, step
    (eager, eager_losses, _), (compiled, compiled_losses, _) = _twins(make_gpt, 12, tokens)
    assert eager_losses == compiled_losses
    assert _same_state(eager, compiled)


def test_a_classifier_masking_padding_with_comparisons_replays_each_batch_exactly():
    from chainrule.nn.gpt import GPTClassifier, GPTConfig
    padded = []
    for real in ([6, 3], [2, 5], [4, 4]):  # the padding (-1) differs from batch to batch
        idx = RNG.integers(0, 11, (2, 6))
        for row, count in enumerate(real):
            idx[row, count:] = -1
        padded.append((idx, RNG.integers(0, 2, 2)))

    def make():
        model = GPTClassifier(GPTConfig(block_size=6, vocab_size=11, n_layer=1, n_head=2, n_embd=8), 2,
                              generator=0)
        optimizer = optim.AdamW(model.parameters(), lr=1e-2)
        return model, optimizer, _step(model, optimizer)
    (eager, eager_losses, _), (compiled, compiled_losses, step) = _twins(make, 9, padded)
    assert eager_losses == compiled_losses and step.recordings == 1
    assert _same_state(eager, compiled)


def test_a_schedule_changes_the_learning_rate_without_recording_again():
    def make():
        model = nn.MLP([12, 8, 4], seed=0)
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)

        def step(x, y):
            loss = _step(model, optimizer)(x, y)
            scheduler.step()
            return loss
        return model, optimizer, step
    (eager, eager_losses, _), (compiled, compiled_losses, step) = _twins(make, 10, MLP_BATCHES)
    assert eager_losses == compiled_losses and _same_state(eager, compiled)
    assert step.recordings == 1


def test_guards_record_again_on_a_new_shape_mode_setting_or_frozen_parameter():
    model = nn.MLP([12, 8, 4], dropout=0.5, seed=0)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step = compile_exact(_step(model, optimizer))
    x, y = MLP_BATCHES[0]
    step(x, y), step(x, y)
    assert step.recordings == 1
    step(x[:5], y[:5])                         # a new shape: a second program
    assert step.recordings == 2 and len(step.programs) == 2
    model.eval()
    step(x, y)                                 # eval mode: no dropout, so another program
    assert step.recordings == 3
    optimizer.param_groups[0]["momentum"] = 0.5
    step(x, y)
    assert step.recordings == 4
    next(iter(model.parameters())).requires_grad = False
    step(x, y)
    assert step.recordings == 5
    optimizer.add_param_group({"params": [cr.tensor(np.zeros(3), requires_grad=True)]})
    step(x, y)
    assert step.recordings == 6
    step(x, y)
    assert step.recordings == 6


def test_a_changed_module_setting_records_again_and_takes_effect():
    dropout = nn.Dropout(0.5)
    step = compile_exact(lambda x: dropout(cr.tensor(x)) * 1.0)
    x = np.ones(10_000)
    step(x), step(x)
    assert step.recordings == 1
    dropout.p = 0.0
    np.testing.assert_array_equal(step(x).data, x)  # not the masks of p = 0.5
    assert step.recordings == 2
    description, _ = step.program(x).guards[0]
    assert description.startswith("Dropout's settings are unchanged: ") and "p=0.0" in description


def test_replays_draw_fresh_dropout_masks_from_the_same_generator():
    model = nn.Sequential(nn.Dropout(0.5))
    f = compile_exact(lambda x: model(x) * 1.0)
    x = np.ones((4, 8), np.float32)
    f(x)
    second, third = f(x).numpy(), f(x).numpy()
    assert not np.array_equal(second, third)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Dropout(0.5))
    eager = [model(x).numpy() for _ in range(3)]
    cr.manual_seed(0)
    model = nn.Sequential(nn.Dropout(0.5))
    f = compile_exact(lambda x: model(x) * 1.0)
    assert all(np.array_equal(e, f(x).numpy()) for e in eager)


def test_reading_a_value_while_recording_fails_naming_the_line():
    w = cr.tensor(np.ones(3), requires_grad=True)

    def step(x):
        loss = (w * x).sum()
        if loss.item() > 0:  # the value decides control flow
            loss = loss * 2
        return loss
    with pytest.raises(CompileError, match=r"(?s)item\(\).*test_compile.py:\d+: if loss.item\(\) > 0"):
        compile_exact(step)(np.ones(3))
    with pytest.raises(CompileError, match=r"bool\(\)"):
        compile_exact(lambda x: (w * x).sum() if (w * x).sum() else w)(np.ones(3))


def test_an_argument_converted_outside_chainrule_fails_readably():
    w = cr.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(CompileError, match="outside chainrule's operations"):
        compile_exact(lambda x: (w * np.asarray(x, np.float32)).sum())(np.arange(3.0))
    with pytest.raises(CompileError, match="outside chainrule's operations"):  # a copy in another shape
        compile_exact(lambda x: (w * np.array(x).reshape(-1)).sum())(np.arange(3.0).reshape(1, 3))


def test_a_strided_argument_that_numpy_reshapes_is_read_at_every_replay():
    w = cr.tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    step = compile_exact(lambda y: F.cross_entropy(w * 1.0, np.asarray(y).reshape(-1)))
    for labels in ([[0, 1], [2, 0]], [[2, 2], [1, 1]], [[1, 0], [0, 2]]):
        tokens = np.array(labels)
        y = np.concatenate([tokens, tokens], axis=1)[:, 1:3]  # a strided view, like tokens[:, 1:]
        assert step(y).item() == F.cross_entropy(w * 1.0, y.reshape(-1)).item()
    assert step.recordings == 1


def test_listing_a_step_on_strided_token_windows_reads_them_as_arguments():
    # A language model's batch is a strided view of the corpus (tokens[:, 1:]); inspect.program
    # records it as compile does, not as a copy it would refuse.
    embedding = nn.Embedding(5, 3)
    corpus = np.arange(10) % 5
    windows = np.lib.stride_tricks.sliding_window_view(corpus, 4)[::2]
    assert not windows.flags.c_contiguous
    program = cr.inspect.program(lambda x: embedding(x).sum(), windows)
    replayed = program.run([np.ascontiguousarray(windows[::-1])])
    assert replayed.item() == embedding(windows[::-1]).sum().item()


def test_decisions_on_input_values_in_library_code_fail_readably():
    class Longest(nn.Module):  # library code that cuts a batch to its longest row, in Python
        def forward(self, x):
            decides_on_values("Longest: cutting the batch")
            return cr.tensor(x)[:, :int((np.asarray(x) != 0).sum(axis=1).max())].sum()

    with pytest.raises(CompileError, match=r"(?s)Longest: cutting the batch.*without compiling"):
        compile_exact(Longest())(np.ones((2, 5), np.float32))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["forward", "bidirectional"])
def test_recurrent_lengths_are_operations_so_every_replay_reads_its_own(kind, bidirectional):
    layer = getattr(nn, kind)(3, 4, num_layers=2, batch_first=True, bidirectional=bidirectional, generator=0)

    def step(x, lengths):
        output, state = layer(x, lengths=lengths)
        h_n = state[0] if isinstance(state, tuple) else state
        loss = (output * output).sum() + (h_n * h_n).sum()
        loss.backward()
        return loss
    compiled = compile_exact(step)
    for lengths in ([5, 2, 3], [1, 4, 5], [3, 3, 1]):
        x = RNG.standard_normal((3, 5, 3)).astype(np.float32)
        layer.zero_grad()
        value = compiled(x, np.array(lengths)).item()
        gradients = [p.grad.data.copy() for p in layer.parameters()]
        layer.zero_grad()
        assert value == step(x, np.array(lengths)).item()
        for gradient, parameter in zip(gradients, layer.parameters()):
            np.testing.assert_array_equal(gradient, parameter.grad.data)
    assert compiled.recordings == 1


@pytest.mark.parametrize("loss", [F.cross_entropy, lambda z, y, **k: F.nll_loss(F.log_softmax(z, axis=-1), y, **k)],
                         ids=["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("weight", [None, np.array([1.0, 2.0, 0.5, 3.0])], ids=["plain", "weighted"])
def test_ignored_labels_are_masked_in_every_batch_whether_the_recorded_one_had_them_or_not(loss, weight):
    w = cr.tensor(RNG.standard_normal((3, 4)), requires_grad=True)

    def step(x, y):
        value = loss(w * x, y, ignore_index=-1, weight=weight)
        value.backward()
        return value
    compiled = compile_exact(step)
    for labels in ([1, 0, 2], [1, -1, 2], [-1, 3, -1], [0, 1, 1]):
        x, y = RNG.standard_normal((3, 4)), np.array(labels)
        w.grad = None
        value = compiled(x, y).item()
        gradient, w.grad = w.grad.data.copy(), None
        assert value == step(x, y).item()
        np.testing.assert_array_equal(gradient, w.grad.data)
    assert compiled.recordings == 1


def test_side_effects_outside_chainrule_run_only_while_recording():
    seen = []
    f = compile_exact(lambda x: seen.append(1) or cr.exp(cr.tensor(x)))
    x = np.zeros(2)
    f(x), f(x), f(x)
    assert seen == [1]


def test_tensor_arguments_are_told_apart_by_layout_and_requires_grad():
    # A loop's batches are tensors: their signature is taken without flattening a tree, and still
    # tells shapes, dtypes, contiguity and requires_grad apart.
    f = compile_exact(lambda x, y: (x * y).sum())
    a, b = cr.tensor(np.ones((2, 3), np.float32)), cr.tensor(np.full((2, 3), 2, np.float32))
    assert f(a, b).item() == 12 and f(b, b).item() == 24
    assert f.recordings == 1
    assert f(cr.tensor(np.ones((3, 2), np.float32)), cr.tensor(np.ones((3, 2), np.float32))).item() == 6
    assert f(cr.tensor(np.ones((2, 3), np.float32), requires_grad=True), b).item() == 12
    assert f(cr.tensor(np.ones((3, 2), np.float32).T), b).item() == 12
    assert f.recordings == 4
    assert f(a, np.full((2, 3), 3, np.float32)).item() == 18  # mixed: the general signature
    assert f.recordings == 5


def test_too_many_signatures_warn_and_keep_the_newest():
    f = compile_exact(lambda x: cr.exp(x), max_programs=2)
    for n in (1, 2):
        f(np.zeros(n))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f(np.zeros(3))
    assert any("recorded for more than 2 signatures" in str(w.message) for w in caught)
    assert len(f.programs) == 2


def test_trainer_compile_reaches_the_eager_weights():
    data = (RNG.standard_normal((60, 12)).astype(np.float32), RNG.integers(0, 4, 60))
    models = []
    for compiled in (False, True):
        model = nn.MLP([12, 16, 4], dropout=0.1, seed=0)
        trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2),
                                   batch_size=16, progress=False, compile=compiled, seed=0)
        trainer.fit(data, epochs=3)
        models.append(model)
    first, second = (model.state_dict() for model in models)  # fused kernels: float32 rounding
    for key in first:
        np.testing.assert_allclose(second[key], first[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_listing_of_a_two_layer_mlp_step_line_by_line():
    model = nn.MLP([4, 8, 3], seed=0)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    program = cr.inspect.program(_step(model, optimizer), np.ones((2, 4), np.float32), np.array([0, 2]))
    lines = str(program).splitlines()
    assert lines[0] == ("program(%0, %1):  15 operations, 544 B allocated, 0 written into a dead input's "
                        "buffer, peak 368 B live")
    body = [line.split("#")[0].strip() for line in lines[1:]]
    assert body == [
        "-- update",
        "= SGD.zero_grad()",
        "-- forward",
        "%3 = fused linear+relu(%0, 0.weight, 0.bias) float32[2, 8]",
        "%4 = linear(%3, 2.weight, 2.bias) float32[2, 3]",
        "%5 = fused softmax_cross_entropy_mean(%4, %1) float32[]",  # ignore_index masking inside
        "-- backward",
        "%6 = fused vjp softmax_cross_entropy_mean[0](1.0, unsaved[], %4, %1) float32[2, 3]  (frees %4, %1)",
        "%7 = vjp linear[0](%6, unsaved[2, 3], %3, 2.weight, 2.bias) float32[2, 8]",
        "%8 = vjp linear[1](%6, unsaved[2, 3], %3, 2.weight, 2.bias) float32[3, 8]",
        "%9 = fused vjp linear[2](%6, unsaved[2, 3], %3, 2.weight, 2.bias) float32[3]  (frees %6)",  # a column sum
        "%10, %12 = fused[2](%7, %3) float32[2, 8]  (frees %3, %7)",  # the ReLU's VJP and the bias's sum
        "kernel fused_8: reads 128 B, writes 96 B (2 operations in one loop)",
        "%10 = vjp relu[0]",
        "%12 = vjp linear[2]",
        "%11 = vjp linear[1](%10, unsaved[2, 8], %0, 0.weight, 0.bias) float32[8, 4]  (frees %0, %10)",
        "= accumulate 2.bias[3](%9)   (frees %9)",
        "= accumulate 2.weight[3, 8](%8)   (frees %8)",
        "= accumulate 0.bias[8](%12)   (frees %12)",
        "= accumulate 0.weight[8, 4](%11)   (frees %11)",
        "-- update",
        "= fused SGD.step()",
        "return %5",
    ]
    assert "test_compile.py" in lines[4]  # the user's line that made the first linear
    assert program.source().startswith("def replay(b0, b1):")


def test_constant_seeds_are_precomputed_and_unread_values_dropped():
    a = cr.tensor(np.array([1.5, -2.0]), requires_grad=True)
    b = cr.tensor(np.array([0.5, 3.0]), requires_grad=True)
    step = compile_exact(lambda: (a * b + a).sum().backward())
    for _ in range(3):
        step()
    # The forward values and the seed of ones are not needed by the rules: only the products remain.
    assert [op.name for op in step.program().ops] == [
        "vjp mul[0]", "add", "vjp mul[1]", "accumulate grad[2]", "accumulate grad[2]"]
    np.testing.assert_array_equal(a.grad.data, 3 * (b.data + 1))
    np.testing.assert_array_equal(b.grad.data, 3 * a.data)
    a.grad.data[...] = 0  # a gradient is the tensor's own array, never the shared constant
    step()
    np.testing.assert_array_equal(a.grad.data, b.data + 1)


def test_a_gradient_that_is_the_constant_seed_is_copied_into_the_tensor():
    w = cr.tensor(np.array(2.0), requires_grad=True)
    step = compile_exact(lambda: w.backward())
    for _ in range(3):
        w.grad = None
        step()
        assert w.grad.item() == 1.0
        w.grad.data *= 5  # must not change the next replay's seed


def test_dead_inputs_lend_their_buffers_and_live_ones_do_not():
    w = cr.tensor(RNG.standard_normal((4, 4)), requires_grad=True)
    x = RNG.standard_normal((3, 4))

    def step(x):
        h = cr.tanh(cr.matmul(x, w))
        value = (h + h * h).sum() + cr.matmul(h, w).sum()  # w is used twice: two cotangents added
        value.backward()
        return value
    compiled = compile_exact(step)
    eager = step(x)
    gradient, w.grad = w.grad.data.copy(), None
    for _ in range(3):
        value = compiled(x)
        assert value.item() == eager.item()
        np.testing.assert_array_equal(w.grad.data, gradient)
        w.grad = None
    program = compiled.program(x)
    # tanh writes over the product it consumes; h * h does not, since h is read again; the sums of
    # cotangents accumulate in place.
    tanh, = (op for op in program.ops if op.name == "tanh")
    square, = (op for op in program.ops if op.name == "mul")
    assert tanh.reuses == tanh.refs[0][1] and square.reuses is None
    assert sum(op.name == "add" and op.reuses is not None for op in program.ops) == 6
    assert "into %1's buffer" in str(program).splitlines()[3]


def test_results_keep_their_types_and_numpy_results_are_refused():
    step = compile_exact(lambda a: {"sum": cr.sum(a), "twice": cr.tensor(a) * 2, "a": a, "n": 3})
    step(np.ones(2))
    result = step(np.full(2, 5.0))
    assert result["sum"].item() == 10.0 and result["n"] == 3
    np.testing.assert_array_equal(result["twice"].data, [10.0, 10.0])
    assert type(result["a"]) is np.ndarray  # an argument returned is returned as it came
    np.testing.assert_array_equal(result["a"], [5.0, 5.0])
    for numpy_step in (lambda a: a * 2, lambda a: a.sum()):
        with pytest.raises(CompileError, match="returns a NumPy .* that no chainrule operation made"):
            compile_exact(numpy_step)(np.ones(2))


def test_a_step_that_raises_while_recording_is_recorded_again_on_the_next_call():
    w = cr.tensor(np.ones(2), requires_grad=True)
    calls = []

    def step(x):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first call fails")
        return (w * x).sum()
    compiled = compile_exact(step)
    with pytest.raises(ValueError, match="first call fails"):
        compiled(np.ones(2))
    assert compiled(np.ones(2)).item() == 2.0 and compiled(np.full(2, 3.0)).item() == 6.0
    assert compiled.recordings == 1 and len(calls) == 2


def test_masks_from_comparisons_are_computed_at_every_replay():
    w = cr.tensor(np.ones(3), requires_grad=True)
    step = compile_exact(lambda x: (cr.where((cr.tensor(x) > 0) & ~(cr.tensor(x) > 2), w * x, 0.0)).sum())
    for x in ([1.0, -1.0, 3.0], [-1.0, 1.0, 1.0], [3.0, 3.0, 0.5]):
        x = np.array(x)
        assert step(x).item() == x[(x > 0) & (x <= 2)].sum()
    assert step.recordings == 1
    names = [op.name for op in step.program(x).ops]
    assert "greater (>)" in names and "invert (~)" in names and "bitwise_and (&)" in names


@pytest.mark.parametrize("loss", [
    lambda z, y: F.cross_entropy(z, y, weight=np.array([1.0, 2.0, 0.5, 3.0])),
    lambda z, y: F.cross_entropy(z, y, weight=np.array([1.0, 2.0, 0.5, 3.0]), label_smoothing=0.1),
    lambda z, y: F.nll_loss(F.log_softmax(z, axis=-1), y, weight=np.array([1.0, 2.0, 0.5, 3.0])),
    lambda z, y: F.hinge_loss(z, y),
], ids=["weighted", "weighted-smoothed", "nll-weighted", "hinge"])
def test_losses_that_gather_by_label_follow_each_batch(loss):
    w = cr.tensor(RNG.standard_normal((6, 4)), requires_grad=True)
    step = compile_exact(lambda x, y: loss(w * x, y))
    for _ in range(4):
        x, y = RNG.standard_normal((6, 4)), RNG.integers(0, 4, 6)
        assert step(x, y).item() == loss(w * x, y).item()
    assert step.recordings == 1


def test_attention_padding_masks_passed_to_the_step_follow_each_batch():
    layer = nn.MultiheadAttention(8, 2, batch_first=True)
    step = compile_exact(lambda x, padding: layer(x, x, x, key_padding_mask=padding)[0].sum())
    for keys in ([5, 3], [2, 5], [4, 1]):
        x = RNG.standard_normal((2, 5, 8)).astype(np.float32)
        padding = np.arange(5)[None, :] >= np.array(keys)[:, None]
        assert step(x, padding).item() == layer(x, x, x, key_padding_mask=padding)[0].sum().item()
    assert step.recordings == 1


def test_an_embedding_with_padding_idx_masks_each_batch():
    embedding = nn.Embedding(6, 3, padding_idx=0, generator=0)

    def step(ids):
        value = (embedding(ids) * np.arange(1.0, 4.0)).sum()
        value.backward()
        return value
    compiled = compile_exact(step)
    for ids in ([[1, 2, 3]], [[0, 2, 0]], [[4, 0, 5]]):  # the recorded batch has no padding
        ids = np.array(ids)
        embedding.weight.grad = None
        value = compiled(ids).item()
        gradient, embedding.weight.grad = embedding.weight.grad.data.copy(), None
        assert value == step(ids).item()
        np.testing.assert_array_equal(gradient, embedding.weight.grad.data)
        assert not gradient[0].any()  # the padding row's gradient stays zero
    assert compiled.recordings == 1


@pytest.mark.parametrize("bad", [True, 0, -1, 2.5, "3", None])
def test_max_programs_must_be_a_positive_int(bad):
    with pytest.raises(ValueError, match="max_programs must be a positive int"):
        compile_exact(lambda: 1, max_programs=bad)


        cr.compile(lambda: 1, max_programs=bad)


def test_indices_of_max_argmax_sort_and_topk_are_computed_at_every_replay():
    # (values, indices) pairs and arg-reductions inside a compiled function follow each call's input,
    # as do the values gathered at those indices and an accuracy counted from them.
    def fn(outputs, labels):
        outputs = cr.tensor(outputs)
        values, predicted = cr.max(outputs, 1)
        return (predicted, cr.argmax(outputs, 1), cr.argmin(outputs, dim=0), cr.argmax(outputs),
                cr.topk(outputs, 2).indices, cr.sort(outputs, 1, descending=True).indices,
                cr.kthvalue(outputs, 2, 1).indices, cr.median(outputs, 1).indices, outputs.min(1).indices,
                values, cr.topk(outputs, 2).values, (predicted == cr.tensor(labels)).sum())
    step = cr.compile(fn)
    rng = np.random.default_rng(3)
    for _ in range(3):
        outputs, labels = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
        for got, expected in zip(step(outputs, labels), fn(outputs, labels)):
            np.testing.assert_array_equal(got.data, expected.data)
    assert step.recordings == 1
    names = [op.name for op in step.program(outputs, labels).ops]
    assert {"argmax", "argmin", "argsort"} <= set(names)


def test_gradients_through_compiled_max_pairs_follow_each_input():
    w = cr.tensor(np.ones(4), requires_grad=True)

    def fn(x):
        return cr.max(w * x, 0).values + cr.topk(w * x, 2).values.sum()
    step = cr.compile(lambda x: cr.grad(fn)(x))
    for x in ([1.0, 4.0, 2.0, 3.0], [5.0, 0.0, 1.0, 2.0]):
        x = np.array(x)
        np.testing.assert_array_equal(step(x).data, cr.grad(fn)(x).data)
