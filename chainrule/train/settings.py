"""The settings table of a training run: each setting once, with its flag, its help and its defaults.

A :class:`RunConfig` field is a setting; its metadata names the ``chainrule train`` flag's group, help
and parser, and :data:`DEFAULTS` holds its plain default. Every field is ``None`` until
:meth:`RunConfig.resolved` fills it from, the later winning:

1. :data:`DEFAULTS` and the defaults that follow from other settings (:data:`DERIVED`: the learning
   rate and momentum per optimiser, the loss per task...);
2. :data:`DATA_DEFAULTS` ``[data]``;
3. the model's own ``defaults``, then its ``data_defaults[data]`` (see :mod:`chainrule.train.models`);
4. the config file, then the flags (the values the config was made with).

``--help`` is written by :func:`describe_default` from the same tables, so the two cannot disagree.
"""

import dataclasses
import os

from .. import devices, nn, optim
from ..errors import ChainruleError
from ..validation import check_bool, check_choice, check_int, check_number, fail
from .models import LOOPS, available_models, get_model

OPTIMIZERS = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop,
              "adagrad": optim.Adagrad}
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-2}
DEFAULT_MOMENTUM = {"sgd": 0.9, "rmsprop": 0.0}
LOSSES = {"classification": {"cross-entropy": nn.CrossEntropyLoss, "hinge": nn.HingeLoss},
          "regression": {"mse": nn.MSELoss, "l1": nn.L1Loss}}
NORMS = ("none", "batch", "layer")
SCHEDULES = ("constant", "cosine", "step", "plateau", "warmup-cosine")
CORPORA = ("shakespeare", "news")  # texts for language models, besides a text file's path

# The plain defaults: one table. ``None`` here means "off" or "see DERIVED".
DEFAULTS = {"data": "digits", "model": "mlp", "hidden": (256, 256), "activation": "relu", "dropout": 0.3,
            "norm": "none", "residual": False, "loss": None, "optimizer": "adam", "lr": None,
            "momentum": None, "nesterov": False, "betas": (0.9, 0.999), "weight_decay": 0.0,
            "schedule": "constant", "batch_size": 64, "epochs": 30, "patience": None,
            "clip_grad_norm": None, "val_fraction": 0.1, "seed": 0, "compile": None, "device": "cpu",
            "max_iters": 2000, "eval_interval": 250, "eval_iters": 20, "final_eval_iters": 200,
            "warmup_iters": None, "lr_decay_iters": None, "min_lr": None}
# The defaults that follow from other settings, in words for --help (applied in RunConfig._derived).
DERIVED = {"lr": None, "momentum": None,
           "loss": "cross-entropy for classification, mse for regression",
           "batch_size": "or the whole training part when smaller",
           "lr_decay_iters": "--max-iters", "min_lr": "--lr / 10",
           "warmup_iters": "100, or a tenth of --lr-decay-iters when smaller",
           "compile": "on with --device cpu, off on a GPU"}
DATA_DEFAULTS = {
    # 71.1% test accuracy (seed 0; seed 1: 71.0%), above the published MLP's 68%.
    "mnist1d": {"hidden": (512, 512), "dropout": 0.5, "epochs": 100, "weight_decay": 1e-4},
}
# Settings read by one kind of loop only (see chainrule.train.models.LOOPS).
LOOP_SETTINGS = {"epochs": ("epochs", "patience", "val_fraction"),
                 "iterations": ("max_iters", "eval_interval", "eval_iters", "final_eval_iters", "warmup_iters",
                                "lr_decay_iters", "min_lr")}


class ConfigError(ChainruleError, ValueError):
    """A training setting that is out of range, of the wrong type, or not one of the choices."""


def _setting(group, help, metavar=None, parse=None):
    """A :class:`RunConfig` field: its flag's group, help, placeholder and parser in its metadata."""
    return dataclasses.field(default=None, metadata={"group": group, "help": help, "metavar": metavar,
                                                      "parse": parse})


def parse_widths(text):
    """``"256,256"`` as ``(256, 256)``; ``""`` or ``"none"`` as ``()``."""
    text = str(text).strip()
    if text in ("", "none"):
        return ()
    try:
        return tuple(int(width) for width in text.strip("()[]").split(","))
    except ValueError:
        raise ConfigError(f"--hidden must list layer widths separated by commas, e.g. 256,256, "
                          f"not {text!r}") from None


