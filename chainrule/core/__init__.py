"""The autodiff engine: tensors, the recorded graph, reverse and forward mode."""

from . import batching, reverse  # noqa: F401,E402  (batching hooks into dispatch; reverse attaches Tensor.backward)
