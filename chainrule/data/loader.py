"""Data sets as indexable collections, and a loader that cuts them into mini-batches."""

import itertools
import math
import numbers

import numpy as np

from chainrule.core.tensor import Tensor
from chainrule.errors import DataError
from chainrule.nn.rng import as_generator, default_generator

_UINT64_MASK = (1 << 64) - 1


class Dataset:
    """Base class of data sets: a sized collection whose items are tuples of arrays."""

    def __len__(self):
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError


class TensorDataset(Dataset):
    """A data set made of arrays that share their first dimension; item ``i`` is ``(a[i] for a in arrays)``.

    Args:
        *arrays: Arrays (or array-likes) with the same length along axis 0.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise DataError("TensorDataset needs at least one array")
        self.arrays = tuple(np.asarray(array) for array in arrays)
        if any(array.ndim == 0 for array in self.arrays):
            raise DataError("TensorDataset arrays must have at least one dimension, got a 0-d array")
        lengths = [len(array) for array in self.arrays]
        if len(set(lengths)) > 1:
            raise DataError(f"TensorDataset arrays must have the same first dimension, got lengths {lengths}")

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(array[index] for array in self.arrays)


class Subset(Dataset):
    """The items of ``dataset`` at ``indices``, in that order.

    Args:
        dataset: The data set to select from.
        indices: Integer indices into ``dataset``.
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[self.indices[index]]


def _check_dataset(dataset):
    """Refuse what is not a data set, and a tuple of arrays (``(X, y)``), whose arrays would be
    batched as if they were two items rather than row by row."""
    if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
        raise DataError(f"DataLoader: dataset must have __len__ and __getitem__ (a Dataset, an array, or "
                        f"TensorDataset(X, y)), not {type(dataset).__name__}")
    if isinstance(dataset, tuple) and len(dataset) > 1 and all(np.ndim(part) for part in dataset):
        lengths = {len(part) for part in dataset}
        if len(lengths) == 1:
            raise DataError(f"DataLoader got a tuple of {len(dataset)} arrays of {lengths.pop()} rows; pass "
                            f"TensorDataset(*arrays) to batch their rows together")


