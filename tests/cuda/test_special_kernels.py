"""Special functions on the device (``cuda/kernels/special.py``): the GPU kernel's values equal
the CPU implementation's, across each function's branches and edge values, with no host
synchronisation; on ``cuda-emu`` the kernel runs on the CPU emulator."""
import math

import numpy as np
import pytest

import disttorch
import disttorch.special
from disttorch.cuda import _simulated

from .conftest import WITH_EMULATOR, on_device

INF, NAN = math.inf, math.nan


@pytest.fixture(params=WITH_EMULATOR)
def device(request):
    yield from on_device(request.param)


def _grid(*parts):
    return np.concatenate([np.atleast_1d(np.asarray(p, np.float64)) for p in parts])


GAMMA_ARGS = _grid(np.linspace(-10.5, 30.25, 97), [0.0, -0.0, -1.0, -2.0, 1.0, 2.0, INF, -INF, NAN,
                                                   1e-300, 1e10, 171.5, -2.4570247, 0.5, 9.99])
UNIT = _grid(np.linspace(-1, 1, 81), [1.0, -1.0, 1.0001, -1.0001, NAN, 1e-300, -1e-300,
                                      0.999999999, -0.9999999999999])
PROB = _grid(np.linspace(0, 1, 81), [1e-300, 1e-20, 1 - 1e-16, 0.2500001, 0.7499999, -0.1, 1.1,
                                     NAN])
BESSEL = _grid(np.linspace(-50, 50, 101), [0.0, 20.0, -20.0, 20.0001, -20.0001, 700.0, -700.0,
                                           710.0, INF, -INF, NAN, 1e-8])
NORMAL = _grid(np.linspace(-40, 10, 101), [24.999, 25.0, 1e5, -30.0, INF, -INF, NAN])

UNARY = {
    "lgamma": (disttorch.lgamma, GAMMA_ARGS),
    "digamma": (disttorch.digamma, GAMMA_ARGS),
    "polygamma1": (lambda x: disttorch.polygamma(1, x), GAMMA_ARGS),
    "polygamma4": (lambda x: disttorch.polygamma(4, x), GAMMA_ARGS),
    "polygamma171": (lambda x: disttorch.polygamma(171, x), GAMMA_ARGS[::7]),
    "erfinv": (disttorch.erfinv, UNIT),
    "ndtri": (disttorch.special.ndtri, PROB),
    "i0": (disttorch.i0, BESSEL),
    "i0e": (disttorch.special.i0e, BESSEL),
    "i1": (disttorch.special.i1, BESSEL),
    "i1e": (disttorch.special.i1e, BESSEL),
    "erfcx": (disttorch.special.erfcx, _grid(np.linspace(-5, 50, 111), [-30.0, 25.0, 24.999,
                                                                        1e5, INF, NAN])),
    "ndtr": (disttorch.special.ndtr, NORMAL),
    "log_ndtr": (disttorch.special.log_ndtr, NORMAL),
    "entr": (disttorch.special.entr, _grid([-1.0, 0.0, -0.0, 1e-300, 0.5, 1.0, 2.0, INF, NAN])),
}


def _same(device_result, cpu_result, name):
    # The kernel is the CPU's algorithm. On the emulator it also shares the CPU's libm, so only
    # the compiler's contractions differ; a GPU's pow, exp, log and erf differ by an ulp or two
    # per call, which a function near one of its zeros (lgamma at -2.457...) turns into a larger
    # relative difference: an absolute floor there
    if _simulated.runs_kernels():
        rtol, atol = 1e-13, 1e-300
    else:
        rtol, atol = 1e-11, 1e-14
    np.testing.assert_allclose(device_result, cpu_result, rtol=rtol, atol=atol, err_msg=name)


def _on(device, fn, *arrays):
    tensors = [disttorch.from_numpy(a.copy()).to(device) for a in arrays]
    with _simulated.count_host_syncs() as syncs:
        out = fn(*tensors)
    return out, syncs["count"]


def _expect_no_sync(syncs, name):
    if _simulated.runs_kernels():
        assert syncs == 0, f"{name}: {syncs} host synchronisations on the device"


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_special_function_on_device(name, device):
    fn, x = UNARY[name]
    cpu = fn(disttorch.from_numpy(x.copy())).numpy()
    out, syncs = _on(device, fn, x)
    assert out.is_cuda and out.dtype == disttorch.float64
    _expect_no_sync(syncs, name)
    _same(out.cpu().numpy(), cpu, name)


@pytest.mark.parametrize("name", ["lgamma", "digamma", "erfinv", "i0e"])
def test_float32_input_keeps_its_dtype(name, device):
    fn, x = UNARY[name]
    x = x.astype(np.float32)
    out, _ = _on(device, fn, x)
    assert out.dtype == disttorch.float32
    np.testing.assert_allclose(out.cpu().numpy(), fn(disttorch.from_numpy(x.copy())).numpy(),
                               rtol=1e-6, atol=1e-30)


def test_zeta_on_device(device):
    s = _grid([2.0, 2.5, 3.0, 7.0, 20.0, 1.0, 0.5, -2.0, INF, -INF, NAN])[:, None]
    q = _grid([-1e20, -INF, INF, -2.5, NAN, 1e9, -0.3, -7.25, 0.0, -0.0, -3.0, 0.5, 1.0, 3.0,
               12.0, -999.5, 1e-3])[None, :]
    cpu = disttorch.special.zeta(disttorch.from_numpy(s.copy()), disttorch.from_numpy(q.copy()))
    out, syncs = _on(device, disttorch.special.zeta, s, q)
    _expect_no_sync(syncs, "zeta")
    assert out.shape == (11, 17)
    # q < 0 cancels terms of size ~1e2 (see test_special.test_zeta_edges_match_torch_and_return)
    np.testing.assert_allclose(out.cpu().numpy(), cpu.numpy(), rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("upper", [False, True])
def test_incomplete_gamma_on_device(upper, device):
    a = _grid([0.0, 0.5, 1.0, 3.5, 10.0, 100.0, -1.0, NAN, 1e4, 1e6])[:, None]
    x = _grid([0.0, 0.1, 1.0, 3.0, 4.4, 10.0, 50.0, 200.0, INF, NAN, -1.0, 1e4, 1e4 + 299,
               1e4 + 301, 1e6 - 5e3, 1e6 + 3001])[None, :]
    fn = disttorch.igammac if upper else disttorch.igamma
    cpu = fn(disttorch.from_numpy(a.copy()), disttorch.from_numpy(x.copy())).numpy()
    out, syncs = _on(device, fn, a, x)
    _expect_no_sync(syncs, fn.__name__)
    # Q = 1 - P near x = a for large a: the series' rounding (blocks of terms on the CPU, one
    # term at a time on the device) shows relative to Q ~ 1e-3
    np.testing.assert_allclose(out.cpu().numpy(), cpu, rtol=1e-11, atol=1e-300)


def test_gradients_through_device_kernels(device):
    # lgamma's gradient is digamma, digamma's is polygamma(1): kernels in the backward too
    x = np.linspace(0.3, 7.7, 11)
    cpu = disttorch.from_numpy(x.copy()).requires_grad_()
    dev = disttorch.from_numpy(x.copy()).to(device).requires_grad_()
    for t in (cpu, dev):
        disttorch.digamma(disttorch.lgamma(t)).sum().backward()
    _same(dev.grad.cpu().numpy(), cpu.grad.numpy(), "d/dx digamma(lgamma(x))")
