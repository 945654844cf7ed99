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
import time
from pathlib import Path

import numpy as np

from .. import nn, optim, serialization
from ..data import Standardizer, TensorDataset, available_datasets, load_dataset, random_split
from ..errors import ChainruleError, CheckpointError
from ..validation import check_bool, check_choice, check_int, check_number, fail
from .callbacks import EarlyStopping
from .checkpoint import load_checkpoint
from .curves import plot_history
from .metrics import predicted_classes, score_line
from .models import ModelInfo, available_models, get_model
from .trainer import BEST, LAST, Trainer, evaluate, predict

OPTIMIZERS = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop,
              "adagrad": optim.Adagrad}
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-2}
DEFAULT_MOMENTUM = {"sgd": 0.9, "rmsprop": 0.0}
LOSSES = {"classification": {"cross-entropy": nn.CrossEntropyLoss, "hinge": nn.HingeLoss},
          "regression": {"mse": nn.MSELoss, "l1": nn.L1Loss}}
NORMS = ("none", "batch", "layer")
SCHEDULES = ("constant", "cosine", "step", "plateau")
RUN_FILES = ("config.json", "run.json", "standardizer.safetensors", LAST, BEST, "history.json",
             "history.csv", "curves.png", "report.md")

# The defaults of the settings that depend on the data set (or the model: see
# chainrule.train.models), in one table. A model's own defaults win over a data set's here; a config
# file's value or a flag wins over both.
DEFAULTS = {"optimizer": "adam", "hidden": (256, 256), "dropout": 0.3, "epochs": 30, "batch_size": 64,
            "weight_decay": 0.0, "schedule": "constant"}
DATA_DEFAULTS = {
    # 71.1% test accuracy (seed 0; seed 1: 71.0%), above the published MLP's 68%.
    "mnist1d": {"hidden": (512, 512), "dropout": 0.5, "epochs": 100, "weight_decay": 1e-4},
}


class ConfigError(ChainruleError, ValueError):
    """A training setting that is out of range, of the wrong type, or not one of the choices."""


def _setting(group, help, metavar=None, default=None, parse=None):
    """A :class:`RunConfig` field: its ``chainrule train`` flag's group, help, placeholder and parser
    live in the field's metadata (the command line is built from them)."""
    return dataclasses.field(default=default, metadata={"group": group, "help": help, "metavar": metavar,
                                                         "parse": parse})


