"""Transfer learning: fine-tune a pre-trained GPT language model as a text classifier.

``chainrule train --data sentiment --model transformer --init RUN_DIR --lr 1e-4`` reads the sentences
of a token data set back as text, encodes them with the characters of the language model in
``RUN_DIR`` (a run of ``chainrule train --model gpt``), and trains a
:class:`~chainrule.nn.gpt.GPTClassifier` whose body starts from that model's weights. Without
``--init`` the same classifier starts from scratch (its sizes from ``--n-layer``, ``--n-head``,
``--n-embd``, ``--block-size``; its characters from the training sentences). ``--train-sentences N``
keeps N labelled training sentences (drawn with the seed), to see how much labelled data each needs.
"""

import dataclasses
from pathlib import Path

import numpy as np

from ..data.shakespeare import CharVocabulary
from ..nn.gpt import GPTClassifier, GPTConfig
from .settings import ConfigError

PAD = -1


def sentences(x, vocabulary):
    """The texts of token-id rows ``x`` (words joined by spaces; special tokens such as ``<pad>``
    left out), or the rows themselves when they are texts already."""
    if vocabulary is None:
        raise ConfigError("--model transformer needs a token data set (with a vocabulary), such as "
                          "sentiment")
    words = np.array([("" if token.startswith("<") and token.endswith(">") else token) for token in vocabulary],
                     dtype=object)
    return [" ".join(word for word in words[row] if word) for row in np.asarray(x)]


def encode(texts, vocabulary, length):
    """Character ids ``(len(texts), length)``: characters outside ``vocabulary`` dropped, each text cut
    to ``length`` and padded with ``-1``."""
    out = np.full((len(texts), length), PAD, dtype=np.int64)
    for i, text in enumerate(texts):
        ids = [vocabulary.index[c] for c in text if c in vocabulary.index][:length]
        out[i, :len(ids)] = ids
    return out


def _init_dir(config):
    init = config.options.get("init")
    return None if not init else Path(init)


def _language_model(init):
    """The configuration, characters and best model of the language-model run ``init``."""
    from .lm import run_vocabulary
    from .runs import load_run
    _, record, _, model = load_run(init)
    if record["data"]["task"] != "language-model":
        raise ConfigError(f"--init {init}: not a language-model run (--model gpt) but {record['model']['kind']}")
    return model, run_vocabulary(record)


def _body(config):
    """The body's sizes and characters: the pre-trained run's, or the flags' (scratch)."""
    init = _init_dir(config)
    if init is not None:
        model, vocabulary = _language_model(init)
        return model.config, vocabulary
    sizes = {name: config.options[name] for name in ("n_layer", "n_head", "n_embd", "block_size")}
    return GPTConfig(**sizes), None


def prepare(config, split):
    """The split with its sentences as character ids, ``chunks · block_size`` per sentence."""
    sizes, vocabulary = _body(config)
    if split.name == "sentiment":  # the sentences as written (case, punctuation), in the split's order
        from ..data.text import sentiment_texts
        train_texts, _, test_texts, _ = sentiment_texts()
    else:
        train_texts, test_texts = sentences(split.x_train, split.vocabulary), sentences(split.x_test,
                                                                                       split.vocabulary)
    x_train, y_train = train_texts, split.y_train
    count = config.options.get("train_sentences") or 0
    if count:
        if count > len(train_texts):
            raise ConfigError(f"--train-sentences {count}: the training split has {len(train_texts)}")
        keep = np.sort(np.random.default_rng(config.seed).permutation(len(train_texts))[:count])
        x_train, y_train = [train_texts[i] for i in keep], split.y_train[keep]
    if vocabulary is None:
        vocabulary = CharVocabulary("".join(x_train))
    length = config.options["chunks"] * sizes.block_size
    return dataclasses.replace(split, x_train=encode(x_train, vocabulary, length), y_train=y_train,
                               x_test=encode(test_texts, vocabulary, length), feature_shape=(length,),
                               vocabulary=tuple(vocabulary.chars))


def encode_texts(config, record, texts):
    """Character ids of new ``texts`` with the run's characters, as its training sentences were made
    (``predict --text``)."""
    from ..errors import DataError
    vocabulary = CharVocabulary("".join(record["data"]["vocabulary"]))
    del config  # the run's record keeps the characters and the length
    ids = encode(list(texts), vocabulary, record["data"]["feature_shape"][0])
    for number, (text, row) in enumerate(zip(texts, ids), 1):
        if (row == PAD).all():
            raise DataError(f"text {number} ({text!r}) has no character the model knows")
    return ids


def build(config, info):
    """A :class:`GPTClassifier`; with ``--init``, its body holds the pre-trained model's weights."""
    sizes, _ = _body(config)
    gpt_config = dataclasses.replace(sizes, vocab_size=info.vocab_size, dropout=config.dropout)
    model = GPTClassifier(gpt_config, info.num_outputs, generator=config.seed)
    init = _init_dir(config)
    if init is not None:
        model.gpt.load_state_dict(_language_model(init)[0].state_dict())
    return model


def describe(config, info, model):
    init = _init_dir(config)
    body = model.gpt.config
    start = f"fine-tuned from {init}" if init is not None else "from scratch"
    return (f"GPT classifier {body.n_layer} layers, {body.n_head} heads, {body.n_embd} dims, context "
            f"{body.block_size} x {config.options['chunks']} chunks, {start}")
