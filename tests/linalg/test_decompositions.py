"""``linalg.lu_factor``/``lu``/``lu_solve``/``lstsq``/``eig``/``cond``/``householder_product``/
``ldl_*`` and the top-level ``lu``, ``lu_solve``, ``lu_unpack``, ``orgqr`` against torch: values,
pivots, gradients, errors, complex inputs, batching, and the simulated CUDA device."""
import math
import warnings

import numpy as np
import pytest

import disttorch
from disttorch.cuda import _simulated
from disttorch.linalg._lstsq_eig import _eig_backward
from tests.ops.harness import (OpInfo, S, check_gradient, op_tests, randn, requires_torch,
                               torch)


def _well_conditioned(rng, *shape):
    a = randn(rng, *shape)
    n = min(shape[-2:])
    a[..., range(n), range(n)] += 3.0
    return a


def _symmetric(rng, *shape):
    a = randn(rng, *shape)
    return a + np.swapaxes(a, -1, -2)


def _lu_solve(left=True, adjoint=False):
    return lambda lib, a, b: lib.linalg.lu_solve(*lib.linalg.lu_factor(a), b, left=left,
                                                 adjoint=adjoint)


def _lstsq(driver):
    return lambda lib, a, b: lib.linalg.lstsq(a, b, driver=driver)


def _pair(rng, a_shape, b_shape):
    return S(randn(rng, *a_shape), randn(rng, *b_shape))


OPS = [
    OpInfo("linalg.lu_factor", lambda lib, a: lib.linalg.lu_factor(a),
           lambda rng: [S(randn(rng, 4, 4)), S(randn(rng, 2, 3, 3)), S(randn(rng, 5, 3)),
                        S(randn(rng, 3, 5))]),
    OpInfo("linalg.lu_factor_ex", lambda lib, a: lib.linalg.lu_factor_ex(a),
           lambda rng: [S(randn(rng, 2, 4, 4)), S(randn(rng, 4, 2))]),
    # (the harness's finite differences weigh only differentiable outputs: P is checked apart)
    OpInfo("linalg.lu", lambda lib, a: lib.linalg.lu(a)[1:],
           lambda rng: [S(randn(rng, 4, 4)), S(randn(rng, 2, 5, 3)), S(randn(rng, 2, 3, 5))]),
    OpInfo("linalg.lu_P", lambda lib, a: lib.linalg.lu(a).P,
           lambda rng: [S(randn(rng, 2, 5, 3)), S(randn(rng, 2, 3, 5))], grad=False),
    OpInfo("lu_unpack", lambda lib, a: lib.lu_unpack(*lib.linalg.lu_factor(a))[1:],
           lambda rng: [S(randn(rng, 4, 4)), S(randn(rng, 5, 3)), S(randn(rng, 2, 3, 4))]),
    OpInfo("lu_unpack_P", lambda lib, a: lib.lu_unpack(*lib.linalg.lu_factor(a)).P,
           lambda rng: [S(randn(rng, 2, 5, 3))], grad=False),
    OpInfo("lu_unpack_data_only", lambda lib, a: lib.lu_unpack(*lib.linalg.lu_factor(a),
                                                               unpack_pivots=False)[1:],
           lambda rng: [S(randn(rng, 3, 3))]),
    OpInfo("linalg.lu_solve", _lu_solve(),
           lambda rng: [S(_well_conditioned(rng, 3, 3), randn(rng, 3, 2)),
                        # batch dims broadcast between LU and B
                        S(_well_conditioned(rng, 2, 1, 3, 3), randn(rng, 4, 3, 2))]),
    OpInfo("linalg.lu_solve_adjoint", _lu_solve(adjoint=True),
           lambda rng: [S(_well_conditioned(rng, 2, 4, 4), randn(rng, 2, 4, 3))]),
    OpInfo("linalg.lu_solve_right", _lu_solve(left=False),
           lambda rng: [S(_well_conditioned(rng, 2, 3, 3), randn(rng, 2, 4, 3))]),
    OpInfo("linalg.lu_solve_right_adjoint", _lu_solve(left=False, adjoint=True),
           lambda rng: [S(_well_conditioned(rng, 3, 3), randn(rng, 1, 3))]),
    OpInfo("lu_solve_deprecated", lambda lib, b, a: lib.lu_solve(b, *lib.linalg.lu_factor(a)),
           lambda rng: [S(randn(rng, 3, 2), _well_conditioned(rng, 3, 3))]),
    OpInfo("linalg.lstsq_gels", _lstsq("gels"),
           lambda rng: [_pair(rng, (5, 3), (5, 2)), _pair(rng, (2, 3, 5), (2, 3, 2)),
                        _pair(rng, (2, 5, 3), (2, 5))]),
    OpInfo("linalg.lstsq_gelsy", lambda lib, a, b: lib.linalg.lstsq(a, b),
           lambda rng: [_pair(rng, (5, 3), (5, 2)), _pair(rng, (3, 5), (3, 2))]),
    OpInfo("linalg.lstsq_gelsd", _lstsq("gelsd"),
           lambda rng: [_pair(rng, (2, 1, 5, 3), (2, 3, 5, 2)), _pair(rng, (3, 4), (3, 1))]),
    OpInfo("linalg.lstsq_gelss", _lstsq("gelss"),
           lambda rng: [_pair(rng, (4, 3), (4, 2)), _pair(rng, (5, 3), (5,))]),
    OpInfo("linalg.cond", lambda lib, a: lib.linalg.cond(a),
           lambda rng: [S(_well_conditioned(rng, 2, 3, 3)), S(randn(rng, 3, 5))]),
    OpInfo("linalg.cond_-2", lambda lib, a: lib.linalg.cond(a, -2),
           lambda rng: [S(_well_conditioned(rng, 3, 3))]),
    # PyTorch 2.13's own backward of cond through inv fails ("modified by an inplace
    # operation"): these are compared by value here and by finite differences below
    OpInfo("linalg.cond_fro", lambda lib, a: lib.linalg.cond(a, "fro"),
           lambda rng: [S(_well_conditioned(rng, 2, 3, 3))], grad=False),
    OpInfo("linalg.cond_nuc", lambda lib, a: lib.linalg.cond(a, "nuc"),
           lambda rng: [S(_well_conditioned(rng, 3, 3))], grad=False),
    OpInfo("linalg.cond_1", lambda lib, a: lib.linalg.cond(a, 1),
           lambda rng: [S(_well_conditioned(rng, 3, 3))], grad=False),
    OpInfo("linalg.cond_-inf", lambda lib, a: lib.linalg.cond(a, -math.inf),
           lambda rng: [S(_well_conditioned(rng, 3, 3))], grad=False),
    OpInfo("linalg.householder_product", lambda lib, a, t: lib.linalg.householder_product(a, t),
           lambda rng: [S(randn(rng, 5, 3), randn(rng, 2)), S(randn(rng, 2, 4, 4),
                                                              randn(rng, 2, 4))]),
    OpInfo("orgqr", lambda lib, a, t: lib.orgqr(a, t),
           lambda rng: [S(randn(rng, 4, 3), randn(rng, 3))]),
    OpInfo("linalg.ldl_factor", lambda lib, a: lib.linalg.ldl_factor(a),
           lambda rng: [S(_symmetric(rng, 2, 5, 5)), S(_symmetric(rng, 4, 4) * 0.01
                                                       + np.array([[0, 1.0, 0, 0]] * 4))],
           grad=False),
    OpInfo("linalg.ldl_solve", lambda lib, a, b: lib.linalg.ldl_solve(*lib.linalg.ldl_factor(a),
                                                                      b),
           # (PyTorch 2.13 crashes when B's batch dims broadcast: tested below against numpy)
           lambda rng: [S(_symmetric(rng, 2, 4, 4), randn(rng, 2, 4, 2))], grad=False),
]