@dataclasses.dataclass
class RunConfig:
    """The settings of a training run, with the defaults of ``chainrule train``.

    ``None`` means "the default for the rest of the settings": see :data:`DEFAULTS` and
    :data:`DATA_DEFAULTS` (per data set), the model's own defaults, :data:`DEFAULT_LR` (per optimiser)
    and :data:`DEFAULT_MOMENTUM`; ``loss`` is cross-entropy for classification and squared error for
    regression; the batch size is at most the training part. :meth:`resolved` fills them in.
    ``options`` holds the chosen model's own settings (see :mod:`chainrule.train.models`).
    """

    data: str = _setting("data", "data set", "NAME", "digits")
    model: str = _setting("model", "model", "NAME", "mlp")
    hidden: tuple | None = _setting("model", "hidden layer widths, '' for none", "W1,W2,...")
    activation: str = _setting("model", "hidden activation: relu, tanh, sigmoid, gelu, leaky_relu...",
                               "NAME", "relu")
    dropout: float | None = _setting("model", "dropout probability after each hidden layer", "P",
                                     parse=float)
    norm: str = _setting("model", "normalisation after each hidden linear layer: " + ", ".join(NORMS),
                         "KIND", "none")
    residual: bool = _setting("model", "skip connections around hidden layers of equal width", None,
                              False, bool)
    loss: str | None = _setting("training", "loss: " + ", ".join(
        sorted({name for per_task in LOSSES.values() for name in per_task})), "NAME")
    optimizer: str | None = _setting("training", "optimiser: " + ", ".join(OPTIMIZERS), "NAME")
    lr: float | None = _setting("training", "learning rate", "RATE", parse=float)
    momentum: float | None = _setting("training", "momentum", "M", parse=float)
    nesterov: bool = _setting("training", "Nesterov momentum for sgd", None, False, bool)
    weight_decay: float | None = _setting("training", "L2 weight decay", "L2", parse=float)
    schedule: str | None = _setting("training", "learning-rate schedule, stepped each epoch: "
                                    + ", ".join(SCHEDULES), "NAME")
    batch_size: int | None = _setting("training", "examples per step", "N", parse=int)
    epochs: int | None = _setting("training", "epochs in all; with --resume, the new total", "N",
                                  parse=int)
    patience: int | None = _setting("training", "stop early after N epochs without a lower validation "
                                    "loss", "N", parse=int)
    clip_grad_norm: float | None = _setting("training", "clip the gradients' global norm to MAX", "MAX",
                                            parse=float)
    val_fraction: float = _setting("data", "fraction of the training split held out for validation, "
                                   "0 to 0.5", "F", 0.1, float)
    seed: int = _setting("training", "seed of the weights, the split and the shuffling", "N", 0, int)
    compile: bool = _setting("training", "record the training step once and replay it (chainrule.compile): "
                             "the same weights, less Python per step", None, False, bool)
    options: dict = dataclasses.field(default_factory=dict, metadata={"group": None})

    @classmethod
    def from_dict(cls, values, source="config"):
        """A config from a mapping of setting names (``batch_size`` or ``batch-size``) to values,
        with the defaults for the settings it leaves out. Keys that are settings of the chosen model
        (``--model``) go into ``options``."""
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: the settings must be a table of names and values, "
                              f"not a {type(values).__name__}")
        values = {key.replace("-", "_"): value for key, value in values.items()}
        entry = _model_entry(values.get("model", "mlp"))
        options = dict(values.pop("options", None) or {})
        options.update({key: values.pop(key) for key in list(values) if key in entry.settings})
        known = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"{source}: unknown setting(s) {', '.join(unknown)}; "
                              f"known: {', '.join(known[:-1] + list(entry.settings))}")
        if isinstance(values.get("hidden"), str):
            values["hidden"] = _parse_hidden(values["hidden"])
        return cls(**values, options=options)

    def to_dict(self):
        """The settings as a JSON-ready dict."""
        values = dataclasses.asdict(self)
        if self.hidden is not None:
            values["hidden"] = list(self.hidden)
        return values

    def resolved(self):
        """A checked copy with every default filled in except those that need the data (the loss
        and the cap on the batch size: :meth:`for_data`).

        Raises:
            ConfigError: naming the first setting that is not allowed, its value and what is.
        """
        _choice(self.data, "data", available_datasets())
        _choice(self.model, "model", available_models())
        entry = get_model(self.model)
        filled = {name: value for name, value in self._defaults().items()
                  if name != "batch_size" and getattr(self, name) is None}
        unknown = sorted(set(self.options) - set(entry.settings))
        if unknown:
            raise ConfigError(f"the model {self.model} has no setting(s) {', '.join(unknown)}; its "
                              f"settings: {', '.join(entry.settings) or 'none'}")
        options = {name: _parse_option(name, setting, self.options.get(name, setting.default))
                   for name, setting in entry.settings.items()}
        config = dataclasses.replace(self, **filled, options=options)
        config._check()
        return config

    def for_data(self, task, size):
        """A copy with the defaults that follow from the data filled in: the loss for ``task``
        (``"classification"`` or ``"regression"``) and the batch size for a training part of ``size``
        examples; raises :class:`ConfigError` if the chosen loss or batch size does not fit."""
        if self.loss is not None:
            _choice(self.loss, "loss", LOSSES[task], context=f" for {task}")
        if self.batch_size is not None and self.batch_size > size:
            raise ConfigError(f"--batch-size {self.batch_size} is larger than the training part of "
                              f"{self.data} ({size} examples); use {size} or less")
        return dataclasses.replace(self, loss=self.loss or next(iter(LOSSES[task])),
                                   batch_size=self.batch_size or min(self._defaults()["batch_size"], size))

    def _defaults(self):
        """The defaults for this data set, model and optimiser, the later sources winning."""
        entry = get_model(self.model)
        layered = {**DEFAULTS, **DATA_DEFAULTS.get(self.data, {}), **entry.defaults,
                   **entry.data_defaults.get(self.data, {})}
        optimizer = _choice(self.optimizer or layered["optimizer"], "optimizer", OPTIMIZERS)
        return {"lr": DEFAULT_LR[optimizer], "momentum": DEFAULT_MOMENTUM.get(optimizer), **layered,
                "optimizer": optimizer}

    def _check(self):
        if not isinstance(self.hidden, (list, tuple)):
            fail("--hidden", "a list of layer widths, e.g. 256,256", self.hidden, error=ConfigError)
        for width in self.hidden:
            check_int(width, "--hidden's widths", 1, error=ConfigError)
        _choice(self.activation, "activation", sorted(nn.ACTIVATIONS))
        _number(self.dropout, "dropout", 0, 1, what="a probability")
        _choice(self.norm, "norm", NORMS)
        check_bool(self.residual, "--residual", error=ConfigError)
        if self.loss is not None:
            _choice(self.loss, "loss", [name for losses in LOSSES.values() for name in losses])
        _number(self.lr, "lr", 0, low_open=True)
        if self.optimizer in DEFAULT_MOMENTUM:
            _number(self.momentum, "momentum", 0, 1)
        elif self.momentum is not None:
            raise ConfigError(f"--momentum applies to the optimizers {', '.join(DEFAULT_MOMENTUM)}, "
                              f"not to {self.optimizer}")
        check_bool(self.nesterov, "--nesterov", error=ConfigError)
        if self.nesterov and not (self.optimizer == "sgd" and self.momentum > 0):
            raise ConfigError("--nesterov needs --optimizer sgd with a --momentum above 0")
        _number(self.weight_decay, "weight_decay", 0)
        _choice(self.schedule, "schedule", SCHEDULES)
        if self.batch_size is not None:
            _int(self.batch_size, "batch_size", 1)
        _int(self.epochs, "epochs", 1)
        if self.patience is not None:
            _int(self.patience, "patience", 1)
        if self.clip_grad_norm is not None:
            _number(self.clip_grad_norm, "clip_grad_norm", 0, low_open=True)
        _number(self.val_fraction, "val_fraction", 0, 0.5, high_open=False, what="a fraction")
        _int(self.seed, "seed", 0)


