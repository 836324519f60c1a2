"""Grids, combinatorics, differences and integrals, covariance, histograms, number theory,
windows and the alias family (``torch.det``, ``torch.abs_``, in-place comparisons...)."""
import math

import numpy as np
import pytest

import disttorch
from .harness import OpInfo, S, op_tests, randn, positive, requires_torch, torch


def _ints(rng, *shape):
    return np.asarray(rng.integers(0, 6, shape))


OPS = [
    OpInfo("diff", lambda lib, x: lib.diff(x), lambda rng: [S(randn(rng, 3, 5)), S(randn(rng, 6))]),
    OpInfo("diff_n2_dim0_prepend", lambda lib, x, p: lib.diff(x, n=2, dim=0, prepend=p),
           lambda rng: [S(randn(rng, 4, 3), randn(rng, 1, 3))]),
    OpInfo("trapezoid", lambda lib, y: lib.trapezoid(y), lambda rng: [S(randn(rng, 3, 5))]),
    OpInfo("trapezoid_x", lambda lib, y, x: lib.trapezoid(y, x, dim=0),
           lambda rng: [S(randn(rng, 4, 3), np.cumsum(positive(rng, 4)))]),
    OpInfo("trapz_dx", lambda lib, y: lib.trapz(y, dx=0.5), lambda rng: [S(randn(rng, 6))]),
    OpInfo("cumulative_trapezoid", lambda lib, y: lib.cumulative_trapezoid(y, dx=2.0),
           lambda rng: [S(randn(rng, 2, 5))]),
    OpInfo("cov", lambda lib, x: lib.cov(x), lambda rng: [S(randn(rng, 3, 6)), S(randn(rng, 5))]),
    OpInfo("cov_weights", lambda lib, x, a: lib.cov(x, correction=0, aweights=a),
           lambda rng: [S(randn(rng, 2, 5), positive(rng, 5), grad=[True, False])]),
    OpInfo("corrcoef", lambda lib, x: lib.corrcoef(x), lambda rng: [S(randn(rng, 3, 7))]),
    OpInfo("block_diag", lambda lib, a, b, c: lib.block_diag(a, b, c),
           lambda rng: [S(randn(rng, 2, 3), randn(rng, 4), np.asarray(rng.standard_normal(())))]),
    # torch's own vander and ldexp backward are broken (an in-place cumprod; 2**e computed in
    # integers for negative e), so their gradients are checked by finite differences only
    OpInfo("vander", lambda lib, x: lib.vander(x, N=4), lambda rng: [S(randn(rng, 3))], grad=False),
    OpInfo("vander_increasing", lambda lib, x: lib.vander(x, increasing=True),
           lambda rng: [S(randn(rng, 4))], grad=False),
    OpInfo("vander_gradient", lambda lib, x: lib.vander(x, N=4), lambda rng: [S(randn(rng, 3))],
           dtypes=()),
    OpInfo("ldexp_negative_exponents", lambda lib, x, e: lib.ldexp(x, e),
           lambda rng: [S(randn(rng, 4), np.asarray(rng.integers(-3, 0, (4,))))], dtypes=()),
    OpInfo("cartesian_prod", lambda lib, a, b: lib.cartesian_prod(a, b),
           lambda rng: [S(randn(rng, 3), randn(rng, 2))]),
    OpInfo("combinations", lambda lib, x: lib.combinations(x, r=2), lambda rng: [S(randn(rng, 4))]),
    OpInfo("combinations_replacement", lambda lib, x: lib.combinations(x, 3, True),
           lambda rng: [S(randn(rng, 3))]),
    OpInfo("meshgrid_ij", lambda lib, a, b: lib.meshgrid(a, b, indexing="ij"),
           lambda rng: [S(randn(rng, 3), randn(rng, 2))]),
    OpInfo("meshgrid_xy", lambda lib, a, b, c: lib.meshgrid([a, b, c], indexing="xy"),
           lambda rng: [S(randn(rng, 3), randn(rng, 2), randn(rng, 4))]),
    OpInfo("diagflat", lambda lib, x: lib.diagflat(x, 1), lambda rng: [S(randn(rng, 2, 2))]),
    OpInfo("renorm", lambda lib, x: lib.renorm(x, 2, 0, 1.0), lambda rng: [S(randn(rng, 3, 4) * 2)]),
    OpInfo("renorm_p1_dim1", lambda lib, x: x.renorm(1, 1, 0.5), lambda rng: [S(randn(rng, 3, 4))]),
    OpInfo("ldexp", lambda lib, x, e: lib.ldexp(x, e),
           lambda rng: [S(randn(rng, 4), np.asarray(rng.integers(0, 4, (4,))))]),
    OpInfo("logcumsumexp", lambda lib, x: lib.logcumsumexp(x, 1),
           lambda rng: [S(randn(rng, 3, 5)), S(randn(rng, 2, 4) * 50)]),
    OpInfo("logdet", lambda lib, x: lib.logdet(x @ x.transpose(-2, -1) + lib.eye(3)),
           lambda rng: [S(randn(rng, 3, 3))]),
    OpInfo("det", lambda lib, x: lib.det(x), lambda rng: [S(randn(rng, 2, 3, 3))]),
    OpInfo("inverse", lambda lib, x: x.inverse(), lambda rng: [S(randn(rng, 3, 3) + 3 * np.eye(3))]),
    OpInfo("pinverse", lambda lib, x: lib.pinverse(x), lambda rng: [S(randn(rng, 4, 3))]),
    OpInfo("matrix_power", lambda lib, x: lib.matrix_power(x, 3), lambda rng: [S(randn(rng, 3, 3))]),
    OpInfo("svd_S", lambda lib, x: lib.svd(x)[1], lambda rng: [S(randn(rng, 4, 3))]),
    OpInfo("angle", lambda lib, x: lib.angle(x), lambda rng: [S(randn(rng, 5) + 0.1)]),
    OpInfo("arcsinh", lambda lib, x: lib.arcsinh(x), lambda rng: [S(randn(rng, 5))]),
    OpInfo("sum_to_size", lambda lib, x: x.sum_to_size(1, 4), lambda rng: [S(randn(rng, 3, 4))]),
    OpInfo("triangular_solve", lambda lib, b, a: lib.triangular_solve(b, a.triu() + 3 * lib.eye(3),
                                                                      transpose=True),
           lambda rng: [S(randn(rng, 3, 2), randn(rng, 3, 3))], atol=1e-4),
    OpInfo("triangular_solve_method", lambda lib, b, a: b.triangular_solve(a.tril() + 3 * lib.eye(3),
                                                                           upper=False)[0],
           lambda rng: [S(randn(rng, 3, 2), randn(rng, 3, 3))], atol=1e-4),
    OpInfo("frobenius_norm", lambda lib, x: lib.frobenius_norm(x, dim=(0,), keepdim=True),
           lambda rng: [S(randn(rng, 3, 4))]),
    OpInfo("nuclear_norm", lambda lib, x: lib.nuclear_norm(x), lambda rng: [S(randn(rng, 3, 4))]),
    OpInfo("gradient", lambda lib, x: lib.gradient(x), lambda rng: [S(randn(rng, 4, 5))]),
    OpInfo("gradient_spacing_edge2", lambda lib, x: lib.gradient(x, spacing=[0.5], dim=[1],
                                                                 edge_order=2),
           lambda rng: [S(randn(rng, 3, 5))]),
    OpInfo("gradient_coordinates", lambda lib, x, c: lib.gradient(x, spacing=(c,), dim=0,
                                                                  edge_order=2),
           lambda rng: [S(randn(rng, 5, 2), np.cumsum(positive(rng, 5)), grad=[True, False])]),
    OpInfo("mode", lambda lib, x: lib.mode(x.round(), 1),
           lambda rng: [S(np.asarray(rng.integers(0, 3, (3, 6)), float) + 0.25)], gradcheck=False),
    OpInfo("matrix_exp", lambda lib, x: lib.matrix_exp(x), lambda rng: [S(randn(rng, 2, 3, 3)),
                                                                        S(randn(rng, 4, 4) * 3)]),
    OpInfo("linalg_matrix_exp", lambda lib, x: lib.linalg.matrix_exp(x),
           lambda rng: [S(randn(rng, 2, 2))]),
]

