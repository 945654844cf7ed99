"""A step's arguments followed through NumPy: views are read at every replay, values NumPy computes
from an argument are refused (chainrule/compile/arguments.py), never replayed stale."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.compile import CompileError
from chainrule.compile.arguments import Traced
from chainrule.nn import functional as F

RNG = np.random.default_rng(7)
INPUTS = [np.array([1.0, -2.0, 3.0], np.float32) * s for s in (1.0, 2.0, -0.5)]


def _values(result):
    return np.asarray(result.data if isinstance(result, cr.Tensor) else result)


@pytest.mark.parametrize("as_tensor", [False, True], ids=["array", "tensor"])
@pytest.mark.parametrize("step", [
    lambda x, w: (x[None] * w).sum(),
    lambda x, w: (x[:, None] * w).sum(),
    lambda x, w: (x.reshape(1, 3) * w).sum(),
    lambda x, w: (x[::2] * w[:2]).sum(),
    lambda x, w: (cr.tensor(x[None]) * w).sum(),
    lambda x, w: (np.asarray(x) * w).sum(),
    lambda x, w: cr.grad(lambda v: (cr.sin(v) * w).sum())(x[None]),
], ids=["none", "column", "reshape", "strided", "tensor-of-view", "asarray", "grad"])
def test_views_of_an_argument_are_read_at_every_call(step, as_tensor):
    w = cr.tensor(RNG.standard_normal(3).astype(np.float32), requires_grad=True)

    def fn(x):
        return step(x.data if as_tensor else x, w)
    compiled = cr.compile(fn)
    for x in INPUTS:
        argument = cr.tensor(x) if as_tensor else x
        np.testing.assert_allclose(_values(compiled(argument)), _values(fn(argument)), rtol=1e-6)
    assert compiled.recordings == 1


@pytest.mark.parametrize("as_tensor", [False, True], ids=["array", "tensor"])
@pytest.mark.parametrize("step, made_by", [
    (lambda x, w: (x * 2 * w).sum(), "np.multiply"),
    (lambda x, w: (x[[0, 2]] * w[:2]).sum(), "a NumPy method or index"),
    (lambda x, w: (x.astype(np.float64) * w).sum(), "a NumPy method or index"),
    (lambda x, w: (x.copy() * w).sum(), "a NumPy method or index"),
    (lambda x, w: (np.concatenate([x, x])[:3] * w).sum(), "np.concatenate"),
    (lambda x, w: (np.where(x > 0, x, 0) * w).sum(), "np.where"),
    (lambda x, w: (w * x.sum()).sum(), "np.add.reduce"),
    (lambda x, w: (w * x[1]).sum(), "indexing one element"),
    (lambda x, w: w[np.argmax(x)], "x.argmax"),
    (lambda x, w: w[x.argmin()], "x.argmin"),
    (lambda x, w: cr.tensor(np.exp(x)) @ w, "np.exp"),
], ids=["mul", "fancy-index", "astype", "copy", "concatenate", "where", "sum", "element", "argmax",
        "argmin", "tensor-of-copy"])
def test_values_numpy_computes_from_an_argument_are_refused(step, made_by, as_tensor):
    w = cr.tensor(RNG.standard_normal(3).astype(np.float32), requires_grad=True)
    compiled = cr.compile(lambda x: step(x.data if as_tensor else x, w))
    argument = cr.tensor(INPUTS[0]) if as_tensor else INPUTS[0]
    with pytest.raises(CompileError, match=f"NumPy computed from it \\({made_by}") as error:
        compiled(argument)
    assert "test_arguments.py" in str(error.value)  # names the user's line
    if as_tensor:
        assert type(argument.data) is np.ndarray  # the argument's array is given back as it was


@pytest.mark.parametrize("step, what", [
    (lambda x, w: (w * x).sum() if x.sum() > 0 else w.sum(), r"bool\(\)"),
    (lambda x, w: w[int(np.argmax(x))], r"int\(\)"),
    (lambda x, w: w * float(x[0]), r"float\(\)"),
    (lambda x, w: w[: x.astype(int).max().item()], r"\.item\(\)"),
])
def test_reading_an_arguments_values_in_python_is_refused(step, what):
    w = cr.tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(CompileError, match=f"{what} reads the values of an argument"):
        cr.compile(lambda x: step(x, w))(np.array([1.0, 2.0, 0.5], np.float32))


def test_writing_into_an_argument_with_numpy_is_refused():
    w = cr.tensor(np.ones(3, np.float32), requires_grad=True)

    def step(x):
        x += 1
        return (w * x).sum()
    with pytest.raises(CompileError, match=r"np.add\(\.\.\., out=\) writes into an argument"):
        cr.compile(step)(np.ones(3, np.float32))


def test_printing_and_returning_an_argument_work_and_leave_no_traced_array_behind(capsys):
    model = nn.MLP([3, 4, 2], seed=0)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)

    def step(x, y):
        print(x.shape, x[0, 0], f"{x.sum():.1f}")
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss, x
    compiled = cr.compile(step)
    x, y = np.ones((2, 3), np.float32), np.array([0, 1])
    for _ in range(3):
        loss, same = compiled(x, y)
        assert same is x
    assert capsys.readouterr().out.count("(2, 3)") == 1  # printed while recording only
    for tensor in (*model.parameters(), *(p.grad for p in model.parameters())):
        assert type(tensor.data) is np.ndarray
    for state in optimizer.state.values():
        assert all(type(v) is not Traced for v in state.values())


def test_library_code_may_read_an_arguments_values_while_recording():
    # The label-range check of cross_entropy reads the labels (once, while recording).
    w = cr.tensor(RNG.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    compiled = cr.compile(lambda x, y: F.cross_entropy(x @ w, y))
    for labels in ([0, 1, 3], [3, 3, 2], [1, 0, 0]):
        x, y = RNG.standard_normal((3, 3)).astype(np.float32), np.array(labels)
        np.testing.assert_allclose(compiled(x, y).item(), F.cross_entropy(x @ w, y).item(), rtol=1e-6)


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "fused"])
def test_a_replay_never_writes_into_an_arguments_memory(exact):
    # x[None] * w may be computed into a dead buffer: never into a view of the caller's array.
    w = cr.tensor(RNG.standard_normal(3).astype(np.float32), requires_grad=True)
    step = cr.compile(lambda x: cr.relu(x[None] * w + 1.0).sum(), exact=exact)
    for x in INPUTS:
        before = x.copy()
        np.testing.assert_allclose(step(x).item(), cr.relu(x[None] * w + 1.0).sum().item(), rtol=1e-6)
        np.testing.assert_array_equal(x, before)


def test_a_returned_gradient_is_this_calls():
    w = cr.tensor(np.ones((1, 3), np.float32), requires_grad=True)

    def step(x, g):
        (w * x).backward(gradient=g[None])
        return w.grad
    compiled = cr.compile(step)
    for s in (1.0, 2.0, 3.0):
        x = g = np.full(3, s, np.float32)
        w.grad = None
        np.testing.assert_array_equal(compiled(x, g).data, np.full((1, 3), s * s))
    assert str(compiled.program(x, g)).endswith("return tensor.grad")
