"""Weights on disk in the safetensors format, written atomically and checked when read.

A state dict (names to arrays or tensors) is stored as it is, so other safetensors readers see the same
names. Nested dicts and lists (a checkpoint holding a model's and an optimiser's state, an epoch
number) are stored with dotted names, and their structure, with any Python numbers and strings, goes
into the file's metadata so :func:`load` rebuilds them. A checksum of the arrays is kept there too.

Example:
    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "weights.safetensors")
    >>> save({"layer": {"weight": np.eye(2, dtype="float32")}, "epoch": 3}, path)
    >>> load(path)
    {'layer': {'weight': array([[1., 0.], [0., 1.]], dtype=float32)}, 'epoch': 3}
"""

import hashlib
import json
import os
import re
import uuid

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save as safetensors_bytes

from . import backend, devices
from .core.tensor import Tensor
from .errors import CheckpointError

_STRUCTURE = "chainrule.structure"
_CHECKSUM = "chainrule.sha256"
_TEMPORARY = ".tmp"
_STALE = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")


def save(state, path):
    """Write ``state`` to ``path`` in the safetensors format, atomically.

    The file is written to a temporary file in the same directory, flushed to disk and then renamed
    over ``path``: a crash part-way leaves the previous file as it was.

    Args:
        state: a dict of names to arrays or tensors, possibly nested (dicts with str or int keys,
            lists, tuples), with Python numbers, strings or None among the leaves.
        path: the file to write.
    """
    path = _file_path(path, "save")
    write_atomic(path, encode(state))


def encode(state):
    """The bytes :func:`save` writes for ``state`` (a file's whole content: write them with
    :func:`write_atomic`, to one path or several)."""
    arrays = {}
    structure = _encode(state, (), arrays)
    metadata = {_STRUCTURE: json.dumps(structure), _CHECKSUM: _checksum(arrays)}
    return safetensors_bytes(arrays, metadata=metadata)


class Plain:
    """Plain data (dicts, lists, numbers, strings, None: no arrays) described for a file once, where many
    files repeat it (a training history's records, in every checkpoint). :func:`load` gives back the
    value itself. The value must not change afterwards.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "state.safetensors")
        >>> save({"history": [Plain({"epoch": 1, "loss": 0.5})]}, path)
        >>> load(path)
        {'history': [{'epoch': 1, 'loss': 0.5}]}
    """

    __slots__ = ("value", "structure")

    def __init__(self, value):
        arrays = {}
        self.value, self.structure = value, _encode(value, ("plain",), arrays)
        if arrays:
            raise TypeError(f"Plain holds plain data, not arrays (found {', '.join(arrays)})")


def write_atomic(path, payload):
    """Write ``payload`` (bytes, or str written as UTF-8) to ``path`` so that a crash at any instant
    leaves either the previous file or the new one, never a mix: the bytes go to a temporary file
    beside it (``.NAME.<hex>.tmp``), are flushed to disk, and the temporary file is renamed over
    ``path``; then the directory itself is synced. Every file chainrule writes goes through here.

    Raises:
        CheckpointError: naming the file when it cannot be written (no space left, read-only
            directory...); the previous file at ``path``, if any, is then unchanged.
    """
    if isinstance(payload, str):
        payload = payload.encode()
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}{_TEMPORARY}")
    try:
        # Created like any new file (mode 0o666 less the umask), so the renamed file has the usual mode.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                             0o666)
    except OSError as error:
        raise CheckpointError(f"cannot write {path}: {error.strerror}") from error
    try:
        with os.fdopen(descriptor, "wb") as file:
            _write(file, payload)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        os.unlink(temporary)
        if isinstance(error, OSError):
            kept = "the previous file there is intact" if os.path.exists(path) else "nothing was written"
            raise CheckpointError(f"cannot write {path}: {error.strerror or error}; {kept}") from error
        raise
    _sync_directory(directory)


def remove_stale_temporaries(directory):
    """Delete the temporary files that writes killed part-way left in ``directory``
    (``.NAME.<hex>.tmp``, see :func:`write_atomic`); returns their names."""
    removed = []
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else ():
        if _STALE.fullmatch(name):
            os.unlink(os.path.join(directory, name))
            removed.append(name)
    return removed


