"""Gamma-family, Poisson and Binomial sampling on the CUDA device: drawn from the device's
generator with no host synchronisation, and the implicit gamma gradient's kernel (run on the
CPU emulator) equal to the CPU algorithm."""
import numpy as np
import pytest

import disttorch
from disttorch.cuda import _kernel_emulator, _simulated
from disttorch.distributions import _sampling

needs_emulator = pytest.mark.skipif(not _kernel_emulator.available(),
                                    reason="the kernel emulator needs a C++ compiler")


@needs_emulator
def test_gamma_gradient_kernel_equals_the_cpu():
    rng = np.random.default_rng(0)
    # both branches (x < alpha + 1 and above), tiny and huge concentrations, invalid values
    alpha = np.concatenate([10.0 ** rng.uniform(-2, 4.5, 400), [3e4, 1e5, 0.0, -1.0, np.nan]])
    x = np.concatenate([rng.gamma(alpha[:400]) + 1e-12, [3.1e4, 9.9e4, 1.0, 1.0, 1.0]])
    cpu = _sampling.standard_gamma_grad_array(x, alpha)
    with _simulated.simulate(fused_kernels="run"):
        xd = disttorch.tensor(x, device="cuda")
        ad = disttorch.tensor(alpha, device="cuda")
        grad = _sampling.standard_gamma_grad(xd, ad)
        assert grad.is_cuda
        np.testing.assert_allclose(grad.cpu().numpy(), cpu, rtol=1e-9, equal_nan=True)


@needs_emulator
def test_rsample_and_its_gradient_stay_on_the_device():
    with _simulated.simulate(fused_kernels="run"):
        disttorch.cuda.manual_seed(0)
        concentration = disttorch.full((2000,), 2.5, device="cuda", requires_grad=True)
        rate = disttorch.full((2000,), 1.5, device="cuda", requires_grad=True)
        gamma = disttorch.distributions.Gamma(concentration, rate, validate_args=False)
        poisson = disttorch.distributions.Poisson(rate.detach(), validate_args=False)
        binomial = disttorch.distributions.Binomial(
            10, probs=disttorch.full((2000,), 0.3, device="cuda"), validate_args=False)
        # (building them copies the Python number 10 to the device, as in PyTorch: not counted)
        with _simulated.count_host_syncs() as syncs:
            sample = gamma.rsample()
            sample.mean().backward()
            counts = poisson.sample()
            trials = binomial.sample()
        assert syncs["count"] == 0, syncs["where"]
        assert sample.is_cuda and counts.is_cuda and trials.is_cuda
        # E[x] = alpha / beta, and its derivative in alpha is 1 / beta
        assert abs(sample.mean().item() - 2.5 / 1.5) < 0.05
        assert abs(concentration.grad.sum().item() - 1 / 1.5) < 0.05
        assert abs(counts.mean().item() - 1.5) < 0.1
        assert abs(trials.mean().item() - 3.0) < 0.15