test_matches_torch, test_finite_differences = op_tests(OPS)


def _same(ours, ref):
    ours = ours if isinstance(ours, (tuple, list)) else (ours,)
    ref = ref if isinstance(ref, (tuple, list)) else (ref,)
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        assert tuple(a.shape) == tuple(b.shape)
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)


def _both(fn, *arrays):
    return (fn(disttorch, *[disttorch.from_numpy(a.copy()) for a in arrays]),
            fn(torch, *[torch.from_numpy(a.copy()) for a in arrays]))


@requires_torch
@pytest.mark.parametrize("case", [
    (lambda lib, x: lib.histc(x, bins=5), [np.array([0.1, 0.5, 0.5, 2.0, 3.0, -1.0])]),
    (lambda lib, x: lib.histc(x, bins=4, min=0, max=2), [np.array([0.1, 0.5, 2.0, 3.0, -1.0])]),
    (lambda lib, x: lib.histogram(x, bins=4, range=(0.0, 3.0)), [np.array([1.0, 2.0, 1.0])]),
    (lambda lib, x, w: lib.histogram(x, 3, weight=w, density=True),
     [np.array([0.1, 0.4, 0.9, 0.95]), np.array([1.0, 2.0, 0.5, 1.0])]),
    (lambda lib, x, e: lib.histogram(x, e), [np.array([0.1, 0.4, 0.9]), np.array([0.0, 0.5, 1.0])]),
    (lambda lib, x: lib.bincount(x), [np.array([0, 2, 2, 5])]),
    (lambda lib, x: lib.bincount(x, minlength=8), [np.array([1, 1])]),
    (lambda lib, x, w: lib.bincount(x, w), [np.array([0, 2, 2]), np.array([1.0, 2.0, 3.0])]),
    (lambda lib, x, w: x.bincount(w), [np.array([1, 0]), np.array([1.5, 2.5], np.float32)]),
    (lambda lib, a, b: lib.gcd(a, b), [np.array([4, 6, -9, 0]), np.array([6, 9, 6, 5])]),
    (lambda lib, a, b: lib.lcm(a, b), [np.array([4, 6, 3]), np.array([6, 9, 5])]),
    (lambda lib, x: lib.frexp(x), [np.array([8.0, 0.3, -5.0, 0.0], np.float32)]),
    (lambda lib, x, t: lib.isin(x, t), [np.array([1, 2, 3, 4]), np.array([2, 4, 7])]),
    (lambda lib, x: lib.isin(x, 2, invert=True), [np.array([1, 2, 3])]),
    (lambda lib, x: lib.combinations(x, r=4), [np.array([1, 2])]),
    (lambda lib, x: lib.vander(x), [np.array([1, 2, 3])]),
    (lambda lib, x: lib.diff(x), [np.array([True, False, False])]),
    (lambda lib, x: lib.block_diag(x, x.double()), [np.array([[1, 2]])]),
    (lambda lib, x: lib.cov(x), [np.array([[1, 2, 4], [0, 1, 1]])]),
    (lambda lib, a, b: lib.bitwise_left_shift(a, b), [np.array([1, 2, 3]), np.array([1, 2, 0])]),
    (lambda lib, a, b: lib.nextafter(a, b), [np.array([1.0, 2.0]), np.array([2.0, 0.0])]),
    (lambda lib, x: lib.logcumsumexp(x, 0), [np.array([-np.inf, 0.0, 1000.0, 2.0])]),
    (lambda lib, x: lib.split_with_sizes(x, [1, 2]), [np.arange(3.0)]),
], ids=lambda c: "case")
def test_non_differentiable_ops_match_torch(case):
    fn, arrays = case
    _same(*_both(fn, *arrays))


