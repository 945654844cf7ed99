"""The autodiff engine: tensors, the recorded graph, reverse and forward mode."""
