"""0-d CPU tensors next to CUDA tensors: PyTorch treats them like numbers (the result stays on
the device), computes their gradients (0-d CPU tensors of their own dtype), and refuses any other
CPU tensor with its device-mismatch error. torch on the CPU is the oracle for values, dtypes and
gradients."""
import numpy as np
import pytest

import disttorch

try:
    import torch
except ImportError:
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="torch (the test oracle) is not installed")

X = np.array([-1.5, 0.25, 2.0], np.float32)
W = np.array([1.0, 2.0, 3.0], np.float32)
MISMATCH = "Expected all tensors to be on the same device"

# name -> fn(lib, x, s); x is 1-d (on the device for disttorch), s a 0-d CPU tensor
BINARY = {
    "add": lambda L, x, s: L.add(x, s),
    "add_alpha": lambda L, x, s: L.add(x, s, alpha=2),
    "radd": lambda L, x, s: s + x,
    "sub": lambda L, x, s: L.sub(x, s),
    "rsub": lambda L, x, s: s - x,
    "mul": lambda L, x, s: x * s,
    "rmul": lambda L, x, s: s * x,
    "div": lambda L, x, s: L.div(x, s),
    "rdiv": lambda L, x, s: s / x,
    "pow_exponent": lambda L, x, s: L.pow(x, s),
    "pow_base": lambda L, x, s: L.pow(s, x),
    "maximum": lambda L, x, s: L.maximum(x, s),
    "minimum": lambda L, x, s: L.minimum(s, x),
    "atan2": lambda L, x, s: L.atan2(x, s),
    "atan2_reflected": lambda L, x, s: L.atan2(s, x),
    "where_other": lambda L, x, s: L.where(x > 0, x, s),
    "where_input": lambda L, x, s: L.where(x > 0, s, x),
    "clamp_min": lambda L, x, s: L.clamp(x, min=s),
    "clamp_max": lambda L, x, s: x.clamp(max=s),
    "clamp_both": lambda L, x, s: L.clamp(x, min=-s, max=s),
}
DIFFERENTIABLE = set(BINARY)
COMPARISONS = {
    "eq": lambda L, x, s: L.eq(x, s),
    "eq_operator": lambda L, x, s: x == s,
    "ge": lambda L, x, s: L.ge(x, s),
    "ge_reflected": lambda L, x, s: s >= x,
    "lt": lambda L, x, s: x < s,
    "ne": lambda L, x, s: x != s,
    "isclose": lambda L, x, s: L.isclose(x, s),
}
SAME_DTYPE = [  # torch requires one dtype for these
    pytest.param("nextafter", lambda L, x, s: L.nextafter(x, s), id="nextafter"),
    pytest.param("heaviside", lambda L, x, s: L.heaviside(x, s), id="heaviside"),
]


def _torch_case(fn, s_value, s_dtype, grad):
    x = torch.tensor(X, requires_grad=grad)
    s = torch.tensor(s_value, dtype=getattr(torch, s_dtype), requires_grad=grad)
    out = fn(torch, x, s)
    if grad:
        (out * torch.tensor(W)).sum().backward()
    return out, x, s


def _disttorch_case(fn, s_value, s_dtype, grad, device):
    x = disttorch.tensor(X, device=device, requires_grad=grad)
    s = disttorch.tensor(s_value, dtype=getattr(disttorch, s_dtype), requires_grad=grad)
    out = fn(disttorch, x, s)
    if grad:
        (out * disttorch.tensor(W, device=device)).sum().backward()
    return out, x, s


