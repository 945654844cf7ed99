"""The C kernels read native float32/float64 only: a byte-swapped array takes the NumPy path and gets
the same values as its native copy."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import functional as F
from chainrule.ops.kernel_dtypes import NAMES


def test_names_are_native_floats_only():
    assert NAMES == {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}
    assert np.dtype(">f4") not in NAMES and np.dtype(">f4").name == "float32"


@pytest.mark.parametrize("layer", [
    lambda x, w: F.conv1d(x, w, padding=1),
    lambda x, w: F.conv2d(x.reshape(2, 3, 4, 5), w.reshape(4, 3, 1, 3)),
    lambda x, w: F.max_pool2d(x.reshape(2, 3, 4, 5), 2),
    lambda x, w: F.gelu(x),
    lambda x, w: F.layer_norm(x, (20,)),
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_byte_swapped_input_matches_native(layer, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 20)).astype(dtype)
    w = rng.standard_normal((4, 3, 3)).astype(dtype)
    swapped = x.astype(x.dtype.newbyteorder(">"))
    native = cr.Tensor(x, requires_grad=True)
    other = cr.Tensor(swapped, requires_grad=True)
    expected, got = layer(native, cr.Tensor(w)), layer(other, cr.Tensor(w))
    np.testing.assert_allclose(got.data, expected.data, rtol=1e-5, atol=1e-6)
    expected.sum().backward()
    got.sum().backward()
    np.testing.assert_allclose(other.grad, native.grad, rtol=1e-5, atol=1e-6)
