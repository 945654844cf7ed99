"""Training: the loop, its metrics and callbacks, checkpoints, history and learning curves, and the
runs the ``chainrule train`` command makes.

Example:
    >>> import numpy as np
    >>> from chainrule import nn, optim
    >>> from chainrule.train import fit
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 2)).astype("float32")
    >>> y = (x[:, 0] * x[:, 1] > 0).astype("int64")      # XOR of the signs
    >>> model = nn.MLP([2, 32, 2], seed=0)
    >>> history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01),
    ...               (x, y), epochs=40, batch_size=20, progress=False)
    >>> history["accuracy"][-1] > 0.9
    True
"""

from .callbacks import Callback, EarlyStopping, Monitor
from .checkpoint import load_checkpoint, save_checkpoint
from .curves import plot_history
from .history import History
from .metrics import EpochMetrics, accuracy, per_class_accuracy, predicted_classes, rmse
from .iterations import IterationTrainer
from .models import ModelInfo, Setting, register_model
from .runs import evaluate_run, load_run, predict_run, resume_run, stream_run_text, train_run
from .settings import ConfigError, RunConfig
from .trainer import DivergedError, Trainer, evaluate, fit, predict

__all__ = [
    "Trainer", "IterationTrainer", "fit", "evaluate", "predict", "DivergedError",
    "Callback", "EarlyStopping", "Monitor",
    "History", "plot_history", "save_checkpoint", "load_checkpoint",
    "accuracy", "per_class_accuracy", "predicted_classes", "rmse", "EpochMetrics",
    "RunConfig", "ConfigError", "train_run", "resume_run", "evaluate_run", "predict_run", "load_run",
    "stream_run_text", "register_model", "Setting", "ModelInfo",
]
