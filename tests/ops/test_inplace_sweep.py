"""In-place binary ops over every pair of dtypes (and Python numbers) against torch: the
dtype kept, the values, ``self`` returned, or the error PyTorch raises first (a promotion past
``self``'s category, subtraction with bools, a kernel missing for the dtype)."""
import itertools

import pytest

from tests.ops.harness import (SWEEP_ERRORS, assert_same_outcomes, dtype_tensor, requires_bf16,
                               requires_torch, summary)

DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float16", "bfloat16", "float32",
          "float64"]
OPS = {"add_": lambda a, b: a.add_(b),
       "sub_": lambda a, b: a.sub_(b),
       "mul_": lambda a, b: a.mul_(b),
       "div_": lambda a, b: a.div_(b),
       "floor_divide_": lambda a, b: a.floor_divide_(b),
       "remainder_": lambda a, b: a.remainder_(b),
       "pow_": lambda a, b: a.pow_(b),
       "clamp_min_": lambda a, b: a.clamp_min_(b),
       "copy_": lambda a, b: a.copy_(b),
       "iadd": lambda a, b: a.__iadd__(b),
       "imul": lambda a, b: a.__imul__(b),
       "itruediv": lambda a, b: a.__itruediv__(b),
       "bitand_": lambda a, b: a.bitwise_and_(b),
       "lerp_": lambda a, b: a.lerp_(b, 0.5),
       "addcmul_": lambda a, b: a.addcmul_(b, b),
       "masked_fill_":
           lambda a, b: a.masked_fill_(a > 1 if a.dtype != a.new_tensor(True).dtype else a, 2.5),
       "index_add_": lambda a, b: a.index_add_(0, a.new_tensor([0, 1]).long(), b[:2]),
       "scatter_add_": lambda a, b: a.scatter_add_(0, a.new_tensor([0, 1, 0]).long(), b),
       "fill_": lambda a, b: a.fill_(2.5), "zero_": lambda a, b: a.zero_(),
       "atan2_": lambda a, b: a.atan2_(b),
       "hypot_": lambda a, b: a.hypot_(b),
       "copysign_": lambda a, b: a.copysign_(b),
       "xlogy_": lambda a, b: a.xlogy_(b),
       "exp_": lambda a, b: a.exp_(),
       "sqrt_": lambda a, b: a.sqrt_(),
       "neg_": lambda a, b: a.neg_(),
       "abs_": lambda a, b: a.abs_()}
# Left out on purpose (bool self only): hypot_, clamp_min_ and addcmul_ on bool tensors, where
# PyTorch's errors come from kernels disttorch does not have (it computes and casts).
_SKIP = {("hypot_", "bool"), ("clamp_min_", "bool"), ("addcmul_", "bool")}
_TENSOR_ONLY = {"index_add_", "scatter_add_", "addcmul_", "lerp_"}


def _outcome(lib, name, da, db):
    a = dtype_tensor(lib, da, [1, 2, 3])
    b = dtype_tensor(lib, db, [3, 1, 2]) if isinstance(db, str) else db
    try:
        returned = OPS[name](a, b)
    except SWEEP_ERRORS as exc:
        return type(exc).__name__
    return summary(lib, a, returned is a)


@requires_torch
@requires_bf16
@pytest.mark.parametrize("name", sorted(OPS))
def test_inplace_ops_match_torch(name):
    pairs = list(itertools.product(DTYPES, DTYPES)) + [(d, s) for d in DTYPES
                                                       for s in (2, 2.5, True)]
    assert_same_outcomes(
        (f"{name}({da}, {db!r})", lambda lib, da=da, db=db: _outcome(lib, name, da, db))
        for da, db in pairs
        if (name, da) not in _SKIP and not (name in _TENSOR_ONLY and not isinstance(db, str)))
