"""``linalg.vander``, ``tensorinv``, ``tensorsolve`` and the ``*_ex`` variants against torch."""
import numpy as np
import pytest

import disttorch
from tests.ops.harness import OpInfo, S, op_tests, randn, requires_torch, torch


def _spd(rng, n):
    a = rng.standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


OPS = [
    OpInfo("linalg.vander", lambda lib, x: lib.linalg.vander(x, N=4),
           lambda rng: [S(randn(rng, 2, 3)), S(randn(rng, 5))]),
    OpInfo("linalg.tensorinv", lambda lib, a: lib.linalg.tensorinv(a, ind=1),
           lambda rng: [S(randn(rng, 6, 2, 3) + np.eye(6).reshape(6, 2, 3) * 3)]),
    OpInfo("linalg.tensorsolve", lambda lib, a, b: lib.linalg.tensorsolve(a, b),
           lambda rng: [S(randn(rng, 2, 3, 6) + np.eye(6).reshape(2, 3, 6) * 3, randn(rng, 2, 3))]),
    OpInfo("linalg.tensorsolve_dims", lambda lib, a, b: lib.linalg.tensorsolve(a, b, dims=(0,)),
           lambda rng: [S(randn(rng, 6, 2, 3) + np.eye(6).reshape(6, 2, 3) * 3, randn(rng, 2, 3))]),
    OpInfo("linalg.inv_ex", lambda lib, a: lib.linalg.inv_ex(a),
           lambda rng: [S(randn(rng, 2, 3, 3) + 3 * np.eye(3))]),
    OpInfo("linalg.solve_ex", lambda lib, a, b: lib.linalg.solve_ex(a, b),
           lambda rng: [S(randn(rng, 3, 3) + 3 * np.eye(3), randn(rng, 3, 2))]),
    OpInfo("linalg.cholesky_ex", lambda lib, a: lib.linalg.cholesky_ex(a, upper=True),
           lambda rng: [S(_spd(rng, 3))], gradcheck=False),
]

test_matches_torch, test_finite_differences = op_tests(OPS)


@requires_torch
def test_failures_are_reported_in_info_like_torch():
    singular = np.array([[[1.0, 2.0], [2.0, 4.0]], [[1.0, 0.0], [0.0, 1.0]]])
    indefinite = np.array([[[1.0, 2.0, 3.0], [2.0, 1.0, 0.0], [3.0, 0.0, -5.0]], np.eye(3)])
    for name, array, extra in [("inv_ex", singular, ()), ("cholesky_ex", indefinite, ()),
                               ("solve_ex", singular, (np.ones((2, 2)),))]:
        ours = getattr(disttorch.linalg, name)(disttorch.from_numpy(array),
                                               *[disttorch.from_numpy(e) for e in extra])
        ref = getattr(torch.linalg, name)(torch.from_numpy(array),
                                          *[torch.from_numpy(e) for e in extra])
        assert ours.info.tolist() == ref.info.tolist(), name
        assert ours.info.dtype == disttorch.int32
    with pytest.raises(disttorch.linalg.LinAlgError, match="diagonal element 2 is zero"):
        disttorch.linalg.inv_ex(disttorch.from_numpy(singular[0]), check_errors=True)
    with pytest.raises(disttorch.linalg.LinAlgError, match="leading minor of order 2"):
        disttorch.linalg.cholesky_ex(disttorch.from_numpy(indefinite[0]), check_errors=True)


def test_shape_errors():
    with pytest.raises(RuntimeError, match="prod"):
        disttorch.linalg.tensorinv(disttorch.ones(2, 3), ind=1)
    with pytest.raises(RuntimeError, match="strictly positive"):
        disttorch.linalg.tensorinv(disttorch.ones(2, 2), ind=0)


@requires_torch
@pytest.mark.parametrize("fn", [
    lambda L, x: L.linalg.vector_norm(x), lambda L, x: L.linalg.vector_norm(x, float("inf")),
    lambda L, x: L.linalg.vector_norm(x, 3, dim=1), lambda L, x: L.linalg.vector_norm(x, 0),
    lambda L, x: L.linalg.matrix_norm(x), lambda L, x: L.linalg.norm(x), lambda L, x: L.norm(x),
    lambda L, x: L.dist(x, x * 2)])
def test_norms_of_complex_tensors_are_real(fn):
    a = np.array([[1 + 2j, 3 - 1j], [0.5j, 2]], dtype=np.complex64)
    ours, theirs = fn(disttorch, disttorch.from_numpy(a)), fn(torch, torch.from_numpy(a))
    assert ours.dtype == disttorch.float32 and theirs.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@requires_torch
def test_hermitian_pinv_and_rank_read_the_lower_triangle_as_torch():
    data = np.array([[2.0, 5.0, 1.0], [1.0, 3.0, 7.0], [0.5, 2.0, 4.0]])   # not symmetric
    results = []
    for lib in (disttorch, torch):
        A = lib.tensor(data, dtype=lib.float64, requires_grad=True)
        P = lib.linalg.pinv(A, hermitian=True)
        (P * lib.tensor(np.arange(9.0).reshape(3, 3))).sum().backward()
        ranks = lib.linalg.matrix_rank(lib.tensor(np.stack([data, np.diag([1.0, 0.0, 1e-20])])),
                                       hermitian=True)
        results.append((P.detach().numpy(), A.grad.numpy(), ranks.tolist(),
                        int(lib.linalg.matrix_rank(lib.tensor([[1.0, 9.0], [1.0, 1.0]]),
                                                   hermitian=True))))
    (p, g, r, r2), (tp, tg, tr, tr2) = results
    np.testing.assert_allclose(p, tp, rtol=1e-10)
    np.testing.assert_allclose(g, tg, rtol=1e-10)
    assert (r, r2) == (tr, tr2)
    with pytest.raises(RuntimeError, match="A must be batches of square matrices"):
        disttorch.linalg.pinv(disttorch.ones(2, 3), hermitian=True)
