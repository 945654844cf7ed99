"""Traces: the rules applied, in order, with shapes, broadcast axes, norms and the user's lines."""

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.graph import hooks
from chainrule.inspect import trace


def line_of(code):
    """The line number of ``code`` in this file (it must appear exactly once)."""
    with open(__file__, encoding="utf-8") as file:
        numbers = [n for n, line in enumerate(file, 1) if line.strip() == code]
    assert len(numbers) == 1, code
    return numbers[0]


def two_layer_mlp_backward():
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.normal(size=(5, 3)))
    W1 = cr.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    b1 = cr.tensor(rng.normal(size=4), requires_grad=True)
    W2 = cr.tensor(rng.normal(size=(4, 2)), requires_grad=True)
    b2 = cr.tensor(rng.normal(size=2), requires_grad=True)
    labels = np.array([0, 1, 1, 0, 1])
    with trace() as t:
        h = cr.relu(x @ W1 + b1)
        logits = h @ W2 + b2
        loss = cr.softmax_cross_entropy(logits, labels).mean()
        loss.backward()
    return t, (W1, b1, W2, b2)


def test_two_layer_mlp_backward_trace_lists_rules_in_order_with_shapes_and_lines():
    t, _ = two_layer_mlp_backward()
    hidden = line_of("h = cr.relu(x @ W1 + b1)")
    output = line_of("logits = h @ W2 + b2")
    loss = line_of("loss = cr.softmax_cross_entropy(logits, labels).mean()")
    expected = [
        ("mean", 0, [(5,)], (), (), loss),
        ("softmax_cross_entropy", 0, [(5, 2), (5,)], (5,), (), loss),
        ("add", 0, [(5, 2), (2,)], (5, 2), (), output),
        ("add", 1, [(5, 2), (2,)], (5, 2), (0,), output),
        ("matmul", 0, [(5, 4), (4, 2)], (5, 2), (), output),
        ("matmul", 1, [(5, 4), (4, 2)], (5, 2), (), output),
        ("relu", 0, [(5, 4)], (5, 4), (), hidden),
        ("add", 0, [(5, 4), (4,)], (5, 4), (), hidden),
        ("add", 1, [(5, 4), (4,)], (5, 4), (0,), hidden),
        ("matmul", 1, [(5, 3), (3, 4)], (5, 4), (), hidden),
    ]
    got = [(r["primitive"], r["argnum"], r["input_shapes"], r["output_shape"], r["broadcast_axes"],
            r["line"]) for r in t.records()]
    assert got == expected
    assert {r["mode"] for r in t.records()} == {"VJP"}
    assert {r["file"] for r in t.records()} == {__file__}
    assert [r["step"] for r in t.records()] == list(range(len(expected)))


def test_trace_norms_are_those_of_the_cotangents():
    t, (W1, b1, W2, b2) = two_layer_mlp_backward()
    records = t.records()
    assert records[0]["received_norm"] == 1.0                              # d loss / d loss
    assert records[0]["returned_norm"] == pytest.approx(np.sqrt(5) / 5)    # d mean / d x_i = 1/5
    assert records[3]["returned_norm"] == pytest.approx(np.linalg.norm(b2.grad.data))
    assert records[5]["returned_norm"] == pytest.approx(np.linalg.norm(W2.grad.data))
    assert records[8]["returned_norm"] == pytest.approx(np.linalg.norm(b1.grad.data))
    assert records[9]["returned_norm"] == pytest.approx(np.linalg.norm(W1.grad.data))
    # Both inputs of an add receive the same cotangent; the bias's is then summed over the batch.
    assert records[3]["received_norm"] == records[2]["received_norm"] == records[2]["returned_norm"]
    assert records[3]["returned_norm"] != records[3]["received_norm"]


