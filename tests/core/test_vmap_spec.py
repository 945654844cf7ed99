"""The spec table under vmap: for every primitive, the batched result equals a Python loop over the
examples, in float64, with the batch axis at every position of each input and at None, nested twice,
and to second order (vmap of grad, and grad of vmap)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.batching import primitive_batchers
from chainrule.core.primitive import REGISTRY
from tests.core.domains import sample
from tests.core.test_spec_table import CASES

BATCH = 3
# Inputs whose batching rule refuses a batch (by name): the recurrent weights of a scan.
UNBATCHED = {"recurrent_scan": {2, 3}}


def _leaves(out):
    return [np.asarray(leaf.data if isinstance(leaf, cr.Tensor) else leaf) for leaf in cr.tree_flatten(out)[0]]


def _examples(domains, seed, count=BATCH):
    rng = np.random.default_rng(seed)
    return [[sample(kind, shape, rng) for kind, shape in domains] for _ in range(count)]


def _batched_inputs(examples, axes):
    return [examples[0][i] if axis is None else np.stack([ex[i] for ex in examples], axis=axis)
            for i, axis in enumerate(axes)]


def _per_example(examples, axes):
    """What example ``b`` sees: its own value of each batched input, example 0's of an unbatched one."""
    return [[ex[i] if axis is not None else examples[0][i] for i, axis in enumerate(axes)] for ex in examples]


def _loop(fn, examples, axes):
    outs = [_leaves(fn(*args)) for args in _per_example(examples, axes)]
    return [np.stack([out[k] for out in outs]) for k in range(len(outs[0]))]


def _assert_close(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-11)


def _axis_choices(domains, fixed=()):
    """Every position of the batch axis in each input in turn (the others at 0), and each input
    unbatched (the others at 0); inputs in ``fixed`` always unbatched."""
    n = len(domains)
    choices = []
    for i, (_, shape) in enumerate(domains):
        for position in range(len(shape) + 1):
            choices.append(tuple(position if j == i else 0 for j in range(n)))
        if n > 1:
            choices.append(tuple(None if j == i else 0 for j in range(n)))
    choices.append(tuple(-1 for _ in range(n)))  # negative axes
    choices = [tuple(None if j in fixed else a for j, a in enumerate(axes)) for axes in choices]
    return [axes for axes in dict.fromkeys(choices) if any(a is not None for a in axes)]


def _moved(leaves, axes_out):
    return leaves if axes_out == 0 else [np.moveaxis(leaf, 0, axes_out) for leaf in leaves]


def test_every_primitive_has_a_batching_rule():
    missing = [name for name, prim in REGISTRY.items() if prim not in primitive_batchers]
    assert not missing, f"primitives without a batching rule: {missing}"


@pytest.mark.parametrize("name,i,fn,domains", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_vmap_equals_a_loop_at_every_axis_position(name, i, fn, domains):
    examples = _examples(domains, i)
    for axes in _axis_choices(domains, UNBATCHED.get(name, ())):
        got = _leaves(cr.vmap(fn, in_axes=axes)(*_batched_inputs(examples, axes)))
        _assert_close(got, _loop(fn, examples, axes))


@pytest.mark.parametrize("name,i,fn,domains", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_vmap_nested_twice_equals_a_double_loop(name, i, fn, domains):
    rng = np.random.default_rng(100 + i)
    outer, inner = 2, BATCH
    values = [[[sample(kind, shape, rng) for kind, shape in domains] for _ in range(inner)] for _ in range(outer)]
    fixed = UNBATCHED.get(name, ())
    for k in fixed:
        for o in range(outer):
            for b in range(inner):
                values[o][b][k] = values[0][0][k]
    # The inner batch axis last in the first input (0 in the others); the outer one first everywhere.
    inner_axes = tuple(None if j in fixed else len(domains[0][1]) if j == 0 else 0 for j in range(len(domains)))
    outer_axes = tuple(None if j in fixed else 0 for j in range(len(domains)))
    batched = []
    for k in range(len(domains)):
        if k in fixed:
            batched.append(values[0][0][k])
            continue
        rows = [np.stack([values[o][b][k] for b in range(inner)], axis=inner_axes[k]) for o in range(outer)]
        batched.append(np.stack(rows, axis=0))
    got = _leaves(cr.vmap(cr.vmap(fn, in_axes=inner_axes), in_axes=outer_axes)(*batched))
    expected = [_leaves(fn(*values[o][b])) for o in range(outer) for b in range(inner)]
    for k, leaf in enumerate(got):
        np.testing.assert_allclose(
            leaf, np.stack([e[k] for e in expected]).reshape(leaf.shape), rtol=1e-9, atol=1e-11)


def _scalarized(fn, examples):
    """``fn``'s outputs contracted with fixed weights: a scalar loss of every input."""
    shapes = [leaf.shape for leaf in _leaves(fn(*examples[0]))]
    weights = [np.cos(np.arange(int(np.prod(s))) + 1.0).reshape(s) for s in shapes]

    def loss(*args):
        leaves = cr.tree_flatten(fn(*args))[0]
        return sum((leaf * w).sum() for leaf, w in zip(leaves, weights))
    return loss


def _scalar_case(name, fn, domains, seed, unbatched):
    """Examples, a scalar loss of them, and in_axes batching every argument but ``unbatched`` (when
    there are several) and those the primitive needs unbatched."""
    examples = _examples(domains, seed)
    n, fixed = len(domains), UNBATCHED.get(name, ())
    axes = tuple(None if (j == unbatched and n > 1) or j in fixed else 0 for j in range(n))
    return examples, _scalarized(fn, examples), axes


def _second_order(loss, n):
    first = cr.grad(loss, argnums=tuple(range(n)))

    def squared(*args):
        return sum((g * g).sum() for g in first(*args))
    return squared


@pytest.mark.parametrize("name,i,fn,domains", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_vmap_of_grad_to_second_order_equals_a_loop(name, i, fn, domains):
    examples, loss, axes = _scalar_case(name, fn, domains, 200 + i, unbatched=0)
    n = len(domains)
    for order, f in ((1, loss), (2, _second_order(loss, n))):
        per_example = cr.grad(f, argnums=tuple(range(n)))
        got = _leaves(cr.vmap(per_example, in_axes=axes)(*_batched_inputs(examples, axes)))
        _assert_close(got, _loop(per_example, examples, axes))


@pytest.mark.parametrize("name,i,fn,domains", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_grad_of_vmap_equals_summed_per_example_gradients(name, i, fn, domains):
    examples, loss, axes = _scalar_case(name, fn, domains, 300 + i, unbatched=len(domains) - 1)
    n = len(domains)
    nums = tuple(range(n))
    for f in (loss, _second_order(loss, n)):
        total = cr.grad(lambda *args: cr.vmap(f, in_axes=axes)(*args).sum(), argnums=nums)
        got = _leaves(total(*_batched_inputs(examples, axes)))
        per_example = _loop(cr.grad(f, argnums=nums), examples, axes)
        expected = [g if axis is not None else g.sum(axis=0) for g, axis in zip(per_example, axes)]
        _assert_close(got, expected)
