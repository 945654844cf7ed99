"""A tiny randomly initialised BERT directory in Hugging Face's layout, written by the tests."""

import numpy as np

from chainrule.nn.bert import BertConfig, BertModel

WORDS = ["the", "movie", "film", "was", "is", "good", "bad", "great", "awful", "love", "hate", "i", "this",
         "plot", "actors", "boring", "fun", "##s", "##ing", "not", "very", "and", "a", "it", "."]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_config(**changes):
    settings = dict(vocab_size=len(SPECIAL) + len(WORDS), hidden_size=8, num_hidden_layers=2,
                    num_attention_heads=2, intermediate_size=16, max_position_embeddings=16)
    return BertConfig(**{**settings, **changes})


def write_tokenizer(path):
    """A WordPiece tokenizer.json built by the tokenizers library itself."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    vocab = {token: i for i, token in enumerate(SPECIAL + WORDS)}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tokenizer.save(str(path))


def tiny_directory(path, seed=0, tokenizer=True, **changes):
    """Write config.json, model.safetensors (and tokenizer.json) of a random tiny BERT into ``path``."""
    model = BertModel(tiny_config(**changes), generator=seed)
    rng = np.random.default_rng(seed)
    for parameter in model.parameters():  # LayerNorms and biases away from 1 and 0, to test them too
        parameter.data[...] += rng.normal(0, 0.1, parameter.shape).astype(parameter.dtype)
    model.save_pretrained(path)
    if tokenizer:
        write_tokenizer(path / "tokenizer.json")
    return model
