"""gradient_flow, graph and trace on convolutional networks."""

import re

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.inspect import gradient_flow, graph, trace


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, generator=0), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 3 * 3, 3, generator=0))


def _batch():
    rng = np.random.default_rng(0)
    return rng.standard_normal((5, 1, 6, 6)).astype(np.float32), np.array([0, 1, 2, 0, 1])


def test_gradient_flow_reports_conv_kernels_and_dead_channels():
    model = _cnn()
    model[0].bias.data[1] = -100.0  # channel 1 never fires
    x, y = _batch()
    F.cross_entropy(model(x), y).backward()
    report = gradient_flow(model, inputs=x)
    rows = {row["name"]: row for row in report.rows}
    assert rows["0.weight"]["shape"] == (4, 1, 3, 3)
    assert rows["0.weight"]["grad_norm"] > 0 and rows["4.weight"]["grad_norm"] > 0
    assert rows["0.weight"]["dead_fraction"] == 0.25  # one channel of four, over every position
    np.testing.assert_allclose(rows["0.weight"]["grad_norm"], np.linalg.norm(model[0].weight.grad.data),
                               rtol=1e-6)


def test_trace_records_the_convolutions_shapes_and_settings():
    model = _cnn()
    x, y = _batch()
    with trace() as t:
        F.cross_entropy(model(x), y).backward()
    convs = [r for r in t.records() if r["primitive"] == "conv"]
    assert {r["argnum"] for r in convs} == {1}  # the input needs no gradient
    record = convs[0]
    assert record["input_shapes"] == [(5, 1, 6, 6), (4, 1, 3, 3)] and record["output_shape"] == (5, 4, 6, 6)
    assert record["params"]["padding"] == "((1, 1), (1, 1))" and record["code"].startswith("F.cross_entropy")
    pools = [r for r in t.records() if r["primitive"] == "max_pool"]
    assert pools[0]["output_shape"] == (5, 4, 3, 3)


def test_graph_names_conv_layers_by_their_model_names():
    model = _cnn()
    x, y = _batch()
    source = graph(lambda x: F.cross_entropy(model(x), y), cr.tensor(x), model=model).source
    labels = re.findall(r'label="([^"\\]*)', source)
    assert {"0.weight", "0.bias", "4.weight", "conv", "max_pool"} <= set(labels)
    assert "(4, 1, 3, 3)" in source
