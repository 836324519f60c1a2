"""Creation functions against torch: the inferred or requested dtype, the shape and the
values (random ones multiplied by 0), or the error (a Python int past int64)."""
import numpy as np
import pytest

import disttorch
from tests.ops.harness import (SWEEP_ERRORS, assert_same_outcomes, outcome, record_mismatch, requires_torch, summary,
                               torch)

_ERRORS = SWEEP_ERRORS + (ValueError, OverflowError)

CASES = {
    "tensor_int": lambda lib: lib.tensor([1, 2]),
    "tensor_float": lambda lib: lib.tensor([1, 2.5]),
    "tensor_bool": lambda lib: lib.tensor([True, False]),
    "tensor_mixed_bool_int": lambda lib: lib.tensor([True, 2]),
    "tensor_nested": lambda lib: lib.tensor([[1], [2.0]]),
    "tensor_np_f32": lambda lib: lib.tensor(np.array([1.0], np.float32)),
    "tensor_np_i32": lambda lib: lib.tensor(np.array([1], np.int32)),
    "tensor_scalar": lambda lib: lib.tensor(3),
    "tensor_np_scalar": lambda lib: lib.tensor(np.float64(3.5)),
    "tensor_np_int_scalar": lambda lib: lib.tensor(np.int16(3)),
    "tensor_empty": lambda lib: lib.tensor([]),
    "tensor_empty_nested": lambda lib: lib.tensor([[], []]),
    "as_tensor_list": lambda lib: lib.as_tensor([1, 2]),
    "as_tensor_np": lambda lib: lib.as_tensor(np.array([1.5], np.float16)),
    "from_numpy_u16": lambda lib: lib.from_numpy(np.array([1, 2], np.int64)),
    "zeros": lambda lib: lib.zeros(2, 3),
    "zeros_int": lambda lib: lib.zeros(2, dtype=lib.int32),
    "ones_bool": lambda lib: lib.ones(2, dtype=lib.bool),
    "full_int": lambda lib: lib.full((2,), 3),
    "full_float": lambda lib: lib.full((2,), 3.0),
    "full_bool": lambda lib: lib.full((2,), True),
    "full_like": lambda lib: lib.full_like(lib.zeros(2, dtype=lib.int64), 2.7),
    "arange_int": lambda lib: lib.arange(5),
    "arange_float": lambda lib: lib.arange(0, 1, 0.25),
    "arange_mixed": lambda lib: lib.arange(0, 5.0),
    "arange_neg": lambda lib: lib.arange(5, 0, -2),
    "arange_dtype": lambda lib: lib.arange(3, dtype=lib.float16),
    "linspace": lambda lib: lib.linspace(0, 1, 5),
    "linspace_int": lambda lib: lib.linspace(0, 10, 5, dtype=lib.int64),
    "logspace": lambda lib: lib.logspace(0, 2, 3),
    "eye": lambda lib: lib.eye(2, 3),
    "eye_int": lambda lib: lib.eye(2, dtype=lib.int64),
    "zeros_like_f16": lambda lib: lib.zeros_like(lib.ones(2, dtype=lib.float16)),
    "empty_like": lambda lib: lib.empty_like(lib.ones(2, dtype=lib.int8)).zero_(),
    "ones_like_dtype": lambda lib: lib.ones_like(lib.ones(2), dtype=lib.int16),
    "rand_like": lambda lib: lib.rand_like(lib.ones(2, dtype=lib.float64)) * 0,
    "randint_like": lambda lib: lib.randint_like(lib.ones(2), 3) * 0,
    "randint": lambda lib: lib.randint(0, 3, (2,)) * 0,
    "randn_dtype": lambda lib: lib.randn(2, dtype=lib.float64) * 0,
    "randperm": lambda lib: lib.randperm(3).sort().values,
    "tril_indices": lambda lib: lib.tril_indices(3, 3),
    "triu_indices": lambda lib: lib.triu_indices(3, 3, 1),
    "meshgrid": lambda lib: lib.meshgrid(lib.arange(2), lib.arange(3.0), indexing="ij")[1],
    "cartesian_prod": lambda lib: lib.cartesian_prod(lib.arange(2), lib.arange(2)),
    "new_tensor": lambda lib: lib.ones(2, dtype=lib.float16).new_tensor([1, 2]),
    "new_full": lambda lib: lib.ones(2, dtype=lib.int32).new_full((2,), 3.5),
    "new_zeros": lambda lib: lib.ones(2, dtype=lib.int32).new_zeros(3),
    "scalar_tensor": lambda lib: lib.scalar_tensor(3),
    "complex_tensor": lambda lib: lib.tensor([1 + 2j]).real,
    "heaviside": lambda lib: lib.heaviside(lib.tensor([-1.0, 0.0, 2.0]), lib.tensor([0.5])),
    "polar": lambda lib: lib.polar(lib.tensor([1.0]), lib.tensor([0.0])).real,
    "tensor_big_int": lambda lib: lib.tensor([2**40]),
    "tensor_overflow": lambda lib: lib.tensor([2**63]),
    "arange_end_float_precision": lambda lib: lib.arange(0, 1, 0.1),
    "linspace_one": lambda lib: lib.linspace(2, 3, 1),
    "full_none": lambda lib: lib.full((2,), float('nan')),
}


