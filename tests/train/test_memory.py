"""A run keeps its data in float32 and holds one prepared copy: Fashion-MNIST fits in 3x its size."""

import os
import tracemalloc
from pathlib import Path

import pytest

from chainrule.data.datasets import FASHION_MNIST_DIR
from chainrule.train.runs import RunConfig, prepare_data


def test_preparing_fashion_mnist_peaks_below_three_times_its_size():
    root = Path(os.environ.get("CHAINRULE_FASHION_MNIST_DIR") or FASHION_MNIST_DIR)
    if not list(root.glob("train-images-idx3-ubyte*")):
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    tracemalloc.start()
    try:
        data = prepare_data(RunConfig(data="fashion-mnist").resolved())
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = sum(x.nbytes + y.nbytes for x, y in data.parts.values())
    assert {x.dtype.name for x, _ in data.parts.values()} == {"float32"}
    assert peak < 3 * size
    assert kept < 1.1 * size  # nothing but the prepared parts outlives the preparation
