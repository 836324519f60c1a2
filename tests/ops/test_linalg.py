"""Linear algebra (ops.linalg and disttorch.linalg): op table against torch and finite
differences, PyTorch's shape errors, double backward, forward-only decompositions."""
import numpy as np
import pytest

import disttorch
from tests.ops.harness import OpInfo, S, op_tests, randn, requires_torch, torch


def _well_conditioned(rng, *shape):
    n = shape[-1]
    return randn(rng, *shape) + 3 * np.eye(n)


def _spd(rng, *shape):
    a = randn(rng, *shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def _sym(lib, x):
    # decompositions of symmetric matrices read one triangle: symmetrise so that finite
    # differences along any direction agree with the (symmetric) gradient
    return (x + x.transpose(-2, -1)) * 0.5


def _matmul_samples(rng):
    return [S(randn(rng, 3, 4), randn(rng, 4, 5)), S(randn(rng, 4), randn(rng, 4)),
            S(randn(rng, 4), randn(rng, 4, 5)), S(randn(rng, 3, 4), randn(rng, 4)),
            S(randn(rng, 4), randn(rng, 2, 4, 5)), S(randn(rng, 2, 3, 4), randn(rng, 4)),
            S(randn(rng, 2, 1, 3, 4), randn(rng, 5, 4, 2)),
            S(randn(rng, 2, 3, 4), randn(rng, 4, 2)),
            S(randn(rng, 3, 4), randn(rng, 2, 4, 2))]


EINSUM = ["ij,jk->ik", "bij,bjk->bik", "...ij,...jk", "ii->i", "ii", "ij->", "i,i", "i,j->ij",
          "bn,anm,bm->ba", "ij,k->ik", "ij,jk", "iij->j", "b...i,i->b..."]
EINSUM_SHAPES = [[(3, 4), (4, 5)], [(2, 3, 4), (2, 4, 5)], [(2, 3, 4), (4, 5)], [(3, 3)], [(3, 3)],
                 [(3, 4)], [(4,), (4,)], [(3,), (4,)], [(2, 3), (5, 3, 4), (2, 4)],
                 [(3, 4), (2,)], [(3, 4), (4, 2)], [(3, 3, 2)], [(2, 3, 4, 5), (5,)]]

OPS = [
    OpInfo("matmul", lambda lib, a, b: lib.matmul(a, b), _matmul_samples),
    OpInfo("matmul_operator", lambda lib, a, b: a @ b, _matmul_samples),
    OpInfo("matmul_method", lambda lib, a, b: a.matmul(b), lambda rng: _matmul_samples(rng)[:1]),
    OpInfo("mm", lambda lib, a, b: lib.mm(a, b),
           lambda rng: [S(randn(rng, 3, 4), randn(rng, 4, 5)),
                        S(randn(rng, 1, 4), randn(rng, 4, 1))]),
    OpInfo("bmm", lambda lib, a, b: lib.bmm(a, b),
           lambda rng: [S(randn(rng, 2, 3, 4), randn(rng, 2, 4, 5)),
                        S(randn(rng, 1, 3, 4), randn(rng, 1, 4, 1))]),
    OpInfo("mv", lambda lib, a, b: lib.mv(a, b), lambda rng: [S(randn(rng, 3, 4), randn(rng, 4))]),
    OpInfo("dot", lambda lib, a, b: (lib.dot(a, b), lib.vdot(a, b), a.dot(b)),
           lambda rng: [S(randn(rng, 5), randn(rng, 5))]),
    OpInfo("inner", lambda lib, a, b: lib.inner(a, b),
           lambda rng: [S(randn(rng, 4), randn(rng, 4)), S(randn(rng, 2, 4), randn(rng, 3, 4)),
                        S(np.array(2.0), randn(rng, 3))]),
    OpInfo("outer", lambda lib, a, b: (lib.outer(a, b), lib.ger(a, b)),
           lambda rng: [S(randn(rng, 3), randn(rng, 4)), S(randn(rng, 3), np.arange(4))]),
    OpInfo("addmm", lambda lib, c, a, b, **kw: lib.addmm(c, a, b, **kw),
           lambda rng: [S(randn(rng, 3, 5), randn(rng, 3, 4), randn(rng, 4, 5)),
                        S(randn(rng, 5), randn(rng, 3, 4), randn(rng, 4, 5), beta=0.5, alpha=2.0),
                        S(randn(rng, 3, 1), randn(rng, 3, 4), randn(rng, 4, 5), beta=0)]),
    OpInfo("addmv", lambda lib, c, a, b, **kw: lib.addmv(c, a, b, **kw),
           lambda rng: [S(randn(rng, 3), randn(rng, 3, 4), randn(rng, 4), alpha=-1.5)]),
    OpInfo("addr", lambda lib, c, a, b: lib.addr(c, a, b, beta=2),
           lambda rng: [S(randn(rng, 3, 4), randn(rng, 3), randn(rng, 4))]),
    OpInfo("baddbmm", lambda lib, c, a, b, **kw: lib.baddbmm(c, a, b, **kw),
           lambda rng: [S(randn(rng, 2, 3, 5), randn(rng, 2, 3, 4), randn(rng, 2, 4, 5)),
                        S(randn(rng, 3, 1), randn(rng, 2, 3, 4), randn(rng, 2, 4, 5), alpha=0.5)]),
    OpInfo("addbmm", lambda lib, c, a, b: lib.addbmm(c, a, b, beta=0.5),
           lambda rng: [S(randn(rng, 3, 5), randn(rng, 2, 3, 4), randn(rng, 2, 4, 5))]),
    OpInfo("inplace", lambda lib, c, a, b: ((c * 1).addmm_(a, b, beta=0.5), (a * 1).tril_(1),
                                            (a * 1).triu_(-1), (c * 1).addr_(a[:, 0], b[0])),
           lambda rng: [S(randn(rng, 3, 5), randn(rng, 3, 4), randn(rng, 4, 5))]),
    OpInfo("einsum", lambda lib, eq, *ops: lib.einsum(eq, *ops),
           lambda rng: [S(eq, *[randn(rng, *s) for s in shapes])
                        for eq, shapes in zip(EINSUM, EINSUM_SHAPES)]),
    OpInfo("einsum_list", lambda lib, a, b: lib.einsum("ij,jk->ik", [a, b]),
           lambda rng: [S(randn(rng, 3, 4), randn(rng, 4, 2))]),
    OpInfo("einsum_sublist", lambda lib, a, b: (lib.einsum(a, [0, 1], b, [1, 51], [51, 0]),
                                                lib.einsum(a, [30, 2], b, [2, 0]),
                                                lib.einsum(a, [..., 1], b, [1, ...])),
           lambda rng: [S(randn(rng, 3, 4), randn(rng, 4, 3))]),
    OpInfo("tensordot", lambda lib, a, b, **kw: lib.tensordot(a, b, **kw),
           lambda rng: [S(randn(rng, 3, 4, 5), randn(rng, 4, 5, 2)),
                        S(randn(rng, 3, 4), randn(rng, 4, 2), dims=1),
                        S(randn(rng, 3, 4, 2), randn(rng, 4, 5, 3), dims=([1, 0], [0, 2])),
                        S(randn(rng, 2, 3), randn(rng, 2), dims=0)]),
    OpInfo("kron", lambda lib, a, b: lib.kron(a, b),
           lambda rng: [S(randn(rng, 2, 3), randn(rng, 4, 2)), S(randn(rng, 3), randn(rng, 2, 2))]),
    OpInfo("tril_triu", lambda lib, x, k: (lib.tril(x, k), lib.triu(x, k), x.tril(-k)),
           lambda rng: [S(randn(rng, 4, 5), 0), S(randn(rng, 2, 3, 4), 1),
                        S(randn(rng, 3, 3), -2)]),
    OpInfo("diag", lambda lib, x, **kw: lib.diag(x, **kw),
           lambda rng: [S(randn(rng, 4)), S(randn(rng, 3), diagonal=2), S(randn(rng, 3, 4)),
                        S(randn(rng, 4, 3), diagonal=-1), S(randn(rng, 3, 4), diagonal=2)]),
    OpInfo("diagonal", lambda lib, x, **kw: lib.diagonal(x, **kw),
           lambda rng: [S(randn(rng, 3, 4)), S(randn(rng, 3, 4), offset=1),
                        S(randn(rng, 2, 3, 4), offset=-1, dim1=2, dim2=1),
                        S(randn(rng, 2, 3, 4), dim1=0, dim2=-1)]),
    OpInfo("diag_embed", lambda lib, x, **kw: lib.diag_embed(x, **kw),
           lambda rng: [S(randn(rng, 3)), S(randn(rng, 2, 3), offset=1),
                        S(randn(rng, 2, 3), offset=-2, dim1=0, dim2=2)]),
    OpInfo("trace", lambda lib, x: (lib.trace(x), x.trace()),
           lambda rng: [S(randn(rng, 3, 3)), S(randn(rng, 3, 5))]),
    OpInfo("cross", lambda lib, a, b, **kw: lib.cross(a, b, **kw),
           lambda rng: [S(randn(rng, 4, 3), randn(rng, 4, 3), dim=1),
                        S(randn(rng, 3, 2), randn(rng, 3, 2), dim=0),
                        S(randn(rng, 2, 1, 3), randn(rng, 1, 4, 3), dim=-1)]),
    OpInfo("linalg_cross", lambda lib, a, b: lib.linalg.cross(a, b),
           lambda rng: [S(randn(rng, 2, 3), randn(rng, 1, 3))]),
    OpInfo("inv", lambda lib, x: lib.linalg.inv(x),
           lambda rng: [S(_well_conditioned(rng, 3, 3)), S(_well_conditioned(rng, 2, 4, 4))]),
    OpInfo("det", lambda lib, x: (lib.linalg.det(x), lib.linalg.slogdet(x).logabsdet),
           lambda rng: [S(_well_conditioned(rng, 3, 3)), S(randn(rng, 2, 4, 4))]),
    OpInfo("solve", lambda lib, a, b, **kw: lib.linalg.solve(a, b, **kw),
           lambda rng: [S(_well_conditioned(rng, 3, 3), randn(rng, 3, 2)),
                        S(_well_conditioned(rng, 2, 3, 3), randn(rng, 2, 3)),
                        S(_well_conditioned(rng, 3, 3), randn(rng, 3)),
                        S(_well_conditioned(rng, 3, 3), randn(rng, 2, 3, 4)),
                        S(_well_conditioned(rng, 3, 3), randn(rng, 2, 3), left=False)]),
    OpInfo("solve_triangular", lambda lib, a, b, **kw: lib.linalg.solve_triangular(a, b, **kw),
           lambda rng: [S(_well_conditioned(rng, 3, 3), randn(rng, 3, 2), upper=True),
                        S(_well_conditioned(rng, 2, 3, 3), randn(rng, 3, 4), upper=False,
                          unitriangular=True),
                        S(_well_conditioned(rng, 3, 3), randn(rng, 2, 3), upper=True, left=False)]),
    OpInfo("matrix_power", lambda lib, a, n: lib.linalg.matrix_power(a, n),
           lambda rng: [S(randn(rng, 3, 3), 3), S(randn(rng, 2, 3, 3), 1), S(randn(rng, 3, 3), 0),
                        S(_well_conditioned(rng, 3, 3), -2)]),
    OpInfo("multi_dot", lambda lib, a, b, c: lib.linalg.multi_dot([a, b, c]),
           lambda rng: [S(randn(rng, 3), randn(rng, 3, 4), randn(rng, 4)),
                        S(randn(rng, 2, 3), randn(rng, 3, 4), randn(rng, 4, 5))]),
    OpInfo("cholesky", lambda lib, x, **kw: lib.linalg.cholesky(_sym(lib, x), **kw),
           lambda rng: [S(_spd(rng, 3, 3)), S(_spd(rng, 2, 4, 4)), S(_spd(rng, 3, 3), upper=True)]),
    OpInfo("eigh", lambda lib, x: (lib.linalg.eigh(_sym(lib, x)).eigenvalues,
                                   lib.linalg.eigh(_sym(lib, x)).eigenvectors.abs(),
                                   lib.linalg.eigvalsh(_sym(lib, x))),
           lambda rng: [S(_spd(rng, 3, 3)), S(randn(rng, 2, 4, 4))]),
    OpInfo("svdvals", lambda lib, x: (lib.linalg.svdvals(x), lib.linalg.svd(x).S),
           lambda rng: [S(randn(rng, 3, 4)), S(randn(rng, 2, 4, 3))]),
    OpInfo("vector_norm", lambda lib, x, **kw: lib.linalg.vector_norm(x, **kw),
           lambda rng: [S(randn(rng, 3, 4)), S(randn(rng, 3, 4), ord=1, dim=1),
                        S(randn(rng, 2, 3, 4), ord=float("inf"), dim=(0, 2), keepdim=True),
                        S(randn(rng, 5), ord=3.5), S(randn(rng, 3, 4), ord=0, dim=0)]),
    OpInfo("matrix_norm", lambda lib, x, **kw: lib.linalg.matrix_norm(x, **kw),
           lambda rng: [S(randn(rng, 3, 4)), S(randn(rng, 2, 3, 4), ord="nuc"),
                        S(randn(rng, 3, 4), ord=2), S(randn(rng, 2, 3, 4), ord=-2, keepdim=True),
                        S(randn(rng, 3, 4), ord=1), S(randn(rng, 2, 3, 4), ord=-1, dim=(0, 2)),
                        S(randn(rng, 3, 4), ord=float("inf"), keepdim=True),
                        S(randn(rng, 2, 3, 4), ord=float("-inf"), dim=(2, 1))]),
    OpInfo("linalg_norm", lambda lib, x, **kw: lib.linalg.norm(x, **kw),
           lambda rng: [S(randn(rng, 2, 3, 4)), S(randn(rng, 3, 4), ord=1),
                        S(randn(rng, 4), ord=float("inf")), S(randn(rng, 2, 3, 4), dim=1),
                        S(randn(rng, 2, 3, 4), ord="fro", dim=(0, 1), keepdim=True)]),
    OpInfo("norm_nuc", lambda lib, x: lib.norm(x, p="nuc"), lambda rng: [S(randn(rng, 3, 4))]),
    OpInfo("svd_vectors", lambda lib, x: (lib.linalg.svd(x, full_matrices=False).U.abs(),
                                          lib.linalg.svd(x, full_matrices=False).Vh.abs()),
           lambda rng: [S(randn(rng, 5, 3)), S(randn(rng, 2, 3, 5)), S(randn(rng, 4, 4))]),
    OpInfo("svd_full_square", lambda lib, x: tuple(t.abs() for t in lib.linalg.svd(x)),
           lambda rng: [S(randn(rng, 3, 3))]),
    OpInfo("pinv", lambda lib, x, **kw: lib.linalg.pinv(x, **kw),
           lambda rng: [S(randn(rng, 4, 3)), S(randn(rng, 2, 3, 5))]),
    # truncated singular values: PyTorch's (and our) gradient holds the rank fixed, which is not
    # what finite differences see
    OpInfo("pinv_truncated", lambda lib, x, **kw: lib.linalg.pinv(x, **kw),
           lambda rng: [S(randn(rng, 4, 4), atol=0.5), S(randn(rng, 4, 4), rtol=0.3)],
           gradcheck=False),
    OpInfo("qr", lambda lib, x, **kw: tuple(lib.linalg.qr(x, **kw)),
           lambda rng: [S(randn(rng, 4, 3)), S(randn(rng, 2, 3, 3)), S(randn(rng, 3, 3),
                                                                        mode="complete")]),
    OpInfo("qr_wide_forward", lambda lib, x, **kw: tuple(lib.linalg.qr(x, **kw)),
           lambda rng: [S(randn(rng, 3, 5)), S(randn(rng, 4, 3), mode="complete")], grad=False),
    OpInfo("matrix_rank", lambda lib, x: lib.linalg.matrix_rank(x),
           lambda rng: [S(randn(rng, 4, 3)), S(np.outer(randn(rng, 3), randn(rng, 4)))],
           grad=False),
]

test_matches_torch, test_finite_differences = op_tests(OPS)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("fn, message", [
    (lambda: disttorch.matmul(disttorch.tensor(1.0), disttorch.ones(2, 2)),
     "both arguments to matmul need to be at least 1D, but they are 0D and 2D"),
    (lambda: disttorch.mm(disttorch.ones(64, 10), disttorch.ones(20, 5)),
     "mat1 and mat2 shapes cannot be multiplied (64x10 and 20x5)"),
    (lambda: disttorch.ones(2, 3) @ disttorch.ones(2, 3),
     "mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)"),
    (lambda: disttorch.mm(disttorch.ones(3), disttorch.ones(3, 5)), "self must be a matrix"),
    (lambda: disttorch.bmm(disttorch.ones(2, 3, 4), disttorch.ones(3, 4, 5)),
     "Expected size for first two dimensions of batch2 tensor to be: [2, 4] but got: [3, 4]."),
    (lambda: disttorch.bmm(disttorch.ones(3, 4), disttorch.ones(2, 5, 5)),
     "batch1 must be a 3D tensor"),
    (lambda: disttorch.matmul(disttorch.ones(2, 2, 3), disttorch.ones(2, 4, 5)),
     "Expected size for first two dimensions of batch2 tensor to be: [2, 3] but got: [2, 4]."),
    (lambda: disttorch.matmul(disttorch.ones(2, 2, 3), disttorch.ones(3, 3, 5)),
     "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0"),
    (lambda: disttorch.mv(disttorch.ones(3, 4), disttorch.ones(5)),
     "size mismatch, got input (3), mat (3x4), vec (5)"),
    (lambda: disttorch.dot(disttorch.ones(3), disttorch.ones(5)),
     "inconsistent tensor size, expected tensor [3] and src [5] to have the same number of "
     "elements, but got 3 and 5 elements respectively"),
    (lambda: disttorch.dot(disttorch.ones(3, 1), disttorch.ones(3)),
     "1D tensors expected, but got 2D and 1D tensors"),
    (lambda: disttorch.mm(disttorch.ones(2, 3), disttorch.ones(3, 3, dtype=disttorch.float64)),
     "expected m1 and m2 to have the same dtype, but got: float != double"),
    (lambda: disttorch.matmul(disttorch.ones(2, 3, 4), disttorch.ones(5)),
     "size mismatch, got input (6), mat (6x4), vec (5)"),
    (lambda: disttorch.matmul(disttorch.ones(2, 3, 4), disttorch.ones(5, 6)),
     "mat1 and mat2 shapes cannot be multiplied (6x4 and 5x6)"),
    (lambda: disttorch.matmul(disttorch.ones(2, 3, 4), disttorch.ones(3, 5, 6)),
     "The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0"),
    (lambda: disttorch.bmm(disttorch.ones(2, 3, 4),
                           disttorch.ones(2, 4, 5, dtype=disttorch.float64)),
     "expected scalar type Float but found Double"),
    (lambda: disttorch.mv(disttorch.ones(2, 3), disttorch.ones(3, dtype=disttorch.float64)),
     "addmv input tensors must have the same dtype, but got Double, Float, and Double"),
    (lambda: disttorch.dot(disttorch.ones(3), disttorch.ones(3, dtype=disttorch.float64)),
     "dot : expected both vectors to have same dtype, but found Float and Double"),
    (lambda: disttorch.einsum("ij,jk", disttorch.ones(2, 3), disttorch.ones(4, 2)),
     "einsum(): subscript j has size 4 for operand 1 which does not broadcast with previously "
     "seen size 3"),
    (lambda: disttorch.einsum("ij,jk", disttorch.ones(2, 3),
                              disttorch.ones(3, 2, dtype=disttorch.float64)),
     "expected scalar type Float but found Double"),
    (lambda: disttorch.einsum("ij->k", disttorch.ones(2, 3)),
     "einsum(): output subscript k does not appear in the equation for any input operand"),
    (lambda: disttorch.einsum("i->ii", disttorch.ones(3)),
     "einsum(): output subscript i appears more than once in the output"),
    (lambda: disttorch.cross(disttorch.arange(3), disttorch.ones(3), dim=0),
     "expected scalar type Long but found Float"),
    (lambda: disttorch.addmm(disttorch.ones(3, 1), disttorch.ones(2, 3), disttorch.ones(3, 4)),
     "The expanded size of the tensor (2) must match the existing size (3) at non-singleton "
     "dimension 0.  Target sizes: [2, 4].  Tensor sizes: [3, 1]"),
    (lambda: disttorch.linalg.solve(disttorch.ones(3, 3), disttorch.ones(4)),
     "linalg.solve: Incompatible shapes of A and B for the equation AX = B (3x3 and 4x1)"),
    (lambda: disttorch.outer(disttorch.ones(2, 2), disttorch.ones(2)),
     "outer: Expected 1-D argument self, but got 2-D"),
    (lambda: disttorch.trace(disttorch.ones(2, 2, 2)),
     "trace: expected a matrix, but got tensor with dim 3"),
    (lambda: disttorch.cross(disttorch.ones(2, 2), disttorch.ones(2, 2)),
     "no dimension of size 3 in input"),
    (lambda: disttorch.linalg.inv(disttorch.zeros(2, 3)),
     "linalg.inv: A must be batches of square matrices, but they are 2 by 3 matrices"),
    (lambda: disttorch.linalg.inv(disttorch.ones(2, 2, dtype=disttorch.int64)),
     "linalg.inv: Expected a floating point or complex tensor as input. Got Long"),
    (lambda: disttorch.linalg.cholesky(-disttorch.eye(2)),
     "linalg.cholesky: The factorization could not be completed because the input is not "
     "positive-definite (the leading minor of order 1 is not positive-definite)."),
])
def test_error_messages(fn, message):
    with pytest.raises(RuntimeError) as info:
        fn()
    assert str(info.value) == message


@pytest.mark.parametrize("sublist", [[0, 52], [0, -1]])
def test_einsum_sublist_out_of_range_is_torchs_value_error(sublist):
    with pytest.raises(ValueError, match=r"not within the valid range \[0, 52\)"):
        disttorch.einsum(disttorch.ones(2, 3), sublist)


def test_singular_matrix_raises_linalg_error():
    with pytest.raises(disttorch.linalg.LinAlgError, match="singular"):
        disttorch.linalg.inv(disttorch.zeros(2, 2))
    with pytest.raises(RuntimeError, match="singular"):
        disttorch.linalg.solve(disttorch.zeros(2, 2), disttorch.ones(2))


def test_det_gradient_of_singular_matrix_is_the_cofactor_matrix():
    a = np.diag([1.0, 2.0, 0.0])
    x = disttorch.from_numpy(a).requires_grad_()
    disttorch.linalg.det(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.diag([0.0, 0.0, 2.0]), atol=1e-12)


@pytest.mark.parametrize("fn, message", [
    (lambda x: disttorch.linalg.qr(x, mode="complete").Q, "linalg.qr"),
    (lambda x: disttorch.linalg.svd(x).U, "full_matrices=True"),
    (lambda x: disttorch.linalg.svd(x).Vh, "full_matrices=True"),
])
def test_undefined_backward_raises(fn, message):
    x = disttorch.randn(4, 3, dtype=disttorch.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match=message):
        fn(x).sum().backward()


@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 6), (1, 4)])
def test_qr_of_wide_matrices_is_differentiable_like_torch(shape):
    torch = pytest.importorskip("torch", reason="torch is the oracle: pip install torch==2.13.0")
    a = np.random.default_rng(5).standard_normal(shape)
    grads = []
    for lib in (disttorch, torch):
        x = lib.tensor(a, requires_grad=True)
        Q, R = lib.linalg.qr(x)
        wq = lib.tensor(np.arange(Q.numel(), dtype=np.float64).reshape(tuple(Q.shape)) / 7)
        wr = lib.tensor(np.arange(R.numel(), dtype=np.float64).reshape(tuple(R.shape)) / 5)
        grads.append(lib.autograd.grad((Q * wq).sum() + (R * wr).sum(), x)[0].numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-9, atol=1e-12)
    x = disttorch.tensor(a, requires_grad=True)
    assert disttorch.autograd.gradcheck(lambda t: tuple(disttorch.linalg.qr(t)), (x,))


