"""Binary ops over every pair of dtypes (and Python scalars): the result dtype and values, or
the error, against torch's. Half-precision operands whose numpy ufunc has no loop of its own
(bfloat16 hypot, logaddexp, floor division...) are where these drift."""
import itertools

import pytest

from tests.ops.harness import (SWEEP_DTYPES as DTYPES, assert_same_outcomes, dtype_tensor, outcome,
                               requires_bf16, requires_torch)

SCALARS = [2, 2.5, True]
OPS = {
    "add": lambda lib, a, b: a + b, "sub": lambda lib, a, b: a - b,
    "mul": lambda lib, a, b: a * b, "div": lambda lib, a, b: a / b,
    "floordiv": lambda lib, a, b: a // b, "mod": lambda lib, a, b: a % b,
    "pow": lambda lib, a, b: a ** b, "eq": lambda lib, a, b: a == b,
    "lt": lambda lib, a, b: a < b, "and": lambda lib, a, b: a & b,
    "or": lambda lib, a, b: a | b, "xor": lambda lib, a, b: a ^ b,
    "lshift": lambda lib, a, b: a << b, "maximum": lambda lib, a, b: lib.maximum(a, b),
    "fmax": lambda lib, a, b: lib.fmax(a, b), "atan2": lambda lib, a, b: lib.atan2(a, b),
    "fmod": lambda lib, a, b: lib.fmod(a, b), "remainder": lambda lib, a, b: lib.remainder(a, b),
    "hypot": lambda lib, a, b: lib.hypot(a, b), "copysign": lambda lib, a, b: lib.copysign(a, b),
    "xlogy": lambda lib, a, b: lib.xlogy(a, b),
    "logaddexp": lambda lib, a, b: lib.logaddexp(a, b),
    "lerp": lambda lib, a, b: lib.lerp(a, b, 0.5),
    "gcd": lambda lib, a, b: lib.gcd(a, b), "nextafter": lambda lib, a, b: lib.nextafter(a, b),
    "ldexp": lambda lib, a, b: lib.ldexp(a, b), "heaviside": lambda lib, a, b: lib.heaviside(a, b),
    "float_power": lambda lib, a, b: lib.float_power(a, b),
    "where": lambda lib, a, b: lib.where(a > 0 if a.dtype != lib.bool else a, a, b),
}


def _outcome(lib, name, da, db):
    a = dtype_tensor(lib, da, [1, 2, 0])
    b = dtype_tensor(lib, db, [3, 1, 2]) if isinstance(db, str) else db
    return outcome(lib, lambda: OPS[name](lib, a, b))


@requires_torch
@requires_bf16
@pytest.mark.parametrize("name", sorted(OPS))
def test_binary_op_dtypes_match_torch(name):
    pairs = list(itertools.product(DTYPES, DTYPES)) + [(d, s) for d in DTYPES for s in SCALARS]
    assert_same_outcomes(
        (f"{name}({da}, {db!r})", lambda lib, da=da, db=db: _outcome(lib, name, da, db))
        for da, db in pairs)
