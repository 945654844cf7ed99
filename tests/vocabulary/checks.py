"""A check shared by the vocabulary's tests."""

import numpy as np

import chainrule as cr
from chainrule.testing import check_grads


def matches_numpy_with_gradients(name, x, kwargs):
    """``chainrule.<name>(x, **kwargs)`` equals ``numpy.<name>``'s, with derivatives to second order."""
    function = getattr(cr, name)
    np.testing.assert_allclose(function(x, **kwargs).data, getattr(np, name)(x, **kwargs))
    check_grads(lambda x: function(x, **kwargs) ** 2, (x,), order=2)