test_matches_torch, test_finite_differences = op_tests(OPS)


@pytest.mark.parametrize("p", ["fro", "nuc", 1, -math.inf])
def test_cond_through_the_inverse_finite_differences(p):
    op = OpInfo(f"linalg.cond_{p}", lambda lib, a: lib.linalg.cond(a, p), None)
    rng = np.random.default_rng(0)
    check_gradient(op, S(_well_conditioned(rng, 2, 3, 3)))


# ------------------------------------------------------------------ helpers
def _both(fn, *arrays):
    """``fn(lib, *tensors)`` for torch and disttorch on the same data."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = fn(torch, *[torch.from_numpy(a.copy()) for a in arrays])
        actual = fn(disttorch, *[disttorch.from_numpy(a.copy()) for a in arrays])
    return expected, actual


def _assert_same(expected, actual, rtol=1e-6, atol=1e-8):
    expected = expected if isinstance(expected, tuple) else (expected,)
    actual = actual if isinstance(actual, tuple) else (actual,)
    assert len(expected) == len(actual)
    for e, a in zip(expected, actual):
        assert tuple(a.shape) == tuple(e.shape)
        assert str(a.dtype).split(".")[-1] == str(e.dtype).split(".")[-1]
        np.testing.assert_allclose(a.detach().cpu().numpy(), e.detach().resolve_conj().numpy(),
                                   rtol=rtol,
                                   atol=atol)


def _same_error(fn, *arrays):
    """Both libraries raise the same exception type with the same message."""
    with pytest.raises(Exception) as t_err:
        fn(torch, *[torch.from_numpy(a.copy()) for a in arrays])
    with pytest.raises(Exception) as d_err:
        fn(disttorch, *[disttorch.from_numpy(a.copy()) for a in arrays])
    assert str(d_err.value) == str(t_err.value)
    assert isinstance(d_err.value, type(t_err.value)) or \
        type(t_err.value).__name__ == "_LinAlgError" and isinstance(d_err.value, RuntimeError)


def _complex(rng, *shape):
    return randn(rng, *shape) + 1j * randn(rng, *shape)


# ------------------------------------------------------------------ LU
@requires_torch
def test_lu_pivots_are_one_based_int32_like_lapack():
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 10.0]])
    expected, actual = _both(lambda lib, x: lib.linalg.lu_factor(x), a)
    assert actual.pivots.dtype == disttorch.int32
    assert actual.pivots.tolist() == expected.pivots.tolist() == [3, 3, 3]
    # ties: the first of equal magnitudes is the pivot, as LAPACK's i?amax
    ties = np.array([[1.0, 1.0], [-1.0, 2.0]])
    expected, actual = _both(lambda lib, x: lib.linalg.lu_factor(x), ties)
    assert actual.pivots.tolist() == expected.pivots.tolist()


@requires_torch
def test_lu_factor_ex_info_codes_and_singular_errors():
    singular = np.array([[[1.0, 2.0], [2.0, 4.0]], [[1.0, 0.0], [0.0, 1.0]],
                         [[0.0, 0.0], [0.0, 0.0]]])
    expected, actual = _both(lambda lib, x: lib.linalg.lu_factor_ex(x), singular)
    assert actual.info.dtype == disttorch.int32
    assert actual.info.tolist() == expected.info.tolist() == [2, 0, 1]
    _assert_same(tuple(expected), tuple(actual))
    rect = np.zeros((2, 3, 2))
    expected, actual = _both(lambda lib, x: lib.linalg.lu_factor_ex(x), rect)
    _assert_same(tuple(expected), tuple(actual))
    for array in (singular, singular[0], np.ones((2, 3))):
        _same_error(lambda lib, x: lib.linalg.lu_factor(x), array)
        _same_error(lambda lib, x: lib.linalg.lu_factor_ex(x, check_errors=True), array)
    # linalg.lu and the deprecated torch.lu factor singular matrices without raising
    _assert_same(*_both(lambda lib, x: tuple(lib.linalg.lu(x)), singular))
    _assert_same(*_both(lambda lib, x: tuple(lib.lu(x, get_infos=True)), singular))


@requires_torch
@pytest.mark.parametrize("case", [
    ("lu_factor 1-D", lambda lib, x: lib.linalg.lu_factor(x), [np.ones(3)]),
    ("lu 1-D", lambda lib, x: lib.linalg.lu(x), [np.ones(3)]),
    ("lu_factor int", lambda lib, x: lib.linalg.lu_factor(x), [np.ones((2, 2), np.int64)]),
    ("lu_factor half", lambda lib, x: lib.linalg.lu_factor(x), [np.ones((2, 2), np.float16)]),
    ("lu_factor bool", lambda lib, x: lib.linalg.lu_factor(x), [np.ones((2, 2), bool)]),
    ("lu int", lambda lib, x: lib.linalg.lu(x), [np.ones((2, 2), np.int32)]),
    ("no pivot", lambda lib, x: lib.linalg.lu_factor(x, pivot=False), [np.eye(2)]),
    ("lu no pivot", lambda lib, x: lib.linalg.lu(x, pivot=False), [np.eye(2)]),
    ("unpack 1-D", lambda lib, x: lib.lu_unpack(x, lib.ones(1, dtype=lib.int32)), [np.ones(3)]),
    ("unpack int64 pivots", lambda lib, x: lib.lu_unpack(x, lib.ones(2, dtype=lib.int64)),
     [np.eye(2)]),
    ("unpack large pivot", lambda lib, x: lib.lu_unpack(x, lib.tensor([3, 2], dtype=lib.int32)),
     [np.eye(2)]),
    ("unpack zero pivot", lambda lib, x: lib.lu_unpack(x, lib.tensor([0, 2], dtype=lib.int32)),
     [np.eye(2)]),
])
def test_lu_errors_match_torch(case):
    _, fn, arrays = case
    _same_error(fn, *arrays)


@requires_torch
@pytest.mark.parametrize("case", [
    ("B rows", dict(), (3, 3), (2, 3)),
    ("B 1-D", dict(), (3, 3), (3,)),
    ("right", dict(left=False), (3, 3), (2, 2)),
    ("wide LU", dict(), (2, 3), (2, 2)),
    ("1-D LU", dict(), (3,), (3, 2)),
])
def test_lu_solve_shape_errors_match_torch(case):
    _, kwargs, a_shape, b_shape = case
    rng = np.random.default_rng(0)
    a, b = randn(rng, *a_shape), randn(rng, *b_shape)

    def call(lib, a, b):
        pivots = lib.arange(1, min(a.shape[-2:]) + 1, dtype=lib.int32) if a.dim() > 1 else \
            lib.ones(1, dtype=lib.int32)
        return lib.linalg.lu_solve(a, pivots, b, **kwargs)
    _same_error(call, a, b)


@requires_torch
def test_lu_solve_dtype_and_pivot_errors_match_torch():
    rng = np.random.default_rng(0)
    a, b = _well_conditioned(rng, 2, 3, 3), randn(rng, 2, 3, 2)
    factor = lambda lib, a: lib.linalg.lu_factor(a)  # noqa: E731
    _same_error(lambda lib, a, b: lib.linalg.lu_solve(*factor(lib, a), b.float()), a, b)
    _same_error(lambda lib, a, b: lib.linalg.lu_solve(factor(lib, a)[0],
                                                      factor(lib, a)[1].long(), b), a, b)
    _same_error(lambda lib, a, b: lib.linalg.lu_solve(factor(lib, a)[0],
                                                      factor(lib, a)[1][..., :2], b), a, b)
    _same_error(lambda lib, a, b: lib.linalg.lu_solve(factor(lib, a)[0],
                                                      factor(lib, a)[1][0], b), a, b)
    _same_error(lambda lib, a, b: lib.linalg.lu_solve(factor(lib, a)[0],
                                                      factor(lib, a)[1] + 5, b), a, b)
    _same_error(lambda lib, a, b: lib.linalg.lu_solve(factor(lib, a)[0],
                                                      factor(lib, a)[1] * 0, b), a, b)
    _same_error(lambda lib, a, b: lib.linalg.lu_solve(a.long(), factor(lib, a)[1], b.long()),
                a, b)


@requires_torch
def test_lu_complex_matches_torch():
    rng = np.random.default_rng(3)
    a, b = _complex(rng, 2, 4, 4), _complex(rng, 2, 4, 3)
    for fn in (lambda lib, a: tuple(lib.linalg.lu_factor_ex(a)),
               lambda lib, a: tuple(lib.linalg.lu(a)),
               lambda lib, a: tuple(lib.linalg.lu(a[..., :3])),
               lambda lib, a: tuple(lib.lu_unpack(*lib.linalg.lu_factor(a)))):
        _assert_same(*_both(fn, a))
        _assert_same(*_both(fn, a.astype(np.complex64)), rtol=1e-4, atol=1e-5)
    for left in (True, False):
        for adjoint in (True, False):
            rhs = b if left else np.swapaxes(b, -1, -2)
            _assert_same(*_both(lambda lib, a, b: lib.linalg.lu_solve(
                *lib.linalg.lu_factor(a), b, left=left, adjoint=adjoint), a, rhs))


@requires_torch
def test_lu_solve_of_singular_factor_gives_inf_like_torch():
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    expected, actual = _both(lambda lib, a: lib.linalg.lu_solve(
        *lib.linalg.lu_factor_ex(a)[:2], lib.ones(2, 1, dtype=lib.float64)), a)
    np.testing.assert_array_equal(np.isfinite(actual.numpy()), np.isfinite(expected.numpy()))


@requires_torch
def test_lu_empty_and_deprecated_forms_match_torch():
    for shape in [(0, 3), (2, 0, 0), (3, 0)]:
        _assert_same(*_both(lambda lib, a: tuple(lib.linalg.lu_factor_ex(a)), np.zeros(shape)))
        _assert_same(*_both(lambda lib, a: tuple(lib.linalg.lu(a)), np.zeros(shape)))
    rng = np.random.default_rng(0)
    a = randn(rng, 3, 3)
    expected, actual = _both(lambda lib, a: a.lu(), a)
    assert type(actual) is tuple and len(actual) == 2
    _assert_same(expected, actual)
    expected, actual = _both(lambda lib, a: lib.lu_unpack(*lib.linalg.lu_factor(a),
                                                          unpack_data=False), a)
    _assert_same(tuple(expected), tuple(actual))
    _assert_same(*_both(lambda lib, a: a.lu_solve(*lib.linalg.lu_factor(a)), a))


def test_lu_double_backward_raises():
    a = disttorch.randn(3, 3, dtype=disttorch.float64, requires_grad=True)
    LU, _ = disttorch.linalg.lu_factor(a)
    with pytest.raises(RuntimeError, match="double backward"):
        disttorch.autograd.grad(LU.sum(), a, create_graph=True)


# ------------------------------------------------------------------ lstsq
@requires_torch
@pytest.mark.parametrize("driver", ["gels", "gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("shapes", [((5, 3), (5, 2)), ((3, 5), (3, 2)), ((2, 4, 3), (2, 4)),
                                    ((2, 1, 5, 3), (2, 3, 5, 2)), ((1, 4, 3), (3, 4, 2)),
                                    ((3, 0), (3, 2)), ((0, 3), (0, 2))])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_lstsq_fields_per_driver_match_torch(driver, shapes, dtype):
    rng = np.random.default_rng(0)
    a, b = randn(rng, *shapes[0]), randn(rng, *shapes[1])
    if dtype == np.complex128:
        a, b = a + 1j * randn(rng, *shapes[0]), b + 1j * randn(rng, *shapes[1])
    expected, actual = _both(lambda lib, a, b: tuple(lib.linalg.lstsq(a, b, driver=driver)), a, b)
    _assert_same(expected, actual, rtol=1e-6, atol=1e-10)


@requires_torch
@pytest.mark.parametrize("driver", ["gelsy", "gelsd", "gelss"])
def test_lstsq_rank_deficient_matches_torch(driver):
    rng = np.random.default_rng(0)
    a = randn(rng, 2, 5, 3)
    a[0, :, 2] = a[0, :, 1]  # the first matrix has rank 2: residuals are left empty
    b = randn(rng, 2, 5, 2)
    expected, actual = _both(lambda lib, a, b: lib.linalg.lstsq(a, b, driver=driver), a, b)
    if driver == "gelsy":
        # LAPACK's gelsy takes the rank of an exactly singular matrix from a pivoted-QR
        # condition estimate whose rounding differs between MKL code paths (the CI machine's
        # torch gave another, rank-1-like, solution here); the minimum-norm solution at rank 2
        # is gelsd's
        expected = _both(lambda lib, a, b: lib.linalg.lstsq(a, b, driver="gelsd"), a, b)[0]
        expected = (expected.solution, expected.residuals, expected.rank, torch.zeros(0).double())
    assert actual.rank.tolist() == [2, 3]
    assert tuple(actual.residuals.shape) == (0,)
    _assert_same(tuple(expected), tuple(actual), rtol=1e-6, atol=1e-10)
    if driver == "gelsy":
        return  # LAPACK's gelsy decides the rank by a pivoted-QR estimate, ours by the SVD
    # rcond: singular values at most rcond * largest count as zero
    expected, actual = _both(lambda lib, a, b: tuple(lib.linalg.lstsq(a, b, rcond=0.5,
                                                                      driver=driver)), a, b)
    _assert_same(expected, actual, rtol=1e-6, atol=1e-10)


@requires_torch
@pytest.mark.parametrize("case", [
    ("1-D A", {}, np.ones(3), np.ones(3)),
    ("batch", {}, np.ones((2, 1, 5, 3)), np.ones((3, 5, 2))),
    ("B dims", {}, np.ones((4, 3)), np.ones((3, 4, 2))),
    ("B rows", {}, np.ones((4, 3)), np.ones((3, 4))),
    ("B vector rows", {}, np.ones((4, 3)), np.ones(3)),
    ("dtype", {}, np.ones((4, 3), np.float32), np.ones((4, 2))),
    ("int", {}, np.ones((4, 3), np.int64), np.ones((4, 2), np.int64)),
    ("half", {}, np.ones((4, 3), np.float16), np.ones((4, 2), np.float16)),
    ("driver", {"driver": "foo"}, np.ones((4, 3)), np.ones((4, 2))),
])
def test_lstsq_errors_match_torch(case):
    _, kwargs, a, b = case
    _same_error(lambda lib, a, b: lib.linalg.lstsq(a, b, **kwargs), a, b)


@requires_torch
def test_lstsq_residual_gradient_matches_torch():
    rng = np.random.default_rng(0)
    a, b = randn(rng, 2, 5, 3), randn(rng, 2, 5, 2)
    grads = []
    for lib in (torch, disttorch):
        A, B = lib.from_numpy(a.copy()), lib.from_numpy(b.copy())
        A.requires_grad_(True)
        B.requires_grad_(True)
        result = lib.linalg.lstsq(A, B, driver="gelsd")
        (result.residuals.sum() + (result.solution ** 2).sum()).backward()
        grads.append((A.grad.numpy(), B.grad.numpy()))
    for mine, theirs in zip(grads[1], grads[0]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-7, atol=1e-9)


# ------------------------------------------------------------------ eig
def _assert_same_eigenvectors(actual, expected, atol):
    """Equal up to a sign per column: LAPACK builds differ in the sign they give a complex
    pair's eigenvectors (the rotation that makes the largest component real), and numpy's
    LAPACK and PyTorch's MKL are two such builds."""
    a, e = actual.numpy(), expected.resolve_conj().numpy()
    sign = np.sign(np.real(np.sum(a.conj() * e, axis=-2, keepdims=True)))
    np.testing.assert_allclose(a * sign, e, atol=atol)


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
def test_eig_matches_torch(dtype):
    rng = np.random.default_rng(0)
    a = randn(rng, 2, 5, 5)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * randn(rng, 2, 5, 5)
    a = a.astype(dtype)
    tol = dict(rtol=1e-4, atol=1e-4) if np.dtype(dtype).itemsize <= 8 else {}
    expected, actual = _both(lambda lib, a: lib.linalg.eig(a), a)
    assert type(actual).__name__ == "linalg_eig"
    _assert_same(expected.eigenvalues, actual.eigenvalues, **tol)
    assert actual.eigenvectors.dtype == actual.eigenvalues.dtype
    _assert_same_eigenvectors(actual.eigenvectors, expected.eigenvectors, 1e-4 if tol else 1e-10)
    _assert_same(*_both(lambda lib, a: lib.linalg.eigvals(a), a), **tol)
    # real eigenvalues of a real matrix come back complex too
    _assert_same(*_both(lambda lib, a: tuple(lib.linalg.eig(a)), np.diag([1.0, 2.0, 3.0])
                        .astype(dtype)))


