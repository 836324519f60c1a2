"""The orthogonal polynomials of ``torch.special`` against torch: values over degrees and
arguments (incl. |x| = 1, NaN/inf, negative and fractional degrees), broadcasting of ``input``
against ``n``, dtype promotion between them, Python-number arguments, the half-precision error,
and the CUDA kernel (on the CPU emulator) against the CPU."""
import numpy as np
import pytest

import disttorch
from disttorch.cuda import _kernel_emulator, _simulated

from tests.ops.harness import requires_torch, torch

NAMES = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
         "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
         "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
         "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
         "laguerre_polynomial_l", "legendre_polynomial_p"]
X = np.array([-2.0, -1.0, -0.7, 0.0, 0.3, 0.5, 1.0, 1.5, np.nan, np.inf])
N = np.array([-3.0, 0.0, 1.0, 2.0, 3.0, 5.0, 7.0, 12.0, 2.9, np.nan])


def _pair(name, lib, x, n):
    return getattr(lib.special, name)(x, n)


@requires_torch
@pytest.mark.parametrize("name", NAMES)
def test_values_over_a_grid_match_torch(name):
    x = np.repeat(X, N.size)
    n = np.tile(N, X.size)
    ours = _pair(name, disttorch, disttorch.tensor(x), disttorch.tensor(n)).numpy()
    theirs = _pair(name, torch, torch.tensor(x), torch.tensor(n)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12, equal_nan=True)


@requires_torch
@pytest.mark.parametrize("name", NAMES)
def test_broadcasting_promotion_and_numbers_match_torch(name):
    cases = [
        (lambda L: L.tensor([[0.5], [0.25]]), lambda L: L.tensor([0, 1, 2, 3.7],
                                                                  dtype=L.float64)),
        (lambda L: L.tensor([0.5, -0.2]), lambda L: 3),
        (lambda L: 0.5, lambda L: L.tensor([2, 3])),
        (lambda L: L.tensor([1, 2]), lambda L: L.tensor([2, 3])),
        (lambda L: L.tensor(0.3, dtype=L.float64), lambda L: L.tensor([2], dtype=L.uint8)),
        (lambda L: L.tensor([0.3, 0.6]), lambda L: L.tensor(4.0, dtype=L.float64)),
    ]
    for make_x, make_n in cases:
        ours = _pair(name, disttorch, make_x(disttorch), make_n(disttorch))
        theirs = _pair(name, torch, make_x(torch), make_n(torch))
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@requires_torch
@pytest.mark.parametrize("name", NAMES)
def test_float32_overflows_like_torch(name):
    x, n = np.array([200.0, 250.0, 0.5, -3.0]), np.array([120, 9, 40, 60])
    ours = _pair(name, disttorch, disttorch.tensor(x, dtype=disttorch.float32),
                 disttorch.tensor(n)).numpy()
    theirs = _pair(name, torch, torch.tensor(x, dtype=torch.float32), torch.tensor(n)).numpy()
    # (V_40(0.5) is 0: both sides give float32 rounding noise there)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-4, equal_nan=True)


@requires_torch
def test_errors_and_out_match_torch():
    for lib in (disttorch, torch):
        with pytest.raises(NotImplementedError, match="\"chebyshev_polynomial_t_cpu\" not "
                                                      "implemented for 'Half'"):
            lib.special.chebyshev_polynomial_t(lib.tensor([0.5], dtype=lib.float16), 3)
        out = lib.empty(2)
        lib.special.legendre_polynomial_p(lib.tensor([0.3, 0.9]), 2, out=out)
        np.testing.assert_allclose(out.numpy(), (3 * np.array([0.3, 0.9]) ** 2 - 1) / 2,
                                   rtol=1e-6)


@pytest.mark.skipif(not _kernel_emulator.available(),
                    reason="the kernel emulator needs a C++ compiler")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", NAMES)
def test_cuda_kernel_equals_the_cpu(name, dtype):
    x = np.concatenate([np.repeat(X, N.size), [200.0, 250.0]])
    n = np.concatenate([np.tile(N, X.size), [120.0, 9.0]])    # float32 overflows to inf/nan
    dt = getattr(disttorch, dtype)
    cpu = _pair(name, disttorch, disttorch.tensor(x, dtype=dt),
                disttorch.tensor(n, dtype=dt)).numpy()
    with _simulated.simulate(fused_kernels="run"):
        xd = disttorch.tensor(x, dtype=dt, device="cuda")
        nd = disttorch.tensor(n, dtype=dt, device="cuda")
        with _simulated.count_host_syncs() as syncs:
            device = _pair(name, disttorch, xd, nd)
        assert syncs["count"] == 0, syncs["where"]
        assert device.dtype == dt
        tol = 1e-13 if dtype == "float64" else 1e-6
        np.testing.assert_allclose(device.cpu().numpy(), cpu, rtol=tol, atol=tol,
                                   equal_nan=True)
