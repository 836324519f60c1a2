"""Binary arithmetic, broadcasting, PyTorch's type promotion, comparisons and in-place forms."""
import itertools
import operator

import numpy as np
import pytest

import disttorch
from .harness import OpInfo, S, op_tests, randn, positive, requires_torch, torch


def _pairs(rng, gen_b=randn):
    return [S(randn(rng, 3, 4), gen_b(rng, 3, 4)), S(randn(rng, 3, 4), gen_b(rng, 4)),
            S(randn(rng, 2, 1, 3), gen_b(rng, 4, 1)), S(randn(rng, 5), gen_b(rng))]


def _binary(name, gen_b=randn, **kw):
    return OpInfo(name, lambda lib, a, b, _n=name: getattr(lib, _n)(a, b),
                  lambda rng: _pairs(rng, gen_b), **kw)


def _separated(rng, *shape):
    # maximum/minimum: operands far apart except where they tie exactly
    return np.asarray(rng.standard_normal(shape) + 3.0)


OPS = [
    _binary("add"), _binary("sub"), _binary("mul"), _binary("div", positive),
    _binary("atan2", positive), _binary("maximum", _separated), _binary("minimum", _separated),
    _binary("remainder", lambda rng, *s: np.asarray(rng.uniform(1.5, 2.5, s))),
    _binary("fmod", lambda rng, *s: np.asarray(rng.uniform(1.5, 2.5, s))),
    OpInfo("pow", lambda lib, a, b: lib.pow(a, b),
           lambda rng: [S(positive(rng, 3, 4), randn(rng, 4)), S(positive(rng, 3), randn(rng))]),
    OpInfo("pow_scalar", lambda lib, a: a ** 3, lambda rng: [S(randn(rng, 3, 4))]),
    OpInfo("pow_fractional", lambda lib, a: a ** 0.5, lambda rng: [S(positive(rng, 3, 4))]),
    OpInfo("rpow", lambda lib, a: 2.0 ** a, lambda rng: [S(randn(rng, 3, 4))]),
    OpInfo("add_alpha", lambda lib, a, b: lib.add(a, b, alpha=-2.5), lambda rng: _pairs(rng)),
    OpInfo("sub_alpha", lambda lib, a, b: lib.sub(a, b, alpha=3), lambda rng: _pairs(rng)),
    OpInfo("rsub_scalar", lambda lib, a: 1.5 - a, lambda rng: [S(randn(rng, 3))]),
    OpInfo("rdiv_scalar", lambda lib, a: 2 / a, lambda rng: [S(positive(rng, 3))]),
    OpInfo("div_floor", lambda lib, a, b: lib.div(a, b, rounding_mode="floor"),
           lambda rng: [S(randn(rng, 3, 4) * 5, positive(rng, 4))], gradcheck=False),
    OpInfo("div_trunc", lambda lib, a, b: lib.div(a, b, rounding_mode="trunc"),
           lambda rng: [S(randn(rng, 3, 4) * 5, positive(rng, 4))], gradcheck=False),
    OpInfo("floor_divide", lambda lib, a, b: a // b,
           lambda rng: [S(randn(rng, 6) * 5, positive(rng, 6))], grad=False),
    OpInfo("operators_mixed", lambda lib, a, b: (a + 1) * (2 - b) / (b * b + 1) - a % 1.5,
           lambda rng: _pairs(rng)),
    OpInfo("maximum_ties", lambda lib, a, b: lib.maximum(a, b),
           lambda rng: [S(np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 3.0]))], gradcheck=False),
    _binary("fmax", _separated), _binary("fmin", _separated),
    # NaN on either side and ties: the gradient goes to whichever fmax/fmin keeps, ties to input
    OpInfo("fmax_nan_ties", lambda lib, a, b: lib.fmax(a, b),
           lambda rng: [S(np.array([1.0, np.nan, 3.0, 2.0]), np.array([1.0, 5.0, np.nan, 4.0]))],
           gradcheck=False),
    OpInfo("fmin_nan_ties", lambda lib, a, b: lib.fmin(a, b),
           lambda rng: [S(np.array([1.0, np.nan, 3.0, 2.0]), np.array([1.0, 5.0, np.nan, 4.0]))],
           gradcheck=False),
    OpInfo("zero_dim_operand", lambda lib, a, b: a * b, lambda rng: [S(randn(rng, 3), randn(rng))]),
]

