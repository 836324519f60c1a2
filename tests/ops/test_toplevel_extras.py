"""Top-level functions PyTorch scripts call that sit outside the op families: complex/polar,
unravel_index, frombuffer, view_as_real/view_as_complex, typename, the inter-op thread count,
anomaly switches; and the top-level linear algebra outside torch.linalg (qr, slogdet,
cholesky_solve, cholesky_inverse, geqrf, ormqr). Each against torch: values, gradients, errors."""
import array
import warnings

import numpy as np
import pytest

import disttorch
from tests.ops.harness import requires_torch


def _outcome(fn, lib):
    """``("ok", result)`` or ``(exception type name, message)``."""
    try:
        return "ok", fn(lib)
    except Exception as error:   # noqa: BLE001 - the error is what is compared
        return type(error).__name__, str(error)


def _same_outcome(fn, compare=None):
    import torch
    ours, theirs = _outcome(fn, disttorch), _outcome(fn, torch)
    assert ours[0] == theirs[0], (ours, theirs)
    if ours[0] != "ok":
        # dtypes print as disttorch.<name> here
        assert ours[1].replace("disttorch.", "torch.") == theirs[1]
    elif compare is not None:
        compare(ours[1], theirs[1])
    return ours, theirs


def _close(a, b, rtol=1e-6, atol=1e-8):
    a = a if isinstance(a, (tuple, list)) else (a,)
    b = b if isinstance(b, (tuple, list)) else (b,)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert str(x.dtype).split(".")[-1] == str(y.dtype).split(".")[-1]
        assert tuple(x.shape) == tuple(y.shape)
        np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=rtol, atol=atol)


# --------------------------------------------------------------------- complex, polar
@requires_torch
@pytest.mark.parametrize("case", [
    lambda L: (L.tensor([1.0, -2.0]), L.tensor([0.5, 3.0])),
    lambda L: (L.tensor([1.0, 2.0], dtype=L.float64), L.tensor([[0.5], [3.0]],
                                                              dtype=L.float64)),
    lambda L: (L.tensor(2.0), L.tensor([1.0, float("nan"), float("inf")])),
    lambda L: (L.ones(2, dtype=L.float64), L.ones(2)),
    lambda L: (L.ones(2, dtype=L.long), L.ones(2)),
    lambda L: (L.ones(2), L.ones(2, dtype=L.long)),
    lambda L: (L.ones(2, 3), L.ones(4)),
])
@pytest.mark.parametrize("name", ["complex", "polar"])
def test_complex_and_polar_match_torch(case, name):
    def compare(ours, theirs):
        assert ours.dtype.is_complex and str(ours.dtype)[-9:] == str(theirs.dtype)[-9:]
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    fn = (lambda L: getattr(L, name)(*case(L)))
    _same_outcome(fn, compare)


def test_complex_refuses_autograd_instead_of_dropping_it():
    a = disttorch.ones(2, requires_grad=True)
    for fn in (disttorch.complex, disttorch.polar):
        with pytest.raises(RuntimeError, match="autograd through complex tensors"):
            fn(a, a)
        with disttorch.no_grad():
            assert fn(a, a).dtype == disttorch.complex64
    with pytest.raises(RuntimeError, match="ComplexHalf"):
        disttorch.complex(disttorch.ones(2, dtype=disttorch.float16),
                          disttorch.ones(2, dtype=disttorch.float16))


# ------------------------------------------------------------------------ unravel_index
@requires_torch
@pytest.mark.parametrize("case", [
    lambda L: L.unravel_index(L.tensor([4, 1, 11]), (3, 4)),
    lambda L: L.unravel_index(L.tensor(7), (3, 4)),
    lambda L: L.unravel_index(L.tensor([[0, 5], [23, 6]]), (2, 3, 4)),
    lambda L: L.unravel_index(L.tensor([12, -1, -13]), (3, 4)),
    lambda L: L.unravel_index(L.tensor([1], dtype=L.int32), 4),
    lambda L: L.unravel_index(L.tensor([1]), L.Size([2, 2])),
    lambda L: L.unravel_index(L.tensor([3]), (2 ** 40, 2 ** 40)),
    lambda L: L.unravel_index(L.tensor([1]), ()),
    lambda L: L.unravel_index(L.tensor([1.5]), (3,)),
    lambda L: L.unravel_index(L.tensor([True]), (3,)),
    lambda L: L.unravel_index(L.tensor([1]), (3, -4)),
])
def test_unravel_index_matches_torch(case):
    def compare(ours, theirs):
        assert len(ours) == len(theirs)
        for x, y in zip(ours, theirs):
            assert x.dtype == disttorch.int64 and x.tolist() == y.tolist()
    _same_outcome(case, compare)


