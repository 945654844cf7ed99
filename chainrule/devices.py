"""Devices, in PyTorch's words: where a tensor's array lives, and the array namespace that computes there.

``"cpu"`` is NumPy. ``"cuda"`` (``"cuda:1"``...) is CuPy on an NVIDIA GPU, loaded the first time it is
named (``pip install "chainrule[gpu]"``); without CuPy or without a GPU, naming it raises one
:class:`~chainrule.errors.DeviceError` that says which. Other array libraries register a device type
with :func:`register` (``chainrule.fake_device`` does, for testing without a GPU).

Which device an operation runs on is decided by the types of its arrays alone: each array type maps to
its device, and while no array has left the CPU (:data:`chainrule.backend.placed` is false) the engine
does not even look.
"""

import numpy

from . import backend
from .errors import DeviceError, user_line


class Device:
    """A place arrays live, as ``torch.device``: a ``type`` (``"cpu"``, ``"cuda"``...), an ``index``
    (``None`` for the CPU), the array ``namespace`` that computes there and its ``array_type``.

    Compares equal to its name (``x.device == "cuda:0"``, and ``== "cuda"`` for any index).
    """

    __slots__ = ("type", "index", "namespace", "array_type", "_from_host", "_to_host")

    def __init__(self, type, index, namespace, array_type, from_host, to_host):
        self.type, self.index = type, index
        self.namespace, self.array_type = namespace, array_type
        self._from_host, self._to_host = from_host, to_host

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{index})"

    def __eq__(self, other):
        if isinstance(other, Device):
            return self is other or (self.type, self.index) == (other.type, other.index)
        if isinstance(other, str):
            return other == str(self) or other == self.type
        return NotImplemented

    def __hash__(self):
        return hash(self.type)

    def put(self, host_array):
        """A NumPy array copied onto this device (the same array for the CPU)."""
        return self._from_host(host_array)

    def host(self, array):
        """An array of this device copied into a NumPy array (the same array for the CPU)."""
        return self._to_host(array)


CPU = Device("cpu", None, numpy, numpy.ndarray, lambda a: a, lambda a: a)

_types = {"cpu": lambda index: CPU}
"""Device type -> ``make(index)``, which returns the :class:`Device` or raises DeviceError."""

_made = {("cpu", None): CPU}
_by_array_type = {}
"""Array type -> ``device_of(array)`` for the arrays of registered devices (NumPy's are the CPU's)."""


def register(type, make, array_type, device_of_array):
    """Add a device type: ``make(index)`` builds its :class:`Device` (or raises DeviceError when it is
    unavailable); ``device_of_array(array)`` says on which of its devices an array of ``array_type``
    lives."""
    _types[type] = make
    _by_array_type[array_type] = device_of_array


def is_type(name):
    """Whether ``name`` is a device type (``"cpu"``, ``"cuda"`` or a registered one)."""
    return name in _types


def device(spec, where="device"):
    """The :class:`Device` named by ``spec``: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, a Device, or an
    object with ``type`` and ``index`` (a ``torch.device``). A CUDA device is made ready here, or a
    DeviceError says why it cannot be."""
    if isinstance(spec, Device):
        return spec
    name, index = parse(spec, where)
    key = (name, index)
    found = _made.get(key)
    if found is None:
        found = _made[key] = _types[name](index)
        backend.place(found.namespace, found.array_type)
    return found


