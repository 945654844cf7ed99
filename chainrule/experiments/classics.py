"""Deep learning against the methods before it: perceptron, logistic regression, SVMs, boosted trees."""

import time

import numpy as np

from chainrule import nn, optim
from chainrule.data import Standardizer, load_dataset
from chainrule.train import fit, predict

from .progress import progress
from .report import new_figure, save_figure
from .result import Result, Table

NAME = "classics"
TITLE = "Deep learning against the classics"
CLAIM = ("On digits and MNIST-1D, Rosenblatt's perceptron, logistic regression, a linear SVM, an RBF-kernel "
         "SVM, gradient-boosted trees and chainrule MLPs all beat chance by far; the linear methods fall "
         "behind where the classes are not linearly separable (MNIST-1D), and the table shows what each "
         "costs to fit, all on one thread.")

DATASETS = ("digits", "mnist1d")
LINEAR = ("perceptron", "logistic regression", "linear SVM")


class MLPClassifier:
    """A chainrule MLP with the ``fit``/``predict`` interface of a scikit-learn classifier.

    Args:
        hidden: the hidden widths.
        epochs: passes over the training set, with Adam (lr 1e-3, batch 64).
        seed: the seed of the weights and of the mini-batches.
    """

    def __init__(self, hidden, epochs, seed):
        self.hidden, self.epochs, self.seed = list(hidden), epochs, seed
        self.model = None

    def fit(self, x, y):
        self.model = nn.MLP([x.shape[1], *self.hidden, int(y.max()) + 1], seed=self.seed)
        fit(self.model, nn.CrossEntropyLoss(), optim.Adam(self.model.parameters(), lr=1e-3), (x, y),
            epochs=self.epochs, batch_size=64, seed=self.seed, progress=False)
        return self

    def predict(self, x):
        return predict(self.model, x).argmax(axis=1)


def methods(quick, seed):
    """The contestants, by name: fresh unfitted classifiers, each told to use one thread."""
    from sklearn.linear_model import LogisticRegression, Perceptron
    from sklearn.svm import SVC, LinearSVC

    trees, epochs = (50, 15) if quick else (300, 60)
    contestants = {
        "perceptron": Perceptron(random_state=seed),
        "logistic regression": LogisticRegression(max_iter=2000),
        "linear SVM": LinearSVC(max_iter=5000, random_state=seed),
        "RBF SVM": SVC(kernel="rbf", C=10.0, gamma="scale"),
    }
    if boosted_trees_available():
        from xgboost import XGBClassifier
        contestants["XGBoost"] = XGBClassifier(n_estimators=trees, max_depth=4, learning_rate=0.2,
                                               tree_method="hist", n_jobs=1, random_state=seed)
    contestants["MLP, 1 hidden layer of 128"] = MLPClassifier([128], epochs, seed)
    contestants["MLP, 2 hidden layers of 256"] = MLPClassifier([256, 256], epochs, seed)
    return contestants


MISSING_XGBOOST = ("XGBoost is left out: it is not installed. Add it with `pip install -e \".[classics]\"` "
                   "(the CPU-only xgboost-cpu wheel) and run the experiment again.")


def boosted_trees_available():
    """Whether XGBoost can be imported (it is an extra: ``pip install -e ".[classics]"``)."""
    try:
        import xgboost  # noqa: F401
    except ImportError:
        return False
    return True


def thread_counts():
    """The thread count of every native thread pool loaded (BLAS, OpenMP), as ``{library: threads}``."""
    from threadpoolctl import threadpool_info
    return {f"{pool['prefix']} ({pool['user_api']})": pool["num_threads"] for pool in threadpool_info()}


def contest(name, quick, seed):
    """Fit every method on one data set (standardised with the training split's statistics).

    Returns:
        ``{method: (test accuracy, fit seconds)}`` and the number of training examples used.
    """
    data = load_dataset(name)
    size = 1000 if quick else len(data.x_train)
    scaler = Standardizer().fit(data.x_train[:size])
    x_train, x_test = scaler.transform(data.x_train[:size]), scaler.transform(data.x_test)
    y_train = data.y_train[:size]
    results = {}
    for method, model in progress(methods(quick, seed).items(), name):
        start = time.perf_counter()
        model.fit(x_train, y_train)
        seconds = time.perf_counter() - start
        results[method] = (float(np.mean(model.predict(x_test) == data.y_test)), seconds)
    return results, size, len(data.x_test)