def describe_default(name):
    """The default of a :class:`RunConfig` setting in words, with the data sets' and models' own
    (for ``--help``)."""
    if name == "lr":
        by_rate = {}
        for optimizer, rate in DEFAULT_LR.items():
            by_rate.setdefault(rate, []).append(optimizer)
        text = ", ".join(f"{rate:g} for {' and '.join(names)}" for rate, names in by_rate.items())
    elif name == "momentum":
        text = ", ".join(f"{value:g} for {optimizer}" for optimizer, value in DEFAULT_MOMENTUM.items())
    elif name == "loss":
        text = ", ".join(f"{next(iter(losses))} for {task}" for task, losses in LOSSES.items())
    elif name in DEFAULTS:
        text = _format_value(DEFAULTS[name])
    else:
        default = {field.name: field.default for field in dataclasses.fields(RunConfig)}[name]
        text = "off" if default is None or default is False else _format_value(default)
    special = [f"{data}: {_format_value(values[name])}" for data, values in DATA_DEFAULTS.items()
               if name in values]
    special += [f"--model {entry}: {_format_value(get_model(entry).defaults[name])}"
                for entry in available_models() if name in get_model(entry).defaults]
    if name == "batch_size":
        text += ", or the whole training part when smaller"
    return text + "".join(f"; {item}" for item in special)


# -- building the parts ---------------------------------------------------------------------------

@dataclasses.dataclass
class PreparedData:
    """A data set made ready for a model.

    Attributes:
        split: the loaded :class:`~chainrule.data.DataSplit` (after the model's ``prepare``), with
            its features dropped (``x_train`` and ``x_test`` are empty) to keep the memory for
            ``parts``.
        parts: ``(x, y)`` pairs for ``"train"``, ``"val"`` (absent when ``val_fraction`` is 0) and
            ``"test"``, prepared as the model's entry says (flattened and standardised for the MLP).
        standardizer: the fitted :class:`~chainrule.data.Standardizer`, ``None`` for token inputs.
        info: the :class:`~chainrule.train.models.ModelInfo` the model is built from.
    """

    split: object
    parts: dict
    standardizer: Standardizer | None
    info: ModelInfo