@requires_torch
@pytest.mark.parametrize("case", [
    ("wide", lambda lib, a: lib.linalg.eig(a), np.ones((2, 3))),
    ("wide eigvals", lambda lib, a: lib.linalg.eigvals(a), np.ones((2, 3))),
    ("1-D", lambda lib, a: lib.linalg.eig(a), np.ones(3)),
    ("int", lambda lib, a: lib.linalg.eig(a), np.ones((3, 3), np.int64)),
    ("half", lambda lib, a: lib.linalg.eig(a), np.ones((3, 3), np.float16)),
    ("nan", lambda lib, a: lib.linalg.eig(a), np.array([[1.0, np.nan], [0.0, 1.0]])),
])
def test_eig_errors_match_torch(case):
    _same_error(case[1], case[2])


def _torch_eig_grad(a, loss):
    A = torch.from_numpy(a.copy()).requires_grad_(True)
    w, V = torch.linalg.eig(A)
    return torch.autograd.grad(loss(torch, w, V), A)[0].numpy()


@requires_torch
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_eig_backward_matches_torch(dtype):
    # disttorch has no complex autograd, so the backward is checked directly: the gradients
    # reaching w and V from a phase-invariant loss, then eig's backward, against torch
    rng = np.random.default_rng(1)
    a = randn(rng, 2, 4, 4)
    if dtype == np.complex128:
        a = a + 1j * randn(rng, 2, 4, 4)
    expected = _torch_eig_grad(a, lambda lib, w, V: (w.real ** 3).sum() + (V.abs() ** 2 * 3).sum()
                               + (w.imag * 2).sum() + (V[..., 0, :].abs()).sum())
    w, V = np.linalg.eig(a)
    w, V = w.astype(np.complex128), V.astype(np.complex128)
    # d/dconj of the loss, times 2: PyTorch's convention for the gradient of a real loss
    gw = 3 * w.real ** 2 + 2j
    absV = np.abs(V)
    row0 = np.zeros_like(V)
    row0[..., 0, :] = V[..., 0, :] / absV[..., 0, :]
    gV = 6 * V + row0
    got = _eig_backward(w, V, gw, gV)
    np.testing.assert_allclose(got.real if dtype == np.float64 else got, expected, rtol=1e-8,
                               atol=1e-10)


