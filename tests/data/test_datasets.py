"""The bundled data sets and their registry."""

import random
from pathlib import Path

import numpy as np
import pytest

from chainrule.data import DataSplit, available_datasets, load_dataset, write_idx
from chainrule.data import datasets as datasets_module
from chainrule.errors import DataError

TOYS = ["moons", "circles", "xor", "spirals"]
FASHION_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def assert_classification_split(split, n_train, n_test, feature_shape, num_classes):
    assert isinstance(split, DataSplit)
    assert split.task == "classification" and split.num_classes == num_classes
    assert split.feature_shape == feature_shape
    assert split.x_train.shape == (n_train, *feature_shape) and split.x_test.shape == (n_test, *feature_shape)
    assert split.y_train.shape == (n_train,) and split.y_test.shape == (n_test,)
    assert split.x_train.dtype == split.x_test.dtype == np.float32
    assert split.y_train.dtype == split.y_test.dtype == np.int64
    assert set(np.unique(split.y_train)) == set(range(num_classes))
    assert np.all(np.isfinite(split.x_train)) and np.all(np.isfinite(split.x_test))


def test_registry_lists_every_set():
    names = available_datasets()
    assert names == sorted(names)
    assert {"circles", "curve", "digits", "fashion-mnist", "mnist1d", "moons", "spirals", "xor",
            "sentiment"} <= set(names)


def test_unknown_name_lists_the_choices():
    with pytest.raises(DataError, match=r"unknown data set 'mnist'.*'digits'.*'mnist1d'"):
        load_dataset("mnist")


def test_unknown_option_lists_the_options():
    with pytest.raises(DataError, match=r"no option \['samples'\].*\['n_samples', 'noise'\]"):
        load_dataset("moons", samples=10)


@pytest.mark.parametrize("name", ["digits", "curve", *TOYS])
def test_every_set_has_its_name_and_a_source_sentence(name):
    split = load_dataset(name)
    assert split.name == name
    assert split.source.endswith(".") and len(split.source) > 40


def test_digits_shapes_and_range():
    split = load_dataset("digits")
    assert_classification_split(split, 1437, 360, (64,), 10)
    assert split.x_train.min() == 0.0 and split.x_train.max() == 1.0
    # Pixel counts 0..16 divided by 16 are exact multiples of 1/16.
    np.testing.assert_array_equal(split.x_train * 16, np.round(split.x_train * 16))


def test_digits_split_is_stratified_and_ignores_the_seed():
    split = load_dataset("digits", seed=0)
    other = load_dataset("digits", seed=123)
    np.testing.assert_array_equal(split.x_train, other.x_train)
    np.testing.assert_array_equal(split.y_test, other.y_test)
    train_share = np.bincount(split.y_train, minlength=10) / len(split.y_train)
    test_share = np.bincount(split.y_test, minlength=10) / len(split.y_test)
    np.testing.assert_allclose(test_share, train_share, atol=1.5 / len(split.y_test))


def test_mnist1d_has_the_published_shapes_and_balanced_classes():
    split = load_dataset("mnist1d")
    assert_classification_split(split, 4000, 1000, (40,), 10)
    all_labels = np.concatenate([split.y_train, split.y_test])
    np.testing.assert_array_equal(np.bincount(all_labels), np.full(10, 500))
    # make_dataset centres the whole set and scales it to unit standard deviation.
    all_features = np.concatenate([split.x_train, split.x_test]).astype(np.float64)
    assert abs(all_features.mean()) < 1e-6 and abs(all_features.std() - 1.0) < 1e-6


def test_mnist1d_restores_the_global_random_states(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_CACHE", str(tmp_path))  # an empty disk cache: generated here
    datasets_module._mnist1d_arrays.cache_clear()
    np.random.seed(123)
    random.seed(7)
    expected_numpy, expected_python = np.random.random(3), [random.random() for _ in range(3)]
    np.random.seed(123)
    random.seed(7)
    load_dataset("mnist1d")
    datasets_module._mnist1d_arrays.cache_clear()
    assert len(list((tmp_path / "generated").iterdir())) == 1
    np.testing.assert_array_equal(np.random.random(3), expected_numpy)
    assert [random.random() for _ in range(3)] == expected_python


def test_mnist1d_returns_copies_of_its_cache():
    load_dataset("mnist1d").y_train[:] = -1
    assert load_dataset("mnist1d").y_train.min() == 0


@pytest.mark.parametrize("name", TOYS)
def test_toys_shapes_scale_and_seeding(name):
    split = load_dataset(name)
    assert_classification_split(split, 800, 200, (2,), 2)
    np.testing.assert_allclose(split.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(split.x_train.std(axis=0), 1.0, atol=1e-5)
    assert abs(split.x_test.mean()) < 0.3 and 0.7 < split.x_test.std() < 1.3
    assert np.bincount(split.y_test).tolist() == [100, 100]
    np.testing.assert_array_equal(load_dataset(name, seed=0).x_train, split.x_train)
    assert not np.array_equal(load_dataset(name, seed=1).x_train, split.x_train)


@pytest.mark.parametrize("name", TOYS)
def test_toys_n_samples_option(name):
    split = load_dataset(name, n_samples=50)
    assert len(split.x_train) == 40 and len(split.x_test) == 10


@pytest.mark.parametrize(
    ("options", "message"), [({"n_samples": 5}, "n_samples"), ({"noise": -1.0}, "noise")]
)
def test_toys_reject_bad_options(options, message):
    with pytest.raises(DataError, match=message):
        load_dataset("moons", **options)


def test_xor_labels_follow_quadrant_parity():
    split = load_dataset("xor", noise=0.1)
    x = np.concatenate([split.x_train, split.x_test])
    y = np.concatenate([split.y_train, split.y_test])
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] < 0).astype(np.int64))