@requires_torch
@pytest.mark.parametrize("some", [True, False])
def test_svd_returns_v_not_vh(some):
    a = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]])
    (u, s, v), ref = _both(lambda lib, x: lib.svd(x, some=some), a)
    # singular vectors are unique up to sign: compare shapes and the reconstruction
    assert [tuple(t.shape) for t in (u, s, v)] == [tuple(t.shape) for t in ref]
    rebuilt = u[:, :2] @ disttorch.diag(s) @ v.transpose(0, 1)
    np.testing.assert_allclose(rebuilt.numpy(), a, atol=1e-10)
    zeros = disttorch.svd(disttorch.from_numpy(a), compute_uv=False)
    assert zeros.U.abs().sum().item() == 0 and tuple(zeros.V.shape) == (2, 2)


@requires_torch
def test_index_and_window_factories_match_torch():
    for args in [(3, 3), (4, 3, 1), (3, 5, -1), (0, 0)]:
        _same(disttorch.tril_indices(*args), torch.tril_indices(*args))
        _same(disttorch.triu_indices(*args), torch.triu_indices(*args))
    for name in ("hann_window", "hamming_window", "blackman_window", "bartlett_window",
                 "kaiser_window"):
        for length, periodic in [(0, True), (1, True), (5, True), (6, False)]:
            ours = getattr(disttorch, name)(length, periodic, dtype=disttorch.float64)
            ref = getattr(torch, name)(length, periodic, dtype=torch.float64)
            np.testing.assert_allclose(ours.numpy(), ref.numpy(), atol=1e-12, err_msg=name)
        assert getattr(disttorch, name)(4).dtype == disttorch.float32
    with pytest.raises(RuntimeError, match="floating point"):
        disttorch.hann_window(4, dtype=disttorch.int64)