def _outcome(lib, name):
    return outcome(lib, lambda: CASES[name](lib), _ERRORS, shape=True)


@requires_torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_creation_matches_torch(name):
    assert_same_outcomes([(name, lambda lib: _outcome(lib, name))])


# Python numbers into an integer dtype: PyTorch's checked conversion
CONVERSIONS = [
    ([1.0, -3.0], "uint8"), ([300], "uint8"), ([1e10], "int32"), ([float("nan")], "int32"),
    ([2.7], "int64"), ([-1], "uint8"), ([128], "int8"), ([-129], "int8"), ([-255], "uint8"),
    ([-256], "uint8"), ([1e40], "float32"), ([1e5], "float16"), ([True, 2], "bool"),
    ([2 ** 31], "int32"), ([-2.9], "uint8"), (255.9, "uint8"), ([-0.5], "uint8"),
    ([-128.5], "int8"), ([127.9], "int8"),
]


@requires_torch
@pytest.mark.parametrize("values,dtype", CONVERSIONS, ids=[f"{v}-{d}" for v, d in CONVERSIONS])
def test_tensor_checks_python_numbers_against_the_dtype(values, dtype):
    def outcome(lib):
        try:
            t = lib.tensor(values, dtype=getattr(lib, dtype))
        except RuntimeError as exc:
            return str(exc)
        return summary(lib, t, tuple(t.shape))
    failures = []
    record_mismatch(failures, f"{values} as {dtype}", outcome(torch), outcome(disttorch))
    assert not failures, failures[0]


TENSOR_VALUES = {
    "small": [0.1, 0.25, 3.0], "whole": [1.0, 2.0, -3.0], "big": [1e10, 1.0], "tiny": [1e-10, 1.0],
    "sci": [1e-5, 1e5], "nan_inf": [float("nan"), float("inf"), -float("inf"), 1.5],
    "zeros": [0.0, -0.0],
    "int": [1, -20, 300],
    "bool": [True, False],
    "2d": [[1.5, 2.25], [3.0, 4.125]],
    "3d": [[[1, 2]], [[3, 4]]],
    "long": list(range(1200)),
    "long_float": [i * 0.5 for i in range(1500)],
    "empty": [], "empty_2d": [[], []], "scalar": 3.14159, "precise": [1.123456789, 2.0],
}


@requires_torch
@pytest.mark.parametrize("name", sorted(TENSOR_VALUES))
@pytest.mark.parametrize("dtype", [None, "float64", "float16", "bfloat16", "int32"])
def test_tensor_repr_matches_torch(name, dtype):
    def text(lib):
        kwargs = {"dtype": getattr(lib, dtype)} if dtype else {}
        try:
            return repr(lib.tensor(TENSOR_VALUES[name], **kwargs))
        except RuntimeError as exc:
            return type(exc).__name__
    assert text(disttorch) == text(torch).replace("torch.", "disttorch.")