def parse(spec, where):
    """``(type, index)`` of a device's name, checked (an unknown type is a ValueError naming the known
    ones) without making the device."""
    if hasattr(spec, "type") and not isinstance(spec, str):
        name, index = str(spec.type), getattr(spec, "index", None)
    elif isinstance(spec, str):
        name, _, number = spec.partition(":")
        if number and not number.isdigit():
            raise ValueError(f"{where}(): a device index is a whole number, as in 'cuda:0', not {spec!r}")
        index = int(number) if number else None
    else:
        raise TypeError(f"{where}(): a device is a name such as 'cpu' or 'cuda', not {type(spec).__name__} "
                        f"{spec!r}")
    if name not in _types:
        raise ValueError(f"{where}(): unknown device {spec!r}; chainrule's devices are "
                         f"{', '.join(repr(t) for t in _types)}")
    if name == "cpu":
        if index not in (None, 0):
            raise ValueError(f"{where}(): there is one CPU device, 'cpu' (or 'cpu:0'), not {spec!r}")
        return "cpu", None
    return name, 0 if index is None else index


def device_of(array):
    """The :class:`Device` an array lives on: the CPU for NumPy arrays, scalars and anything else."""
    located = _by_array_type.get(type(array))
    return CPU if located is None else located(array)


def move(array, target):
    """``array`` on the device ``target`` (itself when it is there already), through the host."""
    source = device_of(array)
    if source == target:
        return array
    host = source.host(array)
    return target.put(host if host.flags.c_contiguous else host.copy(order="C"))


def to_host(array):
    """A NumPy array of ``array``'s values (itself when it is one): what files are written from."""
    return device_of(array).host(array) if type(array) in _by_array_type else array


def common(values, what):
    """The device an operation ``what`` runs on, given its input ``values`` (arrays and scalars): the one
    device of its arrays with axes, to which 0-d arrays of another device are moved in ``values`` (as
    PyTorch moves 0-d CPU tensors); a DeviceError names both devices when two hold arrays with axes."""
    found = found_scalar = None
    for value in values:
        if not hasattr(value, "ndim") or isinstance(value, numpy.generic):
            continue
        place = device_of(value)
        if value.ndim == 0:
            found_scalar = found_scalar if found_scalar is not None and found_scalar != CPU else place
        elif found is None:
            found = place
        elif place != found:
            raise DeviceError(f"{what}: its inputs are on two devices, {found} and {place}; move one with "
                              f".to({str(found)!r}) or .to({str(place)!r}) first{user_line()}")
    found = found or found_scalar or CPU
    for i, value in enumerate(values):
        if (hasattr(value, "ndim") and not isinstance(value, numpy.generic) and value.ndim == 0
                and device_of(value) != found):
            values[i] = move(value, found)
    return found


def _cuda(index):
    """The CUDA device ``index`` through CuPy, or a DeviceError saying why there is none."""
    try:
        import cupy
    except ImportError as error:
        raise DeviceError(f"no CUDA device is available: CuPy is not installed ({error}); on a machine with "
                          f"an NVIDIA GPU, pip install 'chainrule[gpu]' (cupy-cuda12x)") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CUDARuntimeError without a driver or a GPU
        raise DeviceError(f"no CUDA device is available: CuPy is installed but CUDA answers "
                          f"{type(error).__name__}: {error}") from None
    if count == 0:
        raise DeviceError("no CUDA device is available: CuPy is installed but CUDA sees no GPU")
    if index >= count:
        raise DeviceError(f"no CUDA device cuda:{index}: this machine has {count} (cuda:0 to cuda:{count - 1})")

    def put(host_array):
        with cupy.cuda.Device(index):
            return cupy.asarray(host_array)
    return Device("cuda", index, cupy, cupy.ndarray, put, cupy.asnumpy)


_cuda_by_id = {}


def _cuda_device_of(array):
    found = _cuda_by_id.get(array.device.id)  # on every operation of a GPU: no string parsed
    if found is None:
        found = _cuda_by_id[array.device.id] = device(f"cuda:{array.device.id}")
    return found


def _register_cuda():
    def make(index):
        made = _cuda(index)
        _by_array_type[made.array_type] = _cuda_device_of
        return made
    _types["cuda"] = make


_register_cuda()


def cuda_is_available():
    """Whether ``device("cuda")`` would work here (as ``torch.cuda.is_available()``)."""
    try:
        device("cuda")
    except DeviceError:
        return False
    return True
