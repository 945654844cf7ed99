"""The distributed package in one process: samplers, shards, dropout masks, the world of one."""

import numpy as np
import pytest

from chainrule import distributed as dist
from chainrule import nn
from chainrule.core.tensor import Tensor
from chainrule.data import DataLoader, TensorDataset
from chainrule.distributed import DistributedSampler, Shard, ShardedGenerator, ShardedLoader


@pytest.mark.parametrize("size, replicas, drop_last", [(10, 3, False), (10, 3, True), (12, 4, False),
                                                       (5, 8, False), (7, 2, True)])
def test_sampler_shards_are_disjoint_and_cover_the_permutation(size, replicas, drop_last):
    samplers = [DistributedSampler(range(size), replicas, rank, shuffle=True, seed=3, drop_last=drop_last)
                for rank in range(replicas)]
    shards = [list(sampler) for sampler in samplers]
    assert {len(shard) for shard in shards} == {samplers[0].num_samples}
    interleaved = [shards[index % replicas][index // replicas] for index in range(samplers[0].total_size)]
    permutation = np.random.default_rng([3, 0]).permutation(size)
    if drop_last:
        assert interleaved == permutation[:samplers[0].total_size].tolist()
        assert len(set(interleaved)) == len(interleaved)
    else:  # padded from the start of the permutation, as PyTorch does
        assert interleaved == np.resize(permutation, samplers[0].total_size).tolist()
        assert set(interleaved) == set(range(size))


def test_sampler_matches_pytorch_without_shuffling():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DistributedSampler as TorchSampler
    for size, replicas, drop_last in [(10, 3, False), (10, 3, True), (5, 8, False)]:
        for rank in range(replicas):
            ours = DistributedSampler(range(size), replicas, rank, shuffle=False, drop_last=drop_last)
            theirs = TorchSampler(range(size), replicas, rank, shuffle=False, drop_last=drop_last)
            assert list(ours) == list(theirs) and len(ours) == len(theirs)
    del torch


def test_sampler_reshuffles_per_epoch_from_the_seed():
    sampler = DistributedSampler(range(50), 2, 0, seed=1)
    first = list(sampler)
    assert list(sampler) == first
    sampler.set_epoch(1)
    assert list(sampler) != first
    again = DistributedSampler(range(50), 2, 0, seed=1)
    again.set_epoch(1)
    assert list(again) == list(sampler)


def test_sampler_rejects_a_rank_outside_the_world():
    with pytest.raises(ValueError, match=r"rank must be in \[0, 1\], not 2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)


@pytest.mark.parametrize("world", [1, 2, 3])
def test_sharded_loader_batches_together_are_the_one_process_batches(world):
    data = TensorDataset(np.arange(23.0)[:, None], np.arange(23))
    whole = [y for _, y in DataLoader(data, batch_size=8, shuffle=True, seed=4)]
    parts = [[y for _, y in ShardedLoader(data, 8, True, seed=4, shard=Shard(rank, world))]
             for rank in range(world)]
    assert all(len(part) == len(whole) for part in parts)
    for index, batch in enumerate(whole):
        assert sorted(np.concatenate([part[index] for part in parts]).tolist()) == sorted(batch.tolist())
        assert parts[0][index].tolist() == batch[0::world].tolist()


def test_sharded_loader_skips_a_last_batch_smaller_than_the_world():
    data = TensorDataset(np.arange(17.0)[:, None], np.arange(17))
    loader = ShardedLoader(data, 8, shard=Shard(0, 3))  # 8 + 8 + 1: the last row cannot be cut in 3
    assert len(loader) == 2 and len(list(loader)) == 2
    with pytest.raises(dist.DistributedError, match="global batch size 2 is smaller than the 3 processes"):
        ShardedLoader(data, 2, shard=Shard(0, 3))


def test_sharded_generator_masks_together_are_the_one_process_mask():
    world, rows = 3, 7
    whole = np.random.default_rng(9).random((rows, 5), dtype=np.float32)
    for rank in range(world):
        shard = Shard(rank, world)
        shard.global_rows = rows
        generator = ShardedGenerator(np.random.default_rng(9).bit_generator, shard)
        mask = generator.random((shard.local_rows, 5), dtype=np.float32)
        np.testing.assert_array_equal(mask, whole[rank::world])


def test_a_world_of_one_process():
    dist.init()
    assert (dist.rank(), dist.world_size(), dist.is_root()) == (0, 1, True)
    assert dist.init() is dist.init()
    model = nn.MLP([3, 4, 2], dropout=0.5, seed=0)
    before = {name: p.numpy().copy() for name, p in model.named_parameters()}
    ddp = dist.DistributedDataParallel(model)
    nn.functional.cross_entropy(ddp(Tensor(np.ones((2, 3), np.float32))), np.array([0, 1])).backward()
    grads = {name: p.grad.numpy().copy() for name, p in model.named_parameters()}
    ddp.allreduce_gradients()
    dist.allreduce_gradients(model)
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.numpy(), before[name])
        np.testing.assert_array_equal(p.grad.numpy(), grads[name])
    dist.check_agreement({"anything": 1}, "configuration")
    assert dist.allreduce_sum([1.0, 2.0]).tolist() == [1.0, 2.0]


def test_gradient_reducer_keeps_each_gradients_memory_layout():
    model = nn.Linear(3, 4)
    reducer = dist.GradientReducer(model.parameters())
    assert reducer.nbytes == (3 * 4 + 4) * 4
    model(Tensor(np.ones((2, 3), np.float32))).sum().backward()
    grads = [p.grad.data for p in model.parameters()]
    expected = [g * 0.5 for g in grads]
    reducer.allreduce(0.5)
    for p, grad, value in zip(model.parameters(), grads, expected):
        assert p.grad.data is grad
        np.testing.assert_array_equal(p.grad.data, value)


def test_a_launch_that_mpi_does_not_see_is_refused(monkeypatch):
    from chainrule.distributed.runs import run_processes
    from chainrule.errors import ChainruleError
    monkeypatch.setenv("PMI_SIZE", "2")
    with pytest.raises(ChainruleError, match="mpiexec started 2 processes, but without --distributed"):
        with run_processes(False, {}):
            pass
    with pytest.raises(ChainruleError, match="mpiexec started 2 processes, but MPI sees 1"):
        with run_processes(True, {}):
            pass
    monkeypatch.delenv("PMI_SIZE")
    with run_processes(True, {"lr": 0.1}) as group:
        assert (group.rank, group.size, group.root) == (0, 1, True)
