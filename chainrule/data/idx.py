"""Reading and writing IDX files, the format of MNIST and Fashion-MNIST, plain or gzip-compressed.

An IDX file holds two zero bytes, a dtype code byte, a byte with the number of dimensions, one
big-endian int32 per dimension, then the values in big-endian C order.
"""

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from chainrule.errors import DataError
from chainrule.serialization import write_atomic

_GZIP_MAGIC = b"\x1f\x8b"
_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in _DTYPES.items()}


def read_idx(path):
    """Read an IDX file (gzip-compressed or not, told apart by its first bytes).

    Args:
        path: Path of the file.

    Returns:
        The array, in native byte order, with the file's shape and dtype.
    """
    path = Path(path)
    content = path.read_bytes()
    if content.startswith(_GZIP_MAGIC):
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"{path}: corrupt gzip data ({error})") from error
    if len(content) < 4:
        raise DataError(f"{path}: {len(content)} bytes is too short for an IDX header")
    zeros, code, ndim = struct.unpack(">HBB", content[:4])
    if zeros != 0:
        raise DataError(
            f"{path}: bad magic number 0x{content[:4].hex()}, expected 0x0000 then dtype and ndim"
        )
    if code not in _DTYPES:
        known = ", ".join(f"0x{known:02X}" for known in _DTYPES)
        raise DataError(f"{path}: unknown IDX dtype code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise DataError(f"{path}: IDX header declares 0 dimensions")
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise DataError(f"{path}: truncated header, {ndim} dims need {header_size} bytes, got {len(content)}")
    shape = struct.unpack(f">{ndim}I", content[4:header_size])
    dtype = _DTYPES[code]
    native = dtype.newbyteorder("=")
    expected = math.prod(shape) * dtype.itemsize
    found = len(content) - header_size
    if found != expected:
        problem = "truncated" if found < expected else "trailing bytes"
        raise DataError(
            f"{path}: {problem}, shape {shape} of {native} needs {expected} data bytes, got {found}"
        )
    return np.frombuffer(content, dtype=dtype, offset=header_size).reshape(shape).astype(native)


def write_idx(path, array):
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends with ``.gz``.

    Args:
        path: Path of the file to write.
        array: Array of dtype uint8, int8, int16, int32, float32 or float64 with 1 to 255 dimensions.
    """
    path = Path(path)
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise DataError(f"IDX cannot store dtype {array.dtype}; use one of {sorted(str(d) for d in _CODES)}")
    if not 1 <= array.ndim <= 255:
        raise DataError(f"IDX stores 1 to 255 dimensions, got an array of shape {array.shape}")
    header = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    content = header + array.astype(_DTYPES[code], copy=False).tobytes(order="C")
    write_atomic(path, gzip.compress(content) if path.suffix == ".gz" else content)