test_matches_torch, test_finite_differences = op_tests(OPS)

_DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64"]


def _make(lib, dtype, ndim):
    data = np.array([1, 0, 1], dtype=np.dtype(dtype)) if ndim else np.array(1, dtype=np.dtype(dtype))
    return lib.from_numpy(data)


@requires_torch
@pytest.mark.parametrize("da,db", list(itertools.product(_DTYPES, repeat=2)))
@pytest.mark.parametrize("ndims", [(1, 1), (1, 0), (0, 1)])
def test_tensor_tensor_promotion(da, db, ndims):
    for op in (operator.add, operator.mul):
        if da == db == "bool" and op is operator.add:
            continue
        expected = op(_make(torch, da, ndims[0]), _make(torch, db, ndims[1])).dtype
        actual = op(_make(disttorch, da, ndims[0]), _make(disttorch, db, ndims[1])).dtype
        assert str(actual).split(".")[-1] == str(expected).split(".")[-1], (da, db, ndims)


@requires_torch
@pytest.mark.parametrize("dtype", _DTYPES)
@pytest.mark.parametrize("scalar", [2, 2.5, True])
@pytest.mark.parametrize("op", [operator.add, operator.mul, operator.truediv, operator.sub])
def test_tensor_scalar_promotion(dtype, scalar, op):
    if dtype == "bool" and op is operator.sub:
        return
    t = _make(torch, dtype, 1)
    d = _make(disttorch, dtype, 1)
    try:
        expected = op(t, scalar)
    except RuntimeError:
        with pytest.raises(RuntimeError):
            op(d, scalar)
        return
    actual = op(d, scalar)
    assert str(actual.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    np.testing.assert_allclose(actual.numpy().astype(float), expected.numpy().astype(float), rtol=1e-3)


_COMPLEX_SCALAR_OPS = {
    "add": lambda lib, t, s: t + s, "radd": lambda lib, t, s: s + t,
    "sub": lambda lib, t, s: t - s, "rsub": lambda lib, t, s: s - t,
    "mul": lambda lib, t, s: t * s, "div": lambda lib, t, s: t / s,
    "pow": lambda lib, t, s: t ** s, "rsub_fn": lambda lib, t, s: lib.rsub(t, s),
    "add_fn": lambda lib, t, s: lib.add(t, s),
    "where": lambda lib, t, s: lib.where(lib.tensor([True, False]), t, s),
    "where_other": lambda lib, t, s: lib.where(lib.tensor([True, False]), s, t),
}


def _lib_dtype(lib, name):
    return getattr(lib, name)


@requires_torch
@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16", "int64", "uint8", "bool",
                                   "complex64", "complex128"])
