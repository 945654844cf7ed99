"""embeddings: chainrule's skip-gram beside gensim's Word2Vec on the same corpus and settings."""

import importlib.util

import pytest

from chainrule.data import fetch

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gensim") is None
    or not (fetch.cache_dir() / "pypi" / "gensim-4.4.0-wheel-manylinux_2_28_x86_64").is_dir(),
    reason="needs gensim (the embeddings extra) and gensim 4.4.0's wheel in the cache")


def test_both_systems_learn_the_same_vocabulary_and_are_scored_alike(quick_run):
    result, text, _ = quick_run("embeddings")
    scores = result.metrics["scores"]
    assert scores["chainrule"]["vocabulary"] == scores["gensim"]["vocabulary"] > 1000
    for name in ("chainrule", "gensim"):
        assert scores[name]["answered"] == scores["chainrule"]["answered"] > 0
        assert -1 <= scores[name]["wordsim_spearman"] <= 1 and scores[name]["seconds"] > 0
    assert set(result.metrics["ratio"]) == {"analogy_accuracy", "wordsim_spearman"}
    assert "Nearest neighbours" in text and "man : king :: woman : ?" in text
