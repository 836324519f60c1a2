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
        # a field of strings is the tuple zip gives, left as it is
        "tuples with strings": [("hello", 1), ("world", 0)],
        "lists with strings": [["a", 1], ["b", 2]],
        "tuples with bytes": [(b"x", 1), (b"y", 2)],
        "nested tuples with strings": [((1, "a"), [2, "b"]), ((3, "c"), [4, "d"])],
        "named tuples with strings": [Point("x", 1), Point("y", 2)],
        "dicts with strings": [{"s": "x", "n": (1, "q")}, {"s": "y", "n": (2, "r")}],
        "ordered dicts": [collections.OrderedDict(a=1, b="x"),
                          collections.OrderedDict(a=2, b="y")],
        "bytes": [b"x", b"y"],
        "numpy strings": [np.str_("a"), np.str_("b")],
        # numbers: the dtype torch.tensor / torch.as_tensor infers for the batch
        "numpy scalars float32 float64": [np.float32(1.5), np.float64(2.5)],
        "numpy scalars int32 float32": [np.int32(1), np.float32(2.0)],
        "numpy scalars uint8 int8": [np.uint8(1), np.int8(1)],
        "numpy scalar and float": [np.float32(1.0), 2.0],
        "numpy bools": [np.bool_(True), np.bool_(False)],
        "numpy complex": [np.complex64(1 + 2j), np.complex64(3)],
        "int then float": [1, 2.5],
        "bool then int": [True, 2],
        "int then complex": [1, 2 + 1j],
        "0-d arrays": [np.array(1.5), np.array(2.5)],
        "arrays int32 float32": [np.array([1], dtype=np.int32),
                                 np.array([2.0], dtype=np.float32)],
        "tensors int32 float32": [t(np.array([1], dtype=np.int32)),
                                  t(np.array([2.0], dtype=np.float32))],
    }


@pytest.mark.parametrize("case", list(_samples(torch)))
def test_default_collate_matches_torch(case):
    ours = data.default_collate(_samples(disttorch)[case])
    theirs = tud.default_collate(_samples(torch)[case])
    assert_same(ours, theirs)


@pytest.mark.parametrize("batch", [[np.datetime64("2020-01-01")] * 2, [np.void(b"ab")] * 2,
                                   [object(), object()]], ids=["datetime64", "void", "object"])
def test_default_collate_rejects_what_torch_rejects(batch):
    with pytest.raises(TypeError, match="batch must contain tensors, numpy arrays, numbers"):
        tud.default_collate(batch)
    with pytest.raises(TypeError, match="batch must contain tensors, numpy arrays, numbers"):
        data.default_collate(batch)


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