def test_broadcast_add_reports_the_summed_axes():
    x = cr.tensor(np.ones((2, 1, 3)), requires_grad=True)
    y = cr.tensor(np.ones((4, 1)), requires_grad=True)
    with trace() as t:
        (x + y).sum().backward()
    add = [(r["argnum"], r["broadcast_axes"], r["returned_norm"]) for r in t.records()
           if r["primitive"] == "add"]
    # x (2, 1, 3) is stretched along axis 1 of (2, 4, 3); y (4, 1) is added axis 0 and stretched on 2.
    assert add == [(0, (1,), pytest.approx(np.sqrt(6 * 16))), (1, (0, 2), pytest.approx(np.sqrt(4 * 36)))]
    np.testing.assert_array_equal(y.grad.data, np.full((4, 1), 6.0))


def test_jvp_trace_records_tangent_rules_at_the_running_line():
    x = cr.tensor([0.5, 1.0, 2.0])
    t_in = cr.tensor([1.0, -1.0, 2.0])
    with trace() as t:
        cr.jvp(lambda z: cr.sin(z) * z, (x,), (t_in,))
    records = t.records()
    assert [(r["mode"], r["primitive"], r["argnum"]) for r in records] == \
        [("JVP", "sin", 0), ("JVP", "mul", 0), ("JVP", "mul", 1)]
    assert {r["line"] for r in records} == {line_of("cr.jvp(lambda z: cr.sin(z) * z, (x,), (t_in,))")}
    assert records[0]["received_norm"] == pytest.approx(np.linalg.norm(t_in.data))
    assert records[0]["returned_norm"] == pytest.approx(np.linalg.norm(np.cos(x.data) * t_in.data))


def test_jvp_trace_reports_broadcast_axes_of_elementwise_primitives():
    with trace() as t:
        cr.jvp(lambda a, b: a + b, (cr.tensor(np.ones((2, 3))), cr.tensor(np.ones(3))),
               (cr.tensor(np.ones((2, 3))), cr.tensor(np.ones(3))))
    assert [(r["argnum"], r["broadcast_axes"]) for r in t.records()] == [(0, ()), (1, (0,))]


def test_trace_prints_a_table_in_the_order_the_rules_ran():
    t, _ = two_layer_mlp_backward()
    lines = str(t).splitlines()
    assert lines[0].split() == ["#", "mode", "rule", "arg", "shapes", "broadcast", "|received|",
                                "|returned|", "source"]
    assert len(lines) == 1 + len(t)
    assert lines[1].split()[:4] == ["0", "VJP", "mean", "0"]
    assert f"test_trace.py:{line_of('h = cr.relu(x @ W1 + b1)')}  h = cr.relu(x @ W1 + b1)" in lines[-1]
    assert "(5, 3), (3, 4) -> (5, 4)" in lines[-1]


def test_trace_writes_json(tmp_path):
    t, _ = two_layer_mlp_backward()
    path = tmp_path / "trace.json"
    text = t.to_json(path)
    loaded = json.loads(path.read_text())
    assert loaded == json.loads(text)
    assert loaded[9]["primitive"] == "matmul"
    assert loaded[9]["input_shapes"] == [[5, 3], [3, 4]]
    assert loaded[3]["broadcast_axes"] == [0]


def test_trace_is_free_when_off_and_restores_nested_observers():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with trace() as outer:
        (x * 2).sum().backward()
        with trace() as inner:
            (x * 3).sum().backward()
        assert hooks.on_vjp is not None and hooks.record_site
        (x * 4).sum().backward()
    assert (hooks.on_forward, hooks.on_vjp, hooks.on_jvp, hooks.record_site) == (None, None, None, False)
    assert len(inner) == 2 and len(outer) == 6
    y = x * 5
    assert y._node.site is None
    y.sum().backward()
    assert len(outer) == 6


def test_hooks_are_restored_when_the_block_raises():
    with pytest.raises(ZeroDivisionError), trace():
        1 / 0
    assert (hooks.on_forward, hooks.on_vjp, hooks.on_jvp, hooks.record_site) == (None, None, None, False)