class DataLoader:
    """Iterates over a data set in mini-batches, each a tuple of tensors (as PyTorch's loader yields;
    fields that are not numbers, such as strings, stay NumPy arrays).

    With ``shuffle=True`` every epoch (every ``iter(loader)``) draws a fresh permutation. By default it
    is drawn from the shared generator that :func:`chainrule.manual_seed` resets, as PyTorch's loader
    draws from its global generator, so ``manual_seed(0)`` makes the order reproducible. A ``seed`` or a
    ``generator`` gives the loader a generator of its own instead: with ``seed=s`` the order of epoch
    ``k`` depends only on ``(s, k)``.

    Args:
        dataset: A :class:`Dataset` (anything with ``__len__`` and ``__getitem__``).
        batch_size: Number of items per batch, between 1 and ``len(dataset)``.
        shuffle: Whether to visit the items in a new random order each epoch.
        drop_last: Whether to skip the final batch when it is smaller than ``batch_size``.
        seed: Seed of the loader's own shuffling generator; ``None`` (with no ``generator``) draws from
            the shared generator.
        generator: PyTorch's spelling: a ``numpy.random.Generator`` (used as it is) or an int seed;
            give ``seed`` or ``generator``, not both.
        num_workers, pin_memory: accepted for PyTorch's signature; batches are always made in this
            process, from arrays already in memory.
    """

    def __init__(self, dataset, batch_size=32, shuffle=False, drop_last=False, seed=None, num_workers=0,
                 pin_memory=False, generator=None):
        if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size < 1:
            raise DataError(f"batch_size must be a positive integer, got {batch_size!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                                 or seed < 0):
            raise DataError(f"seed must be a non-negative integer or None, got {seed!r}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise DataError(f"num_workers must be a non-negative integer, got {num_workers!r}")
        for name, value in (("shuffle", shuffle), ("drop_last", drop_last), ("pin_memory", pin_memory)):
            if not isinstance(value, bool):
                raise DataError(f"{name} must be True or False, got {value!r}")
        if seed is not None and generator is not None:
            raise DataError("DataLoader: give seed or generator, not both")
        _check_dataset(dataset)
        size = len(dataset)
        if size == 0:
            raise DataError("DataLoader got an empty dataset")
        if batch_size > size:
            raise DataError(
                f"batch_size={batch_size} is larger than the data set ({size} items); "
                f"use batch_size={size} or less"
            )
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self._own_rng = (np.random.default_rng(seed) if seed is not None
                         else None if generator is None else as_generator(generator, "generator"))

    @property
    def _rng(self):
        """The generator shuffling draws from: the loader's own, or the shared one as it is now (so
        that a ``manual_seed`` after the loader was made still seeds it)."""
        return default_generator() if self._own_rng is None else self._own_rng

    def __len__(self):
        size = len(self.dataset)
        return size // self.batch_size if self.drop_last else math.ceil(size / self.batch_size)

    def __iter__(self):
        size = len(self.dataset)
        order = self._rng.permutation(size) if self.shuffle else np.arange(size)
        return self._batches(order)

    def _batches(self, order):
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield _fetch_batch(self.dataset, order[start : start + self.batch_size])

    def state_dict(self):
        """Return the shuffling generator's state, to resume the same sequence of epochs later (the
        shared generator's, for a loader without a seed or generator of its own).

        Returns:
            ``{"rng_state": uint64 array}``, arrays only so it fits in any checkpoint format.
        """
        state = self._rng.bit_generator.state
        words = [
            state["state"]["state"] >> 64,
            state["state"]["state"] & _UINT64_MASK,
            state["state"]["inc"] >> 64,
            state["state"]["inc"] & _UINT64_MASK,
            state["has_uint32"],
            state["uinteger"],
        ]
        return {"rng_state": np.array(words, dtype=np.uint64)}

    def load_state_dict(self, state_dict):
        """Restore the shuffling generator from :meth:`state_dict`'s output.

        Args:
            state_dict: A dict with the ``"rng_state"`` array written by :meth:`state_dict`.
        """
        words = np.asarray(state_dict.get("rng_state", ()), dtype=np.uint64)
        if words.shape != (6,):
            raise DataError(f"state_dict['rng_state'] must be 6 uint64 words, got shape {words.shape}")
        state_high, state_low, inc_high, inc_low, has_uint32, uinteger = (int(word) for word in words)
        self._rng.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": (state_high << 64) | state_low, "inc": (inc_high << 64) | inc_low},
            "has_uint32": has_uint32,
            "uinteger": uinteger,
        }


def _fetch_batch(dataset, indices):
    """Return the items of ``dataset`` at ``indices`` stacked field by field into a tuple of tensors."""
    return tuple(_as_tensor(field) for field in _fetch_arrays(dataset, indices))


def _fetch_arrays(dataset, indices):
    if isinstance(dataset, TensorDataset):
        return tuple(array[indices] for array in dataset.arrays)
    if isinstance(dataset, Subset):
        return _fetch_arrays(dataset.dataset, dataset.indices[indices])
    items = [dataset[int(index)] for index in indices]
    if not isinstance(items[0], tuple):
        return (np.stack([_values(item) for item in items]),)
    return tuple(np.stack([_values(item) for item in field]) for field in zip(*items))


def _values(item):
    return item.data if isinstance(item, Tensor) else item


def _as_tensor(array):
    return Tensor(array) if array.dtype.kind in "biufc" else array


def random_split(dataset, lengths, seed=0):
    """Split ``dataset`` at random into non-overlapping :class:`Subset` s.

    Args:
        dataset: The data set to split.
        lengths: Sizes of the parts, either integers summing to ``len(dataset)`` or fractions summing
            to 1 (the items left over by rounding down go one each to the first parts).
        seed: Seed of the permutation.

    Returns:
        A list of :class:`Subset`, one per entry of ``lengths``.
    """
    counts = _split_counts(list(lengths), len(dataset))
    order = np.random.default_rng(seed).permutation(len(dataset))
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, order[start:stop]) for start, stop in itertools.pairwise(bounds)]


def balanced_indices(labels, count, seed=0):
    """``count`` indices of ``labels``, spread evenly over the classes (the remainder of an uneven
    ``count`` goes to the last classes), drawn with ``seed`` and shuffled; all of them, shuffled, when ``count`` is ``None`` or not smaller.

    Raises:
        DataError: when a class has fewer examples than its share.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    if count is None or count >= len(labels):
        return rng.permutation(len(labels))
    classes = np.unique(labels)
    shares = [count // len(classes) + (i < count % len(classes)) for i in range(len(classes))][::-1]
    chosen = []
    for label, share in zip(classes, shares):
        rows = np.flatnonzero(labels == label)
        if share > len(rows):
            raise DataError(f"balanced_indices: class {label} has {len(rows)} examples, fewer than its "
                            f"share {share} of {count}")
        chosen.append(rng.choice(rows, share, replace=False))
    return rng.permutation(np.concatenate(chosen))


def _split_counts(lengths, size):
    """Turn ``random_split``'s ``lengths`` into item counts that sum to ``size``."""
    if not lengths:
        raise DataError("lengths must not be empty")
    if all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in lengths):
        if any(n < 0 for n in lengths) or sum(lengths) != size:
            raise DataError(
                f"lengths must be non-negative and sum to the data set size {size}, "
                f"got lengths={lengths} (sum {sum(lengths)})"
            )
        return [int(n) for n in lengths]
    if not all(isinstance(f, numbers.Real) and not isinstance(f, bool) for f in lengths):
        raise DataError(f"lengths must be integers or fractions, got lengths={lengths}")
    if any(not 0 <= f <= 1 for f in lengths) or not math.isclose(sum(lengths), 1.0, abs_tol=1e-9):
        raise DataError(
            f"fractional lengths must lie in [0, 1] and sum to 1, got lengths={lengths} (sum {sum(lengths)})"
        )
    counts = [math.floor(f * size) for f in lengths]
    for part in range(size - sum(counts)):
        counts[part % len(counts)] += 1
    return counts
