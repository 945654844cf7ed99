"""Training runs on the bundled data sets, as the ``chainrule`` command does them.

A run takes a :class:`RunConfig` and leaves a run directory:

========================== ==================================================================
``config.json``            the settings used (give it back with ``chainrule train --config``)
``run.json``               the data set's and the model's shapes, and the test results
``standardizer.safetensors`` the feature means and deviations, fitted on the training part only
``last.safetensors``       the checkpoint after the last epoch (what ``--resume`` continues)
``best.safetensors``       the checkpoint of the best epoch by validation loss (what is scored)
``history.json``, ``.csv`` one record per epoch: loss, accuracy (or RMSE), their validation values,
                           learning rate, seconds
``curves.png``             the learning curves
``report.md``              a short report: data, model, settings, test accuracy, time
========================== ==================================================================

The training split is divided once more: a ``val_fraction`` of it (10% by default, drawn with the
run's seed) is held out to pick the best epoch and for early stopping; the test split is scored only
at the end, with the best epoch's weights.
"""

import dataclasses
import json
import math
import numbers
import time
from pathlib import Path

import numpy as np

from .. import nn, optim, serialization
from ..data import Standardizer, TensorDataset, available_datasets, load_dataset, random_split
from ..errors import ChainruleError, CheckpointError
from .callbacks import EarlyStopping
from .checkpoint import load_checkpoint
from .curves import plot_history
from .metrics import predicted_classes
from .trainer import BEST, LAST, Trainer, evaluate, predict

OPTIMIZERS = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop,
              "adagrad": optim.Adagrad}
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-2}
WITH_MOMENTUM = ("sgd", "rmsprop")
LOSSES = {"classification": {"cross-entropy": nn.CrossEntropyLoss, "hinge": nn.HingeLoss},
          "regression": {"mse": nn.MSELoss, "l1": nn.L1Loss}}
NORMS = ("none", "batch", "layer")
SCHEDULES = ("constant", "cosine", "step", "plateau")
RUN_FILES = ("config.json", "run.json", "standardizer.safetensors", LAST, BEST, "history.json",
             "history.csv", "curves.png", "report.md")


class ConfigError(ChainruleError, ValueError):
    """A training setting that is out of range, of the wrong type, or not one of the choices."""


