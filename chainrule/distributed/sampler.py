"""Splitting the data between the ranks.

:class:`DistributedSampler` follows PyTorch's: each epoch one permutation drawn from ``(seed,
epoch)``, padded (or cut) to a multiple of the number of ranks, rank ``r`` taking every ``N``-th index
from ``r``. :class:`ShardedLoader` is what the Trainer uses: the one-process
:class:`~chainrule.data.DataLoader`'s own sequence of global batches, each cut between the ranks, so
the ranks' batches together are exactly the one-process batch.
"""

import math
import numbers

import numpy as np

from ..data import DataLoader
from ..data.loader import _fetch_batch
from .comm import DistributedError, init


class DistributedSampler:
    """The indices of this rank's part of a data set, like ``torch.utils.data.DistributedSampler``.

    Args:
        dataset: anything with ``len()``.
        num_replicas: the number of ranks (default: the world size).
        rank: this rank (default: the process's rank).
        shuffle: draw a fresh permutation each epoch (from ``(seed, epoch)``); otherwise in order.
        seed: the same on every rank.
        drop_last: cut the tail that does not divide evenly among the ranks; otherwise pad with
            indices from the start, so every rank gets ``ceil(len(dataset) / num_replicas)``.

    Call :meth:`set_epoch` before each epoch to reshuffle.

    Example:
        >>> sampler = DistributedSampler(range(10), num_replicas=3, rank=1, shuffle=False)
        >>> list(sampler)
        [1, 4, 7, 0]
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        comm = init() if num_replicas is None or rank is None else None
        self.num_replicas = comm.size if num_replicas is None else num_replicas
        self.rank = comm.rank if rank is None else rank
        if not _is_int(self.num_replicas) or self.num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive integer, not "
                             f"{self.num_replicas!r}")
        if not _is_int(self.rank) or not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in [0, {self.num_replicas - 1}], not "
                             f"{self.rank!r}")
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0
        size = len(dataset)
        if drop_last:
            self.num_samples = size // self.num_replicas
        else:
            self.num_samples = math.ceil(size / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        """Choose the epoch whose permutation :meth:`__iter__` gives (the same on every rank)."""
        self.epoch = epoch

    def __iter__(self):
        size = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng([self.seed, self.epoch]).permutation(size)
        else:
            indices = np.arange(size)
        if self.total_size > size:  # pad by repeating from the start, as many times as needed
            indices = np.resize(indices, self.total_size)
        indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples


class Shard:
    """Which rows of the current global batch this rank holds: ``rows[rank::world]``.

    Shared between a :class:`ShardedLoader` (which sets ``global_rows`` before each batch) and the
    gradient averaging and dropout masks that need to know the whole batch.
    """

    def __init__(self, rank, world):
        self.rank = rank
        self.world = world
        self.global_rows = None

    @property
    def local_rows(self):
        """The number of rows this rank holds of the current batch."""
        return len(range(self.rank, self.global_rows, self.world))

    @property
    def weight(self):
        """This rank's share of the batch: its gradient's factor before the sum over ranks."""
        return self.local_rows / self.global_rows


class ShardedLoader(DataLoader):
    """The :class:`~chainrule.data.DataLoader` of the whole data set, each batch cut between the ranks.

    Every rank draws the one-process loader's permutation (same ``seed``, same generator, so the
    state saved in a checkpoint is the same for any number of ranks) and keeps rows
    ``rank, rank + N, ...`` of each global batch of ``batch_size``. A last batch with fewer rows than
    ranks is skipped (one rank would have nothing to train on).

    Args:
        dataset, batch_size, shuffle, drop_last, seed: as for :class:`~chainrule.data.DataLoader`;
            ``batch_size`` is the global batch.
        shard: the :class:`Shard` this loader updates.
    """

    def __init__(self, dataset, batch_size=32, shuffle=False, drop_last=False, seed=None, *, shard):
        super().__init__(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed)
        if self.batch_size < shard.world:
            raise DistributedError(f"the global batch size {self.batch_size} is smaller than the "
                                   f"{shard.world} processes: each needs at least one row")
        self.shard = shard

    def __len__(self):
        full, tail = divmod(len(self.dataset), self.batch_size)
        return full + (0 < tail and not self.drop_last and tail >= self.shard.world)

    def _batches(self, order):
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            rows = order[start:start + self.batch_size]
            self.shard.global_rows = len(rows)
            yield _fetch_batch(self.dataset, rows[self.shard.rank::self.shard.world])


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
