"""Bad input to layers, losses and state dicts: one clear error naming the layer, argument or key."""

import numpy as np
import pytest

import chainrule.nn as nn
from chainrule.errors import CheckpointError


@pytest.mark.parametrize("value, reason", [
    (np.array([["a", "b"], ["c", "d"]]), r"weight: load_state_dict\(\): data must be numbers .*dtype <U1"),
    ([[1.0, 2.0], [3.0]], r"weight: load_state_dict\(\): a ragged nested list"),
    (None, r"weight: load_state_dict\(\): data must be numbers .* NoneType"),
    (np.ones((2, 2)) * 1j, r"weight: complex values for a real float32 tensor"),
])
def test_load_state_dict_names_the_key_holding_what_is_not_numbers(value, reason):
    layer = nn.Linear(2, 2)
    before = layer.weight.numpy().copy()
    with pytest.raises(CheckpointError, match=r"cannot load the state dict into Linear:\n  values that "
                                              r"cannot be loaded: " + reason):
        layer.load_state_dict({"weight": value, "bias": np.zeros(2)})
    assert np.array_equal(layer.weight.numpy(), before)