def reading(results):
    """What the table shows, built from its numbers: ``(headline, paragraph)``."""
    parts, gaps = [], {}
    for name, scores in results.items():
        best = max(scores, key=lambda m: scores[m][0])
        best_linear = max(LINEAR, key=lambda m: scores[m][0])
        gaps[name] = scores[best][0] - scores[best_linear][0]
        parts.append(f"on {name} the best is {best} ({scores[best][0]:.1%}) and the best linear method "
                     f"{best_linear} ({scores[best_linear][0]:.1%}), a gap of {100 * gaps[name]:.1f} points")
    text = "; ".join(parts)
    headline = text[0].upper() + text[1:] + "."
    times = [seconds for scores in results.values() for _, seconds in scores.values()]
    widest = max(gaps, key=gaps.get)
    return headline, (f"{headline} The linear methods lose most on {widest}, where no hyperplane separates "
                      "the classes well; kernels, trees and hidden layers are what pays there. Fit times "
                      f"run from {min(times):.2g} s to {max(times):.2g} s on one thread. The published "
                      "MNIST-1D numbers (logistic regression 32%, MLP 68%, CNN 94%) show how much more an "
                      "architecture suited to the data buys.")


def run(out_dir, quick=False, seed=0):
    """Run the experiment; see :data:`CLAIM`. Every native thread pool (the BLAS libraries of NumPy and
    SciPy, XGBoost's OpenMP) is limited to one thread while the methods are fitted; the report lists them.

    Args:
        out_dir: where the figures go.
        quick: 1000 training examples, 50 trees and 15 MLP epochs instead of the whole training sets,
            300 trees and 60 epochs.
        seed: the seed of the perceptron's and linear SVM's shuffling, the trees and the MLPs.

    Returns:
        A :class:`~chainrule.experiments.result.Result`.
    """
    from threadpoolctl import threadpool_limits

    methods(quick, seed)  # load every library first: a limit covers only the pools already loaded
    results, sizes = {}, {}
    with threadpool_limits(limits=1):
        for name in DATASETS:
            results[name], *sizes[name] = contest(name, quick, seed)
        threads = thread_counts()
    names = list(results[DATASETS[0]])
    rows = [[method, *(value for name in DATASETS for value in results[name][method])] for method in names]
    columns = ["method", *(f"{name} {what}" for name in DATASETS
                           for what in ("test accuracy", "fit seconds"))]
    described = ", ".join(f"{name} ({train} training, {test} test examples, 10 classes)"
                          for name, (train, test) in sizes.items())
    tables = [
        Table(f"Test accuracy and fit time, one thread: {described}", columns, rows),
        Table("Native thread pools while fitting", ["pool", "threads"],
              [list(item) for item in threads.items()]),
    ]
    headline, paragraph = reading(results)

    fig, axes = new_figure(len(DATASETS), width=5.2, height=3.6, sharey=True)
    for ax, name in zip(axes, DATASETS, strict=True):
        colours = ["tab:gray" if m in LINEAR else "tab:blue" if m.startswith("MLP") else "tab:orange"
                   for m in names]
        bars = ax.barh(names, [results[name][m][0] for m in names], color=colours)
        for bar, m in zip(bars, names, strict=True):
            accuracy, seconds = results[name][m]
            middle = bar.get_y() + bar.get_height() / 2
            ax.annotate(f"{accuracy:.1%}, {seconds:.2g} s", (bar.get_width(), middle), xytext=(3, 0),
                        textcoords="offset points", va="center", fontsize=7)
        ax.axvline(0.1, color="black", lw=0.8, ls=":")
        ax.set(title=f"{name}: test accuracy (fit time); dotted: chance", xlim=(0, 1.25))
    axes[0].invert_yaxis()
    fig.tight_layout()
    figures = [save_figure(fig, out_dir, "classics")]

    metrics = {key: {name: {m: pair[k] for m, pair in scores.items()} for name, scores in results.items()}
               for k, key in enumerate(("accuracy", "seconds"))}
    metrics["threads"] = threads
    notes = [paragraph] if boosted_trees_available() else [paragraph, MISSING_XGBOOST]
    return Result(headline, tables, figures, metrics, notes)