@requires_torch
def test_eig_backward_refuses_phase_dependent_losses_like_torch():
    rng = np.random.default_rng(1)
    a = randn(rng, 3, 3) + 1j * randn(rng, 3, 3)
    with pytest.raises(RuntimeError) as t_err:
        _torch_eig_grad(a, lambda lib, w, V: V.real.sum())
    w, V = np.linalg.eig(a)
    with pytest.raises(RuntimeError) as d_err:
        _eig_backward(w, V, None, np.ones_like(V))
    assert str(d_err.value) == str(t_err.value)


def test_eig_of_an_input_requiring_grad_raises_the_complex_autograd_error():
    a = disttorch.randn(3, 3, dtype=disttorch.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="complex"):
        disttorch.linalg.eig(a)
    with disttorch.no_grad():
        assert disttorch.linalg.eigvals(a).dtype == disttorch.complex128


# ------------------------------------------------------------------ cond
@requires_torch
@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", math.inf, -math.inf, 1, -1])
def test_cond_singular_complex_and_empty_match_torch(p):
    rng = np.random.default_rng(0)
    singular = np.array([[[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]], [[2.0, 1.0],
                                                                             [1.0, 3.0]]])
    expected, actual = _both(lambda lib, a: lib.linalg.cond(a, p), singular)
    e, a_ = expected.numpy(), actual.numpy()
    np.testing.assert_array_equal(np.isinf(a_), np.isinf(e))
    np.testing.assert_array_equal(np.isnan(a_), np.isnan(e))
    # (for an exactly singular matrix the ratio is rounding noise: over a tiny singular
    # value, or for p=-2 a tiny singular value over the largest)
    finite = np.isfinite(e) & (np.abs(e) < 1e10)
    np.testing.assert_allclose(a_[finite], e[finite], rtol=1e-10, atol=1e-14)
    _assert_same(*_both(lambda lib, a: lib.linalg.cond(a, p), _complex(rng, 2, 3, 3)
                        .astype(np.complex64)), rtol=1e-4)
    _assert_same(*_both(lambda lib, a: lib.linalg.cond(a, p), np.zeros((2, 0, 0))))


