"""A pre-trained encoder with a classification head: mean-pooled sentence vector, dropout, linear.

Trained whole it fine-tunes the encoder; with ``freeze=True`` only the head learns (the encoder's
parameters have ``requires_grad=False`` and it runs without a graph).
"""

import numpy as np

from ..core.graph import no_grad
from ..core.tensor import unwrap
from ..nn.bert import mean_pool
from ..nn.layers import Dropout, Linear
from ..nn.module import Module
from ..nn.rng import as_generator


class SentenceClassifier(Module):
    """Logits ``(N, num_classes)`` of padded token ids.

    Args:
        encoder: a :class:`~chainrule.nn.bert.BertModel` (``.encoder``).
        num_classes: the number of classes.
        dropout: before the head.
        freeze: train the head alone.
        generator: for the head's initial weights and the dropout masks.
    """

    def __init__(self, encoder, num_classes=2, dropout=0.1, freeze=False, generator=None):
        super().__init__()
        generator = as_generator(generator)
        self.encoder = encoder
        self.dropout = Dropout(dropout, generator=generator)
        self.head = Linear(encoder.config.hidden_size, num_classes, generator=generator)
        self.freeze = bool(freeze)
        if self.freeze:
            encoder.requires_grad_(False)

    def features(self, input_ids, attention_mask=None):
        """The mean of the token states over the real tokens, ``(N, hidden)``."""
        input_ids = np.asarray(unwrap(input_ids))
        if attention_mask is None:  # padding is the pad token (BERT's [PAD]), which no text produces
            attention_mask = (input_ids != self.encoder.config.pad_token_id).astype(np.int64)
        if self.freeze:
            self.encoder.eval()
            with no_grad():
                hidden = self.encoder(input_ids, attention_mask=attention_mask).last_hidden_state
                return mean_pool(hidden, attention_mask).detach()
        hidden = self.encoder(input_ids, attention_mask=attention_mask).last_hidden_state
        return mean_pool(hidden, attention_mask)

    def forward(self, input_ids, attention_mask=None):
        return self.head(self.dropout(self.features(input_ids, attention_mask)))