def test_decomposition_double_backward_raises():
    a = disttorch.randn(3, 3, dtype=disttorch.float64)
    x = (a @ a.T + 3 * disttorch.eye(3, dtype=disttorch.float64)).requires_grad_()
    with pytest.raises(RuntimeError, match="double backward"):
        disttorch.autograd.grad(disttorch.linalg.eigh(x).eigenvectors.abs().sum(), x,
                                create_graph=True)


def test_matmul_2d_forward_is_one_gemm_on_the_inputs():
    a = disttorch.randn(8, 4, requires_grad=True)
    b = disttorch.randn(4, 6, requires_grad=True)
    out = a @ b
    assert out.grad_fn.name() == "MmBackward0"   # (PyTorch's name for the 2-D product)
    saved_a, saved_b = out.grad_fn.saved_tensors
    assert saved_a is a._data and saved_b is b._data
    np.testing.assert_array_equal(out.detach().numpy(), a._data @ b._data)


def test_diagonal_is_a_view():
    x = disttorch.arange(9.0).reshape(3, 3)
    d = x.diagonal()
    x.add_(1)
    assert d.tolist() == [1.0, 5.0, 9.0]
    d.mul_(10)
    assert x.trace().item() == 150.0


def test_diagonal_view_inplace_backward():
    base = disttorch.randn(3, 3, requires_grad=True)
    x = base * 1
    x.diagonal().mul_(2)
    x.sum().backward()
    np.testing.assert_array_equal(base.grad.numpy(), np.ones((3, 3)) + np.eye(3))


