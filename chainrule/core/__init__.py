"""The autodiff engine: tensors, the recorded graph, reverse and forward mode."""

from . import reverse  # noqa: F401,E402  (attaches Tensor.backward)
