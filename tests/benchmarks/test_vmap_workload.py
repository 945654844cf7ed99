"""The vmap workload computes what its peers compute."""

import numpy as np
import pytest

from benchmarks import vmap


def test_vmap_of_the_tiny_graph_equals_the_loop():
    functions = vmap._chainrule_tiny()
    np.testing.assert_allclose(functions["vmap"][0]().data, functions["loop"][0]().data, rtol=1e-12)


def test_per_example_gradients_match_torch_func():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    mine = vmap._chainrule_per_example()["per_example"][0]()
    theirs = vmap._torch_per_example()["per_example"][0]()
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-4, atol=1e-6)


def test_jacobians_match_jax():
    pytest.importorskip("jax")
    mine, theirs = (vmap.BUILDERS["jacobians"][framework]() for framework in ("chainrule", "jax"))
    for name, (compute, checksum) in mine.items():
        np.testing.assert_allclose(checksum(compute()), checksum(theirs[name][0]()), rtol=1e-4)
