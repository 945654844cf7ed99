"""Bundled data sets, each loaded offline into a :class:`DataSplit` of NumPy arrays.

Features are float32; class labels are int64 of shape ``(n,)``; regression targets are float32 of
shape ``(n, 1)``.
"""

import functools
import inspect
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chainrule.data.generated import cached_arrays
from chainrule.data.idx import read_idx
from chainrule.data.preprocess import Standardizer
from chainrule.errors import DataError
from chainrule.providers import import_providers

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
_FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# Bishop, PRML (2006), §1.1: the ten noisy observations of sin(2πx) at x = linspace(0, 1, 10).
_CURVE_TARGETS = [
    0.349486,
    0.830839,
    1.007332,
    0.971507,
    0.133066,
    0.166823,
    -0.848307,
    -0.445686,
    -0.563567,
    0.261502,
]

_LOADERS = {}


@dataclass(frozen=True, eq=False)
class DataSplit:
    """A data set divided into a training and a test split.

    Attributes:
        x_train: Training features, float32 of shape ``(n_train, *feature_shape)``.
        y_train: Training labels (int64, ``(n_train,)``) or targets (float32, ``(n_train, 1)``).
        x_test: Test features.
        y_test: Test labels or targets.
        task: ``"classification"`` or ``"regression"``.
        num_classes: Number of classes, ``None`` for regression.
        feature_shape: Shape of one example's features.
        name: Registry name of the data set.
        source: Where the data come from, with a citation.
        input_shape: The shape one example takes for models that read its structure, channels first
            (``(1, 28, 28)`` for an image, ``(1, 40)`` for a signal); ``None`` when it is
            ``feature_shape``. ``chainrule train`` gives it to ``"shaped"`` models (CNNs).
        vocabulary: For token data (integer ids in the features), the token of each id; else ``None``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str
    num_classes: int | None
    feature_shape: tuple[int, ...]
    name: str
    source: str
    input_shape: tuple[int, ...] | None = None
    vocabulary: tuple[str, ...] | None = None


# Modules that register data sets when imported (an absent one is skipped: it may not exist yet).
PROVIDERS = ("chainrule.data.text", "chainrule.data.shakespeare")


def register_dataset(name):
    """Make ``load_dataset(name)`` (and ``chainrule train --data NAME``) call the decorated loader.

    The loader takes its options as keyword arguments (``seed`` when the data are random) and returns
    a :class:`DataSplit`. A module outside this one that registers data sets belongs in
    :data:`PROVIDERS`, so they are found without importing it by hand.

    Example:
        >>> @register_dataset("tiny-xor")
        ... def _tiny_xor():
        ...     x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
        ...     y = np.array([0, 1, 1, 0])
        ...     return DataSplit(x, y, x, y, "classification", 2, (2,), "tiny-xor", "made up")
        >>> load_dataset("tiny-xor").num_classes
        2
        >>> del _LOADERS["tiny-xor"]
    """

    def decorate(loader):
        _LOADERS[name] = loader
        return loader

    return decorate


_register = register_dataset


def _loaders():
    import_providers(PROVIDERS)
    return _LOADERS


def available_datasets():
    """Return the names accepted by :func:`load_dataset`.

    Returns:
        A sorted list of names.
    """
    return sorted(_loaders())


def load_dataset(name, seed=0, **options):
    """Load a bundled data set.

    Args:
        name: One of :func:`available_datasets`.
        seed: Seed of the generated data and of the split, for the sets that are random
            (``digits``, ``mnist1d`` and ``fashion-mnist`` are fixed and ignore it).
        **options: Set-specific options, e.g. ``n_samples`` and ``noise`` for the 2-D toys,
            ``root`` for ``fashion-mnist``.

    Returns:
        A :class:`DataSplit`.
    """
    if name not in _loaders():
        raise DataError(f"unknown data set {name!r}; choose one of {available_datasets()}")
    loader = _LOADERS[name]
    parameters = inspect.signature(loader).parameters
    accepted = [option for option in parameters if option != "seed"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise DataError(f"data set {name!r} has no option {unknown}; its options are {accepted}")
    if "seed" in parameters:
        options["seed"] = seed
    return loader(**options)


def _classification(name, source, x_train, y_train, x_test, y_test, num_classes, input_shape=None):
    return DataSplit(
        x_train=np.asarray(x_train, dtype=np.float32),
        y_train=np.asarray(y_train, dtype=np.int64),
        x_test=np.asarray(x_test, dtype=np.float32),
        y_test=np.asarray(y_test, dtype=np.int64),
        task="classification",
        num_classes=num_classes,
        feature_shape=tuple(np.shape(x_train)[1:]),
        name=name,
        source=source,
        input_shape=input_shape,
    )


@_register("digits")
def _digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data / 16.0, digits.target, test_size=0.2, stratify=digits.target, random_state=0
    )
    source = (
        "The UCI optical recognition of handwritten digits test set (8x8 images, 1797 samples) bundled "
        "with scikit-learn as load_digits; Alpaydin & Kaynak (1998), UCI Machine Learning Repository."
    )
    return _classification("digits", source, x_train, y_train, x_test, y_test, num_classes=10,
                           input_shape=(1, 8, 8))


@functools.lru_cache(maxsize=1)
def _mnist1d_arrays():
    """The generated arrays, from the disk cache after the first run (see :mod:`.generated`): keyed by
    the mnist1d package's version, whose ``get_dataset_args()`` fixes the arguments and the seed."""
    arrays = cached_arrays("mnist1d", ["mnist1d", _package_version("mnist1d"),
                                       "make_dataset(get_dataset_args())"], _generate_mnist1d)
    return arrays["x"], arrays["y"], arrays["x_test"], arrays["y_test"]


