"""Sorting and searching ops against torch: values, indices, gradients of the values."""
import numpy as np
import pytest

import disttorch
from .harness import OpInfo, S, op_tests, randn, requires_torch, torch


def _op(name, fn, samples, **kw):
    return OpInfo(name, fn, lambda rng: samples(rng), **kw)


def _ties(rng, *shape):
    return rng.integers(0, 3, shape).astype(np.float64)


OPS = [
    _op("sort", lambda lib, x: lib.sort(x), lambda r: [S(randn(r, 3, 5)), S(randn(r, 4))]),
    _op("sort_desc_dim0", lambda lib, x: x.sort(0, descending=True),
        lambda r: [S(randn(r, 4, 3))]),
    _op("sort_stable_ties", lambda lib, x: lib.sort(x, dim=-1, stable=True),
        lambda r: [S(_ties(r, 3, 6))], gradcheck=False),
    _op("sort_stable_ties_desc", lambda lib, x: lib.sort(x, stable=True, descending=True),
        lambda r: [S(_ties(r, 3, 6))], gradcheck=False),
    _op("sort_scalar", lambda lib, x: lib.sort(x), lambda r: [S(randn(r))]),
    _op("argsort", lambda lib, x: lib.argsort(x, 1, descending=True),
        lambda r: [S(randn(r, 3, 5))], grad=False),
    _op("msort", lambda lib, x: lib.msort(x), lambda r: [S(randn(r, 4, 3))]),
    _op("topk", lambda lib, x: lib.topk(x, 2), lambda r: [S(randn(r, 3, 5)), S(randn(r, 6))]),
    _op("topk_smallest_dim0", lambda lib, x: x.topk(3, dim=0, largest=False),
        lambda r: [S(randn(r, 4, 3))]),
    _op("kthvalue", lambda lib, x: lib.kthvalue(x, 2), lambda r: [S(randn(r, 3, 5))]),
    _op("kthvalue_keepdim", lambda lib, x: x.kthvalue(3, 0, keepdim=True),
        lambda r: [S(randn(r, 4, 3))]),
    _op("unique", lambda lib, x: lib.unique(x, return_inverse=True, return_counts=True),
        lambda r: [S(_ties(r, 3, 4))], grad=False),
    _op("unique_plain", lambda lib, x: x.unique(), lambda r: [S(_ties(r, 7))], grad=False),
    _op("unique_dim", lambda lib, x: lib.unique(x, dim=0, return_inverse=True,
                                                return_counts=True),
        lambda r: [S(np.array([[1.0, 2.0], [0.0, 1.0], [1.0, 2.0]]))], grad=False),
    _op("unique_consecutive", lambda lib, x: lib.unique_consecutive(
        x, return_inverse=True, return_counts=True), lambda r: [S(_ties(r, 10)),
                                                                S(_ties(r, 2, 5))], grad=False),
    _op("unique_consecutive_dim", lambda lib, x: x.unique_consecutive(return_counts=True, dim=1),
        lambda r: [S(np.array([[1.0, 1.0, 2.0, 2.0], [0.0, 0.0, 3.0, 1.0]]))], grad=False),
    _op("searchsorted", lambda lib, s, v: lib.searchsorted(s, v),
        lambda r: [S(np.sort(randn(r, 6)), randn(r, 4)), S(np.sort(randn(r, 2, 5), -1),
                                                          randn(r, 2, 3))], grad=False),
    _op("searchsorted_right", lambda lib, s, v: lib.searchsorted(s, v, right=True),
        lambda r: [S(np.array([1.0, 2.0, 2.0, 3.0]), np.array([2.0, 0.0, 3.0, 5.0]))],
        grad=False),
    _op("searchsorted_side_int32", lambda lib, s, v: lib.searchsorted(s, v, side="right",
                                                                       out_int32=True),
        lambda r: [S(np.array([1.0, 2.0, 2.0, 3.0]), np.array([2.0]))], grad=False),
    _op("searchsorted_scalar", lambda lib, s: lib.searchsorted(s, 2.0),
        lambda r: [S(np.array([1.0, 2.0, 2.0, 3.0]))], grad=False),
    _op("bucketize", lambda lib, x, b: lib.bucketize(x, b), lambda r: [
        S(np.array([[1.0, 2.5], [3.0, 9.0]]), np.array([1.0, 3.0, 5.0]))], grad=False),
    _op("bucketize_right", lambda lib, x, b: lib.bucketize(x, b, right=True), lambda r: [
        S(np.array([1.0, 2.5, 3.0, 9.0]), np.array([1.0, 3.0, 5.0]))], grad=False),
    _op("repeat_interleave", lambda lib, x: lib.repeat_interleave(x, 2),
        lambda r: [S(randn(r, 2, 3))]),
    _op("repeat_interleave_dim", lambda lib, x, n: x.repeat_interleave(n, dim=1),
        lambda r: [S(randn(r, 2, 3), np.array([1, 0, 3]))]),
    _op("repeat_interleave_counts", lambda lib, n: lib.repeat_interleave(n),
        lambda r: [S(np.array([2, 0, 1]))], grad=False),
]

