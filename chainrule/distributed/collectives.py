"""Collectives on a model: broadcast its parameters, average its gradients, check the ranks agree.

Gradients travel in one flat, contiguous NumPy buffer per dtype, reduced with MPI's uppercase
``Allreduce`` (a raw buffer, no pickling) in buckets of at most ``bucket_bytes``; the buffers are
allocated once per model and reused every step.
"""

import hashlib
import json

import numpy as np

from ..core.tensor import Tensor
from .comm import DistributedError, in_place, init, sum_op

BUCKET_BYTES = 25 * 2 ** 20  # PyTorch DistributedDataParallel's default bucket_cap_mb


def broadcast_parameters(model, root=0):
    """Overwrite every parameter and buffer of ``model`` with the root rank's values, in place."""
    comm = init()
    for _, tensor in _state_tensors(model):
        data = tensor.data
        if data.flags.c_contiguous or data.flags.f_contiguous:
            comm.Bcast(data.reshape(-1, order="A"), root=root)
        else:
            buffer = np.ascontiguousarray(data)
            comm.Bcast(buffer, root=root)
            data[...] = buffer


class GradientReducer:
    """Sums (and scales) the gradients of a fixed list of parameters across ranks.

    Args:
        parameters: the parameters, in the same order on every rank.
        bucket_bytes: the largest piece of a flat buffer sent in one ``Allreduce``.
    """

    def __init__(self, parameters, bucket_bytes=BUCKET_BYTES):
        self.parameters = list(parameters)
        self.bucket_bytes = int(bucket_bytes)
        self.buffers = {}
        self.layout = []  # (parameter, dtype, offset, size), in parameter order
        sizes = {}
        for parameter in self.parameters:
            dtype = np.dtype(parameter.data.dtype)
            offset = sizes.get(dtype, 0)
            self.layout.append((parameter, dtype, offset, parameter.data.size))
            sizes[dtype] = offset + parameter.data.size
        self.buffers = {dtype: np.empty(size, dtype) for dtype, size in sizes.items()}

    @property
    def nbytes(self):
        """Bytes all-reduced per step."""
        return sum(buffer.nbytes for buffer in self.buffers.values())

    def allreduce(self, weight):
        """Replace each gradient ``g`` by ``sum over ranks of weight * g``; a parameter without a
        gradient counts as zeros and receives the sum."""
        comm = init()
        for parameter, dtype, offset, size in self.layout:
            piece = self.buffers[dtype][offset:offset + size]
            if parameter.grad is None:
                piece[...] = 0
            else:
                np.multiply(parameter.grad.data.reshape(-1, order="A"), weight, out=piece,
                            casting="same_kind")
        for dtype, buffer in self.buffers.items():
            step = max(1, self.bucket_bytes // dtype.itemsize)
            for start in range(0, buffer.size, step):
                comm.Allreduce(in_place(), buffer[start:start + step], op=sum_op())
        for parameter, dtype, offset, size in self.layout:
            piece = self.buffers[dtype][offset:offset + size]
            if parameter.grad is None:
                parameter.grad = Tensor(piece.reshape(parameter.data.shape).copy())
            else:
                grad = parameter.grad.data
                grad[...] = piece.reshape(grad.shape, order="F" if _fortran(grad) else "C")


def allreduce_gradients(model, weight=None, bucket_bytes=BUCKET_BYTES):
    """Average the gradients of ``model``'s parameters over all ranks, in place.

    Args:
        model: a Module; its parameters must be the same, in the same order, on every rank.
        weight: this rank's factor before the sum; by default ``1 / world_size`` (the mean). For
            ranks holding unequal parts of a batch, pass ``local_rows / global_rows``.
        bucket_bytes: the largest piece sent in one ``Allreduce``.
    """
    comm = init()
    reducer = GradientReducer(model.parameters(), bucket_bytes)
    reducer.allreduce(1.0 / comm.size if weight is None else weight)


def allreduce_sum(values):
    """The elementwise sum over ranks of a float64 vector (epoch metrics, counts)."""
    comm = init()
    buffer = np.array(values, dtype=np.float64).reshape(-1)
    comm.Allreduce(in_place(), buffer, op=sum_op())
    return buffer


def check_agreement(value, what):
    """Raise :class:`DistributedError` on every rank unless all ranks hold the same ``value``.

    Args:
        value: a JSON-ready value (a configuration, a list of parameter descriptions).
        what: what it is, for the message (``"model"``, ``"configuration"``).
    """
    comm = init()
    if comm.size == 1:
        return
    text = json.dumps(value, sort_keys=True, default=str)
    digest = np.frombuffer(hashlib.sha256(text.encode()).digest(), dtype=np.uint8)
    digests = np.empty((comm.size, digest.size), dtype=np.uint8)
    comm.Allgather(digest, digests)
    differing = [r for r in range(comm.size) if not np.array_equal(digests[r], digests[0])]
    if not differing:
        return
    values = comm.allgather(value)  # only on failure: small Python values, to name the difference
    first = differing[0]
    raise DistributedError(f"the ranks disagree on the {what}: rank {first} differs from rank 0 "
                           f"({_first_difference(values[0], values[first])}); ranks differing from "
                           f"rank 0: {differing}")


def model_signature(model):
    """``"name: shape dtype"`` of every parameter and buffer, in order: what the ranks must share."""
    return [f"{name}: {tuple(tensor.shape)} {tensor.dtype}" for name, tensor in _state_tensors(model)]


def data_signature(dataset):
    """A short description of a data set that differs when its contents do: length, and for arrays
    (``TensorDataset``, ``Subset`` of one) their shapes, dtypes and SHA-256."""
    description = {"length": len(dataset)}
    if hasattr(dataset, "indices") and hasattr(dataset, "dataset"):
        description["indices"] = hashlib.sha256(np.ascontiguousarray(dataset.indices).data).hexdigest()
        description["of"] = data_signature(dataset.dataset)
    elif hasattr(dataset, "arrays"):
        description["arrays"] = [[list(array.shape), str(array.dtype),
                                  hashlib.sha256(np.ascontiguousarray(array).data).hexdigest()[:16]]
                                 for array in dataset.arrays]
    return description


def _state_tensors(model):
    return list(model.named_parameters()) + list(model.named_buffers())


def _fortran(array):
    return array.flags.f_contiguous and not array.flags.c_contiguous


def _first_difference(root_value, other, path=""):
    """Where two JSON-like values first differ: ``"lr: 0.1 on rank 0, 0.2 there"``."""
    if isinstance(root_value, dict) and isinstance(other, dict):
        for key in sorted(set(root_value) | set(other), key=str):
            if root_value.get(key) != other.get(key):
                where = f"{path}.{key}" if path else str(key)
                return _first_difference(root_value.get(key), other.get(key), where)
    if isinstance(root_value, list) and isinstance(other, list) and len(root_value) == len(other):
        for index, (mine, theirs) in enumerate(zip(root_value, other)):
            if mine != theirs:
                return _first_difference(mine, theirs, f"{path}[{index}]")
    return f"{path or 'value'}: {root_value!r} on rank 0, {other!r} there"
