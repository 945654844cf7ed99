"""Data-parallel training over MPI (``mpi4py``), in the manner of ChainerMN and Horovod.

Start ``N`` processes with ``mpiexec -n N``; each trains on its part of every batch, and the
gradients are averaged with an allreduce, so the ranks together take the step one process takes with
the whole batch. Without ``mpiexec`` (or without ``mpi4py``) the world is one process and everything
here is the identity. This package depends on the rest of chainrule, never the reverse.

Example::

    from chainrule import distributed as dist
    dist.init()
    ddp = dist.DistributedDataParallel(model)       # checks the ranks agree, copies rank 0's weights
    for x, y in ddp.loader(dataset, batch_size=256, shuffle=True, seed=0):   # 256 in all
        optimizer.zero_grad()
        loss_fn(ddp(x), y).backward()
        ddp.allreduce_gradients()
        optimizer.step()

or ``Trainer(model, loss, optimizer, distributed=ddp)``. See docs/distributed.md.
"""

from .collectives import (GradientReducer, allreduce_gradients, allreduce_sum, broadcast_parameters,
                          check_agreement, data_signature, model_signature)
from .comm import DistributedError, abort, abort_on_error, init, is_root, rank, world_size
from .ddp import DistributedDataParallel, ShardedGenerator
from .sampler import DistributedSampler, Shard, ShardedLoader

__all__ = [
    "DistributedDataParallel",
    "DistributedError",
    "DistributedSampler",
    "GradientReducer",
    "Shard",
    "ShardedGenerator",
    "ShardedLoader",
    "abort",
    "abort_on_error",
    "allreduce_gradients",
    "allreduce_sum",
    "broadcast_parameters",
    "check_agreement",
    "data_signature",
    "init",
    "is_root",
    "model_signature",
    "rank",
    "world_size",
]
