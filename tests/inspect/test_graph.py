"""Graphs: DOT nodes and edges, names from models, gradient norms, rendering."""

import re
import shutil

import graphviz
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.errors import GraphError
from chainrule.inspect import GraphvizNotInstalled, graph


def parse(source):
    """``({node id: label lines}, [(tail label, head label)])`` from DOT source."""
    found = re.findall(r'\t(n\d+) \[label=(?:"([^"]*)"|([^ \]]+))', source)
    labels = {node: (quoted or bare).split("\\n") for node, quoted, bare in found}
    edges = [(labels[tail][0], labels[head][0]) for tail, head in re.findall(r"\t(n\d+) -> (n\d+)", source)]
    return labels, edges


def layer():
    rng = np.random.default_rng(1)
    x = cr.tensor(rng.normal(size=(4, 3)))
    W = cr.tensor(rng.normal(size=(3, 2)), requires_grad=True)
    b = cr.tensor(rng.normal(size=2), requires_grad=True)
    return x, W, b


def loss_of(x, W, b):
    return cr.softmax_cross_entropy(cr.relu(x @ W + b), np.array([0, 1, 1, 0])).mean()


def test_function_graph_has_one_node_per_operation_and_the_data_flow_edges():
    x, W, b = layer()
    labels, edges = parse(graph(loss_of, x, W, b).source)
    heads = sorted(lines[0] for lines in labels.values())
    assert heads == sorted(["x", "W", "b", "matmul", "add", "relu", "softmax_cross_entropy", "constant",
                            "mean"])
    assert sorted(edges) == sorted([("x", "matmul"), ("W", "matmul"), ("matmul", "add"), ("b", "add"),
                                    ("add", "relu"), ("relu", "softmax_cross_entropy"),
                                    ("constant", "softmax_cross_entropy"),
                                    ("softmax_cross_entropy", "mean")])
    shapes = {lines[0]: lines[1] for lines in labels.values()}
    assert shapes == {"x": "(4, 3)", "W": "(3, 2)", "b": "(2,)", "matmul": "(4, 2)", "add": "(4, 2)",
                      "relu": "(4, 2)", "softmax_cross_entropy": "(4,)", "constant": "(4,)", "mean": "()"}


def test_function_graph_shows_gradient_norms_after_backward():
    x, W, b = layer()
    labels, _ = parse(graph(loss_of, x, W, b).source)
    by_name = {lines[0]: lines for lines in labels.values()}
    assert by_name["W"][2] == f"|grad| = {np.linalg.norm(W.grad.data):.4g}"
    assert by_name["b"][2] == f"|grad| = {np.linalg.norm(b.grad.data):.4g}"
    assert by_name["mean"][2] == "|g| = 1"
    assert by_name["softmax_cross_entropy"][2] == f"|g| = {np.sqrt(4) / 4:.4g}"
    assert by_name["mean"][3].startswith("test_graph.py:")


def test_tensor_graph_before_backward_has_shapes_and_no_gradients():
    x, W, b = layer()
    loss = loss_of(x, W, b)
    source = graph(loss, params={"weight": W, "bias": b}).source
    labels, edges = parse(source)
    assert ("weight", "matmul") in edges and ("bias", "add") in edges
    assert "|g|" not in source and "|grad|" not in source
    assert W.grad is None


def test_parameters_are_labelled_by_their_names_in_the_model():
    model = nn.MLP([3, 5, 2], seed=0)
    x = cr.tensor(np.ones((4, 3), dtype="float32"))
    labels, edges = parse(graph(lambda x: model(x).sum(), x, model=model).source)
    names = {lines[0] for lines in labels.values()}
    assert {"0.weight", "0.bias", "2.weight", "2.bias", "x"} <= names
    assert ("0.weight", "linear") in edges and ("0.bias", "linear") in edges
    assert ("2.bias", "linear") in edges and ("linear", "relu") in edges
    assert np.linalg.norm(model[0].weight.grad.data) > 0


def test_graph_without_a_recorded_graph_says_what_to_pass():
    with pytest.raises(GraphError, match="requires_grad=True"):
        graph(lambda x: x * 2, cr.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="only for a function target"):
        graph(cr.tensor([1.0], requires_grad=True) * 2, 3.0)
    with pytest.raises(TypeError, match="a tensor or a function, not list"):
        graph([1.0])


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graph_renders_png(tmp_path):
    x, W, b = layer()
    path = tmp_path / "layer.png"
    graph(loss_of, x, W, b).render(outfile=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rendering_without_dot_explains_how_to_install_it(tmp_path, monkeypatch):
    x, W, b = layer()
    picture = graph(loss_of, x, W, b)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GraphvizNotInstalled, match="apt-get install graphviz") as caught:
        picture.render(outfile=tmp_path / "layer.svg")
    assert isinstance(caught.value, graphviz.ExecutableNotFound)
    with pytest.raises(GraphvizNotInstalled, match="g.source"):
        picture.pipe(format="svg")
