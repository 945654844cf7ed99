"""The CNNs of chainrule.nn.cnn and ``chainrule train --model cnn`` end to end, on small settings."""

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.nn.cnn import CNN1d, CNN2d, parameter_count
from chainrule.train.runs import RunConfig, evaluate_run, train_run

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


class TorchConvBase(torch.nn.Module):
    """The MNIST-1D paper's CNN as its repository writes it."""

    def __init__(self, channels=25, linear_in=125):
        super().__init__()
        self.conv1 = torch.nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = torch.nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = torch.nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.linear = torch.nn.Linear(linear_in, 10)

    def forward(self, x):
        h = self.conv3(self.conv2(self.conv1(x).relu()).relu()).relu()
        return self.linear(h.view(h.shape[0], -1))


def test_cnn1d_is_the_mnist1d_papers_convbase():
    theirs = TorchConvBase().double()
    ours = CNN1d((1, 40), seed=0).to("float64")
    names = {f"conv{i + 1}.{p}": f"convs.{i}.{p}" for i in range(3) for p in ("weight", "bias")}
    ours.load_state_dict({names.get(k, k): v.numpy() for k, v in theirs.state_dict().items()})
    assert parameter_count(ours) == sum(p.numel() for p in theirs.parameters()) == 5210
    x = np.random.default_rng(0).standard_normal((3, 1, 40))
    np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).detach().numpy(), atol=1e-12)


def test_cnn2d_shapes_and_modes():
    model = CNN2d((1, 28, 28), channels=(4, 8), hidden=16, seed=0)
    assert model(cr.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert [name for name, _ in model.named_parameters()][:4] == \
        ["blocks.0.0.weight", "blocks.0.0.bias", "blocks.0.1.weight", "blocks.0.1.bias"]
    assert CNN2d((1, 8, 8), channels=(4,), batch_norm=False, seed=0)(cr.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_train_cnn_on_digits_learns_and_is_rebuilt_by_evaluate(tmp_path):
    config = RunConfig(data="digits", model="cnn", epochs=2, options={"channels": "4,8"})
    record = train_run(config, tmp_path, progress=False)
    assert record["model"]["kind"].startswith("CNN2d channels 4,8 (")
    assert record["results"]["test"]["accuracy"] > 0.5
    assert evaluate_run(tmp_path) == record["results"]["test"]
    assert json.loads((tmp_path / "config.json").read_text())["options"] == {"channels": [4, 8]}


def test_cli_trains_the_papers_cnn_on_mnist1d(tmp_path, capsys):
    assert main(["train", "--model", "cnn", "--data", "mnist1d", "--epochs", "2", "--channels", "8,8,8",
                 "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "CNN1d channels 8,8,8" in out and "adam lr 0.01, batch 100" in out
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["results"]["test"]["accuracy"] > 0.3


def test_cnn_refuses_flat_data(tmp_path):
    with pytest.raises(ValueError, match="--model cnn needs examples shaped"):
        train_run(RunConfig(data="moons", model="cnn", epochs=1), tmp_path, progress=False)
