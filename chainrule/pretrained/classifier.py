"""A pre-trained encoder with a classification head: mean-pooled sentence vector, dropout, linear.

Trained whole it fine-tunes the encoder; with ``freeze=True`` only the head learns (the encoder's
parameters have ``requires_grad=False``, it runs without a graph, and each sentence's vector is
computed once and kept: the encoder does not change). Padding columns beyond a batch's longest
sentence are dropped before the encoder (they change nothing), and a batch encoded without a graph is
run in chunks of sentences of similar length, so little padding is computed.
"""

import numpy as np

from ..core.graph import decides_on_values, is_grad_enabled, no_grad
from ..core.tensor import Tensor, unwrap
from ..nn.bert import l2_normalize, mean_pool
from ..nn.layers import Dropout, Linear
from ..nn.module import Module
from ..nn.rng import as_generator

CHUNK = 64  # sentences per forward pass when no graph is recorded


class SentenceClassifier(Module):
    """Logits ``(N, num_classes)`` of padded token ids (padding after each sentence).

    Args:
        encoder: a :class:`~chainrule.nn.bert.BertModel` (``.encoder``).
        num_classes: the number of classes.
        dropout: before the head.
        freeze: train the head alone.
        normalize: scale each sentence vector to unit length before the head, as sentence-transformers'
            ``Normalize`` module does for all-MiniLM-L6-v2's embeddings.
        generator: for the head's initial weights and the dropout masks.
    """

    def __init__(self, encoder, num_classes=2, dropout=0.1, freeze=False, normalize=False, generator=None):
        super().__init__()
        generator = as_generator(generator)
        self.encoder = encoder
        self.dropout = Dropout(dropout, generator=generator)
        self.head = Linear(encoder.config.hidden_size, num_classes, generator=generator)
        self.freeze, self.normalize = bool(freeze), bool(normalize)
        self._frozen = {}  # a sentence's token ids (bytes) -> its vector, while the encoder is frozen
        if self.freeze:
            encoder.requires_grad_(False)
        if getattr(encoder, "pooler", None) is not None:  # the [CLS] pooler is not read: nothing to train
            encoder.pooler.requires_grad_(False)

    def features(self, input_ids, attention_mask=None):
        """The sentence vectors ``(N, hidden)``: the mean of the token states over the real tokens,
        scaled to unit length with ``normalize``."""
        decides_on_values("SentenceClassifier: the attention mask and the cut to the longest sentence")
        input_ids = np.asarray(unwrap(input_ids))
        if attention_mask is None:  # padding is the pad token (BERT's [PAD]), which no text produces
            attention_mask = (input_ids != self.encoder.config.pad_token_id).astype(np.int64)
        attention_mask = np.asarray(unwrap(attention_mask))
        longest = max(1, int(attention_mask.sum(axis=1).max(initial=0)))
        input_ids, attention_mask = input_ids[:, :longest], attention_mask[:, :longest]
        if self.freeze:
            return Tensor(self._frozen_features(input_ids, attention_mask))
        if not is_grad_enabled() and len(input_ids) > CHUNK:
            return Tensor(self._without_graph(input_ids, attention_mask))
        return self._pooled(input_ids, attention_mask)

    def forward(self, input_ids, attention_mask=None):
        return self.head(self.dropout(self.features(input_ids, attention_mask)))

    def param_groups(self, lr, head_lr=None, weight_decay=0.01):
        """Optimiser parameter groups of the trained parameters (the head alone when frozen): the
        encoder's at ``lr``, the head's at ``head_lr`` (default ``lr``); weight decay on the matrices,
        none on biases and LayerNorms, as BERT was trained."""
        groups = []
        for part, rate in ((self.encoder, lr), (self.head, lr if head_lr is None else head_lr)):
            trained = [p for p in part.parameters() if p.requires_grad]
            groups += [{"params": [p for p in trained if p.ndim >= 2], "weight_decay": weight_decay, "lr": rate},
                       {"params": [p for p in trained if p.ndim < 2], "weight_decay": 0.0, "lr": rate}]
        return [group for group in groups if group["params"]]

    def load_state_dict(self, state_dict, strict=True):
        self._frozen.clear()  # the kept vectors belong to the old weights
        return super().load_state_dict(state_dict, strict=strict)

    def _pooled(self, input_ids, attention_mask):
        hidden = self.encoder(input_ids, attention_mask=attention_mask).last_hidden_state
        pooled = mean_pool(hidden, attention_mask)
        return l2_normalize(pooled) if self.normalize else pooled

    def _without_graph(self, input_ids, attention_mask):
        """The vectors of a batch in chunks of sentences of similar length, without a graph."""
        lengths = attention_mask.sum(axis=1)
        order = np.argsort(-lengths, kind="stable")
        out = np.zeros((len(input_ids), self.encoder.config.hidden_size), np.float32)
        with no_grad():
            for start in range(0, len(order), CHUNK):
                rows = order[start:start + CHUNK]
                longest = max(1, int(lengths[rows].max()))
                out[rows] = self._pooled(input_ids[rows, :longest], attention_mask[rows, :longest]).data
        return out

    def _frozen_features(self, input_ids, attention_mask):
        """The frozen encoder's vectors, each sentence's computed once (in evaluation mode)."""
        keys = [ids[mask.astype(bool)].tobytes() for ids, mask in zip(input_ids, attention_mask)]
        unique = list({key: i for i, key in enumerate(keys) if key not in self._frozen}.values())
        if unique:
            was_training = self.encoder.training
            self.encoder.eval()
            try:
                vectors = self._without_graph(input_ids[unique], attention_mask[unique])
            finally:
                self.encoder.train(was_training)
            self._frozen.update(zip((keys[i] for i in unique), vectors))
        return np.stack([self._frozen[key] for key in keys])