@requires_torch
@pytest.mark.parametrize("case", [
    ("wide 1", 1, np.ones((2, 3))), ("wide fro", "fro", np.ones((2, 3))),
    ("wide -inf", -math.inf, np.ones((2, 3))), ("wide nuc", "nuc", np.ones((2, 3))),
    ("bad ord", 3, np.ones((3, 3))), ("bad str", "foo", np.ones((3, 3))),
    ("int", None, np.ones((3, 3), np.int64)), ("int 1", 1, np.ones((3, 3), np.int64)),
    ("1-D", None, np.ones(3)), ("half", None, np.ones((2, 2), np.float16)),
])
def test_cond_errors_match_torch(case):
    _, p, a = case
    _same_error(lambda lib, a: lib.linalg.cond(a, p), a)


# ------------------------------------------------------------------ householder_product
@requires_torch
def test_householder_product_complex_and_edge_cases_match_torch():
    rng = np.random.default_rng(0)
    a, tau = _complex(rng, 2, 5, 3), _complex(rng, 2, 3)
    _assert_same(*_both(lambda lib, a, t: lib.linalg.householder_product(a, t), a, tau))
    # no reflectors: the first n columns of the identity
    _assert_same(*_both(lambda lib, a, t: lib.linalg.householder_product(a, t), randn(rng, 4, 3),
                        np.zeros(0)))
    # with geqrf's reflectors (numpy's 'raw' QR) it rebuilds Q
    m = randn(rng, 5, 3)
    h, t = np.linalg.qr(m, mode="raw")
    q = disttorch.linalg.householder_product(disttorch.from_numpy(h.T.copy()),
                                             disttorch.from_numpy(t))
    np.testing.assert_allclose(np.abs(q.numpy()), np.abs(np.linalg.qr(m)[0]), atol=1e-12)


