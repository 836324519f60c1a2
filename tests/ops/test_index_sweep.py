"""Reading and writing through every kind of index against torch: basic, advanced, masks
(uint8 ones too, which PyTorch still reads as masks), broadcasting index tensors, empty and
out-of-range indices. Left out on purpose: several Ellipses in one index, where PyTorch's
reading indexes phantom dims (``x[..., ..., 0]`` fails on "dimension 2 with size 0") and
disttorch raises numpy's IndexError."""
import warnings

import pytest

import disttorch
from tests.ops.harness import assert_same_outcomes, requires_torch, summary

_ERRORS = (IndexError, RuntimeError, TypeError, ValueError, NotImplementedError)


def _indices(lib):
    t = lambda v, **k: lib.tensor(v, **k)
    return {
     "int": 1,
     "neg": -1,
     "slice": slice(1, None),
     "step": slice(None, None, 2),
     "negslice": slice(-2, None),
     "none": None,
     "ellipsis": Ellipsis,
     "tuple_int": (1, 2),
     "tuple_slice": (slice(None), 1),
     "ell_int": (Ellipsis, 0),
     "none_mid": (slice(None), None, 0),
     "list": [0, 2],
     "list_neg": [-1, 0],
     "tensor": t([0, 1]),
     "tensor_2d": t([[0], [1]]),
     "bool_mask": t([True, False, True]),
     "bool_mask_2d": lambda x: x > 3,
     "two_tensors": (t([0, 1]), t([1, 2])),
     "tensor_slice": (t([0, 2]), slice(1, 3)),
     "slice_tensor": (slice(None), t([0, 3])),
     "broadcast": (t([[0], [1]]), t([1, 2])),
     "sep_adv": (t([0, 1]), slice(None), t([1, 2])),
     "bool_scalar": True,
     "bool_false": False,
     "empty_list": [],
     "empty_tensor": t([], dtype=lib.int64),
     "int_tensor_0d": t(1),
     "oob": 5,
     "oob_list": [0, 9],
     "float_index": 1.0,
     "tuple_list": ([0, 1], [1, 2]),
     "nested_list": [[0, 1], [1, 0]],
     "bool_list": [True, False, True],
     "byte_mask": t([1, 0, 1], dtype=lib.uint8),
     "too_many": (0, 0, 0, 0),
     "neg_step": slice(None, None, -1),
     "int32_tensor": t([0, 2], dtype=lib.int32), "mask_and_int": (t([True, False, True]), 1),
    }


NAMES = sorted(_indices(disttorch))


def _base(lib, name):
    return lib.arange(12).reshape(3, 4) if name == "bool_mask_2d" else \
        lib.arange(24).reshape(3, 4, 2)


def _index(lib, name, x):
    index = _indices(lib)[name]
    return index(x) if callable(index) else index


def _read(lib, name):
    x = _base(lib, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)   # (uint8 masks are deprecated)
            result = x[_index(lib, name, x)]
    except _ERRORS as exc:
        return type(exc).__name__
    return summary(lib, result, tuple(result.shape))


def _write(lib, name):
    x = _base(lib, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            x[_index(lib, name, x)] = -7
    except _ERRORS as exc:
        return type(exc).__name__
    return summary(lib, x, tuple(x.shape))


@requires_torch
@pytest.mark.parametrize("name", NAMES)
def test_indexing_matches_torch(name):
    assert_same_outcomes([(f"x[{name}]", lambda lib: _read(lib, name)),
                          (f"x[{name}] = -7", lambda lib: _write(lib, name))])


def test_uint8_index_warns_as_torch():
    with pytest.warns(UserWarning, match="indexing with dtype torch.uint8 is now deprecated"):
        disttorch.arange(3)[disttorch.tensor([1, 0, 1], dtype=disttorch.uint8)]
