"""Data-parallel training: every rank runs the model on its part of each batch, and the gradients
are averaged before the optimiser steps, so every rank takes the same step the whole batch gives.

With :meth:`DistributedDataParallel.loader`'s batches, the average weighs each rank by its rows, and
dropout draws the whole batch's mask from the one-process generator and keeps this rank's rows: N
processes then train the very model one process trains with the whole batch.

Batch normalisation uses each rank's own batch statistics (PyTorch's default, not SyncBatchNorm);
the running statistics are rank 0's, copied to the others with every gradient allreduce, as PyTorch's
``broadcast_buffers=True`` keeps them.
"""

import time

import numpy as np

from ..core.graph import replayable
from ..nn.module import Module
from .collectives import (BUCKET_BYTES, GradientReducer, allreduce_sum, broadcast_parameters,
                          check_agreement, data_signature, model_signature)
from .comm import init
from .sampler import Shard, ShardedLoader


class DistributedDataParallel(Module):
    """Wraps a model for data-parallel training over the ranks of the process group.

    On construction (a collective: every rank builds it) the ranks check that they hold the same
    parameters and buffers (names, shapes, dtypes), and rank 0's values are copied to the others.

    Args:
        module: the model.
        exact_dropout: the random generators the layers hold (dropout's) draw the global batch's
            mask and keep this rank's rows (exact; costs ``world_size`` times the random numbers);
            ``False`` gives each rank its own deterministic stream instead (``jumped(rank)``; a
            resumed run restarts every rank from rank 0's saved state).
        bucket_bytes: the largest piece of a gradient buffer sent in one ``Allreduce``.

    Example (one process, so a world of one)::

        >>> from chainrule import nn
        >>> ddp = DistributedDataParallel(nn.Linear(3, 2))
        >>> ddp.world_size, ddp.rank
        (1, 0)
    """

    def __init__(self, module, exact_dropout=True, bucket_bytes=BUCKET_BYTES):
        super().__init__()
        comm = init()
        self.module = module
        self.rank, self.world_size = comm.rank, comm.size
        self.shard = Shard(self.rank, self.world_size)
        self.exact_dropout = exact_dropout
        check_agreement(model_signature(module), "model (parameter names, shapes and dtypes)")
        broadcast_parameters(module)
        self.reducer = GradientReducer(module.parameters(), bucket_bytes)
        self.allreduce_seconds = 0.0
        self._share_random_masks()

    @property
    def is_root(self):
        """Whether this is rank 0, which alone writes files and shows progress."""
        return self.rank == 0

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)

    # -- what the Trainer calls -------------------------------------------------------------------

    def loader(self, dataset, batch_size=32, shuffle=False, drop_last=False, seed=None):
        """A :class:`ShardedLoader`: this rank's rows of each global batch of ``batch_size``. The
        ranks check first that they hold the same data (a collective)."""
        check_agreement([data_signature(dataset), batch_size, shuffle, drop_last, seed],
                        "training data (contents, batch size, shuffling, seed)")
        return ShardedLoader(dataset, batch_size, shuffle, drop_last, seed, shard=self.shard)

    @replayable
    def allreduce_gradients(self):
        """Make every rank's gradients the whole batch's: weighted by the rows of the current
        :attr:`shard` when a :meth:`loader` set it, else the plain mean over ranks. Rank 0's buffers
        (batch-norm running statistics) are copied to the others at the same time."""
        if self.world_size == 1:
            return
        started = time.perf_counter()
        weight = 1.0 / self.world_size if self.shard.global_rows is None else self.shard.weight
        self.reducer.allreduce(weight)
        _broadcast_buffers(self.module)
        self.allreduce_seconds += time.perf_counter() - started

    def reduce_metrics(self, totals):
        """Sum an :class:`~chainrule.train.metrics.EpochMetrics`' running totals over the ranks."""
        if self.world_size == 1:
            return
        totals.count, totals.loss_sum, totals.score_sum = allreduce_sum(
            [totals.count, totals.loss_sum, totals.score_sum]).tolist()
        totals.count = int(totals.count)

    # -- dropout ----------------------------------------------------------------------------------

    def _share_random_masks(self):
        """Give every generator a layer holds (dropout's) the global batch's draws, or a stream of
        this rank's own."""
        for module in self.module.modules():
            for attribute, value in list(vars(module).items()):
                if not isinstance(value, np.random.Generator) or isinstance(value, ShardedGenerator):
                    continue
                if self.exact_dropout:
                    setattr(module, attribute, ShardedGenerator(value.bit_generator, self.shard))
                elif self.rank > 0:
                    setattr(module, attribute, np.random.Generator(value.bit_generator.jumped(self.rank)))


class ShardedGenerator(np.random.Generator):
    """A generator that draws a mask for the whole global batch and returns this rank's rows.

    It shares its bit generator with the one it replaces, so its state is saved and restored
    (checkpoints, resume) exactly as before, and stays the same on every rank.
    """

    def __init__(self, bit_generator, shard):
        super().__init__(bit_generator)
        self.shard = shard

    def random(self, size=None, dtype=np.float64, out=None):
        shard = self.shard
        if (out is not None or size is None or shard.global_rows is None or np.ndim(size) == 0
                or size[0] != shard.local_rows):
            return super().random(size, dtype, out)
        whole = super().random((shard.global_rows, *size[1:]), dtype)
        return whole[shard.rank::shard.world]


def _broadcast_buffers(module):
    for buffer in module.buffers():
        data = buffer.data
        contiguous = np.ascontiguousarray(data)
        init().Bcast(contiguous, root=0)
        if contiguous is not data:
            data[...] = contiguous