def test_errors_name_the_problem():
    with pytest.raises(RuntimeError, match="1-d non-negative integral"):
        disttorch.bincount(disttorch.tensor([-1, 2]))
    with pytest.raises(RuntimeError, match="not implemented for 'Float'"):
        disttorch.gcd(disttorch.tensor([1.0]), disttorch.tensor([2.0]))
    with pytest.raises(NotImplementedError, match="'Long'"):
        disttorch.histc(disttorch.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="indexing must be one of"):
        disttorch.meshgrid(disttorch.ones(2), indexing="yx")
    with pytest.raises(RuntimeError, match="2 or fewer dimensions"):
        disttorch.block_diag(disttorch.ones(2, 2, 2))
    with pytest.raises(RuntimeError, match="expects input to be at least one-dimensional"):
        disttorch.diff(disttorch.tensor(1.0))
    with pytest.raises(RuntimeError, match="non-complex"):
        disttorch.ones(2).imag
    with pytest.raises(RuntimeError, match="not expandable"):
        disttorch.ones(2, 3).sum_to_size(4)
    with pytest.raises(RuntimeError, match="requires dtype Double"):
        disttorch.ones(2).float_power_(2)


def test_meshgrid_without_indexing_warns_and_uses_ij():
    with pytest.warns(UserWarning, match="indexing argument"):
        x, y = disttorch.meshgrid(disttorch.arange(3), disttorch.arange(2))
    assert tuple(x.shape) == (3, 2) and x[2, 0].item() == 2 and y[0, 1].item() == 1


def test_top_level_inplace_functions_and_inplace_methods():
    x = disttorch.tensor([-1.0, 4.0])
    assert disttorch.abs_(x) is x and x.tolist() == [1.0, 4.0]
    disttorch.sqrt_(x)
    assert x.tolist() == [1.0, 2.0]
    disttorch.zero_(x)
    assert x.tolist() == [0.0, 0.0]
    y = disttorch.tensor([1.0, 2.0, 3.0])
    assert y.clone().eq_(2.0).tolist() == [0.0, 1.0, 0.0]
    assert y.clone().lt_(disttorch.tensor([2.0, 2.0, 2.0])).tolist() == [1.0, 0.0, 0.0]
    bits = disttorch.tensor([6, 3])
    bits.bitwise_and_(disttorch.tensor([3, 1]))
    assert bits.tolist() == [2, 1]
    bits.bitwise_left_shift_(1)
    assert bits.tolist() == [4, 2]
    with pytest.raises(RuntimeError, match="leaf Variable"):
        disttorch.ones(2, requires_grad=True).eq_(1.0)


