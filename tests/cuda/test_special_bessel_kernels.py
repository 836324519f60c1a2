"""torch.special's Bessel and Airy functions on the device (``cuda/kernels/special.py``): the
kernel's values equal the CPU implementation's (``ops/special_bessel.py``) across each
algorithm's ranges, boundaries and edge values, with no host synchronisation; on ``cuda-emu``
the kernel runs on the CPU emulator."""
import math

import numpy as np
import pytest

import disttorch
import disttorch.special
from disttorch.cuda import _sim_kernels, _simulated

from .conftest import WITH_EMULATOR, on_device

INF, NAN = math.inf, math.nan
NAMES = ["bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0",
         "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
         "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "airy_ai",
         "spherical_bessel_j0"]
# every branch (series, Chebyshev forms, Ai's two sides), the boundaries between them, the
# underflow of x / 2 at 5e-324, Ai's cut-off at 110 and its double-double phase far out
ARGS = np.concatenate([np.linspace(-40, 40, 321), np.geomspace(40, 1e6, 17),
                       -np.geomspace(40, 1e6, 17),
                       [0.0, -0.0, INF, -INF, NAN, 1e-300, -1e-300, 5e-324, 1e-8, 2.0, -2.0,
                        2.0000001, 4.0, -4.0, -4.0000001, 5.0, -5.0, 4.9999999, 103.0, 110.0,
                        110.5, 700.0, 750.0, 1e10, -1e10, 1e300, -1e300]])


@pytest.fixture(params=WITH_EMULATOR)
def device(request):
    yield from on_device(request.param)


@pytest.mark.parametrize("name", NAMES)
def test_bessel_kernel_equals_the_cpu(name, device):
    fn = getattr(disttorch.special, name)
    cpu = fn(disttorch.from_numpy(ARGS.copy())).numpy()
    x = disttorch.from_numpy(ARGS.copy()).to(device)
    launches = _sim_kernels.launches["special_unary"]
    with _simulated.count_host_syncs() as syncs:
        out = fn(x)
    assert out.is_cuda and out.dtype == disttorch.float64
    if _simulated.runs_kernels():
        assert syncs["count"] == 0, syncs["where"]
        assert _sim_kernels.launches["special_unary"] == launches + 1
        rtol = 1e-14     # the same algorithm and the host's libm: rounding of contractions only
    else:
        # a GPU's sin, cos, exp and log differ from glibc's by an ulp or so; near a zero that
        # is relative to the function's swing, not its value
        rtol = 1e-12
    got = out.cpu().numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(cpu), err_msg=name)
    finite = np.isfinite(cpu)
    np.testing.assert_array_equal(got[~finite & ~np.isnan(cpu)], cpu[~finite & ~np.isnan(cpu)])
    swing = np.maximum(np.abs(cpu[finite]), 1e-3 / np.maximum(np.abs(ARGS[finite]), 1.0))
    assert np.all(np.abs(got[finite] - cpu[finite]) <= rtol * swing), name


@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_bessel_kernel_dtypes(dtype, device):
    values = np.array([[0.5, 2.5, 7.0], [-3.0, 0.0, 12.0]])
    for name in ("bessel_y1", "airy_ai", "scaled_modified_bessel_k0"):
        fn = getattr(disttorch.special, name)
        cpu = fn(disttorch.tensor(values, dtype=getattr(disttorch, dtype)))
        out = fn(disttorch.tensor(values, dtype=getattr(disttorch, dtype)).to(device))
        assert out.is_cuda and out.dtype == cpu.dtype == disttorch.float32
        np.testing.assert_allclose(out.cpu().numpy(), cpu.numpy(), rtol=1e-6, atol=1e-30)
    with pytest.raises(NotImplementedError, match='"bessel_j0_cuda" not implemented for'):
        disttorch.special.bessel_j0(disttorch.ones(2, dtype=disttorch.float16).to(device))
