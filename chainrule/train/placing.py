"""Batches go where the model is: the data loaders' NumPy arrays become tensors on the device of the
model's parameters (``chainrule train --device cuda``), copied once per batch; what is scored comes
back to the host."""

from .. import backend, devices
from ..core.tensor import Tensor, unwrap


def placer(model):
    """``put(array) -> Tensor`` on the device of ``model``'s first parameter (the CPU: no copy)."""
    place = next((devices.device_of(p.data) for p in model.parameters()), devices.CPU)
    if place is devices.CPU:
        return Tensor
    return lambda array: Tensor(devices.move(backend.asarray(unwrap(array)), place))


def on_host(tensor):
    """A tensor's values as a NumPy array, wherever it is."""
    return devices.to_host(tensor.data)
