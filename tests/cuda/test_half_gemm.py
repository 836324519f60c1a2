"""float16 products with a batch on the device: on a GPU they take one strided-batched cuBLAS
call (float16 operands, float32 accumulation) instead of CuPy's float32 round trip; transposed
operands go to cuBLAS as transposed. Compared with the float32 product of the same values."""
import numpy as np
import pytest

import disttorch
from tests.cuda.conftest import on_device


@pytest.fixture(params=["cuda", "cuda-sim"])
def device(request):
    yield from on_device(request.param)


CASES = {
    "batched": ((4, 8, 16), (4, 16, 8), None),
    "a_transposed": ((4, 16, 8), (4, 16, 8), "a"),
    "b_transposed": ((4, 8, 16), (4, 8, 16), "b"),
    "both_transposed": ((4, 16, 8), (4, 8, 16), "ab"),
    "4d": ((2, 3, 8, 16), (2, 3, 16, 4), None),
    "right_2d": ((2, 3, 8, 16), (16, 4), None),
    "broadcast_batch": ((2, 1, 8, 16), (1, 3, 16, 4), None),
    "one_row": ((5, 1, 16), (5, 16, 7), None),
}


def _operands(a_shape, b_shape, transposed):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(a_shape).astype(np.float16)
    b = rng.standard_normal(b_shape).astype(np.float16)
    return a, b, transposed or ""


@pytest.mark.parametrize("case", list(CASES))
def test_half_batched_matmul_and_its_gradients(case, device):
    torch = pytest.importorskip("torch")
    a, b, transposed = _operands(*CASES[case])
    g = np.random.default_rng(1).standard_normal(np.broadcast_shapes(
        a.shape[:-2], b.shape[:-2]) + (a.shape[-2] if "a" not in transposed else a.shape[-1],
                                       b.shape[-1] if "b" not in transposed else b.shape[-2])
    ).astype(np.float16) if len(b.shape) > 2 else None
    results = []
    for lib, dev, dtype in ((disttorch, device, disttorch.float16),
                            (torch, "cpu", torch.float32)):   # the oracle: the same values
        x = lib.tensor(a, device=dev).to(dtype).requires_grad_()
        w = lib.tensor(b, device=dev).to(dtype).requires_grad_()
        out = (x.mT if "a" in transposed else x) @ (w.mT if "b" in transposed else w)
        grad = lib.tensor(g if g is not None else np.ones(out.shape, np.float16), device=dev)
        out.backward(grad.to(dtype))
        results.append([t.detach().cpu().float().numpy() for t in (out, x.grad, w.grad)])
        if lib is disttorch:
            assert out.dtype == disttorch.float16 and out.device.type == "cuda"
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=3e-3, atol=3e-2)


def test_half_attention_scores_under_autocast(device):
    """The transformer's pattern: ``q @ k.transpose(-2, -1)`` and ``p @ v`` on float16 under
    autocast, as in scaled dot-product attention."""
    rng = np.random.default_rng(2)
    q, k, v = (rng.standard_normal((2, 4, 16, 8)).astype(np.float32) for _ in range(3))
    with disttorch.autocast("cuda", dtype=disttorch.float16):
        Q, K, V = (disttorch.tensor(t, device=device) for t in (q, k, v))
        scores = Q @ K.transpose(-2, -1)
        out = scores.softmax(-1) @ V
    assert scores.dtype == out.dtype == disttorch.float16
    q16, k16, v16 = (t.astype(np.float16).astype(np.float32) for t in (q, k, v))
    want_scores = q16 @ np.swapaxes(k16, -1, -2)
    np.testing.assert_allclose(scores.cpu().float().numpy(), want_scores, rtol=2e-3, atol=2e-2)