def test_curve_has_the_published_training_points_and_a_seeded_test_set():
    split = load_dataset("curve", seed=0)
    assert split.task == "regression" and split.num_classes is None and split.feature_shape == (1,)
    assert split.x_train.shape == split.y_train.shape == (10, 1)
    assert split.x_test.shape == split.y_test.shape == (100, 1)
    assert {a.dtype for a in (split.x_train, split.y_train, split.x_test, split.y_test)} == {
        np.dtype(np.float32)
    }
    np.testing.assert_allclose(split.x_train[:, 0], np.linspace(0, 1, 10), rtol=1e-6)
    assert split.y_train[0, 0] == np.float32(0.349486) and split.y_train[-1, 0] == np.float32(0.261502)
    assert 0.0 <= split.x_test.min() and split.x_test.max() <= 1.0
    residual = split.y_test[:, 0] - np.sin(2 * np.pi * split.x_test[:, 0])
    assert 0.2 < residual.std() < 0.4
    np.testing.assert_array_equal(load_dataset("curve", seed=0).y_test, split.y_test)
    assert not np.array_equal(load_dataset("curve", seed=1).y_test, split.y_test)


def write_small_fashion(root, n_train=6, n_test=4, gzip_images=True):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gzip_images else ""
    for stem, count in [("train", n_train), ("t10k", n_test)]:
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        images[0, 0, 0] = 255
        write_idx(root / f"{stem}-images-idx3-ubyte{suffix}", images)
        write_idx(root / f"{stem}-labels-idx1-ubyte", (np.arange(count) % 10).astype(np.uint8))


@pytest.mark.parametrize("gzip_images", [True, False])
def test_fashion_mnist_reads_idx_files_from_root(tmp_path, gzip_images):
    write_small_fashion(tmp_path, gzip_images=gzip_images)
    split = load_dataset("fashion-mnist", root=tmp_path)
    assert split.x_train.shape == (6, 784) and split.x_test.shape == (4, 784)
    assert split.x_train.dtype == np.float32 and split.y_train.dtype == np.int64
    assert split.x_train.min() >= 0.0 and split.x_train.max() == 1.0
    np.testing.assert_array_equal(split.y_test, [0, 1, 2, 3])
    assert split.num_classes == 10 and split.feature_shape == (784,)


def test_fashion_mnist_directory_from_the_environment(tmp_path, monkeypatch):
    write_small_fashion(tmp_path)
    monkeypatch.setenv("CHAINRULE_FASHION_MNIST_DIR", str(tmp_path))
    assert load_dataset("fashion-mnist").x_train.shape == (6, 784)


def test_fashion_mnist_missing_files_say_how_to_install(tmp_path):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist") as raised:
        load_dataset("fashion-mnist", root=tmp_path)
    assert str(tmp_path) in str(raised.value) and "train-images-idx3-ubyte" in str(raised.value)


def test_fashion_mnist_mismatched_files_are_rejected(tmp_path):
    write_small_fashion(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8))
    with pytest.raises(DataError, match=r"test files .* do not match"):
        load_dataset("fashion-mnist", root=tmp_path)


@pytest.mark.skipif(
    not all((Path(datasets_module.FASHION_MNIST_DIR) / f"{name}.gz").is_file() for name in FASHION_FILES),
    reason=f"Fashion-MNIST is not installed in {datasets_module.FASHION_MNIST_DIR} "
    "(install it with `apt-get install dataset-fashion-mnist`)",
)
def test_real_fashion_mnist():
    split = load_dataset("fashion-mnist", root=datasets_module.FASHION_MNIST_DIR)
    assert_classification_split(split, 60000, 10000, (784,), 10)
    assert split.x_train.min() == 0.0 and split.x_train.max() == 1.0
    np.testing.assert_array_equal(np.bincount(split.y_train), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(split.y_test), np.full(10, 1000))
