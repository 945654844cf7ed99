"""A stand-in for a GPU on a machine without one: the device type ``"fake"``, whose arrays are NumPy's
values behind a distinct array type that behaves as CuPy's does where it matters to the engine.

Like ``cupy.ndarray``, a :class:`FakeArray` is not a NumPy array: NumPy refuses to convert it
implicitly (``numpy.asarray(a)`` raises; ``a.get()`` copies it to the host); its namespace's functions
and its operators refuse NumPy arrays (CuPy's "Unsupported type numpy.ndarray"); NumPy's functions and
ufuncs called on it dispatch to it (``__array_function__``, ``__array_ufunc__``), as CuPy's do. Code that
runs on this device therefore moves data between devices where it must and computes through the array
namespace, so the device plumbing (transfers, mixing errors, ``.to``, ``model.to``, optimiser state,
checkpoints) is exercised for real, without CUDA.

Enable it with :func:`enable`; then ``chainrule.tensor(data, device="fake")`` and ``.to("fake")``.
"""

import types

import numpy

from . import devices
from .errors import DeviceError


class FakeArray:
    """An array on the fake device: a NumPy array ``_a`` that only this device's namespace touches."""

    __slots__ = ("_a",)
    __array_priority__ = 100

    def __init__(self, array):
        self._a = array

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed: this array is on the "
                        "'fake' device; copy it to the host with .get() (as CuPy's arrays)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _call(getattr(ufunc, method), inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _call(func, args, kwargs)

    def get(self):
        """A NumPy copy on the host (CuPy's ``.get()``)."""
        return self._a.copy()

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    base = property(lambda self: self._a.base)  # only its identity and references are read
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: FakeArray(self._a.T))
    mT = property(lambda self: FakeArray(self._a.mT))

    def __getattr__(self, name):
        if name.startswith("__"):  # NumPy's array interface and buffer would convert it implicitly
            raise AttributeError(name)
        attribute = getattr(self._a, name)
        if callable(attribute):
            return lambda *args, **kwargs: _call(attribute, args, kwargs)
        return _wrap(attribute)

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap_index(key)])

    def __setitem__(self, key, value):
        self._a[_unwrap_index(key)] = _unwrap(value)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(row) for row in self._a)

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __index__(self):
        return self._a.__index__()

    def __complex__(self):
        return complex(self._a)

    def __repr__(self):
        return f"fake({numpy.array2string(self._a, separator=', ')})"

    def __reduce__(self):
        return FakeArray, (self._a,)


def _binary(name):
    def operator(self, other):
        return _call(getattr(numpy.ndarray, name), (self, other), {})
    operator.__name__ = name
    return operator


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lshift", "rshift", "lt", "le", "gt", "ge", "eq", "ne"):
    for _dunder in (f"__{_name}__", f"__r{_name}__", f"__i{_name}__"):
        if hasattr(numpy.ndarray, _dunder):
            setattr(FakeArray, _dunder, _binary(_dunder))
for _name in ("__neg__", "__pos__", "__abs__", "__invert__"):
    setattr(FakeArray, _name, (lambda name: lambda self: _wrap(getattr(self._a, name)()))(_name))
FakeArray.__hash__ = None


def _unwrap(value):
    if isinstance(value, FakeArray):
        return value._a
    if isinstance(value, numpy.ndarray):
        raise TypeError(f"Unsupported type {type(value)}: a NumPy array (on the CPU) given to the 'fake' "
                        f"device's namespace; move it there first (as CuPy refuses NumPy arrays)")
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v) for v in value)
    return value


def _unwrap_index(key):
    # CuPy indexes with its own integer arrays; NumPy integer arrays it would copy over, which the
    # engine must not rely on: refuse them too.
    return _unwrap(key)


def _wrap(value):
    if isinstance(value, numpy.ndarray):
        return FakeArray(value)
    if isinstance(value, numpy.generic):  # CuPy's reductions and indexing give 0-d arrays, not scalars
        return FakeArray(numpy.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _call(function, args, kwargs):
    return _wrap(function(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))


def _calling(function):
    return lambda *args, **kwargs: _call(function, args, kwargs)


class _Ufunc:
    """A NumPy ufunc on fake arrays (``add.at`` included)."""

    def __init__(self, ufunc):
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        return _call(self._ufunc, args, kwargs)

    def __getattr__(self, name):
        attribute = getattr(self._ufunc, name)
        return _calling(attribute) if callable(attribute) else attribute


class _Namespace:
    """NumPy's namespace (or a submodule) on fake arrays: functions unwrap their arguments and wrap
    their results; dtypes, scalar types and constants pass as they are."""

    def __init__(self, module, name):
        self.__name__, self._module = name, module

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        attribute = getattr(self._module, name)
        if isinstance(attribute, types.ModuleType):
            wrapped = _Namespace(attribute, f"{self.__name__}.{name}")
        elif isinstance(attribute, numpy.ufunc):
            wrapped = _Ufunc(attribute)
        elif isinstance(attribute, type) or not callable(attribute):
            wrapped = attribute
        else:
            wrapped = _calling(attribute)
        setattr(self, name, wrapped)
        return wrapped


namespace = _Namespace(numpy, "fake")
namespace.ndarray = FakeArray
for _creator in ("asarray", "array", "ascontiguousarray"):
    # creation from host data copies it to the device, as cupy.asarray(numpy_array) does
    setattr(namespace, _creator, (lambda f: lambda a, *args, **kwargs: FakeArray(
        f(a._a if isinstance(a, FakeArray) else _unwrap_host(a), *args, **kwargs)))(getattr(numpy, _creator)))
namespace.asnumpy = lambda a: a._a.copy() if isinstance(a, FakeArray) else numpy.asarray(a)


def _unwrap_host(value):
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap_host(v) for v in value)
    return value._a if isinstance(value, FakeArray) else value


DEVICE = devices.Device("fake", 0, namespace, FakeArray, lambda a: FakeArray(numpy.array(a)),
                        lambda a: a._a.copy())


def enable():
    """Register the device type ``"fake"`` (its one device is ``"fake:0"``); return the Device."""
    devices.register("fake", _make, FakeArray, lambda array: DEVICE)
    return devices.device("fake")


def _make(index):
    if index != 0:
        raise DeviceError(f"the fake device has one index, 0, not {index}")
    return DEVICE
