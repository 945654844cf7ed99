"""PyTorch's ``torch.cuda`` questions: is a CUDA GPU usable here, and how many are there."""

from . import devices
from .errors import DeviceError


def is_available():
    """Whether ``device="cuda"`` works here: CuPy is installed and CUDA sees a GPU."""
    return devices.cuda_is_available()


def device_count():
    """The number of CUDA GPUs CuPy sees (0 without CuPy or without a GPU)."""
    try:
        devices.device("cuda")
    except DeviceError:
        return 0
    import cupy
    return cupy.cuda.runtime.getDeviceCount()