# ---------------------------------------------------------------------------- frombuffer
@requires_torch
@pytest.mark.parametrize("case", [
    lambda L: L.frombuffer(bytearray(b"\x00\x00\x80\x3f" * 3), dtype=L.float32),
    lambda L: L.frombuffer(bytearray(b"\x00\x00\x80\x3f" * 3), dtype=L.float32, count=2,
                           offset=4),
    lambda L: L.frombuffer(array.array("i", [1, 2, 3]), dtype=L.int32),
    lambda L: L.frombuffer(bytearray(8), dtype=L.int16, count=2, offset=2),
    lambda L: L.frombuffer(bytearray(8), dtype=L.float32, requires_grad=True),
    lambda L: L.frombuffer(b"", dtype=L.float32),
    lambda L: L.frombuffer(bytearray(4), dtype=L.float32, offset=4),
    lambda L: L.frombuffer(bytearray(8), dtype=L.float32, count=3),
    lambda L: L.frombuffer(bytearray(7), dtype=L.float32),
    lambda L: L.frombuffer(bytearray(8), dtype=L.int16, offset=1),
    lambda L: L.frombuffer(bytearray(8), dtype=L.int16, count=0),
    lambda L: L.frombuffer([1, 2], dtype=L.int8),
])
def test_frombuffer_matches_torch(case):
    def compare(ours, theirs):
        assert ours.tolist() == theirs.tolist() and ours.requires_grad == theirs.requires_grad
        assert str(ours.dtype)[-7:] == str(theirs.dtype)[-7:]
    _same_outcome(case, compare)


def test_frombuffer_shares_memory_and_keeps_read_only_buffers_read_only():
    buffer = bytearray(8)
    t = disttorch.frombuffer(buffer, dtype=disttorch.int32)
    t[1] = 7
    assert buffer[4] == 7
    buffer[0] = 5
    assert t[0].item() == 5
    with pytest.warns(UserWarning, match="not writable"):
        frozen = disttorch.frombuffer(b"\x01\x00", dtype=disttorch.int16)
    assert frozen.tolist() == [1]
    with pytest.raises(ValueError, match="read-only"):
        frozen.add_(1)


# -------------------------------------------------------------- view_as_real / complex
@requires_torch
@pytest.mark.parametrize("case", [
    lambda L: L.view_as_complex(L.arange(6.0).reshape(3, 2)),
    lambda L: L.view_as_complex(L.arange(8.0, dtype=L.float64).reshape(2, 2, 2)),
    lambda L: L.view_as_complex(L.arange(2.0)),
    lambda L: L.view_as_complex(L.arange(8.0).reshape(4, 2)[::2]),
    lambda L: L.view_as_real(L.view_as_complex(L.arange(6.0).reshape(3, 2))),
    lambda L: L.view_as_real(L.tensor(1 + 2j)),
    lambda L: L.view_as_complex(L.ones(3, 3)),
    lambda L: L.view_as_complex(L.ones(2, 3).t()),
    lambda L: L.view_as_complex(L.ones(3, 2, dtype=L.long)),
    lambda L: L.view_as_complex(L.ones(4, 2)[::3]),
    lambda L: L.view_as_complex(L.ones(2, 4)[:, 1:3]),
    lambda L: L.view_as_complex(L.ones(3, 3)[:, :2]),
    lambda L: L.view_as_real(L.ones(2)),
])
def test_view_as_real_and_complex_match_torch(case):
    def compare(ours, theirs):
        assert ours.shape == theirs.shape and ours.stride() == theirs.stride()
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    _same_outcome(case, compare)


