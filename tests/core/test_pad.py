"""Padding against numpy.pad, in every mode, with gradients to second order."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import check_grads

MODES = ["constant", "edge", "reflect", "symmetric", "wrap"]
WIDTHS = [1, (2, 1), ((1, 0), (4, 2)), ((0, 0), (5, 6))]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("pad_width", WIDTHS, ids=str)
def test_pad_matches_numpy(mode, pad_width):
    x = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_array_equal(cr.pad(cr.tensor(x), pad_width, mode=mode).data,
                                  np.pad(x, pad_width, mode=mode))


@pytest.mark.parametrize("mode", MODES)
def test_pad_gradients_to_second_order(mode):
    x = np.random.default_rng(1).standard_normal((3, 2))
    check_grads(lambda x: cr.pad(x, ((2, 3), (1, 1)), mode=mode) ** 2, (x,), order=2)


def test_pad_refuses_bad_arguments_by_name():
    x = cr.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="mode must be one of"):
        cr.pad(x, 1, mode="mirror")
    with pytest.raises(ValueError, match="pad_width"):
        cr.pad(x, ((1, 1), (1, 1)))
    with pytest.raises(ValueError, match="non-negative"):
        cr.pad(x, -1)