def _generate_mnist1d():
    from mnist1d.data import get_dataset_args, make_dataset

    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        generated = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    return {key: generated[key] for key in ("x", "y", "x_test", "y_test")}


def _package_version(name):
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(name)
    except PackageNotFoundError:
        raise ImportError(f"the {name} package is not installed (pip install {name})") from None


@_register("mnist1d")
def _mnist1d():
    x_train, y_train, x_test, y_test = (array.copy() for array in _mnist1d_arrays())
    source = (
        "MNIST-1D generated offline by the mnist1d package with its published arguments (seed 42); "
        "Greydanus & Kobak, 'Scaling Down Deep Learning with MNIST-1D', ICML 2024."
    )
    return _classification("mnist1d", source, x_train, y_train, x_test, y_test, num_classes=10,
                           input_shape=(1, 40))


@_register("fashion-mnist")
def _fashion_mnist(root=None):
    root = Path(root or os.environ.get("CHAINRULE_FASHION_MNIST_DIR") or FASHION_MNIST_DIR)
    arrays = {}
    missing = []
    for key, stem in _FASHION_MNIST_FILES.items():
        candidates = [root / f"{stem}.gz", root / stem]
        found = next((path for path in candidates if path.is_file()), None)
        if found is None:
            missing.append(f"{stem}[.gz]")
        else:
            arrays[key] = read_idx(found)
    if missing:
        raise DataError(
            f"Fashion-MNIST files missing from {root}: {', '.join(missing)}. Install them with "
            f"`apt-get install dataset-fashion-mnist` (Debian package, puts them in {FASHION_MNIST_DIR}), "
            "or point the CHAINRULE_FASHION_MNIST_DIR environment variable or the root= option at a "
            "directory holding the four IDX files."
        )
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(
                f"Fashion-MNIST {split} files in {root} do not match: images of shape {images.shape}, "
                f"labels of shape {labels.shape}"
            )
        if labels.size and not 0 <= labels.min() <= labels.max() <= 9:
            raise DataError(f"Fashion-MNIST {split} labels in {root} lie outside 0..9")
        arrays[f"x_{split}"] = images.reshape(len(images), -1) / np.float32(255)
    source = (
        "Fashion-MNIST, 28x28 grayscale Zalando article images in 10 classes, read from IDX files "
        "(Debian package dataset-fashion-mnist); Xiao, Rasul & Vollgraf (2017), arXiv:1708.07747."
    )
    return _classification("fashion-mnist", source, **arrays, num_classes=10, input_shape=(1, 28, 28))