def parse_betas(text):
    """``"0.9,0.99"`` as ``(0.9, 0.99)``."""
    try:
        values = tuple(float(value) for value in str(text).strip("()[]").split(","))
    except ValueError:
        values = ()
    if len(values) != 2:
        raise ConfigError(f"--betas must be two numbers separated by a comma, e.g. 0.9,0.99, not {text!r}")
    return values


@dataclasses.dataclass
class RunConfig:
    """The settings of a training run; ``None`` means "the default" (:meth:`resolved` fills them in).

    ``options`` holds the chosen model's own settings (see :mod:`chainrule.train.models`).
    """

    data: str | None = _setting("data", "data set, or for --model gpt a text", "NAME")
    val_fraction: float | None = _setting("data", "fraction of the training split held out to pick the best "
                                          "epoch, 0 to 0.5", "F", float)
    model: str | None = _setting("model", "model", "NAME")
    hidden: tuple | None = _setting("model", "hidden layer widths, '' for none", "W1,W2,...")
    activation: str | None = _setting("model", "hidden activation: relu, tanh, sigmoid, gelu, leaky_relu...",
                                      "NAME")
    dropout: float | None = _setting("model", "dropout probability", "P", float)
    norm: str | None = _setting("model", "normalisation after each hidden layer: " + ", ".join(NORMS), "KIND")
    residual: bool | None = _setting("model", "skip connections around hidden layers of equal width", None,
                                     bool)
    loss: str | None = _setting("training", "loss: " + ", ".join(
        sorted({name for per_task in LOSSES.values() for name in per_task})), "NAME")
    optimizer: str | None = _setting("training", "optimiser: " + ", ".join(OPTIMIZERS), "NAME")
    lr: float | None = _setting("training", "learning rate", "RATE", float)
    momentum: float | None = _setting("training", "momentum", "M", float)
    nesterov: bool | None = _setting("training", "Nesterov momentum for sgd", None, bool)
    betas: tuple | None = _setting("training", "Adam's and AdamW's averaging factors", "B1,B2")
    weight_decay: float | None = _setting("training", "weight decay", "L2", float)
    schedule: str | None = _setting("training", "learning-rate schedule, stepped each epoch (warmup-cosine: "
                                    "each iteration): " + ", ".join(SCHEDULES), "NAME")
    batch_size: int | None = _setting("training", "examples per step", "N", int)
    clip_grad_norm: float | None = _setting("training", "clip the gradients' global norm to MAX", "MAX", float)
    seed: int | None = _setting("training", "seed of the weights, the split, the batches and dropout", "N",
                                int)
    compile: bool | None = _setting("training", "compile the training step (chainrule.compile: recorded "
                                    "once, replayed with fused kernels; the same weights to float32 "
                                    "rounding); --no-compile runs it eagerly", None, bool)
    device: str | None = _setting("training", "where to train: cpu, or cuda for an NVIDIA GPU through CuPy "
                                  "(pip install 'chainrule[gpu]'); batches are copied there one at a time",
                                  "NAME")
    epochs: int | None = _setting("by epochs", "epochs in all; with --resume, the new total", "N", int)
    patience: int | None = _setting("by epochs", "stop after N epochs without a better validation score",
                                    "N", int)
    max_iters: int | None = _setting("by iterations", "iterations in all; with --resume, the new total",
                                     "N", int)
    eval_interval: int | None = _setting("by iterations", "iterations between evaluations and checkpoints",
                                         "N", int)
    eval_iters: int | None = _setting("by iterations", "batches per evaluation", "N", int)
    final_eval_iters: int | None = _setting("by iterations", "batches of the final validation loss", "N", int)
    warmup_iters: int | None = _setting("by iterations", "warm-up iterations of --schedule warmup-cosine",
                                        "N", int)
    lr_decay_iters: int | None = _setting("by iterations", "iterations of the cosine decay", "N", int)
    min_lr: float | None = _setting("by iterations", "the learning rate the cosine decay ends at", "LR", float)
    options: dict = dataclasses.field(default_factory=dict, metadata={"group": None})

    @classmethod
    def from_dict(cls, values, source="config"):
        """A config from a mapping of setting names (``batch_size`` or ``batch-size``) to values; keys
        that are settings of the chosen model go into ``options``."""
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: the settings must be a table of names and values, "
                              f"not a {type(values).__name__}")
        values = _upgrade({key.replace("-", "_"): value for key, value in values.items()})
        entry = model_entry(values.get("model") or DEFAULTS["model"])
        options = dict(values.pop("options", None) or {})
        options.update({key: values.pop(key) for key in list(values) if key in entry.settings})
        known = [field.name for field in dataclasses.fields(cls) if field.name != "options"]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"{source}: unknown setting(s) {', '.join(unknown)}; "
                              f"known: {', '.join(known + list(entry.settings))}")
        for name, parse in (("hidden", parse_widths), ("betas", parse_betas)):
            if isinstance(values.get(name), str):
                values[name] = parse(values[name])
        return cls(**values, options=options)

    def to_dict(self):
        """The settings as a JSON-ready dict."""
        values = dataclasses.asdict(self)
        for name in ("hidden", "betas"):
            if values[name] is not None:
                values[name] = list(values[name])
        return values

    def given(self):
        """The names of the settings given (not ``None``), the model's own included."""
        return [field.name for field in dataclasses.fields(self)
                if field.name != "options" and getattr(self, field.name) is not None] + list(self.options)

    def resolved(self):
        """A checked copy with every default filled in except those that need the data (the loss and
        the cap on the batch size: :meth:`for_data`).

        Raises:
            ConfigError: naming the first setting that is not allowed, its value and what is.
        """
        entry = model_entry(self.model or DEFAULTS["model"])
        _refuse_unused(self, entry)
        data = self.data or entry.defaults.get("data") or DEFAULTS["data"]
        check_data(data, entry)
        unknown = sorted(set(self.options) - set(entry.settings))
        if unknown:
            raise ConfigError(f"the model {entry.name} has no setting(s) {', '.join(unknown)}; its "
                              f"settings: {', '.join(entry.settings) or 'none'}")
        options = {name: _parse_option(name, setting, self.options.get(name, setting.default))
                   for name, setting in entry.settings.items()}
        layered = _layered(entry, data, options)
        filled = {name: layered[name] for name in DEFAULTS
                  if getattr(self, name) is None and name != "batch_size" and _reads(entry, name)}
        config = dataclasses.replace(self, **{**filled, "model": entry.name, "data": data, "options": options})
        config = config._derived()
        config._check(entry)
        return config

    def for_data(self, task, size):
        """A copy with the defaults that follow from the data: the loss for ``task`` and the batch
        size for a training part of ``size`` examples (windows, for a language model)."""
        default = _layered(model_entry(self.model), self.data, self.options)["batch_size"]
        if task not in LOSSES:  # a language model: windows drawn at random, any number of them
            return dataclasses.replace(self, batch_size=self.batch_size or default)
        if self.loss is not None:
            _choice(self.loss, "loss", LOSSES[task], context=f" for {task}")
        if self.batch_size is not None and self.batch_size > size:
            raise ConfigError(f"--batch-size {self.batch_size} is larger than the training part of "
                              f"{self.data} ({size} examples); use {size} or less")
        return dataclasses.replace(self, loss=self.loss or next(iter(LOSSES[task])),
                                   batch_size=self.batch_size or min(default, size))

    @property
    def loop(self):
        """``"epochs"`` or ``"iterations"``: how the chosen model trains."""
        return model_entry(self.model).loop

    def _derived(self):
        optimizer = _choice(self.optimizer, "optimizer", OPTIMIZERS)
        lr = DEFAULT_LR[optimizer] if self.lr is None else self.lr
        momentum = DEFAULT_MOMENTUM.get(optimizer) if self.momentum is None else self.momentum
        compile = self.compile if self.compile is not None else _on_cpu(self.device)
        if self.loop == "epochs":
            return dataclasses.replace(self, lr=lr, momentum=momentum, compile=compile)
        decay = self.lr_decay_iters or self.max_iters
        return dataclasses.replace(self, lr=lr, momentum=momentum, compile=compile, lr_decay_iters=decay,
                                   warmup_iters=min(100, decay // 10) if self.warmup_iters is None else self.warmup_iters,
                                   min_lr=lr / 10 if self.min_lr is None else self.min_lr)

    def _check(self, entry):
        if self.hidden is not None:
            if not isinstance(self.hidden, (list, tuple)):
                fail("--hidden", "a list of layer widths, e.g. 256,256", self.hidden, error=ConfigError)
            for width in self.hidden:
                check_int(width, "--hidden's widths", 1, error=ConfigError)
        if self.activation is not None:
            _choice(self.activation, "activation", sorted(nn.ACTIVATIONS))
        _number(self.dropout, "dropout", 0, 1, what="a probability")
        if self.norm is not None:
            _choice(self.norm, "norm", NORMS)
        if self.residual is not None:
            check_bool(self.residual, "--residual", error=ConfigError)
        if self.loss is not None:
            _choice(self.loss, "loss", [name for losses in LOSSES.values() for name in losses])
        _number(self.lr, "lr", 0, low_open=True)
        if self.optimizer in DEFAULT_MOMENTUM:
            _number(self.momentum, "momentum", 0, 1)
        elif self.momentum is not None:
            raise ConfigError(f"--momentum applies to the optimizers {', '.join(DEFAULT_MOMENTUM)}, "
                              f"not to {self.optimizer}")
        if self.nesterov is not None:
            check_bool(self.nesterov, "--nesterov", error=ConfigError)
        if self.nesterov and not (self.optimizer == "sgd" and self.momentum > 0):
            raise ConfigError("--nesterov needs --optimizer sgd with a --momentum above 0")
        if not isinstance(self.betas, (list, tuple)) or len(self.betas) != 2:
            fail("--betas", "two numbers such as 0.9,0.999", self.betas, error=ConfigError)
        for beta in self.betas:
            _number(beta, "betas", 0, 1, what="two numbers in [0, 1)")
        _number(self.weight_decay, "weight_decay", 0)
        _choice(self.schedule, "schedule", SCHEDULES)
        if (self.schedule == "warmup-cosine") != (entry.loop == "iterations"):
            raise ConfigError(f"--schedule {self.schedule} does not fit --model {entry.name}, which trains "
                              f"by {entry.loop}: " + ("use warmup-cosine" if entry.loop == "iterations" else
                                                      "warmup-cosine is for models trained by iterations"))
        if self.batch_size is not None:
            _int(self.batch_size, "batch_size", 1)
        if entry.loop == "epochs":
            _int(self.epochs, "epochs", 1)
            if self.patience is not None:
                _int(self.patience, "patience", 1)
            _number(self.val_fraction, "val_fraction", 0, 0.5, high_open=False, what="a fraction")
        else:
            for name in ("max_iters", "eval_interval", "eval_iters", "final_eval_iters", "lr_decay_iters"):
                _int(getattr(self, name), name, 1)
            _int(self.warmup_iters, "warmup_iters", 0)
            if self.warmup_iters >= self.lr_decay_iters:
                raise ConfigError(f"--warmup-iters {self.warmup_iters} must be below --lr-decay-iters "
                                  f"{self.lr_decay_iters}")
            _number(self.min_lr, "min_lr", 0)
        if self.clip_grad_norm is not None:
            _number(self.clip_grad_norm, "clip_grad_norm", 0, low_open=True)
        _int(self.seed, "seed", 0)
        check_bool(self.compile, "--compile", error=ConfigError)
        try:  # the name only: a run trained on a GPU is read back (evaluated, resumed) anywhere
            kind, _ = devices.parse(self.device, "--device")
        except (ValueError, TypeError) as error:
            raise ConfigError(str(error)) from None
        if self.compile and kind != "cpu":
            raise ConfigError(f"--compile records a step for the CPU; train on --device {self.device} with "
                              f"--no-compile (its default there)")


def _on_cpu(device):
    """Whether ``device`` names the CPU (compiled steps are built for it); a bad name is refused later."""
    try:
        return devices.parse(device, "--device")[0] == "cpu"
    except (ValueError, TypeError):
        return False


def model_entry(name):
    """The registered model ``name``, or a :class:`ConfigError` naming the choices."""
    _choice(name, "model", available_models())
    return get_model(name)


def check_data(data, entry):
    """Refuse a data set the model cannot read, with the models that can."""
    from ..data import available_datasets
    if entry.inputs == "text":
        if data in CORPORA or os.path.isfile(data):
            return
        kind = "a data set of examples" if data in available_datasets() else "neither a text nor a file"
        raise ConfigError(f"--model {entry.name} trains on text: --data {', '.join(CORPORA)} or a text file's "
                          f"path; {data!r} is {kind}")
    if data in CORPORA:
        raise ConfigError(f"--data {data} is a text for language models: use it with --model "
                          f"{', '.join(models_reading('text'))}")
    _choice(data, "data", available_datasets())


def models_reading(inputs):
    """The registered models whose ``inputs`` are ``inputs`` (one of :data:`models.INPUTS`)."""
    return [name for name in available_models() if get_model(name).inputs in inputs]


def data_choices():
    """Every value ``--data`` takes, for ``--help``."""
    from ..data import available_datasets
    return (", ".join(available_datasets()) + "; for --model " + ", ".join(models_reading("text")) + ": "
            + ", ".join(CORPORA) + " or a text file's path")


def describe_default(name):
    """The default of a :class:`RunConfig` setting in words, with every data set's and model's own,
    read from the tables :meth:`RunConfig.resolved` applies (for ``--help``)."""
    derived = DERIVED.get(name, "")
    if name == "lr":
        by_rate = {}
        for optimizer, rate in DEFAULT_LR.items():
            by_rate.setdefault(rate, []).append(optimizer)
        text = ", ".join(f"{rate:g} for {' and '.join(names)}" for rate, names in by_rate.items())
    elif name == "momentum":
        text = ", ".join(f"{value:g} for {optimizer}" for optimizer, value in DEFAULT_MOMENTUM.items())
    elif DEFAULTS[name] is None:
        text = derived or "off"
    else:
        text = _format_value(DEFAULTS[name]) + (f", {derived}" if derived else "")
    special = [f"{data}: {_format_value(values[name])}" for data, values in DATA_DEFAULTS.items()
               if name in values]
    for model in available_models():
        entry = get_model(model)
        per_data = [f"{data} {_format_value(values[name])}" for data, values in entry.data_defaults.items()
                    if name in values]
        if name in entry.defaults or per_data:
            value = _format_value(entry.defaults[name]) if name in entry.defaults else "as above"
            special.append(f"--model {model}: {value}" + (f" ({', '.join(per_data)})" if per_data else ""))
        special += [f"--model {model} {_option_flag(option, value)}: "
                    f"{_format_value(values[name])}" for option, per_value in entry.option_defaults.items()
                    for value, values in per_value.items() if name in values]
    return text + "".join(f"; {item}" for item in special)


def applies_to(name):
    """Which loop reads setting ``name``: ``"epochs"``, ``"iterations"`` or ``None`` (both)."""
    return next((loop for loop, names in LOOP_SETTINGS.items() if name in names), None)


# -- helpers --------------------------------------------------------------------------------------

def _layered(entry, data, options=None):
    """The plain defaults for ``entry`` on ``data`` with its own settings ``options``, the later tables
    winning."""
    layered = {**DEFAULTS, **DATA_DEFAULTS.get(data, {}), **entry.defaults, **entry.data_defaults.get(data, {})}
    for name, per_value in entry.option_defaults.items():
        layered.update(per_value.get((options or {}).get(name), {}))
    return layered


def _reads(entry, name):
    """Whether the model ``entry`` reads the setting ``name`` (the others stay ``None``)."""
    loop = applies_to(name)
    return (loop is None or loop == entry.loop) and name not in entry.unused


def _refuse_unused(config, entry):
    """Refuse a setting given for a model that does not read it, naming what it reads instead (a value
    equal to the plain default is let through: a config file may list every setting)."""
    for name in config.given():
        if name in DEFAULTS and not _reads(entry, name) and getattr(config, name) != DEFAULTS[name]:
            instead = {"epochs": "--max-iters", "max_iters": "--epochs"}.get(name)
            hint = f"; it trains by {entry.loop}" + (f": use {instead}" if instead else "")
            raise ConfigError(f"--model {entry.name} does not read --{name.replace('_', '-')}{hint} "
                              f"(not --{name.replace('_', '-')})")


def _upgrade(values):
    """The settings of a run written before the one run protocol (a language model's own names)."""
    renamed = {"grad_clip": "clip_grad_norm"}
    values = {renamed.get(key, key): value for key, value in values.items()}
    if "beta1" in values or "beta2" in values:
        values["betas"] = (values.pop("beta1", 0.9), values.pop("beta2", 0.99))
    return values


def _parse_option(name, setting, value):
    if value is None or not isinstance(value, str) or setting.parse is str:
        return value
    try:
        return setting.parse(value)
    except ValueError as error:
        raise ConfigError(f"--{name.replace('_', '-')}: {error}") from None


def _option_flag(name, value):
    """``--freeze`` for a switch's true value, else ``--name value``."""
    return flag(name) + ("" if value is True else f" {_format_value(value).lower()}")


def _format_value(value):
    if isinstance(value, (tuple, list)):
        return ",".join(map(_format_value, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def flag(name):
    """The command-line flag of setting ``name``."""
    return "--" + name.replace("_", "-")


def _choice(value, name, choices, context=""):
    return check_choice(value, flag(name), choices, context=context, error=ConfigError)


def _int(value, name, low):
    return check_int(value, flag(name), low, error=ConfigError)


def _number(value, name, low=None, high=None, **bounds):
    return check_number(value, flag(name), low, high, **bounds, error=ConfigError)


assert set(LOOPS) == set(LOOP_SETTINGS)