def test_complex_views_share_memory():
    x = disttorch.zeros(3, 2)
    c = disttorch.view_as_complex(x)
    c[1] = 3 + 4j
    assert x[1].tolist() == [3.0, 4.0]
    r = disttorch.view_as_real(c)
    r[2, 1] = 9.0
    assert c[2].item() == 9j and x[2, 1].item() == 9.0
    assert x._version == c._version == r._version > 0
    with pytest.raises(RuntimeError, match="autograd through complex tensors"):
        disttorch.view_as_complex(disttorch.zeros(3, 2, requires_grad=True))


# ------------------------------------------------------------------- small utilities
@requires_torch
def test_typename_matches_torch():
    import torch
    for lib_value in (lambda L: L.ones(2), lambda L: L.ones(2, dtype=L.long),
                      lambda L: L.ones(2, dtype=L.float64), lambda L: 3, lambda L: "s",
                      lambda L: [1]):
        assert disttorch.typename(lib_value(disttorch)) == torch.typename(lib_value(torch))
    assert disttorch.typename(disttorch.nn.Linear(1, 1)) == "disttorch.nn.modules.linear.Linear"


def test_interop_threads_are_set_once(monkeypatch):
    from disttorch.ops import utility
    monkeypatch.setitem(utility._interop, "threads", None)
    assert disttorch.get_num_interop_threads() >= 1
    for bad, message in ((0, "expects a positive integer"), (-1, "expects a positive integer"),
                         (1.5, "expects an int, but got float")):
        with pytest.raises(RuntimeError, match=message):
            disttorch.set_num_interop_threads(bad)
    disttorch.set_num_interop_threads(3)
    assert disttorch.get_num_interop_threads() == 3
    with pytest.raises(RuntimeError, match="cannot set number of interop threads"):
        disttorch.set_num_interop_threads(2)


def test_anomaly_switches_and_flush_denormal():
    assert not disttorch.is_anomaly_enabled() and disttorch.is_anomaly_check_nan_enabled()
    try:
        disttorch.set_anomaly_enabled(True, False)
        assert disttorch.is_anomaly_enabled() and not disttorch.is_anomaly_check_nan_enabled()
        assert disttorch.autograd.is_anomaly_enabled()
    finally:
        disttorch.set_anomaly_enabled(False)
    assert not disttorch.is_anomaly_enabled() and disttorch.is_anomaly_check_nan_enabled()
    # not supported here: says so, changes nothing
    assert disttorch.set_flush_denormal(True) is False
    assert disttorch.tensor([1e-39]).item() != 0.0


# ------------------------------------------------------- linear algebra outside linalg
def _spd_factor(rng, batch, n):
    s = rng.standard_normal(batch + (n, n))
    return np.linalg.cholesky(s @ np.swapaxes(s, -1, -2) + n * np.eye(n))


def _pair(fn, *arrays, grad=False):
    import torch
    results = []
    for lib in (disttorch, torch):
        tensors = [lib.tensor(a, requires_grad=grad) for a in arrays]
        results.append((fn(lib, *tensors), tensors))
    return results