def _toy_split(name, source, x, y, seed):
    """Split 80/20 stratified, then standardize the features with the training split's statistics."""
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    standardizer = Standardizer().fit(x_train)
    x_train, x_test = standardizer.transform(x_train), standardizer.transform(x_test)
    return _classification(name, source, x_train, y_train, x_test, y_test, num_classes=2)


def _check_toy_options(n_samples, noise):
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 10:
        raise DataError(f"n_samples must be an integer of at least 10, got {n_samples!r}")
    if not noise >= 0:
        raise DataError(f"noise must be non-negative, got {noise!r}")


@_register("moons")
def _moons(n_samples=1000, noise=0.1, seed=0):
    from sklearn.datasets import make_moons

    _check_toy_options(n_samples, noise)
    x, y = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    source = "Two interleaving half circles with Gaussian noise, from scikit-learn's make_moons."
    return _toy_split("moons", source, x, y, seed)


@_register("circles")
def _circles(n_samples=1000, noise=0.08, seed=0):
    from sklearn.datasets import make_circles

    _check_toy_options(n_samples, noise)
    x, y = make_circles(n_samples=n_samples, noise=noise, factor=0.5, random_state=seed)
    source = "Two concentric circles (radii 1 and 0.5) with Gaussian noise, from scikit-learn's make_circles."
    return _toy_split("circles", source, x, y, seed)


@_register("xor")
def _xor(n_samples=1000, noise=0.3, seed=0):
    _check_toy_options(n_samples, noise)
    rng = np.random.default_rng(seed)
    blob = np.arange(n_samples) % 4
    centres = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
    x = centres[blob] + rng.normal(0.0, noise, size=(n_samples, 2))
    y = blob % 2  # blobs 1 and 3 sit in the quadrants where exactly one coordinate is negative
    source = "The XOR problem: four Gaussian blobs at (±1, ±1) labelled by quadrant parity, made with NumPy."
    return _toy_split("xor", source, x, y, seed)


@_register("spirals")
def _spirals(n_samples=1000, noise=0.05, seed=0):
    _check_toy_options(n_samples, noise)
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % 2
    # sqrt spreads the points evenly along the arms; 1.5 turns out to radius 1, arm 1 rotated by π.
    radius = np.sqrt(rng.uniform(0.0, 1.0, n_samples))
    angle = 3 * np.pi * radius + np.pi * y
    x = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    x += rng.normal(0.0, noise, size=x.shape)
    source = "Two interleaved spirals (after Lang & Witbrock's 1988 two-spirals task), made with NumPy."
    return _toy_split("spirals", source, x, y, seed)


@_register("curve")
def _curve(seed=0):
    rng = np.random.default_rng(seed)
    x_test = rng.uniform(0.0, 1.0, 100)
    t_test = np.sin(2 * np.pi * x_test) + rng.normal(0.0, 0.3, 100)
    return DataSplit(
        x_train=np.linspace(0.0, 1.0, 10, dtype=np.float32)[:, None],
        y_train=np.array(_CURVE_TARGETS, dtype=np.float32)[:, None],
        x_test=x_test.astype(np.float32)[:, None],
        y_test=t_test.astype(np.float32)[:, None],
        task="regression",
        num_classes=None,
        feature_shape=(1,),
        name="curve",
        source=(
            "Bishop (2006), Pattern Recognition and Machine Learning, §1.1: the ten published noisy samples "
            "of sin(2πx) for training, 100 fresh samples with N(0, 0.3²) noise for testing."
        ),
    )
