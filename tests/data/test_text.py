"""The tokenizer, the vocabulary and the sentiment data set (a small archive written here; the real
one where it is in the cache)."""

import numpy as np
import pytest

from chainrule.data import fetch, load_dataset, text
from chainrule.errors import DataError
from tests.data.archives import tar_gz


def test_tokenizer_lower_cases_words_and_keeps_inner_apostrophes():
    assert text.tokenize("Don't LOVE it -- 10/10, really!") == ["don't", "love", "it", "10", "10", "really"]
    assert text.tokenize("Münch's cliché") == ["münch's", "cliché"]
    assert text.tokenize("  ...  ") == []
    with pytest.raises(TypeError, match="must be a str"):
        text.tokenize(3)


def test_vocabulary_counts_orders_and_round_trips():
    corpus = ["a good good film", "a bad film", "good acting"]
    vocabulary = text.Vocabulary.build(corpus, min_count=2)
    assert vocabulary.tokens == ("<pad>", "<unk>", "good", "a", "film")
    ids = vocabulary.encode("A good, unseen film")
    assert ids.tolist() == [3, 2, 1, 4] and ids.dtype == np.int64
    assert vocabulary.decode(ids) == "a good <unk> film"
    assert text.Vocabulary.build(corpus, min_count=1, max_size=4).tokens == ("<pad>", "<unk>", "good", "a")
    restored = text.Vocabulary.from_dict(vocabulary.to_dict())
    for sentence in corpus + ["never seen words"]:
        np.testing.assert_array_equal(restored.encode(sentence), vocabulary.encode(sentence))
    known = "a good film"
    assert vocabulary.decode(vocabulary.encode(known)) == known  # the round trip of known words


def test_encode_batch_pads_and_cuts():
    vocabulary = text.Vocabulary.build(["one two three four"], min_count=1)
    ids, lengths = vocabulary.encode_batch(["one two three four", "two", "zzz"], max_length=3)
    assert vocabulary.tokens[2:] == ("four", "one", "three", "two")  # equal counts: alphabetical
    assert ids.tolist() == [[3, 5, 4], [5, 0, 0], [1, 0, 0]]
    assert lengths.tolist() == [3, 1, 1]
    np.testing.assert_array_equal(text.sequence_lengths(ids), [3, 1, 1])


def test_empty_text_is_refused():
    vocabulary = text.Vocabulary.build(["one"], min_count=1)
    ids, _ = vocabulary.encode_batch(["one", "!!!"], max_length=2)
    with pytest.raises(DataError, match=r"sequences \[1\] hold no token"):
        text.sequence_lengths(ids)
    with pytest.raises(DataError, match="starts with '<pad>' and '<unk>'"):
        text.Vocabulary(["a", "b"])


def _ratings_archive(tmp_path, lines):
    inner = tar_gz({text._RATINGS_MEMBERS[1]: "\r\n".join(lines).encode()})
    path = tmp_path / "vaderSentiment-3.3.2.tar.gz"
    path.write_bytes(tar_gz({text._RATINGS_MEMBERS[0]: inner}))
    return path


def test_sentiment_labels_by_sign_drops_neutral_and_splits_stratified(tmp_path, monkeypatch):
    lines = [f"{i}\t{2.5 if i % 2 else -1.5}\t{'great fun' if i % 2 else 'dull mess'} number {i}"
             for i in range(1, 41)]
    lines += ["41\t0.0\tneither here nor there", "42\t1.0\t!!!"]  # neutral; no word at all
    archive = _ratings_archive(tmp_path, lines)
    monkeypatch.setattr(text, "fetch_sdist", lambda name, version, sha256: archive)
    split = load_dataset("sentiment", max_length=4)
    assert split.x_train.shape == (32, 4) and split.x_test.shape == (8, 4)
    assert split.x_train.dtype == np.int64 and split.feature_shape == (4,)
    assert split.y_train.mean() == 0.5 and split.y_test.mean() == 0.5
    vocabulary = text.Vocabulary(split.vocabulary)
    for ids, label in zip(split.x_test, split.y_test):
        words = vocabulary.decode(ids).split()
        assert words[:2] == (["great", "fun"] if label else ["dull", "mess"])
    assert "neither" not in split.vocabulary
    again = load_dataset("sentiment", max_length=4, seed=5)  # the split is fixed
    np.testing.assert_array_equal(again.x_test, split.x_test)


def test_malformed_ratings_file_is_named(tmp_path, monkeypatch):
    archive = _ratings_archive(tmp_path, ["1\t2.0"])
    monkeypatch.setattr(text, "fetch_sdist", lambda name, version, sha256: archive)
    with pytest.raises(DataError, match="line 1: expected id, rating and text"):
        text.rotten_tomatoes_sentences()


@pytest.mark.skipif(not (fetch.cache_dir() / "pypi" / "vaderSentiment-3.3.2-sdist").is_dir(),
                    reason="vaderSentiment 3.3.2's sdist is not in the cache")
def test_real_rotten_tomatoes_sentences():
    texts, ratings = text.rotten_tomatoes_sentences()
    assert len(texts) == 10605
    assert ((ratings > 0).sum(), (ratings < 0).sum(), (ratings == 0).sum()) == (5242, 5326, 37)
    assert texts[0].startswith("The Rock is destined to be the 21st Century's new")
    train_texts, train_labels, test_texts, test_labels = text.sentiment_texts()
    assert len(train_texts) + len(test_texts) == 10568 and len(test_texts) == 2114
    assert abs(train_labels.mean() - test_labels.mean()) < 1e-3
