"""The page's data, checked against the engine: curves from the logs, the backprop frames against
the gradients, filters against the checkpoint, attention weights that are a causal softmax."""

import numpy as np
import pytest

from chainrule.core.tensor import Tensor
from chainrule.inspect.recorder import FLOW_LOG, STEPS_LOG, read_log
from chainrule.train.runs import load_run


def test_curves_come_from_the_run_files(serving, runs):
    client = serving([runs["mlp"], runs["cnn"]])
    listed = client.get("/api/runs")
    assert [(run["id"], run["name"], run["kind"], run["status"]) for run in listed] == [
        (0, "mlp", "mlp", "finished"), (1, "cnn", "cnn", "finished")]
    steps = read_log(runs["mlp"] / STEPS_LOG)
    assert client.get("/api/runs/0/steps")["loss"] == [row["loss"] for row in steps]
    history = client.get("/api/runs/0/history")["records"]
    assert [record["epoch"] for record in history] == [1, 2]
    assert client.get("/api/runs/0/flow")["records"] == read_log(runs["mlp"] / FLOW_LOG)


def test_a_run_in_progress_shows_the_history_of_its_last_checkpoint(serving, runs, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    copied = ("config.json", "run.json", "standardizer.safetensors", "last.safetensors", "best.safetensors")
    for name in copied:
        (partial / name).write_bytes((runs["mlp"] / name).read_bytes())
    client = serving([partial])
    history = client.get("/api/runs/0/history")["records"]
    assert [record["epoch"] for record in history] == [1, 2]
    assert client.get("/api/runs/0/summary")["status"] == "in progress or stopped"


def test_backprop_frames_are_the_engine_s_own(serving, runs):
    client = serving([runs["mlp"]])
    answer = client.get("/api/runs/0/backprop?example=3")
    assert answer["svg"].startswith("<svg")
    frames = answer["frames"]
    forward = [frame for frame in frames if frame["kind"] == "forward"]
    backward = [frame for frame in frames if frame["kind"] == "backward"]
    assert frames[:len(forward)] == forward  # the forward pass first, then the backward pass
    assert [frame["label"] for frame in forward][:3] == ["linear", "relu", "linear"]
    # the loss computed again, and the first layer's weight gradient against the one VJP frame for it
    config, _, _, model = load_run(runs["mlp"])
    from chainrule.train.runs import prepare_data
    x, y = prepare_data(config).parts["test"]
    model.eval()
    loss = __import__("chainrule").nn.CrossEntropyLoss()(model(Tensor(x[3:4])), Tensor(y[3:4]))
    assert answer["loss"] == pytest.approx(loss.item(), rel=1e-6)
    loss.backward()
    weight = dict(model.named_parameters())["0.weight"]
    titles = {frame["to"] for frame in backward}
    into_weight = [frame for frame in backward if frame["label"] == "linear" and frame["argnum"] == 1
                   and frame["returned"]["shape"] == list(weight.shape)]
    assert len(into_weight) == 1 and into_weight[0]["to"] in titles
    np.testing.assert_allclose(into_weight[0]["returned"]["values"],
                               np.round(weight.grad.data.ravel()[:1024], 5), atol=1e-5)
    assert f"<title>{into_weight[0]['to']}</title>" in answer["svg"]


def test_backprop_is_for_small_mlps(serving, runs):
    client = serving([runs["cnn"]])
    assert "MLP runs" in client.get("/api/runs/0/backprop")["unavailable"]


def test_filters_and_feature_maps(serving, runs):
    client = serving([runs["cnn"], runs["mlp"]])
    filters = client.get("/api/runs/0/filters")
    _, _, _, model = load_run(runs["cnn"])
    weight = dict(model.named_parameters())[filters["name"]].data
    assert filters["shape"] == [4, 1, 3, 3]
    np.testing.assert_allclose(filters["values"], weight, atol=1e-5)
    maps = client.get("/api/runs/0/features?example=5")
    assert maps["index"] == 5 and np.array(maps["input"]).shape == (1, 8, 8)
    assert np.array(maps["maps"]).shape[0] == 4
    assert "no convolution" in client.get("/api/runs/1/filters")["unavailable"]
    assert "index from 0 to" in client.get("/api/runs/0/features?example=100000")["unavailable"]


def test_attention_weights_of_a_typed_prompt(serving, runs):
    client = serving([runs["gpt"], runs["mlp"]])
    answer = client.get("/api/runs/0/attention?prompt=to%20be%20or%20not")
    assert "".join(answer["tokens"]) == "to be or not" and answer["dropped"] == ""
    weights = np.array(answer["layers"])
    assert weights.shape == (2, 2, 12, 12)  # layers, heads, positions, positions
    np.testing.assert_allclose(weights.sum(axis=-1), 1, atol=1e-3)
    assert np.all(np.triu(weights, k=1) == 0)  # a causal model looks left only
    assert "transformer runs" in client.get("/api/runs/1/attention?prompt=abc")["unavailable"]
    assert client.get("/api/runs/0/attention?prompt=XYZ")["unavailable"].startswith("none of the prompt")


def test_graph_and_program(serving, runs):
    client = serving([runs["compiled"], runs["mlp"]])
    graph = client.get("/api/runs/0/graph")
    assert graph["svg"].startswith("<svg") and "0.weight" in graph["svg"]
    program = client.get("/api/runs/0/program")
    assert "linear" in program["listing"] and "-- backward" in program["listing"]
    assert "not compiled" in client.get("/api/runs/1/program")["unavailable"]
