"""A small data-parallel training run, started by the tests under ``mpiexec -n N`` (or alone).

Usage: ``python tests/distributed/worker.py '{"optimizer": "adam", "out": "w.npz", ...}'``. Rank 0
saves the final weights to ``out``. Fault settings make one rank fail on purpose.
"""

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np

from chainrule import distributed as dist
from chainrule import nn, optim
from chainrule.train import Trainer

SETTINGS = {"optimizer": "sgd", "batch_size": 64, "rows": 640, "epochs": 10, "dropout": 0.2,
            "dtype": "float32", "out": None, "raise_on_rank": None, "kill_rank": None, "fault_step": 3,
            "hidden": 16, "checkpoint_dir": None, "resume": False, "distributed": True,
            "exact_dropout": True, "pid_dir": None}


class Fault:
    """Makes one rank fail at a given step: raise an error, or die by SIGKILL."""

    def __init__(self, settings):
        self.settings = settings

    def on_batch_end(self, trainer, step, logs):
        if step != self.settings["fault_step"]:
            return
        if dist.rank() == self.settings["raise_on_rank"]:
            raise RuntimeError("a deliberate failure")
        if dist.rank() == self.settings["kill_rank"]:
            os.kill(os.getpid(), signal.SIGKILL)


def main(settings):
    dist.init()
    if settings["pid_dir"]:
        (Path(settings["pid_dir"]) / f"rank{dist.rank()}").write_text(str(os.getpid()))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(settings["rows"], 10)).astype(settings["dtype"])
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(np.int64) + (x[:, 3] > 1)
    model = nn.MLP([10, settings["hidden"], settings["hidden"], 3], dropout=settings["dropout"], seed=5)
    model.to(settings["dtype"])
    if settings["optimizer"] == "sgd":
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    else:
        optimizer = optim.Adam(model.parameters(), lr=1e-2)
    ddp = dist.DistributedDataParallel(model, settings["exact_dropout"]) if settings["distributed"] else None
    trainer = Trainer(model, nn.CrossEntropyLoss(), optimizer, batch_size=settings["batch_size"],
                      progress=False, distributed=ddp, callbacks=[Fault(settings)],
                      checkpoint_dir=settings["checkpoint_dir"])
    trainer.fit((x, y), epochs=settings["epochs"], resume=settings["resume"])
    if dist.is_root() and settings["out"]:
        np.savez(settings["out"], step=trainer.step, loss=trainer.history["loss"],
                 **{name: p.numpy() for name, p in model.named_parameters()})


if __name__ == "__main__":
    main({**SETTINGS, **json.loads(sys.argv[1])})
