"""Sequence classifiers (``chainrule train --model rnn|lstm|gru|bow``: see :mod:`chainrule.train.zoo`).

- :class:`RecurrentClassifier`: token ids → embeddings (``<pad>`` = 0 is the padding row) → an RNN,
  LSTM or GRU over each sentence's real length → its last hidden state (both directions' when
  bidirectional) → dropout → a linear layer. Given float features instead (MNIST-1D's 40 values), it
  reads them as a sequence of one value per step.
- :class:`BagOfEmbeddings`: the average of a sentence's word embeddings → dropout → a linear layer.

A batch is cut to its longest sentence before the recurrence, so padding costs nothing; the lengths
make it change nothing either.
"""

import numpy as np

from .. import backend, ops
from ..core.graph import is_recording
from ..core.tensor import Tensor, unwrap
from ..errors import DataError, ShapeError
from .layers import Dropout, Embedding, Linear
from .module import Module
from .recurrent import GRU, LSTM, RNN
from .rng import as_generator

_LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}

PAD_ID = 0
"""The padding token id: the embeddings' padding row, which the vocabularies of :mod:`chainrule.data.text`
give to ``<pad>``; a batch of token ids is padded with it after each sentence's end."""


def sequence_lengths(ids):
    """The number of tokens before the padding in each row of ``ids`` (padding only at the end).

    Raises:
        DataError: for a row with no token (an empty text).
    """
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise DataError(f"token ids must be a 2-D array (sequences, positions), got shape {ids.shape}")
    lengths = (ids != PAD_ID).sum(axis=1)
    if ids.shape[1] == 0 or not lengths.all():
        empty = np.flatnonzero(lengths == 0)[:5].tolist() if ids.shape[1] else list(range(min(len(ids), 5)))
        raise DataError(f"sequences {empty} hold no token: a text must have at least one word")
    return lengths


def _token_ids(x, vocab_size, where):
    ids = backend.asarray(unwrap(x))
    if ids.dtype.kind not in "iu" or ids.ndim != 2:
        raise ShapeError(f"{where}: expected token ids, integers of shape (batch, positions), got "
                         f"{ids.dtype} of shape {ids.shape}")
    if is_recording():
        # A compiled step: the batch stays as long as it came (the training loop cuts it to a length
        # bucket); the lengths are operations, so every replay reads its own batch's.
        return ids, ops.sum(Tensor(ids) != PAD_ID, axis=1)
    lengths = sequence_lengths(ids)
    return ids[:, :lengths.max()], lengths


class RecurrentClassifier(Module):
    """Embeddings (or raw features), a recurrent layer, its last state, a linear classifier.

    Args:
        kind: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        num_outputs: the number of classes.
        vocab_size: the number of token ids; ``None`` for float sequences of ``input_size`` values a step.
        input_size: the values per step of float sequences.
        embedding_dim, hidden_size, num_layers, bidirectional: the layers' sizes.
        dropout: on the embeddings, between recurrent layers and before the classifier.
        generator: for the initial values and the dropout masks.
    """

    def __init__(self, kind, num_outputs, vocab_size=None, input_size=1, embedding_dim=100, hidden_size=128,
                 num_layers=1, bidirectional=False, dropout=0.0, generator=None):
        super().__init__()
        generator = as_generator(generator)
        self.kind, self.input_size = kind, input_size
        self.embedding = None
        if vocab_size is not None:
            self.embedding = Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID, generator=generator)
            input_size = embedding_dim
        self.rnn = _LAYERS[kind](input_size, hidden_size, num_layers=num_layers, batch_first=True,
                                 dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional,
                                 generator=generator)
        self.dropout = Dropout(dropout, generator=generator)
        self.classifier = Linear(hidden_size * (2 if bidirectional else 1), num_outputs, generator=generator)

    def forward(self, x):
        if self.embedding is not None:
            ids, lengths = _token_ids(x, self.embedding.num_embeddings, type(self).__name__)
            inputs = self.dropout(self.embedding(ids))
        else:
            inputs, lengths = self._float_sequence(x), None
        _, state = self.rnn(inputs, lengths=lengths)
        h_n = state[0] if isinstance(state, tuple) else state  # (layers · directions, batch, hidden)
        last = ops.concatenate([h_n[-2], h_n[-1]], axis=-1) if self.rnn.bidirectional else h_n[-1]
        return self.classifier(self.dropout(last))

    def _float_sequence(self, x):
        """``(B, L)`` or channels-first ``(B, C, L)`` features as ``(B, L, C)`` steps."""
        shape = np.shape(unwrap(x))
        if len(shape) == 2 and self.input_size == 1:
            return ops.unsqueeze(x, -1)
        if len(shape) == 3 and shape[1] == self.input_size:
            return ops.swapaxes(x, 1, 2)
        raise ShapeError(f"RecurrentClassifier({self.kind}): expected float sequences of shape (B, L) or "
                         f"(B, {self.input_size}, L), got {shape}")


class BagOfEmbeddings(Module):
    """The average of a sentence's word embeddings, then dropout and a linear classifier.

    Args:
        vocab_size, embedding_dim: the embedding table's size.
        num_outputs: the number of classes.
        dropout: before the classifier.
        generator: for the initial values and the dropout masks.
    """

    def __init__(self, vocab_size, embedding_dim, num_outputs, dropout=0.0, generator=None):
        super().__init__()
        generator = as_generator(generator)
        self.embedding = Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID, generator=generator)
        self.dropout = Dropout(dropout, generator=generator)
        self.classifier = Linear(embedding_dim, num_outputs, generator=generator)

    def forward(self, x):
        ids, lengths = _token_ids(x, self.embedding.num_embeddings, "BagOfEmbeddings")
        mask = ops.astype(ops.unsqueeze(Tensor(ids) != PAD_ID, -1), np.float32)
        average = ops.sum(self.embedding(ids) * mask, axis=1) / ops.astype(lengths, np.float32)[:, None]
        return self.classifier(self.dropout(average))