@dataclasses.dataclass
class RunConfig:
    """The settings of a training run, with the defaults of ``chainrule train``.

    ``None`` means "the default for the rest of the settings": ``loss`` is cross-entropy for
    classification and squared error for regression, ``lr`` depends on the optimiser
    (:data:`DEFAULT_LR`), ``momentum`` is 0.9 for SGD and 0 for RMSprop, ``batch_size`` is 64 or the
    whole training part when that is smaller.
    """

    data: str = "digits"
    hidden: tuple = (256, 256)
    activation: str = "relu"
    dropout: float = 0.3
    norm: str = "none"
    residual: bool = False
    loss: str | None = None
    optimizer: str = "adam"
    lr: float | None = None
    momentum: float | None = None
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    batch_size: int | None = None
    epochs: int = 30
    patience: int | None = None
    clip_grad_norm: float | None = None
    val_fraction: float = 0.1
    seed: int = 0

    @classmethod
    def from_dict(cls, values, source="config"):
        """A config from a mapping of setting names (``batch_size`` or ``batch-size``) to values,
        with the defaults for the settings it leaves out."""
        values = {key.replace("-", "_"): value for key, value in values.items()}
        known = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"{source}: unknown setting(s) {', '.join(unknown)}; "
                              f"known: {', '.join(known)}")
        if isinstance(values.get("hidden"), str):
            values["hidden"] = _parse_hidden(values["hidden"])
        return cls(**values)

    def to_dict(self):
        """The settings as a JSON-ready dict."""
        return {**dataclasses.asdict(self), "hidden": list(self.hidden)}

    def resolved(self):
        """A checked copy with the defaults that follow from the optimiser filled in.

        Raises:
            ConfigError: naming the first setting that is not allowed, its value and what is.
        """
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        defaults = {"lr": DEFAULT_LR[self.optimizer],
                    "momentum": {"sgd": 0.9, "rmsprop": 0.0}.get(self.optimizer)}
        config = dataclasses.replace(self, **{name: value for name, value in defaults.items()
                                              if getattr(self, name) is None})
        config._check()
        return config

    def for_data(self, task, size):
        """A copy with the defaults that follow from the data filled in: the loss for ``task``
        (``"classification"`` or ``"regression"``) and the batch size for a training part of ``size``
        examples; raises :class:`ConfigError` if the chosen loss or batch size does not fit."""
        if self.loss is not None:
            _check_choice("loss", self.loss, LOSSES[task], f" for {task}")
        if self.batch_size is not None and self.batch_size > size:
            raise ConfigError(f"--batch-size {self.batch_size} is larger than the training part of "
                              f"{self.data} ({size} examples); use {size} or less")
        return dataclasses.replace(self, loss=self.loss or next(iter(LOSSES[task])),
                                   batch_size=self.batch_size or min(64, size))

    def _check(self):
        _check_choice("data set", self.data, available_datasets())
        if not isinstance(self.hidden, (list, tuple)) or not all(_is_int(h) and h > 0 for h in self.hidden):
            raise ConfigError(f"--hidden must list positive layer widths, e.g. 256,256, "
                              f"not {self.hidden!r}")
        _check_choice("activation", self.activation, sorted(nn.ACTIVATIONS))
        _check_number("dropout", self.dropout, "a probability in [0, 1)", lambda p: 0 <= p < 1)
        _check_choice("norm", self.norm, NORMS)
        _check_bool("residual", self.residual)
        if self.loss is not None:
            _check_choice("loss", self.loss, [name for losses in LOSSES.values() for name in losses])
        _check_number("lr", self.lr, "a positive number", lambda lr: lr > 0)
        if self.optimizer in WITH_MOMENTUM:
            _check_number("momentum", self.momentum, "a number in [0, 1)", lambda m: 0 <= m < 1)
        elif self.momentum is not None:
            raise ConfigError(f"--momentum applies to the optimizers {', '.join(WITH_MOMENTUM)}, "
                              f"not to {self.optimizer}")
        _check_bool("nesterov", self.nesterov)
        if self.nesterov and not (self.optimizer == "sgd" and self.momentum > 0):
            raise ConfigError("--nesterov needs --optimizer sgd with a --momentum above 0")
        _check_number("weight_decay", self.weight_decay, "a non-negative number", lambda w: w >= 0)
        _check_choice("schedule", self.schedule, SCHEDULES)
        if self.batch_size is not None:
            _check_int("batch_size", self.batch_size, 1)
        _check_int("epochs", self.epochs, 1)
        if self.patience is not None:
            _check_int("patience", self.patience, 1)
        if self.clip_grad_norm is not None:
            _check_number("clip_grad_norm", self.clip_grad_norm, "a positive number", lambda c: c > 0)
        _check_number("val_fraction", self.val_fraction, "a fraction in [0, 0.5]", lambda f: 0 <= f <= 0.5)
        _check_int("seed", self.seed, 0)


# -- building the parts ---------------------------------------------------------------------------

def prepare_data(config):
    """Load the data set, hold out the validation part, and standardise the features with the
    statistics of the training part.

    Returns:
        ``(split, parts, standardizer)``: the :class:`~chainrule.data.DataSplit`, a dict of
        ``(x, y)`` pairs for ``"train"``, ``"val"`` (absent when ``val_fraction`` is 0) and ``"test"``
        with flattened, standardised features, and the fitted standardizer.
    """
    split = load_dataset(config.data, seed=config.seed)
    x, y = _flatten(split.x_train), split.y_train
    val_size = round(config.val_fraction * len(x))
    train_part, val_part = random_split(TensorDataset(x, y), [len(x) - val_size, val_size],
                                        seed=config.seed)
    standardizer = Standardizer().fit(x[train_part.indices])
    parts = {"train": (standardizer.transform(x[train_part.indices]), y[train_part.indices])}
    if val_size:
        parts["val"] = (standardizer.transform(x[val_part.indices]), y[val_part.indices])
    parts["test"] = (standardizer.transform(_flatten(split.x_test)), split.y_test)
    return split, parts, standardizer


