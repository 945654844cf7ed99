"""The model families ``chainrule train --model NAME`` can build: one registry, for the command line.

An entry says how a run prepares the data for the model (``inputs``), how it trains (``loop``: by
epochs over a data set of examples, or by iterations on random windows of a text), how to build the
model from the run's settings and the data's description (``build(config, info)``), the defaults it
changes (``defaults``, per data set in ``data_defaults``) and the settings of its own (``settings``,
each becoming a ``--flag`` of ``chainrule train`` and a key of ``config.json``'s ``"options"``).

``inputs`` is one of:

- ``"flat"``: each example flattened to a vector and standardised with the training part's
  statistics (the MLP).
- ``"shaped"``: standardised the same way, then given the data set's ``input_shape`` (channels
  first: ``(C, L)`` or ``(C, H, W)``) for convolutions.
- ``"tokens"``: integer token ids used as they are (no standardisation); the entry's ``prepare``
  may cut or pad them first. Recurrent models also take a data set of float sequences.
- ``"text"``: a text (``--data shakespeare``, ``news`` or a file) as character ids, trained by
  iterations on random windows (the GPT language model).

The families chainrule ships are registered in :mod:`chainrule.train.zoo`; the modules named in
:data:`PROVIDERS` are imported the first time the registry is read, so a module that registers more
(append its name to ``PROVIDERS``, or import it before training) needs no change here. Importing
:mod:`chainrule.nn` registers nothing. Example::

    from chainrule.train.models import Setting, register_model

    def build_tiny(config, info):
        return nn.MLP([math.prod(info.input_shape), config.options["width"], info.num_outputs])

    register_model("tiny", build_tiny, summary="one hidden layer",
                   settings={"width": Setting(32, "hidden width", int)},
                   defaults={"lr": 3e-3}, data_defaults={"mnist1d": {"epochs": 60}})
"""

import dataclasses
from typing import Callable

from ..providers import import_providers

INPUTS = ("flat", "shaped", "tokens", "text")
LOOPS = ("epochs", "iterations")

# Modules that register models when imported (an absent one is skipped: it may not be written yet).
PROVIDERS = ["chainrule.train.zoo"]

_MODELS = {}


def boolean(text):
    """A setting's value as True or False (a setting parsed by it is a switch: its bare flag means true)."""
    if isinstance(text, bool):
        return text
    value = str(text).lower()
    if value not in ("true", "false", "yes", "no", "1", "0"):
        raise ValueError(f"expected true or false, not {text!r}")
    return value in ("true", "yes", "1")


@dataclasses.dataclass(frozen=True)
class Setting:
    """A setting of one model, given as ``--NAME VALUE`` or as a key of the config file.

    Attributes:
        default: the value when the setting is not given.
        help: one line for ``chainrule train --help``.
        parse: turns the command line's text (or a config file's value) into the value, e.g. ``int``;
            raise ValueError for a value that is not allowed. With :func:`boolean` the setting is a
            switch: ``--NAME`` alone means true, ``--NAME false`` false.
        metavar: the placeholder shown in the help.
    """

    default: object
    help: str
    parse: Callable = str
    metavar: str = "VALUE"


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What a model's builder knows of the data.

    Attributes:
        input_shape: the shape of one prepared example (``(features,)`` for ``"flat"`` inputs).
        num_outputs: the number of classes, or of regression targets.
        task: ``"classification"`` or ``"regression"``.
        vocab_size: the number of token ids for ``"tokens"`` inputs, else ``None``.
    """

    input_shape: tuple
    num_outputs: int
    task: str
    vocab_size: int | None = None

    def to_dict(self):
        """A JSON-ready dict (kept in ``run.json`` to rebuild the model)."""
        return {**dataclasses.asdict(self), "input_shape": list(self.input_shape)}

    @classmethod
    def from_dict(cls, values):
        return cls(**{**values, "input_shape": tuple(values["input_shape"])})


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A registered model: see :func:`register_model` for the fields."""

    name: str
    build: Callable
    inputs: str = "flat"
    summary: str = ""
    settings: dict = dataclasses.field(default_factory=dict)
    defaults: dict = dataclasses.field(default_factory=dict)
    data_defaults: dict = dataclasses.field(default_factory=dict)
    prepare: Callable | None = None
    loss: Callable | None = None
    describe: Callable | None = None
    loop: str = "epochs"
    unused: tuple = ()
    param_groups: Callable | None = None
    objective: Callable | None = None
    option_defaults: dict = dataclasses.field(default_factory=dict)
    encode_texts: Callable | None = None

    def description(self, config, info, model):
        """One phrase naming the model for the log and the report."""
        if self.describe is not None:
            return self.describe(config, info, model)
        count = sum(parameter.size for parameter in model.parameters())
        return f"{self.name} ({count:,} parameters)"


