"""Two Python threads, each with half the batch, give the one-thread numbers (im2col's forward, its
col2im input gradient and its weight gradient, both col2im paths)."""

import numpy as np
import pytest

from chainrule.ops import conv as conv_module
from chainrule.ops import conv_kernels, winograd


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("n", [1, 5, 8])
def test_two_threads_equal_one(monkeypatch, fast, n):
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 3, 9, 8)).astype(np.float32)
    w = rng.normal(size=(4, 3, 3, 2)).astype(np.float32)
    options = dict(stride=(2, 1), padding=((1, 0), (1, 1)), dilation=(1, 1), groups=1)
    out = tuple(conv_module.conv_output_size(*a) for a in zip((9, 8), (3, 2), (2, 1), options["padding"], (1, 1)))
    g = rng.normal(size=(n, 4) + out).astype(np.float32)
    monkeypatch.setattr(conv_module, "IM2COL_LIMIT_BYTES", 3 * 3 * 6 * 20 * 4)  # chunks of a few examples
    if not fast:
        monkeypatch.setattr(conv_kernels, "available", lambda *arrays, spatial=1: False)
    results = []
    for threads in (1, 2):
        monkeypatch.setattr(winograd, "workers", lambda: threads)
        results.append((conv_module._conv_impl(np, x, w, **options),
                        conv_module._conv_transpose_impl(np, g, w, size=(9, 8), **options),
                        conv_module._conv_weight_impl(np, x, g, kernel_size=(3, 2), **options)))
    for one, two in zip(*results):
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-5)