@pytest.mark.parametrize("op", sorted(_COMPLEX_SCALAR_OPS))
def test_complex_scalar_keeps_the_float_tensors_precision(dtype, op):
    # a Python complex meeting a float tensor: the complex type of the tensor's precision
    # (float64 + 1j is complex128, whatever the default dtype), so 1e-10 is not lost
    if dtype == "bfloat16" and disttorch.bfloat16 is None:
        pytest.skip("bfloat16 needs the optional ml_dtypes package (the bf16 extra)")
    scalar = 1e-10 + 1j
    fn = _COMPLEX_SCALAR_OPS[op]
    try:
        expected = fn(torch, torch.ones(2, dtype=_lib_dtype(torch, dtype)), scalar)
    except RuntimeError as exc:   # (bool subtraction)
        with pytest.raises(RuntimeError, match=str(exc)[:40]):
            fn(disttorch, disttorch.ones(2, dtype=_lib_dtype(disttorch, dtype)), scalar)
        return
    actual = fn(disttorch, disttorch.ones(2, dtype=_lib_dtype(disttorch, dtype)), scalar)
    assert str(actual.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    # (torch's complex pow goes through exp(log), off by some 1e-8 from the exact value)
    np.testing.assert_allclose(actual.numpy(), expected.numpy(), rtol=1e-6 if op == "pow" else
                               (1e-15 if "128" in str(expected.dtype) else 1e-6), atol=1e-7)


def test_complex_scalar_value_is_exact_in_complex128():
    out = disttorch.ones(1, dtype=disttorch.float64) + (1e-10 + 1j)
    assert out.dtype == disttorch.complex128
    assert out.item() == 1.0000000001 + 1j


def test_complex_scalar_with_half_tensor_is_complex64():
    # PyTorch gives complex32, which disttorch has not: the narrowest complex type it has
    for dtype in (disttorch.float16, disttorch.bfloat16):
        if dtype is None:
            continue
        assert (disttorch.ones(1, dtype=dtype) + 1j).dtype == disttorch.complex64
        assert (disttorch.ones(1, dtype=dtype) + disttorch.tensor(2j)).tolist() == [1 + 2j]


def test_complex_scalar_under_float64_default():
    disttorch.set_default_dtype(disttorch.float64)
    try:
        assert (disttorch.ones(1, dtype=disttorch.float32) + 1j).dtype == disttorch.complex64
        assert (disttorch.ones(1, dtype=disttorch.int64) + 1j).dtype == disttorch.complex128
    finally:
        disttorch.set_default_dtype(disttorch.float32)


_ZERO_DIM_DTYPES = ["float64", "float32", "float16", "bfloat16", "int64", "int32", "uint8",
                    "bool", "complex64", "complex128"]


@requires_torch
@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
@pytest.mark.parametrize("da", _ZERO_DIM_DTYPES)
def test_zero_dim_tensor_of_higher_category_promotes(da):
    # a 0-dim tensor takes part in promotion only through its category: bfloat16 +
    # tensor(2j) is complex64 (not bfloat16), int + tensor(2.) the default float...
    if disttorch.bfloat16 is None:
        pytest.skip("bfloat16 needs the optional ml_dtypes package (the bf16 extra)")
    failures = []
    for db in _ZERO_DIM_DTYPES:
        for fn in (lambda lib, a, b: a + b, lambda lib, a, b: b * a,
                   lambda lib, a, b: lib.where(lib.ones((), dtype=lib.bool), a, b),
                   lambda lib, a, b: lib.result_type(a, b)):
            def run(lib):
                a = lib.ones(2, dtype=_lib_dtype(lib, da))
                b = lib.ones((), dtype=_lib_dtype(lib, db)) * (2 if db != "bool" else 1)
                try:
                    out = fn(lib, a, b)
                except RuntimeError:
                    return "RuntimeError"
                # (torch's complex32 for float16 is complex64 here)
                return str(getattr(out, "dtype", out)).split(".")[-1].replace("complex32",
                                                                              "complex64")
            expected, actual = run(torch), run(disttorch)
            if expected != actual:
                failures.append((da, db, expected, actual))
    assert not failures, failures
    value = disttorch.ones(1, dtype=disttorch.bfloat16) + disttorch.tensor(2j)
    assert value.dtype == disttorch.complex64 and value.tolist() == [1 + 2j]


@requires_torch
def test_int_division_is_true_division():
    a, b = disttorch.tensor([7, -7]), disttorch.tensor([2, 2])
    assert (a / b).dtype == disttorch.float32
    np.testing.assert_array_equal((a / b).numpy(), [3.5, -3.5])
    np.testing.assert_array_equal((a // b).numpy(), torch.tensor([7, -7]).div(2, rounding_mode="floor"))
    np.testing.assert_array_equal(disttorch.div(a, b, rounding_mode="trunc").numpy(), [3, -3])
    np.testing.assert_array_equal((a % b).numpy(), (torch.tensor([7, -7]) % 2).numpy())


def test_broadcast_error_message():
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size of "
                                           r"tensor b \(4\) at non-singleton dimension 1"):
        disttorch.ones(2, 3) + disttorch.ones(4)
    with pytest.raises(RuntimeError, match="at non-singleton dimension 0"):
        disttorch.ones(5, 3) * disttorch.ones(4, 3)


def test_bool_subtraction_and_negation_raise_pytorchs_errors():
    b = disttorch.tensor([True, False])
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool tensors"):
        b - b
    with pytest.raises(RuntimeError, match="Negation, the `-` operator, on a bool tensor"):
        -b


def test_integer_negative_power_raises():
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        disttorch.tensor([2, 3]) ** -1


@requires_torch
@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparisons(op):
    a = np.array([1.0, 2.0, 3.0], np.float32)
    b = np.array([2.0, 2.0, 2.0], np.float32)
    ours = getattr(disttorch, op)(disttorch.from_numpy(a), disttorch.from_numpy(b))
    theirs = getattr(torch, op)(torch.from_numpy(a), torch.from_numpy(b))
    assert ours.dtype == disttorch.bool
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    scalar = getattr(disttorch.from_numpy(a), f"__{op}__")(2)
    np.testing.assert_array_equal(scalar.numpy(), getattr(torch.from_numpy(a), f"__{op}__")(2).numpy())


def test_logical_and_bitwise():
    a = disttorch.tensor([True, False, True])
    b = disttorch.tensor([True, True, False])
    assert (a & b).tolist() == [True, False, False]
    assert (a | b).tolist() == [True, True, True]
    assert (a ^ b).tolist() == [False, True, True]
    assert (~a).tolist() == [False, True, False]
    assert disttorch.logical_not(a).tolist() == [False, True, False]
    assert (disttorch.tensor([6]) & 3).tolist() == [2]
    with pytest.raises(RuntimeError, match="bitwise_and_cpu\" not implemented for 'Float32'|not implemented"):
        disttorch.ones(2) & disttorch.ones(2)


def test_scalar_on_the_left_and_numpy_scalars():
    x = disttorch.tensor([1.0, 2.0])
    assert (2 * x).tolist() == [2.0, 4.0]
    assert (np.float64(2.0) * x).dtype == disttorch.float32
    assert (x * np.float64(2.0)).dtype == disttorch.float32
    assert (1 - x).tolist() == [0.0, -1.0]


@pytest.mark.parametrize("name,args", [("add_", (1.5,)), ("sub_", (0.5,)), ("mul_", (3,)),
                                       ("div_", (2,)), ("pow_", (2,))])
def test_inplace_matches_out_of_place(name, args):
    x = disttorch.tensor([1.0, 2.0, 4.0])
    expected = getattr(x, name[:-1])(*args)
    y = getattr(x, name)(*args)
    assert y is x
    np.testing.assert_allclose(x.numpy(), expected.numpy())


_INPLACE_BINARY = ["add_", "sub_", "mul_", "div_", "true_divide_", "multiply_", "subtract_",
                   "pow_", "remainder_", "fmod_", "floor_divide_", "atan2_", "__iadd__",
                   "__isub__", "__imul__", "__itruediv__", "eq_", "lt_", "ge_", "logical_and_",
                   "hypot_", "copysign_", "nextafter_", "heaviside_", "lerp_", "clamp_",
                   "clamp_min_", "clamp_max_", "copy_", "masked_fill_"]


def _inplace_call(lib, name, self_shape, other_shape, requires_grad=False):
    x = lib.ones(self_shape)
    if requires_grad:
        x = x.clone().requires_grad_() * 1
    other = lib.ones(other_shape)
    if name == "lerp_":
        return x.lerp_(other, 0.5)
    if name == "clamp_":
        return x.clamp_(min=other)
    if name == "masked_fill_":
        return x.masked_fill_(other.bool(), 2.0)
    return getattr(x, name)(other)


@requires_torch
@pytest.mark.parametrize("name", _INPLACE_BINARY)
@pytest.mark.parametrize("requires_grad", [False, True])
def test_inplace_shape_mismatch_raises_torchs_error(name, requires_grad):
    # numpy's ValueErrors (from a ufunc writing into self) must not leak: PyTorch's
    # RuntimeErrors, "output with shape [2] doesn't match the broadcast shape [2, 2]" or "The
    # size of tensor a (2) must match the size of tensor b (3) ..."
    for self_shape, other_shape in [((2,), (2, 2)), ((2,), (3,)), ((2,), (1, 2)), ((2,), (2, 1)),
                                    ((2, 3), (4, 5)), ((), (2,)), ((3,), (2,))]:
        with pytest.raises(RuntimeError) as expected:
            _inplace_call(torch, name, self_shape, other_shape)
        with pytest.raises(RuntimeError) as actual:
            _inplace_call(disttorch, name, self_shape, other_shape, requires_grad)
        assert str(actual.value) == str(expected.value), (self_shape, other_shape)


@requires_torch
@pytest.mark.parametrize("name", ["eq", "lt", "logical_and", "logical_xor", "bitwise_and",
                                  "bitwise_left_shift", "gcd", "nextafter", "heaviside",
                                  "igamma", "isclose", "clamp", "clamp_min", "clamp_max"])
def test_elementwise_shape_mismatch_raises_torchs_error(name):
    for sa, sb in [((2,), (3,)), ((2, 3), (4, 5)), ((4, 1, 3), (2, 2))]:
        def call(lib):
            integer = name.startswith(("bitwise", "gcd"))
            a, b = (lib.ones(s, dtype=lib.int64 if integer else lib.float32) for s in (sa, sb))
            if name == "clamp":
                return lib.clamp(a, min=b)
            return getattr(lib, name)(a, b)
        with pytest.raises(RuntimeError) as expected:
            call(torch)
        with pytest.raises(RuntimeError) as actual:
            call(disttorch)
        assert str(actual.value) == str(expected.value), (name, sa, sb)


def test_clamp_inplace_with_tensor_bound_of_another_shape():
    with pytest.raises(RuntimeError, match=r"^The size of tensor a \(2\) must match the size "
                                           r"of tensor b \(3\) at non-singleton dimension 0$"):
        disttorch.ones(2).clamp_(min=disttorch.ones(3))
    with pytest.raises(RuntimeError, match=r"^output with shape \[2\] doesn't match the "
                                           r"broadcast shape \[2, 2\]$"):
        disttorch.ones(2).add_(disttorch.ones(2, 2))


@requires_torch
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16", "int64"])
@pytest.mark.parametrize("call", [
    lambda L, t: t.add_(1e-10 + 1j), lambda L, t: t.sub_(1j), lambda L, t: t.mul_(L.tensor(2j)),
    lambda L, t: t.div_(1j), lambda L, t: t.__itruediv__(L.tensor(2j)),
    lambda L, t: t.add_(L.ones(2, dtype=L.complex64)), lambda L, t: t.add_(L.tensor(2.5)),
])
def test_inplace_refuses_a_complex_result_as_torch(dtype, call):
    # the fast in-place path must not drop the imaginary part of a complex operand
    if dtype == "bfloat16" and disttorch.bfloat16 is None:
        pytest.skip("bfloat16 needs the optional ml_dtypes package (the bf16 extra)")
    outcomes = []
    for lib in (torch, disttorch):
        t = lib.ones(2, dtype=getattr(lib, dtype))
        try:
            call(lib, t)
            outcomes.append(("ok", t.tolist()))
        except RuntimeError as exc:
            outcomes.append(("error", str(exc)))
    assert outcomes[1] == outcomes[0]


def test_inplace_cannot_widen_dtype():
    x = disttorch.tensor([1, 2])
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long|Int64"):
        x.add_(1.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        x /= 2


def test_inplace_on_leaf_requiring_grad_raises():
    w = disttorch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an "
                                           "in-place operation."):
        w.add_(1)
    with disttorch.no_grad():
        w.add_(1)
    assert w.tolist() == [2.0, 2.0, 2.0]


def test_out_argument():
    out = disttorch.empty(3)
    res = disttorch.add(disttorch.ones(3), 2, out=out)
    assert res is out and out.tolist() == [3.0, 3.0, 3.0]


@requires_torch
def test_int_scalars_meet_integer_tensors_as_torch():
    # PyTorch converts a Python int to the integer tensor's dtype, wrapping (numpy 2 raises
    # OverflowError); a float result (true division...) takes the number as it is
    cases = ["u + -1", "u * -1", "-1 - u", "u + 300", "u < -1", "u == 259", "i8 + 200",
             "i8 > 200", "u // -1", "lib.remainder(u, -1)", "u / -1", "lib.xlogy(u, -1)",
             "lib.clamp(u, -1)", "lib.clamp(b, 0)", "b + 1", "u.clone().mul_(-1)",
             "u.clone().add_(300)"]
    for lib in (torch, disttorch):
        names = {"lib": lib, "u": lib.tensor([3, 200], dtype=lib.uint8),
                 "i8": lib.tensor([100, -100], dtype=lib.int8), "b": lib.tensor([True, False])}
        results = {case: eval(case, {}, names) for case in cases}
        if lib is torch:
            want = results
    for case in cases:
        got, ref = results[case], want[case]
        assert str(got.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1], case
        np.testing.assert_allclose(got.numpy().astype(np.float64),
                                   ref.numpy().astype(np.float64), rtol=1e-6, err_msg=case)


@requires_torch
def test_half_cumsum_accumulates_in_float32():
    x = np.random.default_rng(11).standard_normal((3, 40)).astype(np.float16)
    got = disttorch.cumsum(disttorch.from_numpy(x), -1)
    want = torch.cumsum(torch.from_numpy(x), -1)
    assert got.dtype == disttorch.float16
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@requires_torch
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_logcumsumexp_runs_in_float32(dtype):
    x = (np.random.default_rng(0).standard_normal((4, 2000)) + 3).astype(np.float32)
    got = disttorch.logcumsumexp(disttorch.from_numpy(x).to(getattr(disttorch, dtype)), -1)
    want = torch.logcumsumexp(torch.from_numpy(x).to(getattr(torch, dtype)), -1)
    assert got.dtype == getattr(disttorch, dtype)
    np.testing.assert_allclose(got.float().numpy(), want.float().numpy(), rtol=1e-2)


# (no pair whose quotient overflows: there PyTorch's vectorised CPU remainder gives NaN, where
# disttorch gives the exact fmod-based value)
_DIVMOD_VALUES = [0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 3.0, -3.0, np.inf, -np.inf, np.nan, 1e-300,
                  -1e-300, 7.0, 0.5, 65504.0, 0.1, -0.3, 5.0]


def _divmod_grid(dtype):
    pairs = list(itertools.product(_DIVMOD_VALUES, _DIVMOD_VALUES))
    with np.errstate(over="ignore", under="ignore"):
        return (np.array([a for a, _ in pairs]).astype(dtype),
                np.array([b for _, b in pairs]).astype(dtype))


def _assert_bitwise(got, want):
    same = ((got == want) & (np.signbit(got) == np.signbit(want))) | (np.isnan(got) & np.isnan(want))
    assert same.all(), [(i, got[i], want[i]) for i in np.nonzero(~same)[0][:5]]


@requires_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_floor_divide_and_remainder_signs_and_infinities_match_torch(dtype):
    """Every pair of signed zeros, infinities, NaN, tiny and ordinary values, to the bit: the
    remainder keeps the dividend's sign on a zero result, and the fmod-based floor division that
    CUDA arrays take (CuPy's own kernel differs at infinities) equals PyTorch's too."""
    from disttorch.ops.arithmetic import _fmod_floor_divide
    a, b = _divmod_grid(dtype)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    _assert_bitwise(disttorch.remainder(disttorch.from_numpy(a), disttorch.from_numpy(b)).numpy(),
                    torch.remainder(ta, tb).numpy())
    want = torch.floor_divide(ta, tb).numpy()
    _assert_bitwise(disttorch.floor_divide(disttorch.from_numpy(a),
                                           disttorch.from_numpy(b)).numpy(), want)
    _assert_bitwise(_fmod_floor_divide(np, a, b), want)
    _assert_bitwise(_fmod_floor_divide(np, a, dtype(-2.5)), torch.floor_divide(ta, -2.5).numpy())
