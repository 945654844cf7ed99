"""Every primitive in the registry, checked in float64 against central differences in forward and
reverse mode to second order, with broadcasting shape pairs, plus the adjoint identity."""

import importlib
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.primitive import REGISTRY
from chainrule.testing import check_grads
from tests.core.domains import positive, real, sample


CONDITION = np.array([[True, False, True, False]] * 3)
LABELS = np.array([0, 3, 1])
INDEX = np.array([0, 2, 2, 1])
MASK = np.array([True, False, True, True, False, True])

# primitive name -> list of (function of the differentiable inputs, input domains)
SPECS = {
    "add": [(cr.add, [real(3, 4), real(4)]), (cr.add, [real(2, 1, 3), real(4, 1)])],
    "sub": [(cr.sub, [real(3, 4), real(3, 1)])],
    "mul": [(cr.mul, [real(3, 4), real(4)]), (cr.mul, [real(), real(2, 3)])],
    "div": [(cr.div, [real(3, 4), positive(4)])],
    "neg": [(cr.neg, [real(3)])],
    "pow": [(cr.pow, [positive(3, 2), real(2)]), (lambda x: x ** 3, [real(4)])],
    "exp": [(cr.exp, [real(2, 3)])],
    "log": [(cr.log, [positive(2, 3)])],
    "log1p": [(cr.log1p, [positive(5)])],
    "expm1": [(cr.expm1, [real(5)])],
    "sqrt": [(cr.sqrt, [positive(5)])],
    "abs": [(cr.abs, [positive(5)]), (lambda x: cr.abs(-x), [positive(3)])],
    "sign": [(lambda x: x * cr.sign(x), [positive(4)])],
    "sin": [(cr.sin, [real(5)])],
    "erf": [(cr.erf, [real(5)])],
    "cos": [(cr.cos, [real(5)])],
    "tanh": [(cr.tanh, [real(2, 3)])],
    "sigmoid": [(cr.sigmoid, [real(2, 3)])],
    "relu": [(lambda x: cr.relu(x - 0.05), [positive(5)]), (lambda x: cr.relu(-x), [positive(3)])],
    "maximum": [(cr.maximum, [real(3, 4), real(4)])],
    "minimum": [(cr.minimum, [real(3, 4), real(3, 1)])],
    "where": [(lambda x, y: cr.where(CONDITION, x, y), [real(3, 4), real(4)])],
    "clip": [(lambda x: cr.clip(x * 3, -1.0, 1.0), [real(6)])],
    "identity": [(cr.ops.identity, [real(3)])],
    "astype": [(lambda x: cr.astype(x, dtype=np.float64), [real(3)])],
    "sum": [(cr.sum, [real(3, 4)]), (lambda x: cr.sum(x, axis=1, keepdims=True), [real(3, 4)]),
            (lambda x: cr.sum(x, axis=(0, 2)), [real(2, 3, 4)])],
    "mean": [(lambda x: cr.mean(x, axis=0), [real(3, 4)]), (cr.mean, [real(5)])],
    "max": [(lambda x: cr.max(x, axis=1), [real(3, 4)]), (cr.max, [real(6)])],
    "min": [(lambda x: cr.min(x, axis=0, keepdims=True), [real(3, 4)])],
    "var": [(lambda x: cr.var(x, axis=1), [real(3, 4)]), (lambda x: cr.var(x, ddof=1), [real(5)])],
    "logsumexp": [(lambda x: cr.logsumexp(x, axis=-1), [real(3, 4)]), (cr.logsumexp, [real(5)])],
    "softmax": [(lambda x: cr.softmax(x, axis=-1), [real(3, 4)]),
                (lambda x: cr.softmax(x, axis=0), [real(3, 2)])],
    "log_softmax": [(lambda x: cr.log_softmax(x, axis=1), [real(3, 4)])],
    "softmax_cross_entropy": [
        (lambda z: cr.softmax_cross_entropy(z, LABELS), [real(3, 4)]),
        (lambda z, p: cr.softmax_cross_entropy(z, cr.softmax(p)), [real(3, 4), real(3, 4)]),
        (lambda z, p: cr.softmax_cross_entropy(z, p), [real(3, 4), positive(3, 4)])],  # unnormalised
    "matmul": [(cr.matmul, [real(3, 4), real(4, 2)]), (cr.matmul, [real(4), real(4, 2)]),
               (cr.matmul, [real(3, 4), real(4)]), (cr.matmul, [real(4), real(4)]),
               (cr.matmul, [real(2, 3, 4), real(4, 5)]), (cr.matmul, [real(4), real(2, 4, 3)]),
               (cr.matmul, [real(2, 3, 4), real(4)])],
    "linear": [(cr.linear, [real(5, 3), real(2, 3), real(2)]),
               (cr.linear, [real(2, 4, 3), real(2, 3), real(2)]),
               (cr.linear, [real(3), real(2, 3), real(2)])],
    "transpose": [(cr.transpose, [real(3, 4)]), (lambda x: cr.transpose(x, (1, 2, 0)), [real(2, 3, 4)])],
    "swapaxes": [(lambda x: cr.swapaxes(x, 0, 2), [real(2, 3, 4)])],
    "reshape": [(lambda x: cr.reshape(x, (4, 3)), [real(3, 4)]),
                (lambda x: cr.reshape(x, (-1,)), [real(2, 3)])],
    "broadcast_to": [(lambda x: cr.broadcast_to(x, (2, 3, 4)), [real(3, 1)])],
    "squeeze": [(lambda x: cr.squeeze(x, 1), [real(3, 1, 2)]), (cr.squeeze, [real(1, 3, 1)])],
    "unsqueeze": [(lambda x: cr.unsqueeze(x, 0), [real(3)]), (lambda x: cr.unsqueeze(x, -1), [real(2, 3)])],
    "concatenate": [(lambda x, y: cr.concatenate([x, y], axis=1), [real(2, 3), real(2, 2)])],
    "stack": [(lambda x, y: cr.stack([x, y], axis=1), [real(2, 3), real(2, 3)])],
    "getitem": [(lambda x: x[1:, ::2], [real(3, 4)]), (lambda x: x[INDEX], [real(3)]),
                (lambda x: x[MASK], [real(6)]), (lambda x: x[:, None, 0], [real(3, 4)])],
    "scatter_add": [(lambda g: cr.scatter_add(g, index=INDEX, shape=(3,)), [real(4)])],
}
# Each family of primitives may keep its entries in its own file, tests/core/spec_<family>.py.
for _path in sorted(Path(__file__).parent.glob("spec_*.py")):
    SPECS.update(importlib.import_module(f"tests.core.{_path.stem}").SPECS)


