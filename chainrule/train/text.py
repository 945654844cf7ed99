"""Predictions of a text classifier's run for new sentences, mapped to ids exactly as in training.

The run keeps its vocabulary's tokens in ``run.json``; the tokenizer is fixed code
(:func:`chainrule.data.text.tokenize`). A model registered with its own ``encode_texts`` (a pre-trained
encoder's word pieces, a GPT classifier's characters) makes its inputs itself. Texts are cut to the data set's length (``feature_shape``), as
the training sentences were; a text with no word at all, or with no word the vocabulary knows, is
refused with its position in the list.
"""

import numpy as np

from ..data.text import UNK_ID, Vocabulary, tokenize
from ..errors import DataError
from .runs import ConfigError, load_run
from .settings import model_entry
from .trainer import predict


def run_vocabulary(record):
    """The :class:`~chainrule.data.text.Vocabulary` a run was trained with (from its ``run.json``)."""
    tokens = record["data"].get("vocabulary")
    if tokens is None:
        raise ConfigError(f"this run was trained on {record['data']['name']!r}, not on text: give it feature "
                          f"rows (INPUT.npy) instead of --text")
    return Vocabulary(tokens)


def encode_texts(vocabulary, texts, max_length):
    """Token ids ``(n, max_length)`` of ``texts``, padded after each text's end.

    Raises:
        DataError: naming the first text that has no word, or no word the vocabulary knows.
    """
    if not texts:
        raise DataError("no text to predict: give at least one --text (or a file with one text per line)")
    for number, text in enumerate(texts, 1):
        words = tokenize(text)
        if not words:
            raise DataError(f"text {number} ({text!r}) has no word to read")
        if (vocabulary.encode(text) == UNK_ID).all():
            raise DataError(f"text {number} ({text!r}) has no word the model knows: every word is outside "
                            f"its vocabulary of {len(vocabulary)} tokens")
    ids, _ = vocabulary.encode_batch(texts, max_length)
    return ids


def predict_texts(run_dir, texts):
    """The class probabilities a trained text classifier gives ``texts``.

    Args:
        run_dir: the directory of a ``chainrule train --data sentiment`` run (or any token data set).
        texts: a list of str.

    Returns:
        ``(n, classes)`` float array; for ``sentiment``, column 1 is P(positive).
    """
    texts = list(texts)
    config, record, _, model = load_run(run_dir)
    entry = model_entry(config.model)
    if entry.encode_texts is not None:  # the model's own tokens (a pre-trained encoder's word pieces...)
        if not texts:
            raise DataError("no text to predict: give at least one --text (or a file with one text per line)")
        ids = entry.encode_texts(config, record, texts)
    else:
        ids = encode_texts(run_vocabulary(record), texts, record["data"]["feature_shape"][0])
    logits = predict(model, ids)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