test_matches_torch, test_finite_differences = op_tests(OPS)


def test_sort_returns_named_tuple():
    result = disttorch.sort(disttorch.tensor([3.0, 1.0, 2.0]))
    assert result.values.tolist() == [1.0, 2.0, 3.0]
    assert result.indices.tolist() == [1, 2, 0]
    assert type(result).__name__ == "sort"
    values, indices = disttorch.topk(disttorch.tensor([3.0, 1.0, 2.0]), 1)
    assert values.tolist() == [3.0] and indices.dtype == disttorch.int64
    assert not disttorch.sort(disttorch.randn(3, requires_grad=True)).indices.requires_grad


def test_sort_puts_nan_last():
    data = np.array([1.0, np.nan, -1.0, 2.0])
    out = disttorch.sort(disttorch.tensor(data), descending=True)
    assert np.isnan(out.values.numpy()[0]) and out.indices.tolist()[0] == 1


@requires_torch
@pytest.mark.parametrize("call, exc, message", [
    (lambda lib: lib.topk(lib.zeros(3), 4), RuntimeError, "selected index k out of range"),
    (lambda lib: lib.kthvalue(lib.zeros(3), 4), RuntimeError,
     "kthvalue\\(\\): selected number k out of range for dimension 0"),
    (lambda lib: lib.repeat_interleave(lib.zeros(3), lib.tensor([1, 2])), RuntimeError,
     "repeats must have the same size as input along dim"),
])
def test_errors_match_torch(call, exc, message):
    with pytest.raises(exc, match=message):
        call(torch)
    with pytest.raises(exc, match=message):
        call(disttorch)


def test_out_arguments():
    values, indices = disttorch.empty(0), disttorch.empty(0, dtype=disttorch.int64)
    result = disttorch.sort(disttorch.tensor([[3.0, 1.0, 2.0]]), out=(values, indices))
    assert result.values is values and values.tolist() == [[1.0, 2.0, 3.0]]
    assert indices.tolist() == [[1, 2, 0]]
    out = disttorch.empty(0, dtype=disttorch.int64)
    disttorch.bucketize(disttorch.tensor([2.5, 0.0]), disttorch.tensor([1.0, 2.0, 3.0]), out=out)
    assert out.tolist() == [2, 0]


def _same_unique(expected, actual):
    """Outputs of ``unique``-like calls equal to the bit: NaN for NaN, -0.0 for -0.0."""
    expected = expected if isinstance(expected, tuple) else (expected,)
    actual = actual if isinstance(actual, tuple) else (actual,)
    assert len(actual) == len(expected)
    for e, a in zip(expected, actual):
        e = (e.double() if e.is_floating_point() else e).numpy()
        a = (a.double() if a.is_floating_point() else a).numpy()
        assert a.shape == e.shape
        np.testing.assert_array_equal(a, e)
        known = ~np.isnan(e) if e.dtype.kind == "f" else np.ones(e.shape, bool)
        np.testing.assert_array_equal(np.signbit(a)[known], np.signbit(e)[known])


_NAN = float("nan")


@requires_torch
@pytest.mark.parametrize("values", [
    [1.0, _NAN, _NAN], [_NAN, 1.0, _NAN, 2.0, 1.0], [0.5, 0.5, -0.0, 0.0], [0.0, -0.0, 0.5],
    [-0.0, 0.0, -0.0], [_NAN, _NAN, float("inf"), -float("inf"), 0.0], [], [3.0],
])
@pytest.mark.parametrize("kwargs", [{}, {"return_inverse": True, "return_counts": True},
                                    {"sorted": False, "return_inverse": True}, {"dim": 0},
                                    {"dim": 0, "return_inverse": True, "return_counts": True}])
def test_unique_nans_stay_distinct_and_signed_zero_kept(values, kwargs):
    # PyTorch's CPU unique: NaNs never equal (each its own element, last); of -0.0 and 0.0 the
    # one its sort puts first; with dim= its std::sort sees NaN as neither less nor greater
    for fn in ("unique", "unique_consecutive"):
        if fn == "unique_consecutive" and "sorted" in kwargs:
            continue
        _same_unique(getattr(torch, fn)(torch.tensor(values), **kwargs),
                     getattr(disttorch, fn)(disttorch.tensor(values), **kwargs))


def test_unique_nan_and_negative_zero_examples():
    values, counts = disttorch.unique(disttorch.tensor([1.0, _NAN, _NAN]), return_counts=True)
    assert np.isnan(values.numpy()[1:]).all() and values.tolist()[0] == 1.0
    assert counts.tolist() == [1, 1, 1]
    zero = disttorch.unique(disttorch.tensor([0.5, 0.5, -0.0, 0.0]))[0].item()
    assert zero == 0 and np.signbit(zero)