@requires_torch
def test_qr_and_slogdet_are_linalgs_with_torchs_result_types():
    rng = np.random.default_rng(0)
    a, s = rng.standard_normal((5, 3)), rng.standard_normal((2, 4, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fn in (lambda L, x: L.qr(x), lambda L, x: L.qr(x, some=False),
                   lambda L, x: x.qr(), lambda L, x: x.qr(False)):
            (ours, _), (theirs, _) = _pair(fn, a)
            assert type(ours).__name__ == "qr" and ours._fields == ("Q", "R")
            _close(tuple(ours), tuple(theirs))
    for fn in (lambda L, x: L.slogdet(x), lambda L, x: x.slogdet()):
        (ours, _), (theirs, _) = _pair(fn, s)
        assert type(ours).__name__ == "slogdet"
        _close(tuple(ours), tuple(theirs))


def test_qr_warns_once_that_it_is_deprecated():
    from disttorch.linalg import _legacy
    _legacy._warned.discard("qr")
    with pytest.warns(UserWarning, match="torch.qr is deprecated"):
        disttorch.qr(disttorch.randn(3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        disttorch.qr(disttorch.randn(3, 2))


@requires_torch
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("shapes", [((2, 4, 3), (2,)), ((4, 3), (2,)), ((2, 4, 3), ())])
def test_cholesky_solve_and_inverse_values_and_gradients_match_torch(upper, shapes):
    rng = np.random.default_rng(1)
    b_shape, batch = shapes
    factor = _spd_factor(rng, batch, 4)
    if upper:
        factor = np.swapaxes(factor, -1, -2).copy()
    b = rng.standard_normal(b_shape)

    def solve(L, x, f):
        out = L.cholesky_solve(x, f, upper)
        weights = L.tensor(np.arange(out.numel(), dtype=np.float64).reshape(tuple(out.shape)))
        return (out,) + L.autograd.grad((out * weights).sum(), [x, f])

    (ours, _), (theirs, _) = _pair(solve, b, factor, grad=True)
    _close(ours, theirs, rtol=1e-9)
    (ours, _), (theirs, _) = _pair(lambda L, x, f: x.cholesky_solve(f, upper), b, factor)
    _close(ours, theirs, rtol=1e-9)

    def inverse(L, f):
        out = L.cholesky_inverse(f, upper)
        return (out,) + L.autograd.grad((out * out).sum(), [f])

    (ours, _), (theirs, _) = _pair(inverse, factor, grad=True)
    _close(ours, theirs, rtol=1e-9)


def test_cholesky_solve_gradcheck():
    rng = np.random.default_rng(2)
    factor = disttorch.tensor(_spd_factor(rng, (2,), 3), requires_grad=True)
    b = disttorch.tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)
    # the function reads one triangle: the other is not an input of it
    assert disttorch.autograd.gradcheck(lambda x, f: disttorch.cholesky_solve(x, f.tril()),
                                        (b, factor))
    assert disttorch.autograd.gradgradcheck(
        lambda x, f: disttorch.cholesky_solve(x, f.tril()), (b, factor))
    upper = disttorch.tensor(np.swapaxes(_spd_factor(rng, (), 3), -1, -2).copy(),
                             requires_grad=True)
    assert disttorch.autograd.gradcheck(
        lambda f: disttorch.cholesky_inverse(f.triu(), upper=True), (upper,))


@requires_torch
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4), (2, 3, 0), (0, 2)])
def test_geqrf_matches_torch(shape):
    rng = np.random.default_rng(3)
    (ours, _), (theirs, _) = _pair(lambda L, x: L.geqrf(x), rng.standard_normal(shape))
    assert type(ours).__name__ == "geqrf" and ours._fields == ("a", "tau")
    _close(tuple(ours), tuple(theirs), rtol=1e-9, atol=1e-12)
    (method, _), _ = _pair(lambda L, x: x.geqrf(), rng.standard_normal(shape))
    assert tuple(method.a.shape) == shape


@requires_torch
def test_geqrf_backward_raises_like_torch():
    _same_outcome(lambda L: L.geqrf(L.randn(3, 2, requires_grad=True))[0].sum().backward())


@requires_torch
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("shape", [(5, 3), (4, 4), (2, 4, 3)])
def test_ormqr_values_and_gradients_match_torch(left, transpose, shape):
    import torch
    rng = np.random.default_rng(4)
    a, tau = (x.numpy() for x in torch.geqrf(torch.tensor(rng.standard_normal(shape))))
    m = shape[-2]
    other = rng.standard_normal(shape[:-2] + ((m, 2) if left else (2, m)))

    def run(L, x, t, c):
        out = L.ormqr(x, t, c, left, transpose)
        weights = L.tensor(np.arange(out.numel(), dtype=np.float64).reshape(tuple(out.shape)))
        return (out,) + L.autograd.grad((out * weights).sum(), [x, t, c])

    (ours, _), (theirs, _) = _pair(run, a, tau, other, grad=True)
    _close(ours, theirs, rtol=1e-9, atol=1e-12)
    if shape == (5, 3):
        tensors = [disttorch.tensor(x, requires_grad=True) for x in (a, tau, other)]
        assert disttorch.autograd.gradcheck(
            lambda x, t, c: disttorch.ormqr(x, t, c, left, transpose), tensors)