@requires_torch
@pytest.mark.parametrize("case", [
    ("tau longer", (4, 3), (4,)), ("wide", (3, 4), (2,)), ("1-D", (4,), (2,)),
    ("batch", (2, 4, 3), (3, 2)), ("tau dims", (2, 4, 3), (2,)), ("tau dims 2", (4, 3), (2, 2)),
])
def test_householder_product_errors_match_torch(case):
    _, a_shape, t_shape = case
    rng = np.random.default_rng(0)
    _same_error(lambda lib, a, t: lib.linalg.householder_product(a, t), randn(rng, *a_shape),
                randn(rng, *t_shape))
    _same_error(lambda lib, a, t: lib.linalg.householder_product(a, t.float()),
                randn(rng, 4, 3), randn(rng, 2))
    _same_error(lambda lib, a, t: lib.linalg.householder_product(a, t),
                np.ones((4, 3), np.int64), np.ones(2, np.int64))


# ------------------------------------------------------------------ LDL
@requires_torch
@pytest.mark.parametrize("hermitian", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
def test_ldl_pivots_and_factors_match_torch(hermitian, dtype):
    # many matrices with small diagonals (2 x 2 pivots), integer entries (ties) and exact zeros
    rng = np.random.default_rng(0)
    shape = (40, 7, 7)
    a = randn(rng, *shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * randn(rng, *shape)
    a[:20, range(7), range(7)] *= 0.01
    a[20:30] = np.round(a[20:30])
    a[30:, 3, :] = 0
    a[30:, :, 3] = 0
    a = a.astype(dtype)
    tol = dict(rtol=1e-4, atol=1e-4) if np.dtype(dtype).itemsize <= 8 else dict(atol=1e-10)
    expected, actual = _both(lambda lib, a: lib.linalg.ldl_factor_ex(a, hermitian=hermitian), a)
    assert actual.pivots.tolist() == expected.pivots.tolist()
    assert actual.info.tolist() == expected.info.tolist()
    assert actual.pivots.dtype == disttorch.int32 and actual.info.dtype == disttorch.int32
    _assert_same(tuple(expected), tuple(actual), **tol)
    ok = expected.info.numpy() == 0
    b = randn(rng, 40, 7, 2).astype(dtype)
    expected, actual = _both(lambda lib, a, b: lib.linalg.ldl_solve(
        *lib.linalg.ldl_factor_ex(a, hermitian=hermitian)[:2], b, hermitian=hermitian), a, b)
    np.testing.assert_allclose(actual.numpy()[ok], expected.numpy()[ok],
                               **(dict(rtol=1e-3, atol=1e-3) if "rtol" in tol else
                                  dict(rtol=1e-8, atol=1e-10)))


@requires_torch
def test_ldl_errors_and_info_match_torch():
    zeros = np.zeros((2, 3, 3))
    expected, actual = _both(lambda lib, a: lib.linalg.ldl_factor_ex(a), zeros)
    assert actual.info.tolist() == expected.info.tolist() == [1, 1]
    # PyTorch's ldl_factor fails on a singular D with an internal assertion; ours is a
    # LinAlgError naming the zero block
    with pytest.raises(disttorch.linalg.LinAlgError, match=r"D\[1,1\] is zero"):
        disttorch.linalg.ldl_factor(disttorch.from_numpy(zeros))
    with pytest.raises(disttorch.linalg.LinAlgError, match=r"\(Batch element 0\)"):
        disttorch.linalg.ldl_factor_ex(disttorch.from_numpy(zeros), check_errors=True)
    for a in (np.ones((2, 3)), np.ones(3), np.ones((3, 3), np.int64), np.ones((3, 3), np.float16)):
        _same_error(lambda lib, a: lib.linalg.ldl_factor_ex(a), a)
    rng = np.random.default_rng(0)
    s = _symmetric(rng, 4, 4)
    factor = lambda lib, a: lib.linalg.ldl_factor(a)  # noqa: E731
    _same_error(lambda lib, a, b: lib.linalg.ldl_solve(*factor(lib, a), b), s, randn(rng, 3, 2))
    _same_error(lambda lib, a, b: lib.linalg.ldl_solve(*factor(lib, a), b), s, randn(rng, 4))
    _same_error(lambda lib, a, b: lib.linalg.ldl_solve(*factor(lib, a), b.float()), s,
                randn(rng, 4, 2))
    _same_error(lambda lib, a, b: lib.linalg.ldl_solve(factor(lib, a)[0],
                                                       factor(lib, a)[1][:3], b), s,
                randn(rng, 4, 2))
    _same_error(lambda lib, a, b: lib.linalg.ldl_solve(factor(lib, a)[0][:3],
                                                       factor(lib, a)[1], b), s, randn(rng, 4, 2))
    _same_error(lambda lib, a, b: lib.linalg.ldl_solve(factor(lib, a)[0],
                                                       factor(lib, a)[1] + 10, b), s,
                randn(rng, 4, 2))
    # int64 pivots are accepted, as PyTorch does
    _assert_same(*_both(lambda lib, a, b: lib.linalg.ldl_solve(
        factor(lib, a)[0], factor(lib, a)[1].long(), b), s, randn(rng, 4, 2)))


def test_ldl_solve_broadcasts_batch_dims():
    rng = np.random.default_rng(0)
    s, b = _symmetric(rng, 2, 4, 4), randn(rng, 3, 2, 4, 2)
    LD, pivots = disttorch.linalg.ldl_factor(disttorch.from_numpy(s))
    x = disttorch.linalg.ldl_solve(LD, pivots, disttorch.from_numpy(b))
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(s, b), rtol=1e-8, atol=1e-10)


@requires_torch
def test_ldl_backward_raises_like_torch():
    rng = np.random.default_rng(0)
    s = _symmetric(rng, 3, 3)
    _same_error(lambda lib, a: lib.linalg.ldl_factor(a.requires_grad_())[0].sum().backward(), s)
    _same_error(lambda lib, a: lib.linalg.ldl_solve(
        *lib.linalg.ldl_factor(a), lib.ones(3, 1, dtype=lib.float64, requires_grad=True))
        .sum().backward(), s)


# ------------------------------------------------------------------ simulated CUDA device
def _on_device(fn, arrays, grad_inputs=()):
    """``fn`` on the simulated device: outputs stay there, and equal the CPU's (values and,
    for ``grad_inputs``, the gradients of the first output's sum)."""
    def run(to_device):
        tensors = [disttorch.from_numpy(a.copy()) for a in arrays]
        if to_device:
            tensors = [t.cuda() for t in tensors]
        for i in grad_inputs:
            tensors[i].requires_grad_(True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(disttorch, *tensors)
        outs = out if isinstance(out, tuple) else (out,)
        for o in outs:
            assert o.device.type == ("cuda" if to_device else "cpu")
        if grad_inputs:
            outs[0].sum().backward()
        return [o.detach().cpu().numpy() for o in outs], \
            [tensors[i].grad.cpu().numpy() for i in grad_inputs]
    cpu_values, cpu_grads = run(False)
    with _simulated.simulate():
        dev_values, dev_grads = run(True)
    for got, want in zip(dev_values + dev_grads, cpu_values + cpu_grads):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


_rng = np.random.default_rng(5)
_A, _B, _T = _well_conditioned(_rng, 2, 4, 4), randn(_rng, 2, 4, 2), randn(_rng, 2, 3)
_SYM = _symmetric(_rng, 2, 4, 4)
_SYM[0, range(4), range(4)] *= 0.01
DEVICE_CASES = {
    "lu_factor_ex": (lambda lib, a: tuple(lib.linalg.lu_factor_ex(a)), [_A], (0,)),
    "lu_factor": (lambda lib, a: tuple(lib.linalg.lu_factor(a)), [_A], (0,)),
    "lu": (lambda lib, a: tuple(lib.linalg.lu(a))[1:], [_A[..., :3]], (0,)),
    "lu_P": (lambda lib, a: lib.linalg.lu(a).P, [_A[..., :3, :]], ()),
    "torch.lu_with_infos": (lambda lib, a: tuple(a.lu(get_infos=True)), [_A], (0,)),
    "torch.lu_solve": (lambda lib, a, b: lib.lu_solve(b, *lib.lu(a)), [_A, _B], (0, 1)),
    "lu_unpack": (lambda lib, a: tuple(lib.lu_unpack(*lib.linalg.lu_factor(a))), [_A], ()),
    "lu_solve": (lambda lib, a, b: lib.linalg.lu_solve(*lib.linalg.lu_factor(a), b), [_A, _B],
                 (0, 1)),
    "lu_solve_adjoint_right": (lambda lib, a, b: lib.linalg.lu_solve(
        *lib.linalg.lu_factor(a), b.mT, left=False, adjoint=True), [_A, _B], (0, 1)),
    "lstsq_gels": (lambda lib, a, b: tuple(lib.linalg.lstsq(a, b, driver="gels")),
                   [_A[..., :3], _B], (0, 1)),
    "lstsq_gelsd": (lambda lib, a, b: tuple(lib.linalg.lstsq(a, b, driver="gelsd")),
                    [_A[..., :3], _B], (0, 1)),
    "lstsq_gelsy_wide": (lambda lib, a, b: tuple(lib.linalg.lstsq(a, b)),
                         [_A[..., :3, :], _B[..., :3, :]], (0, 1)),
    "cond": (lambda lib, a: lib.linalg.cond(a), [_A], (0,)),
    "cond_inf": (lambda lib, a: lib.linalg.cond(a, math.inf), [_A], (0,)),
    "householder_product": (lambda lib, a, t: lib.linalg.householder_product(a, t),
                            [_A, _T], (0, 1)),
    "orgqr": (lambda lib, a, t: a.orgqr(t), [_A[..., :3], _T], (0, 1)),
    "ldl_factor_ex": (lambda lib, a: tuple(lib.linalg.ldl_factor_ex(a)), [_SYM], ()),
    "ldl_factor_hermitian": (lambda lib, a: tuple(lib.linalg.ldl_factor(a + 1j * a.mT - 1j * a,
                                                                        hermitian=True)),
                             [_SYM], ()),
    "ldl_solve": (lambda lib, a, b: lib.linalg.ldl_solve(*lib.linalg.ldl_factor(a), b),
                  [_SYM, _B], ()),
}


@pytest.mark.parametrize("name", list(DEVICE_CASES))
def test_simulated_device_matches_cpu(name):
    fn, arrays, grad_inputs = DEVICE_CASES[name]
    _on_device(fn, arrays, grad_inputs)


def test_eig_on_the_simulated_device():
    # CuPy's cuSOLVER eig may order eigenvalues differently from LAPACK: compare the sorted
    # eigenvalues and check A V = V diag(w)
    with _simulated.simulate():
        a = disttorch.from_numpy(_A.copy()).cuda()
        w, V = disttorch.linalg.eig(a)
        assert w.device.type == "cuda" and V.device.type == "cuda"
        values = disttorch.linalg.eigvals(a).cpu().numpy()
        w, V = w.cpu().numpy(), V.cpu().numpy()
    want = np.linalg.eigvals(_A)
    key = lambda z: np.lexsort((np.round(z.imag, 8), np.round(z.real, 8)))  # noqa: E731
    for got in (w, values):
        for g, e in zip(got, want):
            np.testing.assert_allclose(g[key(g)], e[key(e)], atol=1e-10)
    np.testing.assert_allclose(_A @ V, V * w[..., None, :], atol=1e-10)
