"""Generated data sets kept on disk: made once, then read back in milliseconds.

MNIST-1D takes 3-6 s to generate and 1-2 s more to import its package (which loads matplotlib and
``scipy.interpolate``); read back from the cache it takes a few milliseconds. An entry is a NumPy
``.npz`` file, ``cache_dir()/generated/NAME-KEY.npz``, where ``KEY`` is the SHA-256 of what fixes the
arrays (the generator's package and version, its arguments). The file holds the arrays and the SHA-256
of their names, dtypes, shapes and bytes, checked on every read: a damaged or foreign file is generated
again and replaced. Files are written to a temporary file beside the target and moved into place
(``os.replace``), so concurrent processes never read half a file; a cache that cannot be written only
costs the time of generating again.

Example:
    >>> import numpy as np
    >>> arrays = cached_arrays("squares", ["v1"], lambda: {"x": np.arange(4) ** 2})  # doctest: +SKIP
    >>> arrays["x"].tolist()  # doctest: +SKIP
    [0, 1, 4, 9]
"""

import hashlib
import os
import tempfile
import zipfile

import numpy as np

from chainrule.data.fetch import cache_dir

CHECKSUM = "__sha256__"


def checksum(arrays):
    """The SHA-256 (hex) of a dict of arrays: names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def cache_path(name, key_parts):
    """Where the arrays of data set ``name`` generated under ``key_parts`` (strings) are kept."""
    key = hashlib.sha256("\0".join(map(str, key_parts)).encode()).hexdigest()[:24]
    return cache_dir() / "generated" / f"{name}-{key}.npz"


def cached_arrays(name, key_parts, generate):
    """The dict of arrays ``generate()`` returns, read from the disk cache when a valid entry is there.

    Args:
        name: the data set's name (the start of the file's name).
        key_parts: strings that together fix what ``generate`` returns (package version, arguments).
        generate: makes the arrays, a dict ``{name: ndarray}``; called only on a miss.

    Returns:
        The arrays, as read back (or as generated when the cache cannot be written).
    """
    path = cache_path(name, key_parts)
    arrays = _read(path)
    if arrays is not None:
        return arrays
    arrays = {key: np.asarray(value) for key, value in generate().items()}
    try:
        _write(path, arrays)
    except OSError:
        pass  # a read-only or full disk: the arrays are still good, only the next run pays again
    return arrays


def _read(path):
    """The arrays stored at ``path``, or ``None`` when the file is missing, unreadable or fails its
    checksum."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    expected = arrays.pop(CHECKSUM, None)
    if expected is None or str(expected) != checksum(arrays):
        return None
    return arrays


def _write(path, arrays):
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            np.savez(file, **arrays, **{CHECKSUM: np.array(checksum(arrays))})
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