def prepare_data(config):
    """Load the data set, hold out the validation part, and prepare the features for the config's
    model: flattened (or kept in the data set's ``input_shape``) and standardised with the statistics
    of the training part, or token ids as they are.

    Returns:
        A :class:`PreparedData`.
    """
    entry = get_model(config.model)
    split = load_dataset(config.data, seed=config.seed)
    if entry.prepare is not None:
        split = entry.prepare(config, split)
    shape = _input_shape(entry, split)
    val_size = round(config.val_fraction * len(split.y_train))
    train_part, val_part = random_split(TensorDataset(split.x_train, split.y_train),
                                        [len(split.y_train) - val_size, val_size], seed=config.seed)
    parts = {name: (split.x_train[part.indices], split.y_train[part.indices])  # copies this run owns
             for name, part in (("train", train_part), ("val", val_part)) if len(part)}
    parts["test"] = (split.x_test, split.y_test)
    standardizer = None
    if entry.inputs != "tokens":
        standardizer = Standardizer().fit(_flatten(parts["train"][0]))
        for name, (x, y) in parts.items():
            owned = name != "test" and x.dtype.kind == "f"  # standardised in place: no second copy
            x = standardizer.transform(_flatten(x), out=_flatten(x) if owned else None)
            parts[name] = (x.reshape(len(x), *shape), y)
    # The prepared parts are all a run needs of the features: let the loaded ones go.
    split = dataclasses.replace(split, x_train=_no_rows(split.x_train), x_test=_no_rows(split.x_test))
    outputs = split.num_classes if split.task == "classification" else split.y_train.shape[1]
    info = ModelInfo(input_shape=shape, num_outputs=outputs, task=split.task,
                     vocab_size=None if split.vocabulary is None else len(split.vocabulary))
    return PreparedData(split, parts, standardizer, info)


def build_model(config, info):
    """The model the config names (``config.model``), for data described by ``info``."""
    return get_model(config.model).build(config, info)


def build_loss(config, info):
    """The loss: the model's own when its entry has one, else the task's ``--loss``."""
    entry = get_model(config.model)
    if entry.loss is not None:
        return entry.loss(config, info)
    return LOSSES[info.task][config.loss]()


def build_optimizer(config, parameters):
    """The optimiser the config names, with its settings."""
    settings = {"lr": config.lr, "weight_decay": config.weight_decay}
    if config.optimizer in DEFAULT_MOMENTUM:
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


def build_trainer(config, model, loss, parts, run_dir, progress, distributed=None):
    """The :class:`~chainrule.train.Trainer` of a run, checkpointing into ``run_dir``; data-parallel
    with a ``distributed`` :class:`~chainrule.distributed.DistributedDataParallel`."""
    optimizer = build_optimizer(config, model.parameters())
    monitor = "val_loss" if "val" in parts else "loss"
    stopping = None if config.patience is None else EarlyStopping(monitor, config.patience)
    return Trainer(model, loss, optimizer, batch_size=config.batch_size, drop_last=config.norm == "batch",
                   scheduler=build_scheduler(config, optimizer), clip_grad_norm=config.clip_grad_norm,
                   early_stopping=stopping,
                   seed=config.seed, progress=progress, checkpoint_dir=run_dir, distributed=distributed,
                   compile=config.compile)


# -- the run --------------------------------------------------------------------------------------

def train_run(config, run_dir, force=False, progress=True, log=None, distributed=False):
    """Train as ``config`` says, writing everything into ``run_dir``, and score the best epoch's
    weights on the test split.

    Args:
        config: a :class:`RunConfig`.
        run_dir: the run directory (created if needed).
        force: replace the files of another run found in ``run_dir`` (otherwise refused).
        progress: show the progress bars.
        log: a function called with lines worth showing (``print``), or ``None``.
        distributed: train data-parallel over the processes ``mpiexec`` started (see
            :mod:`chainrule.distributed`): ``batch_size`` is the global batch; rank 0 alone writes.

    Returns:
        The ``run.json`` record: data, model, and the test scores under ``"results"`` (``None`` on
        the ranks other than 0 of a distributed run).
    """
    config = config.resolved()
    with _processes(config, distributed) as group:
        if group.root:
            _claim(Path(run_dir), force)
        return _run(config, Path(run_dir), False, progress, log or _silent, group)