def test_every_differentiable_primitive_has_both_rules_and_a_spec():
    for name, prim in REGISTRY.items():
        if not prim.differentiable:
            continue
        assert prim.vjps is not None, f"{name} has no VJP rule"
        assert prim.jvps is not None, f"{name} has no JVP rule"
        assert name in SPECS, f"{name} has no entry in the spec table"


def test_coverage_table_lists_every_primitive():
    table = {row["primitive"]: row for row in cr.rules()}
    assert set(table) == set(REGISTRY)
    assert table["exp"] == {"primitive": "exp", "vjp": True, "jvp": True, "higher_order": True,
                            "batching": True}
    assert all(row["batching"] is True for row in table.values()), "a primitive lacks a batching rule"
    assert table["one_hot"]["vjp"] == "n/a"


CASES = [(name, i, fn, domains) for name, entries in SPECS.items()
         for i, (fn, domains) in enumerate(entries)]


@pytest.mark.parametrize("name,i,fn,domains", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_rules_match_finite_differences_to_second_order(name, i, fn, domains):
    rng = np.random.default_rng(i)
    args = tuple(sample(kind, shape, rng) for kind, shape in domains)
    check_grads(fn, args, order=2, modes=("fwd", "rev"), rtol=1e-5, atol=1e-6)


def test_max_ties_split_the_gradient_equally():
    x = cr.tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    cr.max(x).backward()
    np.testing.assert_array_equal(x.grad.data, [0, 0.5, 0.5, 0])


def test_maximum_ties_split_the_gradient_equally():
    x, y = cr.tensor(2.0, requires_grad=True), cr.tensor(2.0, requires_grad=True)
    cr.maximum(x, y).backward()
    assert (x.grad.item(), y.grad.item()) == (0.5, 0.5)