def _check_output(out, expected):
    assert out.is_cuda, f"the result left the device: {out.device}"
    assert str(out.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    np.testing.assert_allclose(out.detach().cpu().numpy(), expected.detach().numpy(), rtol=1e-6,
                               equal_nan=True)


@requires_torch
@pytest.mark.parametrize("s_dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op_with_cpu_scalar_tensor(name, s_dtype, device):
    fn = BINARY[name]
    expected, tx, ts = _torch_case(fn, 0.5, s_dtype, grad=True)
    out, x, s = _disttorch_case(fn, 0.5, s_dtype, grad=True, device=device)
    _check_output(out, expected)
    assert x.grad.is_cuda
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-6, equal_nan=True)
    # the 0-d CPU tensor gets its gradient where it lives, in its own dtype
    assert s.grad is not None, "no gradient reached the 0-d CPU tensor"
    assert not s.grad.is_cuda and s.grad.shape == () and s.grad.dtype == s.dtype
    np.testing.assert_allclose(s.grad.numpy(), ts.grad.numpy(), rtol=1e-5)


@requires_torch
@pytest.mark.parametrize("name", sorted(COMPARISONS))
def test_comparison_with_cpu_scalar_tensor(name, device):
    fn = COMPARISONS[name]
    expected, _, _ = _torch_case(fn, 0.25, "float32", grad=False)
    out, _, _ = _disttorch_case(fn, 0.25, "float32", grad=False, device=device)
    _check_output(out, expected)


@requires_torch
@pytest.mark.parametrize("name,fn", SAME_DTYPE)
def test_same_dtype_op_with_cpu_scalar_tensor(name, fn, device):
    x_values = np.array([-1.5, 0.0, 2.0], np.float32)
    expected = fn(torch, torch.tensor(x_values), torch.tensor(0.5))
    out = fn(disttorch, disttorch.tensor(x_values, device=device), disttorch.tensor(0.5))
    _check_output(out, expected)


@requires_torch
@pytest.mark.parametrize("x_dtype,s_dtype", [("float32", "float64"), ("int64", "float64"),
                                             ("float32", "int64"), ("int32", "int64"),
                                             ("float16", "float64"), ("int64", "bool")])
@pytest.mark.parametrize("name", ["add", "mul", "maximum", "where_other", "eq", "ge"])
def test_result_dtype_follows_torch(name, x_dtype, s_dtype, device):
    """A 0-d tensor takes part in type promotion as in PyTorch (its dtype counts only when its
    category is higher), not as the Python number it would be after ``.item()``."""
    fn = {**BINARY, **COMPARISONS}[name]
    values = np.array([3, 0, 2])
    expected = fn(torch, torch.tensor(values, dtype=getattr(torch, x_dtype)),
                  torch.tensor(1, dtype=getattr(torch, s_dtype)))
    out = fn(disttorch, disttorch.tensor(values, dtype=getattr(disttorch, x_dtype), device=device),
             disttorch.tensor(1, dtype=getattr(disttorch, s_dtype)))
    _check_output(out, expected)


@requires_torch
@pytest.mark.parametrize("name", ["add_", "sub_", "mul_", "div_", "clamp_"])
def test_inplace_with_cpu_scalar_tensor(name, device):
    def run(L, dev):
        x = L.tensor(X, device=dev) if L is disttorch else L.tensor(X)
        s = L.tensor(0.5, dtype=L.float64)
        if name == "clamp_":
            return x.clamp_(min=s)
        return getattr(x, name)(s)
    _check_output(run(disttorch, device), run(torch, "cpu"))


def test_inplace_integer_tensor_refuses_float_cpu_scalar(device):
    x = disttorch.tensor([1, 2], device=device)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output "
                                           "type Long"):
        x.add_(disttorch.tensor(0.5))


def test_cpu_scalar_value_of_index_fill_gets_gradient(device):
    value = disttorch.tensor(2.0, requires_grad=True)
    x = disttorch.zeros(4, device=device)
    out = x.index_fill(0, disttorch.tensor([0, 2], device=device), value)
    assert out.is_cuda
    np.testing.assert_allclose(out.detach().cpu().numpy(), [2, 0, 2, 0])
    (out * disttorch.tensor(W.tolist() + [4.0], device=device)).sum().backward()
    assert not value.grad.is_cuda and float(value.grad) == 4.0


def test_cpu_scalar_gradient_under_create_graph(device):
    x = disttorch.tensor(X, device=device)
    s = disttorch.tensor(0.5, requires_grad=True)
    g, = disttorch.autograd.grad((x * s * s).sum(), s, create_graph=True)
    assert not g.is_cuda and g.requires_grad
    gg, = disttorch.autograd.grad(g, s)
    np.testing.assert_allclose(float(g), 2 * 0.5 * X.sum(), rtol=1e-6)
    np.testing.assert_allclose(float(gg), 2 * X.sum(), rtol=1e-6)


@pytest.mark.parametrize("name", ["add", "mul", "div", "pow_exponent", "maximum", "atan2",
                                  "where_other", "clamp_min", "eq", "ge", "isclose"])
@pytest.mark.parametrize("cpu_shape", [(1,), (3,)])
def test_cpu_tensor_with_dims_still_refused(name, cpu_shape, device):
    fn = {**BINARY, **COMPARISONS}[name]
    x = disttorch.tensor(X, device=device)
    with pytest.raises(RuntimeError, match=MISMATCH):
        fn(disttorch, x, disttorch.full(cpu_shape, 0.5))


@pytest.mark.parametrize("name", ["add", "mul", "maximum", "eq"])
def test_device_scalar_with_cpu_tensor_refused(name, device):
    """Only a CPU 0-d tensor is a scalar: a 0-d CUDA tensor does not make a CPU one movable."""
    fn = {**BINARY, **COMPARISONS}[name]
    with pytest.raises(RuntimeError, match=MISMATCH):
        fn(disttorch, disttorch.tensor(X), disttorch.tensor(0.5, device=device))


def test_inplace_with_cpu_tensor_with_dims_refused(device):
    x = disttorch.tensor(X, device=device)
    for method in ("add_", "mul_", "div_"):
        with pytest.raises(RuntimeError, match=MISMATCH):
            getattr(x, method)(disttorch.ones(3))