def build_model(config, sizes):
    """The MLP the config describes."""
    return nn.MLP(sizes, activation=config.activation, dropout=config.dropout,
                  norm=None if config.norm == "none" else config.norm, residual=config.residual,
                  seed=config.seed)


def build_optimizer(config, parameters):
    """The optimiser the config names, with its settings."""
    settings = {"lr": config.lr, "weight_decay": config.weight_decay}
    if config.optimizer in WITH_MOMENTUM:
        settings["momentum"] = config.momentum
    if config.optimizer == "sgd":
        settings["nesterov"] = config.nesterov
    return OPTIMIZERS[config.optimizer](list(parameters), **settings)


def build_scheduler(config, optimizer):
    """The learning-rate schedule: constant, cosine annealing to 0 over the run, a tenfold decay
    after each third of the run, or halving after 5 epochs without a better validation loss."""
    if config.schedule == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    if config.schedule == "step":
        return optim.lr_scheduler.StepLR(optimizer, step_size=max(1, config.epochs // 3))
    if config.schedule == "plateau":
        return optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=5)
    return None


# -- the run --------------------------------------------------------------------------------------

def train_run(config, run_dir, force=False, progress=True, log=None):
    """Train as ``config`` says, writing everything into ``run_dir``, and score the best epoch's
    weights on the test split.

    Args:
        config: a :class:`RunConfig`.
        run_dir: the run directory (created if needed).
        force: replace the files of another run found in ``run_dir`` (otherwise refused).
        progress: show the progress bars.
        log: a function called with lines worth showing (``print``), or ``None``.

    Returns:
        The ``run.json`` record: data, model, and the test scores under ``"results"``.
    """
    config = config.resolved()
    _claim(Path(run_dir), force)
    return _run(config, Path(run_dir), False, progress, log or _silent)


def resume_run(run_dir, epochs=None, progress=True, log=None):
    """Continue the run in ``run_dir`` from its last checkpoint, with its own config, to ``epochs``
    epochs in all (by default the number it was started with; a cosine or step schedule, which is
    laid out over that number, cannot take another). The final weights are those an uninterrupted
    run would have reached. Arguments and result as for :func:`train_run`."""
    config = read_config(run_dir)
    if epochs is not None and epochs != config.epochs:
        if config.schedule in ("cosine", "step"):
            raise ConfigError(f"the {config.schedule} schedule of this run is set for {config.epochs} "
                              f"epochs; it cannot resume with --epochs {epochs}")
        config = dataclasses.replace(config, epochs=epochs)
    return _run(config.resolved(), Path(run_dir), True, progress, log or _silent)


def _run(config, run_dir, resume, progress, log):
    started = time.perf_counter()
    split, parts, standardizer = prepare_data(config)
    config = config.for_data(split.task, len(parts["train"][1]))
    out_features = split.num_classes if split.task == "classification" else split.y_train.shape[1]
    sizes = [parts["train"][0].shape[1], *config.hidden, out_features]
    record = {"data": {"name": split.name, "task": split.task, "num_classes": split.num_classes,
                       "feature_shape": list(split.feature_shape), "source": split.source,
                       "sizes": {name: len(part[1]) for name, part in parts.items()}},
              "model": {"kind": "MLP", "sizes": sizes}}
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_json(run_dir / "config.json", config.to_dict())
    _write_json(run_dir / "run.json", record)
    serialization.save(standardizer.state_dict(), run_dir / "standardizer.safetensors")
    architecture = "MLP " + "-".join(map(str, sizes))
    log(f"data: {split.name}, {_describe_sizes(record['data']['sizes'])}")
    log(f"model: {architecture}, {config.activation}; {config.optimizer} lr {config.lr:g}, "
        f"batch {config.batch_size}, {config.epochs} epochs")

    model = build_model(config, sizes)
    optimizer = build_optimizer(config, model.parameters())
    monitor = "val_loss" if "val" in parts else "loss"
    stopping = None if config.patience is None else EarlyStopping(monitor, config.patience)
    trainer = Trainer(model, LOSSES[split.task][config.loss](), optimizer,
                      batch_size=config.batch_size, drop_last=config.norm == "batch",
                      scheduler=build_scheduler(config, optimizer), clip_grad_norm=config.clip_grad_norm,
                      early_stopping=stopping, seed=config.seed, progress=progress, checkpoint_dir=run_dir)
    history = trainer.fit(parts["train"], parts.get("val"), epochs=config.epochs, resume=resume)
    history.to_json(run_dir / "history.json")
    history.to_csv(run_dir / "history.csv")
    plot_history(history, run_dir / "curves.png", title=f"{split.name}: {architecture}",
                 best_epoch=trainer.monitor.best_epoch)

    model.load_state_dict(load_checkpoint(run_dir / BEST)["model"])
    record["results"] = {"test": evaluate(model, trainer.loss, parts["test"]), "epochs": trainer.epoch,
                         "best_epoch": trainer.monitor.best_epoch, "monitor": monitor,
                         "training_seconds": sum(history["seconds"]),
                         "seconds": time.perf_counter() - started}
    _write_json(run_dir / "run.json", record)
    (run_dir / "report.md").write_text(_report(config, record))
    log(f"best epoch: {trainer.monitor.best_epoch} of {trainer.epoch} (by {monitor}); "
        f"run directory: {run_dir}")
    return record


def load_run(run_dir):
    """The config, ``run.json`` record, standardizer and best-epoch model of a run directory.

    Raises:
        CheckpointError: naming what is missing or unreadable.
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    record = _read_json(run_dir / "run.json")
    standardizer = Standardizer()
    standardizer.load_state_dict(_load(run_dir / "standardizer.safetensors"))
    model = build_model(config, record["model"]["sizes"])
    model.load_state_dict(load_checkpoint(run_dir / BEST)["model"])
    return config, record, standardizer, model


def evaluate_run(run_dir):
    """Score the best epoch's weights of a run on its data set's test split again.

    Returns:
        The scores: ``loss`` and ``accuracy`` and ``per_class_accuracy``, or ``loss`` and ``rmse``.
    """
    config, record, _, model = load_run(run_dir)
    _, parts, _ = prepare_data(config)
    return evaluate(model, LOSSES[record["data"]["task"]][config.loss](), parts["test"])


def predict_run(run_dir, x):
    """The predictions of a run's best model for raw feature rows ``x`` (in the data set's units:
    the standardisation is applied here): class indices for a classifier, values for a regression.

    Args:
        run_dir: the run directory.
        x: an array of shape ``(n, *feature_shape)`` or ``(n, features)``, or a single example.

    Raises:
        ConfigError: when the rows do not have the model's number of features.
    """
    _, record, standardizer, model = load_run(run_dir)
    features = record["model"]["sizes"][0]
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise ConfigError(f"the input must hold numbers, not {x.dtype}")
    if x.size == features and x.ndim in (1, len(record["data"]["feature_shape"])):
        x = x.reshape(1, features)
    if x.ndim < 2 or len(x) == 0 or math.prod(x.shape[1:]) != features:
        raise ConfigError(f"the input has shape {x.shape}, but the model takes rows of {features} "
                          f"features: shape (n, {features})")
    outputs = predict(model, standardizer.transform(x.reshape(len(x), features)).astype(np.float32))
    return predicted_classes(outputs) if record["data"]["task"] == "classification" else outputs


def read_config(run_dir):
    """The :class:`RunConfig` saved in a run directory."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"no run directory at {run_dir}")
    return RunConfig.from_dict(_read_json(run_dir / "config.json"), source=str(run_dir / "config.json"))


