"""``disttorch.fft`` against ``torch.fft``: values, dtypes and shapes; gradients raise."""
import numpy as np
import pytest

import disttorch
from tests.ops.harness import requires_torch, torch

_RNG = np.random.default_rng(0)
REAL = _RNG.standard_normal((4, 6))
COMPLEX = _RNG.standard_normal((4, 6)) + 1j * _RNG.standard_normal((4, 6))

CASES = [
    ("fft", REAL, {}), ("fft", COMPLEX, {"n": 4, "dim": 0}), ("ifft", COMPLEX, {"n": 8}),
    ("fft2", COMPLEX, {}), ("ifft2", REAL, {"norm": "ortho"}), ("fftn", REAL, {"s": (3, 5)}),
    ("ifftn", COMPLEX, {"dim": (0,)}), ("rfft", REAL, {"norm": "forward"}), ("irfft", COMPLEX, {}),
    ("irfft", COMPLEX, {"n": 9}), ("rfft2", REAL, {}), ("irfft2", COMPLEX, {"s": (4, 6)}),
    ("rfftn", REAL, {"dim": (1,)}), ("irfftn", COMPLEX, {}), ("hfft", COMPLEX, {}),
    ("ihfft", REAL, {}), ("hfft2", COMPLEX, {}), ("ihfft2", REAL, {"norm": "ortho"}),
    ("hfftn", COMPLEX, {"norm": "forward"}), ("ihfftn", REAL, {}),
]


@requires_torch
@pytest.mark.parametrize("precision", ["single", "double"])
@pytest.mark.parametrize("name,array,kwargs", CASES,
                         ids=[f"{c[0]}-{'-'.join(map(str, c[2]))}" for c in CASES])
def test_transforms_match_torch(name, array, kwargs, precision):
    array = array.astype({("single", "f"): np.float32, ("single", "c"): np.complex64,
                          ("double", "f"): np.float64, ("double", "c"): np.complex128}[
        (precision, array.dtype.kind)])
    ours = getattr(disttorch.fft, name)(disttorch.from_numpy(array.copy()), **kwargs)
    ref = getattr(torch.fft, name)(torch.from_numpy(array.copy()), **kwargs).resolve_conj()
    assert tuple(ours.shape) == tuple(ref.shape)
    assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
    tolerance = 1e-4 if precision == "single" else 1e-10
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=tolerance, atol=tolerance)


@requires_torch
def test_helpers_match_torch():
    for ours, ref in [(disttorch.fft.fftfreq(5), torch.fft.fftfreq(5)),
                      (disttorch.fft.rfftfreq(6, 0.5), torch.fft.rfftfreq(6, 0.5)),
                      (disttorch.fft.fftshift(disttorch.arange(12).reshape(3, 4)),
                       torch.fft.fftshift(torch.arange(12).reshape(3, 4))),
                      (disttorch.fft.ifftshift(disttorch.arange(5), dim=0),
                       torch.fft.ifftshift(torch.arange(5), dim=0))]:
        assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-6)
    assert disttorch.fft.rfft(disttorch.arange(4)).dtype == disttorch.complex64
    assert disttorch.fft.fftfreq(4, dtype=disttorch.float64).dtype == disttorch.float64


def test_gradients_raise_instead_of_being_wrong():
    x = disttorch.ones(4, requires_grad=True)
    # complex outputs cannot enter the graph: the error comes at the forward call
    with pytest.raises(RuntimeError, match="autograd through complex tensors is not supported"):
        disttorch.fft.rfft(x)
    with disttorch.no_grad():
        assert not disttorch.fft.fft(x).requires_grad
    shifted = disttorch.fft.fftshift(x * 2)
    shifted.sum().backward()
    assert x.grad.tolist() == [2.0] * 4


def test_argument_errors():
    with pytest.raises(ValueError, match="Invalid normalization mode"):
        disttorch.fft.fft(disttorch.ones(4), norm="unit")
    with pytest.raises(RuntimeError, match="expects a real input tensor"):
        disttorch.fft.rfft(disttorch.ones(4, dtype=disttorch.complex64))
