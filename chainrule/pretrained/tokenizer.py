"""Hugging Face's ``tokenizers`` library reading a model's ``tokenizer.json``, padded and cut as
sentence-transformers does.

Tokenisation is the library's (WordPiece with BERT's normaliser and pre-tokeniser, [CLS] ... [SEP]
added by the file's post-processor), not a re-implementation. Batches are padded to their longest
sentence; a sentence longer than ``max_length`` tokens is cut to ``max_length`` (its last token stays
[SEP]) and a warning names how many were cut.
"""

import warnings
from pathlib import Path

import numpy as np

from ..errors import CheckpointError

INSTALL_HINT = "pip install 'chainrule[pretrained]' (Hugging Face's tokenizers library)"


def _library():
    try:
        import tokenizers
    except ImportError:
        raise ImportError(f"chainrule.pretrained needs the tokenizers library: {INSTALL_HINT}") from None
    return tokenizers


class Tokenizer:
    """A ``tokenizers.Tokenizer`` with padding and cutting set up, giving NumPy arrays.

    Args:
        backend: a ``tokenizers.Tokenizer``; reachable as ``.backend``.
        max_length: the most tokens a sentence keeps, [CLS] and [SEP] included.
        pad_id: the padding token's id.
    """

    def __init__(self, backend, max_length, pad_id=0):
        self.backend, self.max_length, self.pad_id = backend, int(max_length), int(pad_id)
        backend.no_padding()
        backend.enable_truncation(self.max_length)

    @classmethod
    def from_file(cls, path, max_length, pad_id=0):
        """Read ``tokenizer.json`` at ``path``.

        Raises:
            CheckpointError: when the file is missing or not a tokenizer.
            ImportError: naming the extra to install when ``tokenizers`` is not installed.
        """
        path = Path(path)
        library = _library()
        if not path.is_file():
            raise CheckpointError(f"tokenizer: {path} does not exist; a Hugging Face model directory holds "
                                  f"tokenizer.json")
        try:
            backend = library.Tokenizer.from_file(str(path))
        except Exception as error:  # the library raises its own exception types
            raise CheckpointError(f"tokenizer: {path} is not a tokenizers file ({error})") from error
        return cls(backend, max_length, pad_id)

    @property
    def vocab_size(self):
        return self.backend.get_vocab_size()

    def __call__(self, sentences):
        """Token ids and the attention mask of ``sentences``, padded to the longest.

        Args:
            sentences: a string or a list of strings.

        Returns:
            ``(input_ids, attention_mask)``, int64 arrays ``(N, L)``; the mask is 1 at tokens, 0 at padding.
        """
        if isinstance(sentences, str):
            sentences = [sentences]
        sentences = list(sentences)
        bad = [type(sentence).__name__ for sentence in sentences if not isinstance(sentence, str)]
        if bad:
            raise TypeError(f"tokenizer: sentences must be strings, got {', '.join(sorted(set(bad)))}")
        if not sentences:
            return np.zeros((0, 0), np.int64), np.zeros((0, 0), np.int64)
        encodings = self.backend.encode_batch(sentences)
        cut = [i for i, encoding in enumerate(encodings) if encoding.overflowing]
        if cut:
            first = sentences[cut[0]]
            warnings.warn(f"tokenizer: {len(cut)} of {len(sentences)} sentences have more than the model's "
                          f"{self.max_length} tokens and were cut to {self.max_length} (the first: "
                          f"{first[:40]!r}...)", stacklevel=2)
        length = max(len(encoding.ids) for encoding in encodings)
        ids = np.full((len(encodings), length), self.pad_id, np.int64)
        mask = np.zeros((len(encodings), length), np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, :len(encoding.ids)] = encoding.ids
            mask[row, :len(encoding.ids)] = 1
        return ids, mask

    def tokens(self, sentence):
        """The word pieces of one sentence, special tokens included (to look at)."""
        return self.backend.encode(sentence).tokens
