"""classics: every method beats chance; linear methods fall behind on MNIST-1D; one thread each."""

import sys

from chainrule.experiments import classics
from chainrule.experiments.classics import LINEAR

METHODS = ["perceptron", "logistic regression", "linear SVM", "RBF SVM",
           *(["XGBoost"] if classics.boosted_trees_available() else []),
           "MLP, 1 hidden layer of 128", "MLP, 2 hidden layers of 256"]


def test_every_method_beats_chance_on_both_data_sets(quick_run):
    metrics = quick_run("classics")[0].metrics
    for name in ("digits", "mnist1d"):
        assert list(metrics["accuracy"][name]) == METHODS
        for method, accuracy in metrics["accuracy"][name].items():
            assert accuracy > 0.15, (name, method)   # chance is 0.10
            assert metrics["seconds"][name][method] > 0
        assert min(metrics["accuracy"]["digits"].values()) > 0.85


def test_linear_methods_fall_behind_on_mnist1d(quick_run):
    accuracy = quick_run("classics")[0].metrics["accuracy"]["mnist1d"]
    assert max(accuracy.get(m, 0) for m in ("RBF SVM", "XGBoost")) > max(accuracy[m] for m in LINEAR) + 0.05


def test_threads_are_pinned_and_the_table_is_read(quick_run):
    result, text, _ = quick_run("classics")
    assert set(result.metrics["threads"].values()) == {1}
    assert "the best linear method" in text and "a gap of" in text


def test_without_xgboost_the_rest_runs_and_the_report_says_how_to_add_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "xgboost", None)  # import xgboost now raises ImportError
    assert not classics.boosted_trees_available()
    assert "XGBoost" not in classics.methods(quick=True, seed=0)
    assert 'pip install -e ".[classics]"' in classics.MISSING_XGBOOST