def register_model(name, build, *, inputs="flat", summary="", settings=None, defaults=None,
                   data_defaults=None, prepare=None, loss=None, describe=None, loop="epochs", unused=(),
                   param_groups=None, objective=None, option_defaults=None, encode_texts=None):
    """Make ``--model NAME`` build a model.

    Args:
        name: the name on the command line.
        build: ``build(config, info) -> nn.Module``; ``config`` is the resolved
            :class:`~chainrule.train.RunConfig` (the entry's settings are in ``config.options``) and
            ``info`` a :class:`ModelInfo`. It must give the same model (shapes and names) for the same
            arguments: ``evaluate``, ``predict`` and ``--resume`` rebuild it this way.
        inputs: ``"flat"``, ``"shaped"``, ``"tokens"`` or ``"text"`` (see the module's docstring).
        summary: one line for ``--help``.
        settings: the model's own settings, names to :class:`Setting`.
        defaults: settings of :class:`~chainrule.train.RunConfig` whose default this model changes,
            e.g. ``{"lr": 3e-4, "epochs": 10}``.
        data_defaults: the same per data set, ``{"mnist1d": {"epochs": 60}}``; they win over
            ``defaults``.
        option_defaults: the same per value of one of the model's own settings,
            ``{"freeze": {True: {"lr": 1e-2}}}``; they win over ``data_defaults``. A flag or a config
            file's value wins over all of them.
        prepare: ``prepare(config, split) -> split``, run on the loaded
            :class:`~chainrule.data.DataSplit` before the generic preparation (cut or pad tokens...).
        loss: ``loss(config, info) -> loss module`` instead of the task's loss (``--loss``).
        describe: ``describe(config, info, model) -> str`` naming the model in the log (default: its
            name and parameter count).
        loop: ``"epochs"`` (the :class:`~chainrule.train.Trainer`) or ``"iterations"`` (the
            :class:`~chainrule.train.IterationTrainer`, for ``inputs="text"``).
        unused: the generic settings the model does not read (``--hidden``...): giving one is refused.
        param_groups: ``param_groups(model, config) -> list`` of optimiser parameter groups (e.g. weight
            decay on matrices only); default: all parameters, one group.
        objective: ``objective(model, x, y) -> loss tensor`` for a model that computes its own loss
            (the GPT's ``model(idx, targets)``); default: ``loss(model(x), y)``.
        encode_texts: ``encode_texts(config, record, texts) -> inputs`` for ``predict --text``: new
            sentences as the model's inputs, made as the run's training sentences were (``record`` is
            the run's ``run.json``); default: the words of the run's vocabulary.
    """
    if inputs not in INPUTS:
        raise ValueError(f"register_model({name!r}): inputs must be one of {', '.join(INPUTS)}, "
                         f"not {inputs!r}")
    if loop not in LOOPS:
        raise ValueError(f"register_model({name!r}): loop must be one of {', '.join(LOOPS)}, not {loop!r}")
    _MODELS[name] = ModelEntry(name, build, inputs, summary, dict(settings or {}), dict(defaults or {}),
                               dict(data_defaults or {}), prepare, loss, describe, loop, tuple(unused),
                               param_groups, objective, dict(option_defaults or {}), encode_texts)


def available_models():
    """The names ``--model`` accepts, sorted."""
    return sorted(_entries())


def get_model(name):
    """The :class:`ModelEntry` registered as ``name`` (KeyError when there is none)."""
    return _entries()[name]


def all_settings():
    """Every model's own settings: name to ``(Setting, [models that take it])``, for the command line."""
    found = {}
    for entry in _entries().values():
        for name, setting in entry.settings.items():
            found.setdefault(name, (setting, []))[1].append(entry.name)
    return found


def _entries():
    import_providers(PROVIDERS)
    return _MODELS
