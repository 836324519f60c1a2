"""Autocast at the ops with a table entry beyond the documented lists' cases: the 3-d pools,
cat/stack/index_copy and norm on the CPU (against torch's CPU autocast), the CUDA pow forms,
``number / x`` as torch's ``reciprocal() * number``, and the in-place forms, which torch does not
autocast."""
import numpy as np
import pytest

import disttorch
from disttorch.cuda import _simulated

from tests.ops.harness import requires_bf16, requires_torch, torch

_RNG = np.random.default_rng(0)
VOLUME = _RNG.standard_normal((1, 2, 4, 4, 4)).astype(np.float32)
IMAGE = _RNG.standard_normal((1, 2, 4, 4)).astype(np.float32)
MATRIX = _RNG.standard_normal((3, 3)).astype(np.float32)


def _F(L):
    return L.nn.functional


CPU_CASES = {
    "max_pool3d": lambda L, v, i, m: _F(L).max_pool3d(v, 2),
    "max_pool3d_return_indices": lambda L, v, i, m: _F(L).max_pool3d(v, 2,
                                                                      return_indices=True)[0],
    "MaxPool3d": lambda L, v, i, m: L.nn.MaxPool3d(2)(v),
    "avg_pool3d": lambda L, v, i, m: _F(L).avg_pool3d(v, 2),
    "lp_pool3d": lambda L, v, i, m: _F(L).lp_pool3d(v, 2, 2),
    "adaptive_avg_pool3d": lambda L, v, i, m: _F(L).adaptive_avg_pool3d(v, 2),
    "adaptive_max_pool3d": lambda L, v, i, m: _F(L).adaptive_max_pool3d(v, 2),
    "adaptive_max_pool3d_indices": lambda L, v, i, m: _F(L).adaptive_max_pool3d(
        v, 2, return_indices=True)[0],
    "max_unpool2d": lambda L, v, i, m: _F(L).max_unpool2d(
        *_F(L).max_pool2d(i, 2, return_indices=True), 2),
    "max_unpool3d": lambda L, v, i, m: _F(L).max_unpool3d(
        *_F(L).max_pool3d(v, 2, return_indices=True), 2),
    "max_pool2d": lambda L, v, i, m: _F(L).max_pool2d(i, 2),
    "cat_mixed": lambda L, v, i, m: L.cat([i, i.float()]),
    "cat_low": lambda L, v, i, m: L.cat([i, i], 1),
    "stack_mixed": lambda L, v, i, m: L.stack([i, i.float()]),
    "hstack_mixed": lambda L, v, i, m: L.hstack([i, i.float()]),
    "index_copy_mixed": lambda L, v, i, m: L.index_copy(m, 0, L.tensor([0, 2]),
                                                        m[:2].float()),
    "trace": lambda L, v, i, m: L.trace(m),
    "norm_nuc_float32": lambda L, v, i, m: L.norm(m.float(), "nuc"),
    "norm_dtype": lambda L, v, i, m: L.norm(m, dtype=L.float64),
    "sdpa": lambda L, v, i, m: _F(L).scaled_dot_product_attention(i, i, i),
}


def _run_cpu(L, fn):
    v, i, m = (L.tensor(a).bfloat16() for a in (VOLUME, IMAGE, MATRIX))
    with L.autocast("cpu", dtype=L.bfloat16):
        return fn(L, v, i, m)


@requires_torch
@requires_bf16
@pytest.mark.parametrize("name", sorted(CPU_CASES))
def test_cpu_autocast_matches_torch(name):
    expected = _run_cpu(torch, CPU_CASES[name])
    out = _run_cpu(disttorch, CPU_CASES[name])
    assert str(out.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1], name
    np.testing.assert_allclose(out.detach().float().numpy(), expected.detach().float().numpy(),
                               rtol=2e-2, atol=2e-2)


# (name, fn(x16, y16) on the simulated device, the output dtype)
CUDA_CASES = [
    ("rpow", lambda x, y: 2 ** x, "float32"),
    ("pow_tensors", lambda x, y: disttorch.pow(x, y), "float32"),
    ("rtruediv_2", lambda x, y: 2 / x, "float32"),
    ("atan2_low", lambda x, y: disttorch.atan2(x, y), "float16"),
    ("norm_dtype", lambda x, y: disttorch.norm(x, dtype=disttorch.float16), "float16"),
    ("norm_dim", lambda x, y: x.norm(1, dim=0), "float32"),
    ("pow_", lambda x, y: x.clone().pow_(2), "float16"),
    ("ipow", lambda x, y: _ipow(x.clone()), "float16"),
    ("atan2_", lambda x, y: x.clone().atan2_(y), "float16"),
    ("erfinv_", lambda x, y: (x * 0.5).erfinv_(), "float16"),
    ("scatter_add_", lambda x, y: x.clone().scatter_add_(0, disttorch.zeros_like(
        x, dtype=disttorch.int64), y), "float16"),
    ("cat", lambda x, y: disttorch.cat([x, y]), "float16"),
    ("trace", lambda x, y: disttorch.trace(x), "float16"),
]


def _ipow(x):
    x **= 2
    return x


@pytest.mark.parametrize("name,fn,expected", CUDA_CASES, ids=[c[0] for c in CUDA_CASES])
def test_cuda_autocast_dtype(name, fn, expected):
    with _simulated.simulate():
        x = disttorch.tensor(np.abs(MATRIX) / 4, device="cuda").half()
        y = disttorch.tensor(MATRIX, device="cuda").half()
        with disttorch.autocast("cuda"):
            out = fn(x, y)
        assert out.is_cuda and out.dtype == getattr(disttorch, expected), name


def test_cuda_inplace_ops_are_not_autocast():
    """torch autocasts index_put/scatter_add (promote), not their in-place forms: a float32
    source into a float16 tensor keeps torch's dtype error."""
    with _simulated.simulate():
        x = disttorch.zeros(4, 3, device="cuda").half()
        y = disttorch.ones(2, 3, device="cuda")
        rows = disttorch.tensor([0, 2], device="cuda")
        with disttorch.autocast("cuda"):
            assert disttorch.index_put(x, (rows,), y).dtype == disttorch.float32
            with pytest.raises(RuntimeError, match="Index put requires the source and "
                                                   "destination dtypes match"):
                x.index_put_((rows,), y)
            with pytest.raises(RuntimeError, match="same scalar type"):
                x.index_copy_(0, rows, y)


@requires_torch
@pytest.mark.parametrize("number", [1, 3, 2.5, True, 1j, 0])
def test_rtruediv_is_torchs_reciprocal_times_number(number):
    a = np.random.default_rng(1).standard_normal(200).astype(np.float32)
    a[0] = 0.0
    expected = number / torch.tensor(a)
    out = number / disttorch.tensor(a)
    assert str(out.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    for ints in ([1, 2, 4], [True, False]):
        np.testing.assert_array_equal((2 / disttorch.tensor(ints)).numpy(),
                                      (2 / torch.tensor(ints)).numpy())
