"""Scatter maximum/minimum on the device keep the winning value bit for bit and propagate NaN,
as numpy's ``ufunc.at`` does: the backward of ``scatter_reduce``/``index_reduce`` with
``amax``/``amin`` finds the winners by equality. On the H200 (2026-11-27) float64 source
gradients came back zero: CuPy's own scatter max compares in float32 (``fmaxf``), which the
kernels of ``cuda/kernels/scatter.py`` now replace."""
import numpy as np
import pytest

import disttorch
from disttorch import _backend
from disttorch.ops._ufunc_compat import ufunc_at

from .conftest import WITH_EMULATOR, on_device


@pytest.fixture(params=WITH_EMULATOR)
def device(request):
    """The GPU; the simulated device (numpy's ``at``); the simulated device with the scatter
    kernels run by the CPU emulator."""
    yield from on_device(request.param)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "float16"])
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_ufunc_at_extremes_are_exact(device, name, dtype):
    rng = np.random.default_rng(3)
    out = (rng.standard_normal((3, 5)) * 100).astype(dtype)
    rows, cols = rng.integers(0, 3, 40), rng.integers(0, 5, 40)
    values = (rng.standard_normal(40) * 100).astype(dtype)
    if dtype.startswith("float"):
        out[0, 0], values[3], values[7] = np.nan, np.nan, -0.0  # NaN propagates, as numpy's
    want = out.copy()
    getattr(np, name).at(want, (rows, cols), values)
    xp = _backend.cupy_module()
    got = xp.asarray(out)
    with xp.cuda.Device(disttorch.device(device).index or 0):
        ufunc_at(xp, name, got, (xp.asarray(rows), xp.asarray(cols)), xp.asarray(values))
    np.testing.assert_array_equal(_backend.to_numpy(got), want)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_scatter_amax_source_gradient_reaches_the_winners(device, dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4)).astype(dtype)
    src = rng.standard_normal((3, 4)).astype(dtype)
    index = rng.integers(0, 4, (3, 4))
    grads = {}
    for where in ("cpu", device):
        s = disttorch.tensor(src, device=where, requires_grad=True)
        out = disttorch.tensor(x, device=where).scatter_reduce(
            1, disttorch.tensor(index, device=where), s, "amax")
        out.sum().backward()
        grads[where] = s.grad.cpu().numpy()
    assert grads["cpu"].any()
    np.testing.assert_array_equal(grads[device], grads["cpu"])
