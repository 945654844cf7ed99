"""The model registry behind ``chainrule train --model``: a model registered from outside is trained,
checkpointed, rebuilt by evaluate and predict, and its settings and defaults reach the run."""

import json

import numpy as np
import pytest

from chainrule import nn
from chainrule.cli import main
from chainrule.data import DataSplit, load_dataset, register_dataset
from chainrule.data import datasets
from chainrule.train import models
from chainrule.train.runs import ConfigError, RunConfig, evaluate_run, predict_run, train_run


class Shaped(nn.Module):
    """Reads (C, H, W) examples: flattens them itself, so it fails on flat inputs."""

    def __init__(self, input_shape, width, num_outputs):
        super().__init__()
        self.input_shape = input_shape
        self.body = nn.MLP([int(np.prod(input_shape)), width, num_outputs], seed=0)

    def forward(self, x):
        assert x.shape[1:] == self.input_shape, x.shape
        return self.body(x.reshape(x.shape[0], -1))


@pytest.fixture
def shaped_model():
    seen = {}

    def build(config, info):
        seen["info"] = info
        return Shaped(info.input_shape, config.options["width"], info.num_outputs)

    models.register_model("shaped-test", build, inputs="shaped", summary="a test model",
                          settings={"width": models.Setting(8, "hidden width", int, "N")},
                          defaults={"epochs": 2, "lr": 0.01}, data_defaults={"digits": {"epochs": 3}})
    yield seen
    del models._MODELS["shaped-test"]


def test_a_registered_model_trains_and_is_rebuilt_by_evaluate_and_predict(shaped_model, tmp_path):
    record = train_run(RunConfig(model="shaped-test", options={"width": "12"}), tmp_path, progress=False)
    assert shaped_model["info"] == models.ModelInfo((1, 8, 8), 10, "classification")
    config = json.loads((tmp_path / "config.json").read_text())
    assert (config["model"], config["options"], config["epochs"], config["lr"]) == \
        ("shaped-test", {"width": 12}, 3, 0.01)
    assert record["model"]["kind"] == "shaped-test (910 parameters)"
    assert evaluate_run(tmp_path) == record["results"]["test"]
    split = load_dataset("digits")
    predictions = predict_run(tmp_path, split.x_test)
    assert np.mean(predictions == split.y_test) == pytest.approx(record["results"]["test"]["accuracy"])


def test_the_command_line_takes_a_models_own_settings(shaped_model, tmp_path, capsys):
    assert main(["train", "--model", "shaped-test", "--width", "4", "--epochs", "1", "--out",
                 str(tmp_path / "run"), "--quiet"]) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["options"] == {"width": 4}
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--width N" in capsys.readouterr().out


def test_a_setting_of_another_model_is_refused():
    with pytest.raises(ConfigError, match="the model mlp has no setting"):
        RunConfig(options={"width": 3}).resolved()


def test_the_mlp_is_the_default_and_data_sets_change_defaults():
    assert RunConfig().resolved().model == "mlp"
    assert RunConfig(data="mnist1d").resolved().hidden == (512, 512)
    assert RunConfig(data="mnist1d", hidden=(8,)).resolved().hidden == (8,)


def test_a_data_set_registered_elsewhere_is_listed_and_loaded():
    @register_dataset("test-tokens")
    def _tokens():
        x = np.array([[1, 2, 3], [3, 2, 1]] * 5)
        y = np.array([0, 1] * 5)
        return DataSplit(x, y, x, y, "classification", 2, (3,), "test-tokens", "made up",
                         vocabulary=("<pad>", "a", "b", "c"))

    try:
        assert "test-tokens" in datasets.available_datasets()
        assert load_dataset("test-tokens").vocabulary[1] == "a"
    finally:
        del datasets._LOADERS["test-tokens"]


def test_a_model_may_change_the_default_optimizer_and_its_rate_follows():
    models.register_model("sgd-test", lambda config, info: None, defaults={"optimizer": "sgd"})
    try:
        config = RunConfig(model="sgd-test").resolved()
        assert (config.optimizer, config.lr, config.momentum) == ("sgd", 0.05, 0.9)
        assert RunConfig(model="sgd-test", optimizer="adam").resolved().optimizer == "adam"
    finally:
        del models._MODELS["sgd-test"]
