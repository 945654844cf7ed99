"""DataLoader, TensorDataset, Subset and random_split."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.data import DataLoader, Dataset, Subset, TensorDataset, random_split
from chainrule.errors import DataError


class SquaresDataset(Dataset):
    """A plain Dataset (no fast path): item i is (i, i**2)."""

    def __init__(self, size):
        self.size = size

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        return np.array([index]), index**2


def epoch_indices(loader):
    return np.concatenate([batch[0] for batch in loader])


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 120),
    data=st.data(),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_batches_cover_each_index_once_with_the_requested_sizes(size, data, shuffle, drop_last, seed):
    batch_size = data.draw(st.integers(1, size), label="batch_size")
    loader = DataLoader(
        TensorDataset(np.arange(size)), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed
    )
    batches = [batch[0] for batch in loader]
    assert len(batches) == len(loader)
    assert all(len(batch) == batch_size for batch in batches[:-1])
    seen = np.concatenate(batches)
    if drop_last:
        assert len(seen) == (size // batch_size) * batch_size
        assert len(np.unique(seen)) == len(seen)
    else:
        assert len(batches[-1]) == size - (len(batches) - 1) * batch_size
        np.testing.assert_array_equal(np.sort(seen), np.arange(size))
    if not shuffle:
        np.testing.assert_array_equal(seen, np.arange(len(seen)))


def test_len_counts_batches():
    dataset = TensorDataset(np.zeros((10, 3)))
    assert len(DataLoader(dataset, batch_size=3)) == 4
    assert len(DataLoader(dataset, batch_size=3, drop_last=True)) == 3
    assert len(DataLoader(dataset, batch_size=5, drop_last=True)) == 2


def test_drop_last_skips_the_short_batch():
    loader = DataLoader(TensorDataset(np.arange(10)), batch_size=4, drop_last=True)
    assert [batch[0].tolist() for batch in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_batches_are_tuples_of_arrays_aligned_across_fields():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10) * 10
    for x_batch, y_batch in DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=1):
        assert isinstance(x_batch, cr.Tensor) and x_batch.dtype == np.float32
        np.testing.assert_array_equal(x_batch[:, 0] * 5, y_batch)


def test_plain_dataset_items_are_stacked_per_field():
    (indices, squares), *_ = DataLoader(SquaresDataset(7), batch_size=3, shuffle=True, seed=0)
    assert indices.shape == (3, 1)
    np.testing.assert_array_equal(squares, indices[:, 0] ** 2)


def test_same_seed_gives_the_same_orders_and_epochs_differ():
    def two_epochs(seed):
        loader = DataLoader(TensorDataset(np.arange(50)), batch_size=8, shuffle=True, seed=seed)
        return epoch_indices(loader), epoch_indices(loader)

    first, second = two_epochs(3)
    again_first, again_second = two_epochs(3)
    np.testing.assert_array_equal(first, again_first)
    np.testing.assert_array_equal(second, again_second)
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, two_epochs(4)[0])


def test_state_dict_resumes_the_next_epoch_exactly():
    dataset = TensorDataset(np.arange(40))
    original = DataLoader(dataset, batch_size=6, shuffle=True, seed=11)
    epoch_indices(original)
    state = original.state_dict()
    assert set(state) == {"rng_state"} and state["rng_state"].dtype == np.uint64
    expected_next = epoch_indices(original)

    resumed = DataLoader(dataset, batch_size=6, shuffle=True, seed=999)
    resumed.load_state_dict(state)
    np.testing.assert_array_equal(epoch_indices(resumed), expected_next)


def test_load_state_dict_rejects_a_malformed_state():
    loader = DataLoader(TensorDataset(np.arange(4)), batch_size=2)
    with pytest.raises(DataError, match="rng_state"):
        loader.load_state_dict({"rng_state": np.zeros(3, dtype=np.uint64)})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
        ({"batch_size": 2.5}, "batch_size must be a positive integer, got 2.5"),
        ({"batch_size": 11}, r"batch_size=11 is larger than the data set \(10 items\); use batch_size=10"),
        ({"shuffle": "yes"}, "shuffle must be True or False, got 'yes'"),
        ({"drop_last": 1}, "drop_last must be True or False, got 1"),
    ],
)
def test_bad_loader_arguments_are_named(kwargs, message):
    with pytest.raises(DataError, match=message):
        DataLoader(TensorDataset(np.arange(10)), **kwargs)


def test_empty_dataset_is_rejected():
    with pytest.raises(DataError, match="empty"):
        DataLoader(TensorDataset(np.zeros((0, 2))))


def test_tensor_dataset_rejects_mismatched_lengths():
    with pytest.raises(DataError, match=r"lengths \[3, 4\]"):
        TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="at least one array"):
        TensorDataset()


def test_tensor_dataset_items():
    dataset = TensorDataset(np.arange(6).reshape(3, 2), np.array([7, 8, 9]))
    assert len(dataset) == 3
    features, label = dataset[1]
    np.testing.assert_array_equal(features, [2, 3])
    assert label == 8


def test_subset_maps_indices():
    subset = Subset(TensorDataset(np.arange(10) * 2), [4, 1])
    assert len(subset) == 2
    assert subset[0][0] == 8 and subset[1][0] == 2


def test_random_split_with_counts_partitions_the_data():
    parts = random_split(TensorDataset(np.arange(10)), [7, 3], seed=0)
    assert [len(part) for part in parts] == [7, 3]
    everything = np.concatenate([part.indices for part in parts])
    np.testing.assert_array_equal(np.sort(everything), np.arange(10))
    np.testing.assert_array_equal(
        parts[0].indices, random_split(TensorDataset(np.arange(10)), [7, 3])[0].indices
    )
    assert not np.array_equal(
        parts[0].indices, random_split(TensorDataset(np.arange(10)), [7, 3], seed=1)[0].indices
    )


def test_random_split_with_fractions_hands_leftovers_to_the_first_parts():
    parts = random_split(TensorDataset(np.arange(11)), [0.5, 0.25, 0.25])
    assert [len(part) for part in parts] == [6, 3, 2]


def test_loader_over_a_split_uses_the_subset_indices():
    values = np.arange(100, 120)
    train, _ = random_split(TensorDataset(values), [0.75, 0.25], seed=5)
    (batch,) = next(iter(DataLoader(train, batch_size=15)))
    np.testing.assert_array_equal(batch, values[train.indices])


@pytest.mark.parametrize(
    ("lengths", "message"),
    [
        ([5, 4], r"sum to the data set size 10, got lengths=\[5, 4\] \(sum 9\)"),
        ([12, -2], "non-negative"),
        ([0.5, 0.4], r"sum to 1, got lengths=\[0.5, 0.4\]"),
        (["a", "b"], "integers or fractions"),
        ([], "must not be empty"),
    ],
)
def test_random_split_rejects_bad_lengths(lengths, message):
    with pytest.raises(DataError, match=message):
        random_split(TensorDataset(np.arange(10)), lengths)


def _shuffled_labels(**options):
    return [y.tolist() for _, y in DataLoader(TensorDataset(np.arange(12.0), np.arange(12)), batch_size=5,
                                              shuffle=True, **options)]


def test_manual_seed_seeds_the_default_shuffling_as_pytorchs_global_generator():
    cr.manual_seed(0)
    first = _shuffled_labels()
    cr.manual_seed(0)
    assert _shuffled_labels() == first
    cr.manual_seed(1)
    assert _shuffled_labels() != first
    cr.manual_seed(0)
    loader = DataLoader(TensorDataset(np.arange(12.0), np.arange(12)), batch_size=5, shuffle=True)
    cr.manual_seed(0)  # after the loader was made, as in a PyTorch script: it still counts
    assert [y.tolist() for _, y in loader] == first


def test_an_explicit_generator_or_seed_wins_over_the_shared_generator():
    for options in ({"generator": 7}, {"seed": 7}):
        cr.manual_seed(0)
        first = _shuffled_labels(**options)
        cr.manual_seed(1)
        assert _shuffled_labels(**options) == first
    assert _shuffled_labels(generator=np.random.default_rng(7)) == first
    with pytest.raises(DataError, match="give seed or generator, not both"):
        _shuffled_labels(seed=1, generator=1)


def test_batches_are_tensors_as_pytorchs():
    inputs, labels = next(iter(DataLoader(TensorDataset(np.ones((6, 3), np.float32), np.arange(6)),
                                          batch_size=4)))
    assert inputs.size(0) == 4 and inputs.size() == (4, 3) and labels.dtype == np.int64
    (words,) = next(iter(DataLoader(np.array(["a", "b", "c"]), batch_size=2)))
    assert words.tolist() == ["a", "b"]  # not numbers: stays an array