@requires_torch
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_unique_ties_follow_torchs_unstable_sort(dtype):
    # beyond 16 elements PyTorch's sort is not stable: which zero is kept, and which NaN each
    # input NaN becomes, follow its std::sort (replayed), for elements and for dim= slices
    if dtype == "bfloat16" and disttorch.bfloat16 is None:
        pytest.skip("bfloat16 needs the optional ml_dtypes package (the bf16 extra)")
    rng = np.random.default_rng(7)
    pools = [[-0.0, 0.0, 1.0, -1.0, _NAN, 2.0], [-0.0, 0.0], [_NAN, 1.0]]
    for n in (5, 16, 17, 40, 300):
        for pool in pools:
            flat = rng.choice(pool, size=n)
            rows = rng.choice(pool, size=(n, 2))
            for data, kwargs in ((flat, {}), (rows, {"dim": 0}), (rows, {"dim": 1})):
                def call(lib):
                    t = lib.tensor(data).to(getattr(lib, dtype))
                    return lib.unique(t, return_inverse=True, return_counts=True, **kwargs)
                _same_unique(call(torch), call(disttorch))


@requires_torch
@pytest.mark.parametrize("call", [
    lambda lib: lib.unique(lib.tensor([1 + 1j])),
    lambda lib: lib.unique(lib.tensor([[1 + 1j]], dtype=lib.complex128), dim=0),
    lambda lib: lib.unique_consecutive(lib.tensor([1 + 1j])),
    lambda lib: lib.unique(lib.tensor(3.0), dim=0),
    lambda lib: lib.unique_consecutive(lib.tensor(3.0), dim=0),
    lambda lib: lib.unique(lib.ones(2, 0, 3), dim=0),
    lambda lib: lib.unique_consecutive(lib.ones(2, 0, 3), dim=2),
    lambda lib: lib.unique(lib.ones(0, 0), dim=0),
])
def test_unique_errors_match_torch(call):
    with pytest.raises(Exception) as expected:
        call(torch)
    with pytest.raises(Exception) as actual:
        call(disttorch)
    assert type(actual.value) is type(expected.value)
    assert str(actual.value) == str(expected.value)


@requires_torch
@pytest.mark.parametrize("shape, dim", [((2, 0, 3), 1), ((0, 3), 0), ((3, 0), 1)])
def test_unique_dim_of_an_empty_dim(shape, dim):
    for fn in ("unique", "unique_consecutive"):
        _same_unique(getattr(torch, fn)(torch.ones(shape), dim=dim, return_inverse=True,
                                        return_counts=True),
                     getattr(disttorch, fn)(disttorch.ones(shape), dim=dim, return_inverse=True,
                                            return_counts=True))


def _search_cases():
    rng = np.random.default_rng(7)
    cases = []
    for i in range(60):
        n = int(rng.integers(0, 12))
        seq = rng.integers(-3, 4, (2, n) if i % 3 == 0 else n).astype(float)
        seq[rng.random(seq.shape) < 0.2] = np.nan
        if i % 2:
            seq = np.sort(seq, axis=-1)   # NaN last, as torch.sort leaves it
        vals = rng.integers(-4, 5, (2, 5) if i % 3 == 0 else 7).astype(float)
        vals[rng.random(vals.shape) < 0.2] = np.nan
        cases.append((seq, vals, bool(i % 4 < 2)))
    # mixed dtypes (promoted to int16) and a float number meeting an int sequence
    cases.append((np.array([-100, -5, 3, 100], np.int8), np.array([0, 4, 200, 255], np.uint8), False))
    cases.append((np.array([1, 2, 3]), 2.5, False))
    return cases


@requires_torch
@pytest.mark.parametrize("where", ["cpu", "cuda-sim"])
def test_searchsorted_follows_pytorchs_binary_search(where):
    """NaN in the sequence or the values, unsorted sequences, batched rows, promotion: the
    indices of PyTorch's own binary search (numpy's and CuPy's searchsorted order NaN first or
    last and probe in other orders)."""
    from disttorch.cuda import _simulated
    import contextlib
    with _simulated.simulate() if where == "cuda-sim" else contextlib.nullcontext():
        device = "cuda" if where == "cuda-sim" else "cpu"
        for seq, vals, right in _search_cases():
            want = torch.searchsorted(torch.from_numpy(seq), torch.from_numpy(vals) if isinstance(
                vals, np.ndarray) else vals, right=right)
            got = disttorch.searchsorted(
                disttorch.from_numpy(seq).to(device), disttorch.from_numpy(vals).to(device)
                if isinstance(vals, np.ndarray) else vals, right=right)
            assert got.device.type == device
            np.testing.assert_array_equal(got.cpu().numpy(), want.numpy(), err_msg=f"{seq} {vals}")