def _sync_directory(directory):
    """Make the rename itself durable where the system allows it (POSIX file systems)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems cannot sync a directory; the new file is in place all the same
    finally:
        os.close(descriptor)


def _write(file, payload):
    """Write the whole file at once (tests replace it to simulate a crash part-way)."""
    file.write(payload)


def load(path):
    """Read a file written by :func:`save` (or any safetensors file, as a flat dict of arrays).

    Returns:
        What was saved, with NumPy arrays where tensors or arrays were.

    Raises:
        FileNotFoundError: when there is nothing at ``path`` (IsADirectoryError for a directory).
        CheckpointError: naming the file, when it is truncated, corrupt or not a safetensors file.
    """
    path = _file_path(path, "load")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path!r} is a directory, not a checkpoint file")
    try:
        with safe_open(path, framework="np") as file:
            metadata = file.metadata() or {}
            arrays = {name: file.get_tensor(name) for name in file.keys()}
    except SafetensorError as error:
        raise CheckpointError(f"cannot load {path!r}: not a readable safetensors file (truncated, "
                              f"corrupt or another format): {error}") from error
    if _CHECKSUM in metadata and metadata[_CHECKSUM] != _checksum(arrays):
        raise CheckpointError(f"cannot load {path!r}: its arrays do not match the checksum written with "
                              f"them (the file is corrupt)")
    if _STRUCTURE not in metadata:
        return arrays
    try:
        return _decode(json.loads(metadata[_STRUCTURE]), arrays)
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"cannot load {path!r}: its structure metadata is corrupt "
                              f"({error!r})") from error


def _file_path(path, where):
    """``path`` as a str, or a TypeError naming ``where`` for anything that is not a path; a directory
    is refused by ``save`` with a hint."""
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"{where}(): path must be a str or os.PathLike, not {type(path).__name__} "
                        f"{path!r}") from None
    if where == "save" and os.path.isdir(path):
        raise IsADirectoryError(f"save(): {path!r} is a directory; give a file name such as "
                                f"{os.path.join(path, 'weights.safetensors')!r}")
    return path


def _encode(node, path, arrays):
    """The JSON description of ``node``; its arrays go into ``arrays`` under their dotted path."""
    if type(node) is Plain:
        return node.structure
    if isinstance(node, dict):
        for key in node:
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"save: keys must be str or int, not {key!r} (at {'.'.join(path) or 'top'})")
        return {"dict": [[key, _encode(value, (*path, str(key)), arrays)] for key, value in node.items()]}
    if isinstance(node, (list, tuple)):
        items = [_encode(value, (*path, str(i)), arrays) for i, value in enumerate(node)]
        return {type(node).__name__: items}
    if isinstance(node, (Tensor, np.ndarray, np.generic)) or type(node) in backend.namespaces:
        name = ".".join(path)
        if name in arrays:
            raise ValueError(f"save: two entries are both named {name!r} once flattened with dots")
        # arrays of a device (a GPU) are written from a host copy, so the file loads anywhere
        array = devices.to_host(node.data if isinstance(node, Tensor) else node)
        array = np.asarray(array)
        if array.dtype.kind not in "biuf" and array.dtype != np.complex64:
            raise TypeError(f"save: {name!r} is an array of {array.dtype}, which safetensors cannot hold "
                            f"(it holds bool, int, uint, float and complex64 arrays); store strings as "
                            f"plain str values")
        arrays[name] = array if array.flags.c_contiguous else array.copy(order="C")
        return {"array": name}
    if node is None or isinstance(node, (bool, int, float, str)):
        return {"value": node}
    hint = "; save its state_dict() instead" if callable(getattr(node, "state_dict", None)) else ""
    raise TypeError(f"save: cannot store a {type(node).__name__} (at {'.'.join(path) or 'top'}); "
                    f"use arrays, tensors, numbers, strings, dicts and lists{hint}")


def _decode(description, arrays):
    (kind, content), = description.items()
    if kind == "dict":
        return {key: _decode(value, arrays) for key, value in content}
    if kind in ("list", "tuple"):
        items = [_decode(value, arrays) for value in content]
        return items if kind == "list" else tuple(items)
    if kind == "array":
        return arrays[content]
    if kind == "value":
        return content
    raise ValueError(f"unknown entry kind {kind!r}")


def _checksum(arrays):
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = arrays[name]
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