@requires_torch
def test_tensor_utilities():
    t = disttorch.arange(4.0)
    assert t.apply_(lambda v: v * v) is t and t.tolist() == [0.0, 1.0, 4.0, 9.0]
    r = disttorch.arange(6.0)
    r.resize_(2, 2)
    assert r.tolist() == [[0.0, 1.0], [2.0, 3.0]]
    r.resize_as_(disttorch.ones(3))
    assert tuple(r.shape) == (3,)
    m = disttorch.zeros(5, 2)
    m.fill_diagonal_(7.0, wrap=True)
    assert m.tolist() == torch.zeros(5, 2).fill_diagonal_(7.0, wrap=True).tolist()
    cube = disttorch.zeros(2, 2, 2).fill_diagonal_(1.0)
    assert cube.sum().item() == 2.0 and cube[1, 1, 1].item() == 1.0
    x = disttorch.ones(2, 3)
    assert x.real is x and x.layout is disttorch.strided and not x.is_meta
    assert x.is_signed() and not disttorch.ones(2, dtype=disttorch.uint8).is_signed()
    assert disttorch.is_signed(x) and not disttorch.is_inference(x)
    assert x.new_empty_strided((2, 2), (2, 1)).shape == (2, 2)
    assert x.dim_order() == (0, 1)
    assert disttorch.fill(x, 2.5).tolist() == [[2.5] * 3] * 2
    assert disttorch.get_device(x) == -1 and disttorch.detach(x).requires_grad is False

    class Marked(disttorch.Tensor):
        pass

    a = disttorch.ones(2, requires_grad=True) * 2
    marked = a.as_subclass(Marked)
    assert isinstance(marked, Marked)
    marked.sum().backward()


def test_logcumsumexp_double_backward():
    x = disttorch.tensor([[0.3, -1.2, 2.0, 0.5]], dtype=disttorch.float64, requires_grad=True)
    assert disttorch.autograd.gradgradcheck(lambda t: disttorch.logcumsumexp(t, 1), (x,))


def test_frexp_result_reconstructs_the_input():
    x = disttorch.tensor([8.0, 0.3, -5.0])
    mantissa, exponent = disttorch.frexp(x)
    assert exponent.dtype == disttorch.int32
    assert disttorch.allclose(disttorch.ldexp(mantissa, exponent), x)
    assert math.isclose(disttorch.frexp(x).mantissa[0].item(), 0.5)


def test_matrix_exp_double_backward_and_errors():
    a = disttorch.tensor([[0.1, 1.2], [-0.7, 0.3]], dtype=disttorch.float64, requires_grad=True)
    assert disttorch.autograd.gradgradcheck(disttorch.matrix_exp, (a,))
    rotation = disttorch.matrix_exp(disttorch.tensor([[0.0, 1.0], [-1.0, 0.0]],
                                                     dtype=disttorch.float64))
    assert rotation[0, 0].item() == pytest.approx(math.cos(1.0), rel=1e-14)
    with pytest.raises(RuntimeError, match="square matrices"):
        disttorch.matrix_exp(disttorch.ones(2, 3))
    with pytest.raises(RuntimeError, match="Got Long"):
        disttorch.matrix_exp(disttorch.ones(2, 2, dtype=disttorch.int64))


@requires_torch
def test_mode_ties_pick_the_smallest_value_and_last_index():
    x = np.array([[1, 2, 2, 3, 3], [5, 5, 1, 1, 0]])
    _same(*_both(lambda lib, t: lib.mode(t, 1), x))
    _same(*_both(lambda lib, t: t.mode(0, keepdim=True), x))
    _same(*_both(lambda lib, t: lib.mode(t), np.array([1.0, 1.0, 2.0, 2.0, 2.0, 1.0])))


