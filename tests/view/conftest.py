"""Small real runs for the view's tests: an MLP trained eagerly (--no-compile), a CNN and a compiled MLP
on scikit-learn's digits, and a GPT language model on a short text, each trained with the step and
gradient-flow logs."""

import threading
import urllib.request
import json

import pytest

from chainrule.inspect.recorder import RunRecorder
from chainrule.train import RunConfig, train_run

TEXT = "to be or not to be that is the question whether tis nobler in the mind to suffer\n" * 40


def _train(directory, **settings):
    train_run(RunConfig(data="digits", **settings), directory, progress=False,
              callbacks=[RunRecorder(directory, every=5)])
    return directory


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    text = root / "text.txt"
    text.write_text(TEXT)
    made = {"mlp": _train(root / "mlp", hidden=(16,), epochs=2, compile=False),
            "cnn": _train(root / "cnn", model="cnn", epochs=1, options={"channels": "4,4"}),
            "compiled": _train(root / "compiled", hidden=(16,), epochs=1, compile=True)}
    from chainrule.cli import main
    assert main(["--threads", "1", "train", "--model", "gpt", "--data", str(text), "--n-layer", "2",
                 "--n-head", "2", "--n-embd", "16", "--block-size", "32", "--max-iters", "20", "--warmup-iters", "2",
                 "--lr-decay-iters", "20", "--eval-interval", "10",
                 "--out", str(root / "gpt"), "--quiet"]) == 0
    made["gpt"] = root / "gpt"
    return made


class Client:
    """A running server and GET requests to it."""

    def __init__(self, server):
        self.server = server
        self.base = server.url.rstrip("/")

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=60) as response:
            return json.loads(response.read())


@pytest.fixture
def serving():
    """``serving(run_dirs)``: a started server over ``run_dirs`` (stopped after the test)."""
    from chainrule.view import serve
    servers = []

    def start(run_dirs, **options):
        server = serve(run_dirs, **options)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return Client(server)
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
