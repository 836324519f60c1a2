"""torch.where and torch.heaviside with 0-d CPU tensors next to CUDA ones: the 0-d CPU tensor
(``where``'s condition included) acts as a scalar on the device, its gradient comes back to it on
the CPU in its dtype; CPU tensors with dimensions raise torch's device-mismatch error. torch on the
CPU is the oracle for values, dtypes and gradients."""
import numpy as np
import pytest

import disttorch

try:
    import torch
except ImportError:
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="torch (the test oracle) is not installed")

COND = np.array([True, False, True])
X = np.array([1.0, 2.0, 3.0], np.float32)
W = np.array([1.0, 2.0, 3.0], np.float32)
MISMATCH = "Expected all tensors to be on the same device"

# fn(L, cond, x, s, i): cond/x on the device, s a 0-d float64 CPU tensor, i a 0-d int64 one
WHERE = {
    "other_cpu_scalar": lambda L, c, x, s, i: L.where(c, x, s),
    "input_cpu_scalar": lambda L, c, x, s, i: L.where(c, s, x),
    "cpu_scalar_and_number": lambda L, c, x, s, i: L.where(c, s, 0.0),
    "number_and_cpu_scalar": lambda L, c, x, s, i: L.where(c, 2, s),
    "int_cpu_scalar_and_float": lambda L, c, x, s, i: L.where(c, i, 2.5),
    "int_cpu_scalar_and_tensor": lambda L, c, x, s, i: L.where(c, i, x),
    "two_cpu_scalars": lambda L, c, x, s, i: L.where(c, s, s * 2),
    "cpu_condition": lambda L, c, x, s, i: L.where(L.tensor(True), x, s),
    "cast_cpu_scalar": lambda L, c, x, s, i: L.where(c, s.float(), 1),
    "method": lambda L, c, x, s, i: x.where(c, s),
}


def _run(L, fn, device):
    c = L.tensor(COND, device=device)
    x = L.tensor(X, device=device, requires_grad=True)
    s = L.tensor(0.5, dtype=L.float64, requires_grad=True)
    i = L.tensor(3)
    out = fn(L, c, x, s, i)
    if out.requires_grad:
        (out * L.tensor(W, device=device)).sum().backward()
    return out, x, s


@requires_torch
@pytest.mark.parametrize("name", sorted(WHERE))
def test_where_with_cpu_scalar_tensor(name, device):
    expected, tx, ts = _run(torch, WHERE[name], "cpu")
    out, x, s = _run(disttorch, WHERE[name], device)
    assert out.is_cuda
    assert str(out.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    np.testing.assert_allclose(out.detach().cpu().numpy(), expected.detach().numpy())
    for mine, theirs in ((x, tx), (s, ts)):
        if theirs.grad is None:
            assert mine.grad is None
            continue
        assert mine.grad.device == mine.device and mine.grad.dtype == mine.dtype
        np.testing.assert_allclose(mine.grad.cpu().numpy(), theirs.grad.numpy())


def test_where_refuses_cpu_tensors_with_dims(device):
    c = disttorch.tensor(COND, device=device)
    x = disttorch.tensor(X, device=device)
    for args in ((c, disttorch.tensor(X), 1.0), (disttorch.tensor(COND), x, 0.0),
                 (c, x, disttorch.tensor(X))):
        with pytest.raises(RuntimeError, match=MISMATCH):
            disttorch.where(*args)


@requires_torch
def test_where_tensor_and_number_dtype():
    c = np.array([True, False])
    for make in (lambda L: L.where(L.tensor(c), L.tensor(c), 2),
                 lambda L: L.where(L.tensor(c), L.tensor(True), 2),
                 lambda L: L.where(L.tensor(c), L.tensor([1, 2], dtype=L.int32), 2.5),
                 lambda L: L.where(L.tensor(c), 1.5, L.tensor([1, 2]))):
        expected, out = make(torch), make(disttorch)
        assert str(out.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
        np.testing.assert_array_equal(out.numpy(), expected.numpy())


@requires_torch
def test_heaviside_errors_and_out():
    x = np.array([-1.0, 0.0, 2.0], np.float32)
    for L in (torch, disttorch):
        with pytest.raises(RuntimeError, match="different dtypes"):
            L.heaviside(L.tensor(x), L.tensor(0.5, dtype=L.float64))
        with pytest.raises(TypeError, match="must be Tensor"):
            L.heaviside(L.tensor(x), 0.5)
        with pytest.raises(RuntimeError, match="complex"):
            L.heaviside(L.tensor([0j]), L.tensor(0j))
    out = disttorch.empty(3)
    result = disttorch.heaviside(disttorch.tensor(x), disttorch.tensor(0.5), out=out)
    assert result is out
    np.testing.assert_array_equal(out.numpy(), torch.heaviside(torch.tensor(x),
                                                               torch.tensor(0.5)).numpy())


def test_heaviside_refuses_cpu_values_with_dims(device):
    x = disttorch.tensor([-1.0, 0.0, 2.0], device=device)
    with pytest.raises(RuntimeError, match=MISMATCH):
        disttorch.heaviside(x, disttorch.tensor([0.5]))