def test_functional_inplace_aliases():
    y = disttorch.tensor([-1.0, 1.0])
    assert disttorch.selu_(y) is y and y[1].item() == pytest.approx(1.0507009873554805)
    z = disttorch.tensor([0.5, 2.0])
    disttorch.threshold_(z, 1.0, -3.0)
    assert z.tolist() == [-3.0, 2.0]
    w = disttorch.tensor([2.0, 3.0])
    disttorch.arccosh_(w)
    assert w[0].item() == pytest.approx(math.acosh(2.0), rel=1e-6)


def test_memory_format_tags_are_accepted():
    x = disttorch.ones(1, 2, 3, 3).contiguous(memory_format=disttorch.channels_last)
    model = disttorch.nn.Conv2d(2, 2, 1).to(memory_format=disttorch.channels_last)
    assert model(x).shape == (1, 2, 3, 3)
    assert isinstance(disttorch.preserve_format, disttorch.memory_format)
    assert repr(disttorch.channels_last) == "torch.channels_last"


@requires_torch
def test_conjugation_and_layout_queries_match_torch():
    z = np.array([[1 + 2j, -3 - 0.5j], [0.25j, 4.0]], dtype=np.complex64)
    r = np.array([1.5, -2.0], dtype=np.float32)
    for lib in (torch, disttorch):
        x, y = lib.from_numpy(z.copy()), lib.from_numpy(r.copy())
        assert y.conj() is y and lib.conj(y) is y and y.resolve_conj() is y
        assert not x.resolve_conj().is_conj() and not x.is_neg() and x.resolve_neg() is x
        np.testing.assert_array_equal(x.conj().resolve_conj().numpy(), z.conj())
        np.testing.assert_array_equal(lib.conj_physical(x).numpy(), z.conj())
        assert lib.conj_physical(x).dtype == x.dtype
        x.conj_physical_()
        np.testing.assert_array_equal(x.numpy(), z.conj())
        assert not any([y.is_sparse, y.is_sparse_csr, y.is_quantized, y.is_nested, y.is_mkldnn])
        assert y.is_same_size(lib.zeros(2)) and not y.is_same_size(lib.zeros(2, 1))
        assert lib.tensor([0.5]).is_nonzero() and not lib.tensor([[0]]).is_nonzero()
        for bad, message in [(lib.ones(0), "with no values is ambiguous"),
                             (lib.ones(2), "with more than one value is ambiguous")]:
            with pytest.raises(RuntimeError, match=message):
                bad.is_nonzero()


@requires_torch
def test_zero_dim_and_tensor_arguments_match_torch():
    # found by a sweep of torch.* over 0-d inputs: each of these raised in disttorch
    for lib in (torch, disttorch):
        assert lib.poisson(lib.tensor(2.0)).shape == () and lib.poisson(lib.tensor(2.0)).dtype \
            == lib.float32
        assert lib.randperm(lib.tensor(3)).sort().values.tolist() == [0, 1, 2]
        assert lib.hann_window(lib.tensor(4)).tolist() == [0.0, 0.5, 1.0, 0.5]
        assert lib.histogram(lib.tensor([0.7, 0.2])).hist.shape == (100,)
    np.testing.assert_allclose(disttorch.logit(disttorch.tensor([True, False]), eps=0.1).numpy(),
                               torch.logit(torch.tensor([True, False]), eps=0.1).numpy(),
                               rtol=1e-6)
    assert disttorch.logit(disttorch.tensor(True)).item() == float("inf")
    with pytest.warns(UserWarning, match="adjoint\\(\\) is deprecated on 0-D tensors"):
        assert disttorch.tensor(0.5).adjoint().item() == 0.5
    with pytest.raises(RuntimeError, match="Got 1-D tensor"):
        disttorch.ones(3).adjoint()
