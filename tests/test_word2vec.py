"""Skip-gram with negative sampling, word-vector helpers and the evaluations (small corpora written
here; the real corpus where gensim's wheel is in the cache)."""

import collections

import numpy as np
import pytest

import chainrule as cr
from chainrule import word2vec
from chainrule.data import fetch
from chainrule.errors import DataError


def test_log_sigmoid_is_stable_and_has_slope_one_half_at_zero():
    x = cr.tensor(np.array([-200.0, 0.0, 200.0]), requires_grad=True)
    value = word2vec._log_sigmoid(x)
    np.testing.assert_allclose(value.data, [-200.0, -np.log(2), 0.0], atol=1e-12)
    value.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.0, 0.5, 0.0], atol=1e-12)


def test_pairs_stay_within_the_window():
    rng = np.random.default_rng(0)
    document = np.arange(20)
    centres, contexts = word2vec._pairs([document], np.ones(20), 3, rng)
    distance = np.abs(centres - contexts)
    assert distance.min() >= 1 and distance.max() <= 3
    assert len(centres) >= 2 * 19  # every neighbour pair, both ways, at least


def test_skipgram_puts_words_of_the_same_contexts_together():
    rng = np.random.default_rng(1)
    animals, tools = ["cat", "dog", "cow"], ["saw", "drill", "hammer"]
    documents = []
    for _ in range(300):
        topic = animals if rng.random() < 0.5 else tools
        documents.append(list(rng.choice(topic, size=8)) + ["and"] * 2)
    vectors, seconds = word2vec.train_skipgram(documents, dim=8, window=2, negative=3, min_count=1,
                                               sample=0, epochs=3, lr=0.05, batch_size=256, seed=0)
    assert seconds > 0 and set(vectors.words) == set(animals + tools + ["and"])
    assert vectors.similarity("cat", "dog") > vectors.similarity("cat", "saw")
    assert vectors.similarity("drill", "hammer") > vectors.similarity("drill", "cow")
    assert vectors.nearest("cat", 2)[0][0] in animals


def test_word_vectors_neighbours_analogies_and_evaluations():
    words = ["king", "queen", "man", "woman", "apple"]
    vectors = word2vec.WordVectors(words, np.array([[1, 1, 0], [1, -1, 0], [0.1, 1, 0], [0.1, -1, 0],
                                                    [0, 0, 1]], dtype=np.float32))
    assert vectors.analogy("man", "king", "woman") == "queen"
    assert [w for w, _ in vectors.nearest("king", 2)] == ["man", "queen"]
    lines = [": family", "man king woman queen", "king man queen woman", "man king woman unknownword"]
    assert word2vec.evaluate_analogies(vectors, lines) == (1.0, 2, 3)
    pairs = ["# header", "king\tman\t8.0", "king\tapple\t1.0", "man\twoman\t0.5", "king\tnowhere\t3.0"]
    rho, used, total = word2vec.evaluate_similarity(vectors, pairs)
    assert (used, total) == (3, 4) and rho == pytest.approx(1.0)
    with pytest.raises(DataError, match="'prince' is not in the vocabulary"):
        vectors.nearest("prince")


@pytest.mark.skipif(not (fetch.cache_dir() / "pypi" / "gensim-4.4.0-wheel-manylinux_2_28_x86_64").is_dir(),
                    reason="gensim 4.4.0's wheel is not in the cache")
def test_real_wikipedia_excerpt_reads_as_plain_words():
    documents = word2vec.wikipedia_documents()
    assert len(documents) > 100 and sum(map(len, documents)) > 400_000
    assert documents[0][:3] == ["anarchism", "is", "a"]
    counts = collections.Counter(w for document in documents[:5] for w in document)
    assert not {"ref", "http", "nbsp", "cite", "url"} & {w for w, n in counts.items() if n > 20}  # markup gone