# -- helpers --------------------------------------------------------------------------------------

def _claim(run_dir, force):
    """Refuse a directory that holds another run, unless ``force``, which clears that run's files."""
    existing = [name for name in RUN_FILES if (run_dir / name).exists()]
    if existing and not force:
        raise ConfigError(f"{run_dir} already holds a run; pass --resume to continue it or --force "
                          f"to replace it")
    for name in existing:
        (run_dir / name).unlink()


def _silent(line):
    pass


def _flatten(x):
    return x.reshape(len(x), -1)


def _describe_sizes(sizes):
    names = {"train": "training", "val": "validation", "test": "test"}
    return " / ".join(f"{count} {names[part]}" for part, count in sizes.items()) + " examples"


def _report(config, record):
    data, results = record["data"], record["results"]
    test = results["test"]
    score = (f"test accuracy: **{test['accuracy']:.2%}** (loss {test['loss']:.4f})"
             if data["task"] == "classification" else f"test RMSE: **{test['rmse']:.4f}**")
    lines = [
        f"# Training run: {data['name']}", "",
        f"- {score}",
        f"- data: {data['name']}, {_describe_sizes(data['sizes'])}; {data['source']}",
        f"- model: MLP {'-'.join(map(str, record['model']['sizes']))}, {config.activation}, "
        f"dropout {config.dropout}, norm {config.norm}, residual {config.residual}",
        f"- training: {config.loss} loss, {config.optimizer} lr {config.lr:g}, batch {config.batch_size}, "
        f"schedule {config.schedule}, seed {config.seed}; {results['epochs']} of {config.epochs} epochs, "
        f"best epoch {results['best_epoch']} by {results['monitor']}",
        f"- time: {results['training_seconds']:.1f} s training, {results['seconds']:.1f} s for the "
        f"whole command",
        "- reproduce: `chainrule train --config config.json --out NEW_DIR`",
    ]
    if data["task"] == "classification":
        lines += ["", "| class | " + " | ".join(map(str, range(len(test["per_class_accuracy"])))) + " |",
                  "|---" * (len(test["per_class_accuracy"]) + 1) + "|",
                  "| accuracy | " + " | ".join(f"{a:.1%}" for a in test["per_class_accuracy"]) + " |"]
    return "\n".join(lines + ["", "![learning curves](curves.png)", ""])


def _write_json(path, value):
    Path(path).write_text(json.dumps(value, indent=1) + "\n")


def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None
    except ValueError as error:
        raise CheckpointError(f"{path} is not valid JSON: {error}") from None


def _load(path):
    try:
        return serialization.load(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None


def _parse_hidden(text):
    text = text.strip()
    if text in ("", "none"):
        return ()
    try:
        return tuple(int(width) for width in text.split(","))
    except ValueError:
        raise ConfigError(f"--hidden must list layer widths separated by commas, e.g. 256,256, "
                          f"not {text!r}") from None


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_choice(name, value, choices, context=""):
    if value not in choices:
        raise ConfigError(f"unknown {name} {value!r}{context}; choose one of: "
                          f"{', '.join(choices)}")


def _check_int(name, value, low):
    if not _is_int(value) or value < low:
        kind = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ConfigError(f"--{name.replace('_', '-')} must be {kind}, not {value!r}")


def _check_number(name, value, allowed, test):
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value) \
            or not test(value):
        raise ConfigError(f"--{name.replace('_', '-')} must be {allowed}, not {value!r}")


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise ConfigError(f"--{name} must be true or false, not {value!r}")