def resume_run(run_dir, epochs=None, progress=True, log=None, distributed=False):
    """Continue the run in ``run_dir`` from its last checkpoint, with its own config, to ``epochs``
    epochs in all (by default the number it was started with; a cosine or step schedule, which is
    laid out over that number, cannot take another). The final weights are those an uninterrupted
    run would have reached, with any number of processes. Arguments and result as for
    :func:`train_run`."""
    config = read_config(run_dir)
    if epochs is not None and epochs != config.epochs:
        if config.schedule in ("cosine", "step"):
            raise ConfigError(f"the {config.schedule} schedule of this run is set for {config.epochs} "
                              f"epochs; it cannot resume with --epochs {epochs}")
        config = dataclasses.replace(config, epochs=epochs)
    config = config.resolved()
    with _processes(config, distributed) as group:
        return _run(config, Path(run_dir), True, progress, log or _silent, group)


def _processes(config, distributed):
    """The run's processes (see :func:`chainrule.distributed.runs.run_processes`)."""
    from ..distributed.runs import run_processes
    return run_processes(distributed, config.to_dict())


def _run(config, run_dir, resume, progress, log, group):
    started = time.perf_counter()
    if not group.root:
        progress, log = False, _silent
    data = prepare_data(config)
    config = config.for_data(data.split.task, len(data.parts["train"][1]))
    model = build_model(config, data.info)
    record = _start_record(config, data, model)
    if group.root:
        _write_run_files(run_dir, config, record, data.standardizer)
    log(f"data: {data.split.name}, {_describe_sizes(record['data']['sizes'])}")
    log(f"model: {record['model']['kind']}, {config.activation}; {config.optimizer} lr {config.lr:g}, "
        f"batch {config.batch_size}, {config.epochs} epochs")
    parallel = None
    if group.size > 1:
        from ..distributed import DistributedDataParallel
        parallel = DistributedDataParallel(model)
        log(f"processes: {group.describe()}; batch {config.batch_size} in all")

    trainer = build_trainer(config, model, build_loss(config, data.info), data.parts, run_dir, progress,
                            parallel)
    history = trainer.fit(data.parts["train"], data.parts.get("val"), epochs=config.epochs, resume=resume)
    if not group.root:
        return None
    history.to_json(run_dir / "history.json")
    history.to_csv(run_dir / "history.csv")
    plot_history(history, run_dir / "curves.png", title=f"{data.split.name}: {record['model']['kind']}",
                 best_epoch=trainer.monitor.best_epoch)

    model.load_state_dict(trainer.best_checkpoint()["model"])
    record["results"] = {"test": evaluate(model, trainer.loss, data.parts["test"]), "epochs": trainer.epoch,
                         "best_epoch": trainer.monitor.best_epoch, "monitor": trainer.monitor.metric,
                         "training_seconds": sum(history["seconds"]),
                         "seconds": time.perf_counter() - started}
    _write_json(run_dir / "run.json", record)
    serialization.write_atomic(run_dir / "report.md", _report(config, record))
    log(f"best epoch: {trainer.monitor.best_epoch} of {trainer.epoch} (by {trainer.monitor.metric}); "
        f"run directory: {run_dir}")
    return record


def _start_record(config, data, model):
    """The ``run.json`` record before training: the data's and the model's description."""
    split = data.split
    return {"data": {"name": split.name, "task": split.task, "num_classes": split.num_classes,
                     "feature_shape": list(split.feature_shape), "source": split.source,
                     "sizes": {name: len(part[1]) for name, part in data.parts.items()},
                     # predict --text maps new text with the run's own vocabulary
                     "vocabulary": None if split.vocabulary is None else list(split.vocabulary)},
            "model": {"name": config.model,
                      "kind": get_model(config.model).description(config, data.info, model),
                      "info": data.info.to_dict()}}


def _write_run_files(run_dir, config, record, standardizer):
    run_dir.mkdir(parents=True, exist_ok=True)
    serialization.remove_stale_temporaries(run_dir)
    _write_json(run_dir / "config.json", config.to_dict())
    _write_json(run_dir / "run.json", record)
    if standardizer is not None:
        serialization.save(standardizer.state_dict(), run_dir / "standardizer.safetensors")


def load_run(run_dir):
    """The config, ``run.json`` record, standardizer (``None`` for token inputs) and best-epoch model
    of a run directory.

    Raises:
        CheckpointError: naming what is missing or unreadable.
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir).resolved()
    record = _read_json(run_dir / "run.json")
    standardizer = None
    if get_model(config.model).inputs != "tokens":
        standardizer = Standardizer()
        standardizer.load_state_dict(_load(run_dir / "standardizer.safetensors"))
    model = build_model(config, model_info(record))
    model.load_state_dict(load_checkpoint(run_dir / BEST)["model"])
    return config, record, standardizer, model


def model_info(record):
    """The :class:`~chainrule.train.models.ModelInfo` a run's ``run.json`` record keeps."""
    if "info" in record["model"]:
        return ModelInfo.from_dict(record["model"]["info"])
    sizes = record["model"]["sizes"]  # a run written before the model registry: always an MLP
    return ModelInfo((sizes[0],), sizes[-1], record["data"]["task"])


