"""The ops added by the API coverage sweep (special functions, misc ops, aliases, numerics,
linalg extras) give the CPU's values and gradients on a CUDA device (or the simulated one)."""
import numpy as np
import pytest

import disttorch

CASES = {
    "lgamma": lambda t: disttorch.lgamma(t.abs() + 0.1),
    "digamma": lambda t: disttorch.digamma(t.abs() + 0.1),
    "polygamma": lambda t: disttorch.polygamma(2, t.abs() + 0.5),
    "erfinv": lambda t: disttorch.erfinv(t.tanh() * 0.9),
    "i0": disttorch.i0,
    "i1e": lambda t: disttorch.special.i1e(t),
    "sinc": disttorch.sinc,
    "logaddexp": lambda t: disttorch.logaddexp(t, t.flip(0)),
    "igamma": lambda t: disttorch.igamma(t.abs().detach() + 0.5, t.abs() + 0.1),
    "ndtri": lambda t: disttorch.special.ndtri(t.sigmoid()),
    "log_ndtr": lambda t: disttorch.special.log_ndtr(t),
    "xlog1py": lambda t: disttorch.special.xlog1py(t, t.abs()),
    "diff": lambda t: disttorch.diff(t, n=2, dim=1),
    "trapezoid": lambda t: disttorch.trapezoid(t, dim=0),
    "cov": disttorch.cov,
    "corrcoef": disttorch.corrcoef,
    "block_diag": lambda t: disttorch.block_diag(t, t[:1]),
    "cartesian_prod": lambda t: disttorch.cartesian_prod(t[0], t[1]),
    "combinations": lambda t: disttorch.combinations(t[0], 2),
    "meshgrid": lambda t: disttorch.stack(disttorch.meshgrid(t[0], t[1], indexing="xy")),
    "vander": lambda t: disttorch.vander(t[0], N=3),
    "renorm": lambda t: disttorch.renorm(t, 2, 0, 0.5),
    "logcumsumexp": lambda t: disttorch.logcumsumexp(t, 1),
    "gradient": lambda t: disttorch.gradient(t, edge_order=2)[1],
    "mode": lambda t: disttorch.mode(t.round(), 1).values,
    "matrix_exp": lambda t: disttorch.matrix_exp(t[:, :3] * 0.3),
    "logdet": lambda t: disttorch.logdet(t[:, :3] @ t[:, :3].T + disttorch.eye(3, device=t.device)),
    "tensorinv": lambda t: disttorch.linalg.tensorinv(t[:, :3] + 3 * disttorch.eye(3, device=t.device),
                                                      ind=1),
    "cholesky_solve": lambda t: disttorch.cholesky_solve(t[:, 3:], _factor(t)),
    "cholesky_inverse": lambda t: disttorch.cholesky_inverse(_factor(t), upper=False),
    "ormqr": lambda t: disttorch.ormqr(*disttorch.geqrf(t.detach()[:, :3]), t, True, True),
    "geqrf": lambda t: disttorch.geqrf(t.detach()).a,
    "qr_wide": lambda t: disttorch.linalg.qr(t).R,
    "slogdet": lambda t: disttorch.slogdet(t[:, :3]).logabsdet,
    "view_as_real": lambda t: disttorch.view_as_real(
        disttorch.view_as_complex(t.detach()[:, :4].reshape(3, 2, 2).contiguous())),
}


def _factor(t):
    spd = t[:, :3] @ t[:, :3].T + 3 * disttorch.eye(3, dtype=t.dtype, device=t.device)
    return disttorch.linalg.cholesky(spd)


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_match_the_cpu(name, device):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((3, 5))
    results = []
    for where in ("cpu", device):
        x = disttorch.tensor(data, dtype=disttorch.float64, device=where, requires_grad=True)
        out = CASES[name](x)
        assert out.device.type == where
        if out.requires_grad:
            out.sum().backward()
        results.append((out.detach().cpu().numpy(),
                        None if x.grad is None else x.grad.cpu().numpy()))
    (cpu_out, cpu_grad), (dev_out, dev_grad) = results
    np.testing.assert_allclose(dev_out, cpu_out, rtol=1e-10, atol=1e-12)
    if cpu_grad is not None:
        np.testing.assert_allclose(dev_grad, cpu_grad, rtol=1e-10, atol=1e-12)


def test_non_differentiable_ops_stay_on_the_device(device):
    x = disttorch.tensor([0.5, 1.5, 1.5, 3.0], device=device)
    ints = disttorch.tensor([0, 2, 2, 5], device=device)
    for out in (disttorch.histc(x, bins=3), disttorch.bincount(ints),
                disttorch.isin(ints, disttorch.tensor([2], device=device)),
                disttorch.gcd(ints, ints + 2), disttorch.frexp(x).exponent,
                disttorch.special.chebyshev_polynomial_t(x, 3), disttorch.linalg.inv_ex(
                    disttorch.eye(2, device=device)).info):
        assert out.device.type == "cuda"
    spectrum = disttorch.fft.rfft(x)
    assert spectrum.device.type == "cuda"
    np.testing.assert_allclose(disttorch.fft.irfft(spectrum, n=4).cpu().numpy(), x.cpu().numpy(),
                               rtol=1e-6)
    assert disttorch.tril_indices(3, 3, device=device).device.type == "cuda"
    assert disttorch.hann_window(4, device=device).device.type == "cuda"
