import numpy as np
import pytest
import torch
import torch.utils.data as tud

import disttorch
from disttorch.utils import data


def _pair(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return x, y


def test_tensor_dataset_matches_torch():
    x, y = _pair()
    ours = data.TensorDataset(disttorch.from_numpy(x), disttorch.from_numpy(y))
    theirs = tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    assert len(ours) == len(theirs)
    for i in (0, 3, -1):
        for a, b in zip(ours[i], theirs[i]):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_tensor_dataset_size_mismatch():
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        data.TensorDataset(disttorch.zeros(3), disttorch.zeros(4))


def test_concat_dataset_indexing():
    ours = data.ConcatDataset([list(range(3)), list(range(10, 15))])
    theirs = tud.ConcatDataset([list(range(3)), list(range(10, 15))])
    assert len(ours) == len(theirs) == 8
    assert [ours[i] for i in range(-8, 8)] == [theirs[i] for i in range(-8, 8)]
    assert ours.cumulative_sizes == theirs.cumulative_sizes
    with pytest.raises(ValueError, match="absolute value of index"):
        ours[-9]


def test_dataset_add_gives_concat_and_chain():
    class Items(data.Dataset):
        def __getitem__(self, i):
            return i

        def __len__(self):
            return 2

    class Stream(data.IterableDataset):
        def __iter__(self):
            return iter(range(3))

        def __len__(self):
            return 3

    assert isinstance(Items() + Items(), data.ConcatDataset)
    chained = Stream() + Stream()
    assert isinstance(chained, data.ChainDataset)
    assert list(chained) == [0, 1, 2, 0, 1, 2] and len(chained) == 6


def test_abstract_dataset_getitem():
    with pytest.raises(NotImplementedError):
        data.Dataset()[0]


def test_subset_and_stack_dataset():
    subset = data.Subset(list(range(10, 20)), [4, 1, 7])
    assert [subset[i] for i in range(3)] == [14, 11, 17]
    assert subset.__getitems__([0, 2]) == [14, 17]
    stacked = data.StackDataset([1, 2], ["a", "b"])
    assert stacked[1] == (2, "b") and len(stacked) == 2
    named = data.StackDataset(x=[1, 2], y=["a", "b"])
    assert named[0] == {"x": 1, "y": "a"}
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        data.StackDataset([1], [1, 2])
    with pytest.raises(ValueError, match="At least one dataset should be passed"):
        data.StackDataset()


def test_random_split_lengths_and_fractions():
    parts = data.random_split(range(10), [3, 7], generator=disttorch.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    again = data.random_split(range(10), [3, 7], generator=disttorch.Generator().manual_seed(1))
    assert again[0].indices == parts[0].indices
    fractions = data.random_split(range(11), [0.3, 0.3, 0.4])
    assert [len(p) for p in fractions] == [len(p) for p in
                                           tud.random_split(range(11), [0.3, 0.3, 0.4])]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        data.random_split(range(10), [3, 3])


def test_chain_dataset_rejects_map_style():
    with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
        list(data.ChainDataset([[1, 2]]))