def evaluate_run(run_dir):
    """Score the best epoch's weights of a run on its data set's test split again.

    Returns:
        The scores: ``loss`` and ``accuracy`` and ``per_class_accuracy``, or ``loss`` and ``rmse``.
    """
    config, record, _, model = load_run(run_dir)
    data = prepare_data(config)
    return evaluate(model, build_loss(config, model_info(record)), data.parts["test"])


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
    shape = model_info(record).input_shape
    features = math.prod(shape)
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise ConfigError(f"the input must hold numbers, not {x.dtype}")
    if x.size == features and x.ndim in (1, len(record["data"]["feature_shape"]), len(shape)):
        x = x.reshape(1, features)
    if x.ndim < 2 or len(x) == 0 or math.prod(x.shape[1:]) != features:
        raise ConfigError(f"the input has shape {x.shape}, but the model takes rows of {features} "
                          f"features: shape (n, {features})")
    x = x.reshape(len(x), features)
    _refuse_missing_values(x)
    if standardizer is not None:
        x = standardizer.transform(x).astype(np.float32)
    outputs = predict(model, x.reshape(len(x), *shape))
    return predicted_classes(outputs) if record["data"]["task"] == "classification" else outputs


def read_config(run_dir):
    """The :class:`RunConfig` saved in a run directory."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"no run directory at {run_dir}")
    if not (run_dir / "config.json").is_file():
        raise CheckpointError(f"{run_dir.resolve()} holds no run (no config.json): give the directory "
                              f"chainrule train wrote (its --out)")
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


def _refuse_missing_values(x):
    """Refuse rows holding NaN or infinity, naming them (a model would silently predict class 0)."""
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
        listed = ", ".join(map(str, rows[:10])) + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")
        raise ConfigError(f"{len(rows)} input row(s) hold NaN or infinite values: row(s) {listed} "
                          f"(counting from 0); fill or drop them first")


def _no_rows(x):
    """An empty array of ``x``'s kind (not a view, which would keep ``x`` alive)."""
    return np.empty((0, *x.shape[1:]), dtype=x.dtype)


def _input_shape(entry, split):
    """The shape of one prepared example: flat, the data set's ``input_shape``, or its own."""
    if entry.inputs == "flat":
        return (math.prod(split.feature_shape),)
    if entry.inputs == "shaped":
        return tuple(getattr(split, "input_shape", None) or split.feature_shape)
    return tuple(split.feature_shape)


def _model_entry(name):
    _choice(name, "model", available_models())
    return get_model(name)


def _parse_option(name, setting, value):
    if value is None or not isinstance(value, str) or setting.parse is str:
        return value
    try:
        return setting.parse(value)
    except ValueError as error:
        raise ConfigError(f"--{name.replace('_', '-')}: {error}") from None


def _format_value(value):
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _describe_sizes(sizes):
    names = {"train": "training", "val": "validation", "test": "test"}
    return " / ".join(f"{count} {names[part]}" for part, count in sizes.items()) + " examples"


def _report(config, record):
    data, results = record["data"], record["results"]
    test = results["test"]
    score = f"{score_line(test, bold='**')} (loss {test['loss']:.4f})"
    lines = [
        f"# Training run: {data['name']}", "",
        f"- {score}",
        f"- data: {data['name']}, {_describe_sizes(data['sizes'])}; {data['source']}",
        f"- model: {record['model']['kind']}, {config.activation}, "
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
    serialization.write_atomic(path, json.dumps(value, indent=1) + "\n")


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


def _flag(name):
    return "--" + name.replace("_", "-")


def _choice(value, name, choices, context=""):
    return check_choice(value, _flag(name), choices, context=context, error=ConfigError)


def _int(value, name, low):
    return check_int(value, _flag(name), low, error=ConfigError)


def _number(value, name, low=None, high=None, **bounds):
    return check_number(value, _flag(name), low, high, **bounds, error=ConfigError)