# ------------------------------------------------------------------ double backward
def _hvp(lib, fn, inputs, vs, w):
    y = fn(lib, *inputs)
    grads = lib.autograd.grad((y * w).sum(), inputs, create_graph=True)
    hv = lib.autograd.grad(sum((g * v).sum() for g, v in zip(grads, vs)), inputs)
    return [g.detach().numpy() for g in grads] + [h.numpy() for h in hv]


HVP = [
    ("matmul_2d", lambda lib, a, b: lib.matmul(a, b) * lib.matmul(a, b), [(3, 4), (4, 5)]),
    ("matmul_batched", lambda lib, a, b: (a @ b) ** 3, [(2, 1, 3, 4), (5, 4, 2)]),
    ("matmul_vec", lambda lib, a, b: lib.matmul(a, b) ** 2, [(4,), (2, 4, 3)]),
    ("matvec", lambda lib, a, b: lib.matmul(a, b) ** 2, [(2, 3, 4), (4,)]),
    ("dot", lambda lib, a, b: lib.dot(a, b) ** 2, [(4,), (4,)]),
    ("mm_self", lambda lib, a, b: lib.mm(a, a) + lib.mm(b, a), [(3, 3), (3, 3)]),
    ("bmm", lambda lib, a, b: lib.bmm(a, b) * lib.bmm(a, b), [(2, 3, 4), (2, 4, 5)]),
    ("einsum", lambda lib, a, b: lib.einsum("bij,jk->bik", a, b) ** 2, [(2, 3, 4), (4, 5)]),
    ("einsum_trace", lambda lib, a, b: lib.einsum("ii,ij->j", a, b) ** 2, [(3, 3), (3, 2)]),
    ("addmm", lambda lib, a, b: lib.addmm(a[0], a, b) ** 2, [(3, 4), (4, 4)]),
    ("inv", lambda lib, a, b: lib.linalg.inv(a + 3 * b), [(3, 3), (3, 3)]),
    ("det", lambda lib, a, b: lib.linalg.det(a + 3 * b), [(3, 3), (3, 3)]),
    ("solve", lambda lib, a, b: lib.linalg.solve(a, b), [(3, 3), (3, 2)]),
    ("cholesky", lambda lib, a, b: lib.linalg.cholesky(a @ a.transpose(-2, -1) + b * b),
     [(3, 3), (3, 3)]),
    ("diag_tril", lambda lib, a, b: lib.tril(a * b).diagonal() ** 2 + lib.trace(a * a),
     [(3, 3), (3, 3)]),
    ("cross", lambda lib, a, b: lib.cross(a, b, dim=1) ** 2, [(2, 3), (2, 3)]),
    ("kron", lambda lib, a, b: lib.kron(a, b) ** 2, [(2, 3), (3, 1, 2)]),
    ("eigvalsh", lambda lib, a, b: lib.linalg.eigvalsh(a @ a.transpose(-2, -1) + b) ** 2,
     [(3, 3), (3, 3)]),
    ("svdvals", lambda lib, a, b: lib.linalg.svdvals(a * b) ** 2, [(4, 3), (4, 3)]),
    ("nuclear_norm", lambda lib, a, b: lib.linalg.matrix_norm(a + b, "nuc"), [(3, 4), (3, 4)]),
]