@requires_torch
@pytest.mark.parametrize("case", [
    lambda L: L.ormqr(L.randn(3), L.randn(1), L.randn(3, 3)),
    lambda L: L.ormqr(L.randn(3, 2), L.randn(3), L.randn(3, 3)),
    lambda L: L.ormqr(L.randn(3, 2), L.randn(2), L.randn(4, 3)),
    lambda L: L.ormqr(L.randn(3, 2), L.randn(2), L.randn(3)),
    lambda L: L.ormqr(L.randn(3, 2), L.randn(2, dtype=L.float64), L.randn(3, 3)),
    lambda L: L.ormqr(L.randn(3, 2), L.randn(2), L.randn(3, 3, dtype=L.float64)),
    lambda L: L.ormqr(L.randn(2, 3, 2), L.randn(3, 2), L.randn(2, 3, 3)),
    lambda L: L.ormqr(L.randn(2, 3, 2), L.randn(2, 2), L.randn(3, 3, 3)),
    lambda L: L.ormqr(L.randn(2, 3, 2), L.randn(2, 2), L.randn(3, 3)),
    lambda L: L.ormqr(L.randn(3, 2), L.randn(1), L.randn(2, 3), left=False),
    lambda L: L.ormqr(L.randn(3, 2), L.randn(1), L.randn(3, 3)),
    lambda L: L.ormqr(L.ones(3, 2, dtype=L.long), L.ones(2, dtype=L.long),
                      L.ones(3, 3, dtype=L.long)),
    lambda L: L.cholesky_solve(L.randn(3), L.randn(3, 3)),
    lambda L: L.cholesky_solve(L.randn(3, 2), L.randn(3)),
    lambda L: L.cholesky_solve(L.randn(3, 2), L.randn(3, 4)),
    lambda L: L.cholesky_solve(L.randn(4, 2), L.randn(3, 3)),
    lambda L: L.cholesky_solve(L.randn(3, 2), L.randn(3, 3, dtype=L.float64)),
    lambda L: L.cholesky_solve(L.ones(3, 2, dtype=L.long), L.ones(3, 3, dtype=L.long)),
    lambda L: L.cholesky_solve(L.randn(2, 3, 2), L.randn(3, 3, 3)),
    lambda L: L.cholesky_inverse(L.randn(3)),
    lambda L: L.cholesky_inverse(L.randn(3, 4)),
    lambda L: L.cholesky_inverse(L.ones(3, 3, dtype=L.long)),
    lambda L: L.geqrf(L.randn(3)),
    lambda L: L.geqrf(L.ones(3, 3, dtype=L.long)),
    lambda L: L.geqrf(L.randn(3, 2, dtype=L.float16)),
    lambda L: L.qr(L.randn(3)),
    lambda L: L.linalg.solve(L.randn(2, 1, 3, 3), L.randn(3, 2, 3, 2)),
])
def test_errors_match_torch(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = _same_outcome(case)
    assert ours[0] != "ok"


def test_new_functions_run_on_the_simulated_device():
    from disttorch.cuda import _simulated
    with _simulated.simulate():
        x = disttorch.arange(6.0).reshape(3, 2).cuda()
        c = disttorch.view_as_complex(x)
        assert c.device.type == "cuda" and disttorch.view_as_real(c).shape == (3, 2)
        assert disttorch.complex(x[:, 0], x[:, 1]).cpu().tolist() == c.cpu().tolist()
        assert disttorch.polar(x[:, 0], x[:, 1]).device.type == "cuda"
        assert [t.cpu().tolist() for t in disttorch.unravel_index(
            disttorch.tensor([5]).cuda(), (2, 3))] == [[1], [2]]
        b = disttorch.randn(2, 3, 2, dtype=disttorch.float64).cuda()
        factor = disttorch.eye(3, dtype=disttorch.float64).cuda()
        assert disttorch.allclose(disttorch.cholesky_solve(b, factor), b)
        a, tau = disttorch.geqrf(disttorch.randn(3, 2, dtype=disttorch.float64).cuda())
        other = disttorch.randn(3, 3, dtype=disttorch.float64).cuda()
        assert disttorch.ormqr(a, tau, other).device.type == "cuda"
        with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
            disttorch.complex(x[:, 0], x[:, 1].cpu())
