"""Generated data sets cached on disk: written atomically, checked by SHA-256, regenerated when bad."""

import numpy as np
import pytest

from chainrule.data import datasets as datasets_module
from chainrule.data import generated


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_CACHE", str(tmp_path))
    return tmp_path


def _counting_generator(calls):
    def generate():
        calls.append(1)
        return {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "y": np.array([3, 1], dtype=np.int64)}
    return generate


def test_arrays_are_generated_once_then_read_back_equal(cache):
    calls = []
    first = generated.cached_arrays("toy", ["v1"], _counting_generator(calls))
    second = generated.cached_arrays("toy", ["v1"], _counting_generator(calls))
    assert len(calls) == 1
    for key in ("x", "y"):
        np.testing.assert_array_equal(second[key], first[key])
        assert second[key].dtype == first[key].dtype
    assert second["x"].tolist() == [[0, 1, 2], [3, 4, 5]]
    files = sorted(p.name for p in (cache / "generated").iterdir())
    assert files == [generated.cache_path("toy", ["v1"]).name]  # no temporary file left behind


def test_another_key_is_another_entry(cache):
    calls = []
    generated.cached_arrays("toy", ["v1"], _counting_generator(calls))
    generated.cached_arrays("toy", ["v2"], _counting_generator(calls))
    assert len(calls) == 2 and len(list((cache / "generated").iterdir())) == 2


@pytest.mark.parametrize("damage", ["truncate", "other arrays"])
def test_a_damaged_entry_is_generated_again_and_replaced(cache, damage):
    calls = []
    generated.cached_arrays("toy", ["v1"], _counting_generator(calls))
    path = generated.cache_path("toy", ["v1"])
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    else:  # a well-formed file whose arrays do not match their checksum
        np.savez(path, x=np.zeros((2, 3), np.float32), y=np.array([3, 1]),
                 **{generated.CHECKSUM: np.array(generated.checksum({"x": np.ones((2, 3), np.float32)}))})
    arrays = generated.cached_arrays("toy", ["v1"], _counting_generator(calls))
    assert len(calls) == 2 and arrays["x"][1, 2] == 5
    generated.cached_arrays("toy", ["v1"], _counting_generator(calls))
    assert len(calls) == 2  # the replacement is valid


def test_checksum_sees_values_dtypes_and_shapes():
    x = np.arange(6, dtype=np.float32)
    base = generated.checksum({"x": x})
    assert base == generated.checksum({"x": x.copy()})
    changed = x.copy()
    changed[3] = 7
    assert len({base, generated.checksum({"x": changed}), generated.checksum({"x": x.astype(np.float64)}),
                generated.checksum({"x": x.reshape(2, 3)}), generated.checksum({"z": x})}) == 5


def test_mnist1d_is_read_from_the_cache_without_generating(cache, monkeypatch):
    datasets_module._mnist1d_arrays.cache_clear()
    first = datasets_module._mnist1d_arrays()
    datasets_module._mnist1d_arrays.cache_clear()

    def refuse():
        raise AssertionError("generated again although the cache holds the arrays")
    monkeypatch.setattr(datasets_module, "_generate_mnist1d", refuse)
    second = datasets_module._mnist1d_arrays()
    datasets_module._mnist1d_arrays.cache_clear()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert second[0].shape == (4000, 40) and second[2].shape == (1000, 40)