@requires_torch
@pytest.mark.parametrize("name, fn, shapes", HVP, ids=[h[0] for h in HVP])
def test_hessian_vector_product(name, fn, shapes):
    rng = np.random.default_rng(5)
    xs = [randn(rng, *s) for s in shapes]
    if name in ("inv", "det", "solve"):
        xs[0] = xs[0] + 3 * np.eye(3)
    if name == "cholesky":
        xs[1] = xs[1] + 2 * np.eye(3)
    vs = [randn(rng, *s) for s in shapes]
    out_shape = tuple(fn(torch, *[torch.from_numpy(x) for x in xs]).shape)
    w = randn(rng, *out_shape)
    expected = _hvp(torch, fn, [torch.from_numpy(x).requires_grad_() for x in xs],
                    [torch.from_numpy(v) for v in vs], torch.from_numpy(w))
    actual = _hvp(disttorch, fn, [disttorch.from_numpy(x.copy()).requires_grad_() for x in xs],
                  [disttorch.from_numpy(v) for v in vs], disttorch.from_numpy(w))
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-8, err_msg=name)


def _leaf(rng, *shape):
    return disttorch.from_numpy(randn(rng, *shape)).requires_grad_()


_EYE3 = np.eye(3)

GRADGRAD = [
    ("einsum_broadcast", lambda a, b: disttorch.einsum("...ij,jk->...ik", a, b) ** 2,
     [(2, 1, 3), (3, 2)]),
    ("einsum_diagonal", lambda a: disttorch.einsum("ii->i", a) ** 2, [(3, 3)]),
    ("einsum_summed_operand", lambda a, b: disttorch.einsum("ij,k->ik", a, b) ** 2, [(3, 3), (2,)]),
    ("tensordot", lambda a, b: disttorch.tensordot(a, b, 1) ** 2, [(3, 4), (4, 2)]),
    ("diag_embed", lambda a: disttorch.diag_embed(a * a, 1), [(2, 3)]),
    ("diagonal", lambda a: (a * a).diagonal(1), [(3, 4)]),
    ("cross_broadcast", lambda a, b: disttorch.cross(a, b, dim=1) ** 2, [(2, 3), (1, 3)]),
    ("slogdet", lambda a: disttorch.linalg.slogdet(a + disttorch.from_numpy(3 * _EYE3)).logabsdet,
     [(3, 3)]),
    ("pinv", lambda a: disttorch.linalg.pinv(a), [(4, 3)]),
    ("matrix_norm_2", lambda a: disttorch.linalg.matrix_norm(a, 2), [(4, 3)]),
    ("addmm", lambda c, a, b: disttorch.addmm(c, a, b, beta=0.5, alpha=2) ** 2,
     [(3,), (2, 4), (4, 3)]),
]


@pytest.mark.parametrize("name, fn, shapes", GRADGRAD, ids=[c[0] for c in GRADGRAD])
def test_gradgradcheck(name, fn, shapes):
    rng = np.random.default_rng(7)
    inputs = [_leaf(rng, *s) for s in shapes]
    assert disttorch.autograd.gradgradcheck(fn, inputs)
