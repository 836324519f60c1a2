import collections

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import disttorch
from disttorch.utils import data

from .conftest import assert_same

Point = collections.namedtuple("Point", ["x", "y"])


def _samples(lib):
    t = (lambda a: lib.from_numpy(np.asarray(a)))
    return {
        "tensors": [t([1.0, 2.0]), t([3.0, 4.0])],
        "arrays": [np.array([1, 2], dtype=np.int32), np.array([3, 4], dtype=np.int32)],
        "numpy scalars": [np.float32(1.5), np.float32(2.5)],
        "floats": [1.0, 2.5],
        "ints": [1, 2],
        "bools": [True, False],
        "strings": ["a", "b"],
        "dicts": [{"a": 1, "b": t([1.0])}, {"a": 2, "b": t([2.0])}],
        "tuples": [(1, t([1])), (2, t([2]))],
        "lists": [[1, 2.0], [3, 4.0]],
        "named tuples": [Point(1, 2.0), Point(3, 4.0)],
    }


@pytest.mark.parametrize("case", list(_samples(torch)))
def test_default_collate_matches_torch(case):
    ours = data.default_collate(_samples(disttorch)[case])
    theirs = tud.default_collate(_samples(torch)[case])
    assert_same(ours, theirs)


def test_default_collate_errors():
    with pytest.raises(TypeError, match="batch must contain tensors, numpy arrays, numbers"):
        data.default_collate([object(), object()])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal"):
        data.default_collate([[1, 2], [1]])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        data.default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError):
        data.default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert_matches_torch():
    sample = {"a": np.arange(3), "b": (np.float64(2.0), "s"), "c": [np.ones(2)]}
    ours = data.default_convert(sample)
    theirs = tud.default_convert(sample)
    assert isinstance(ours["a"], disttorch.Tensor)
    np.testing.assert_array_equal(ours["a"].numpy(), theirs["a"].numpy())
    assert type(ours["b"]) is type(theirs["b"]) is list
    assert ours["b"][1] == "s"
    assert isinstance(ours["c"][0], disttorch.Tensor)
    strings = np.array(["x"])
    assert data.default_convert(strings) is strings
