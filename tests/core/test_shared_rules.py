"""Rules for several inputs at once (``defvjp_argnums``, ``defjvp_argnums``): called once per node, for
the inputs that need them, and holding nothing after the pass."""

import gc
import weakref

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.primitive import Primitive
from chainrule.ops.attention import attention
from chainrule.ops.recurrent import recurrent_scan


def _fused_multiply_add(calls):
    """``x * y + z`` with one VJP and one JVP for all three inputs, logging the positions asked for."""
    prim = Primitive("fused_multiply_add_for_test", lambda xp, x, y, z: x * y + z)

    def vjp(wanted, ns, g, ans, x, y, z):
        calls.append(("vjp", wanted))
        return tuple({0: g * y, 1: g * x, 2: g}[i] for i in wanted)

    def jvp(given, ns, tangents, ans, x, y, z):
        calls.append(("jvp", given))
        return [{0: t * y, 1: x * t, 2: t}[i] for i, t in zip(given, tangents)]
    return prim.defvjp_argnums(vjp, argnums=(0, 1, 2)).defjvp_argnums(jvp, argnums=(0, 1, 2))


def test_one_vjp_call_per_node_for_the_inputs_that_need_a_cotangent():
    calls = []
    fma = _fused_multiply_add(calls)
    x, y = cr.tensor([1.0, 2.0], requires_grad=True), cr.tensor([3.0, 5.0], requires_grad=True)
    fma(x, y, np.array([7.0, 11.0])).sum().backward()
    assert calls == [("vjp", (0, 1))]
    np.testing.assert_array_equal(x.grad.data, [3.0, 5.0])
    np.testing.assert_array_equal(y.grad.data, [1.0, 2.0])


def test_a_functional_gradient_asks_only_for_the_inputs_that_reach_its_target():
    calls = []
    fma = _fused_multiply_add(calls)
    y, z = cr.tensor([3.0, 5.0], requires_grad=True), cr.tensor([7.0, 11.0], requires_grad=True)
    gradient = cr.grad(lambda x: fma(x, y, z).sum())(np.array([1.0, 2.0]))
    assert calls == [("vjp", (0,))]
    np.testing.assert_array_equal(gradient.data, [3.0, 5.0])


def test_one_jvp_call_sums_the_terms_of_every_input_with_a_tangent():
    calls = []
    fma = _fused_multiply_add(calls)
    x, y, z = np.array([1.0, 2.0]), np.array([3.0, 5.0]), np.array([7.0, 11.0])
    tx, tz = np.array([0.5, -1.0]), np.array([2.0, 4.0])
    out, tangent = cr.jvp(lambda x, z: fma(x, y, z), (x, z), (tx, tz))
    assert calls == [("jvp", (0, 2))]
    np.testing.assert_array_equal(out.data, x * y + z)
    np.testing.assert_array_equal(tangent.data, tx * y + tz)


def test_the_per_input_views_give_each_inputs_part():
    calls = []
    fma = _fused_multiply_add(calls)
    x, y, z, g = (np.array([1.0, 2.0]), np.array([3.0, 5.0]), np.array([7.0, 11.0]),
                  np.array([1.0, -1.0]))
    np.testing.assert_array_equal(fma.vjps[1](cr.core.primitive.raw, g, None, x, y, z), g * x)
    np.testing.assert_array_equal(fma.jvps[0](cr.core.primitive.raw, g, None, x, y, z), g * y)
    assert calls == [("vjp", (1,)), ("jvp", (0,))]


def test_second_order_through_a_rule_for_several_inputs():
    fma = _fused_multiply_add([])
    x, y = cr.tensor([1.0, 2.0], requires_grad=True), cr.tensor([3.0, 5.0], requires_grad=True)
    (gx,) = cr.vjp(lambda x: fma(x, y, x).sum(), x)[1](np.array(1.0))  # d/dx = y + 1
    # The first-order gradient is y + 1, recorded: its own gradient with respect to y is one.
    gx.sum().backward()
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0])


def _attention_pass():
    rng = np.random.default_rng(0)
    q, k, v = (cr.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True) for _ in range(3))
    attention(q, k, v, None, None, None, scale=0.5).sum().backward()
    return [weakref.ref(t.data) for t in (q, k, v)]


def _scan_pass():
    rng = np.random.default_rng(0)
    H = 3
    tensors = [cr.tensor(rng.standard_normal(shape), requires_grad=True)
               for shape in ((4, 2, 4 * H), (2, 2 * H), (4 * H, H), (4 * H,))]
    recurrent_scan(*tensors, mode="lstm").sum().backward()
    return [weakref.ref(t.data) for t in tensors]


@pytest.mark.parametrize("run", [_attention_pass, _scan_pass], ids=["attention", "recurrent_scan"])
def test_nothing_holds_a_nodes_input_arrays_after_backward(run):
    """Regression: a module-level one-entry memo shared by the VJPs of one node kept the last node's
    input arrays alive after backward() (and was not thread-safe)."""
    references = run()
    gc.collect()
    assert [reference() is None for reference in references] == [True] * len(references)


def test_a_compiled_step_runs_a_rule_for_several_inputs_once_and_replays_it_exactly():
    rng = np.random.default_rng(1)
    H = 3
    tensors = [cr.tensor(rng.standard_normal(shape), requires_grad=True)
               for shape in ((1, 2, 4 * H), (4 * H, H), (4 * H,))]
    state0 = cr.tensor(np.zeros((2, 2 * H)))

    def step(xw):
        (recurrent_scan(xw * tensors[0], state0, tensors[1], tensors[2], mode="lstm") ** 2).sum().backward()

    def gradients(run, xw):
        for t in tensors:
            t.grad = None
        run(xw)
        return [t.grad.data for t in tensors]

    compiled = cr.compile(step)
    xw = np.ones((1, 2, 4 * H))
    gradients(compiled, xw)
    names = [op.name for op in compiled.program(xw).ops if op.name.startswith("vjp recurrent_scan")]
    assert names == ["vjp recurrent_scan[0, 2, 3]", "vjp recurrent_scan[0]", "vjp recurrent_scan[2]",
                     "vjp recurrent_scan[3]"]
    xw = rng.standard_normal((1, 2, 4 * H))
    for replayed, eager in zip(gradients(compiled, xw), gradients(step, xw)):
        np.testing.assert_array_equal(replayed, eager)
