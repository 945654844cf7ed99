"""sentiment: the article's walk-through on "I love this movie", then training on review sentences."""

import pytest

from chainrule.data import fetch

pytestmark = pytest.mark.skipif(not (fetch.cache_dir() / "pypi" / "vaderSentiment-3.3.2-sdist").is_dir(),
                                reason="vaderSentiment 3.3.2's sdist (the review sentences) is not in the cache")


def test_one_sgd_step_moves_the_output_towards_the_target(quick_run):
    metrics = quick_run("sentiment")[0].metrics
    assert 0 < metrics["before"] < 1
    assert metrics["loss"] == pytest.approx((1 - metrics["before"]) ** 2)
    assert metrics["after"] > metrics["before"]


def test_the_error_reaches_every_layer_and_each_word(quick_run):
    metrics = quick_run("sentiment")[0].metrics
    assert set(metrics["layer_norms"]) == {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                                           "rnn.bias_hh_l0", "classifier.weight", "classifier.bias"}
    assert all(norm > 0 for norm in metrics["layer_norms"].values())
    assert [word for word, _ in metrics["word_norms"]] == ["i", "love", "this", "movie"]
    assert all(norm > 0 for _, norm in metrics["word_norms"])


def test_training_curves_probabilities_and_saliency(quick_run):
    result, text, _ = quick_run("sentiment")
    metrics = result.metrics
    assert metrics["curves"]["epoch"] == [1, 2]
    assert metrics["curves"]["loss"][1] < metrics["curves"]["loss"][0]
    assert set(metrics["final"]) >= {"I love this movie", "I hate this movie"}
    assert all(0 < p < 1 for p in metrics["final"].values())
    assert [word for word, _ in metrics["saliency"]["I love this movie"]] == ["i", "love", "this", "movie"]
    assert "Gradient × input" in text
    assert set(metrics["baselines"]) == {"logistic regression", "linear SVM"}
    assert all(0.7 < value < 0.85 for value in metrics["baselines"].values())  # the classic bag of words
