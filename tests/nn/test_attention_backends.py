"""``nn.attention.sdpa_kernel``/``SDPBackend`` (which implementation
``scaled_dot_product_attention`` may use) against PyTorch's CPU behaviour, the fused CUDA
kernel's selection on the simulated device; and ``nn.utils.stateless.functional_call``."""
import warnings

import numpy as np
import pytest

import disttorch
from disttorch.cuda import _sim_kernels, _simulated

torch = pytest.importorskip("torch", reason="torch (the oracle) is not installed")

CASES = {
    "plain": ((2, 3, 5, 8), (2, 3, 6, 8), (2, 3, 6, 8), {}),
    "3d": ((3, 5, 8), (3, 6, 8), (3, 6, 8), {}),
    "value_dim": ((2, 3, 5, 8), (2, 3, 6, 8), (2, 3, 6, 4), {}),
    "gqa": ((2, 4, 5, 8), (2, 2, 6, 8), (2, 2, 6, 8), {"enable_gqa": True}),
    "broadcast_batch": ((2, 3, 5, 8), (1, 3, 6, 8), (1, 3, 6, 8), {}),
    "dropout": ((2, 3, 5, 8), (2, 3, 6, 8), (2, 3, 6, 8), {"dropout_p": 0.4}),
    "causal": ((2, 3, 5, 8), (2, 3, 6, 8), (2, 3, 6, 8), {"is_causal": True}),
    "bool_mask": ((2, 3, 5, 8), (2, 3, 6, 8), (2, 3, 6, 8), {"mask": "bool"}),
}
SELECTIONS = ["MATH", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION",
              "OVERRIDEABLE", "ERROR", ["FLASH_ATTENTION", "EFFICIENT_ATTENTION"],
              ["EFFICIENT_ATTENTION", "MATH"]]


def _attend(lib, arrays, kw, selection):
    backend = lib.nn.attention.SDPBackend
    chosen = [getattr(backend, b) for b in selection] if isinstance(selection, list) else \
        getattr(backend, selection)
    kw = dict(kw)
    if kw.pop("mask", None):
        kw["attn_mask"] = lib.tensor(np.tril(np.ones((5, 6), bool)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with lib.nn.attention.sdpa_kernel(chosen):
                out = lib.nn.functional.scaled_dot_product_attention(
                    *[lib.tensor(a) for a in arrays], **kw)
            result = out.numpy() if not kw.get("dropout_p") else "ok"
        except RuntimeError as exc:
            result = str(exc)
    return result, [str(c.message).split(" (Triggered")[0] for c in caught]


@pytest.mark.parametrize("case", list(CASES))
def test_cpu_selection_matches_torch(case):
    q, k, v, kw = CASES[case]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in (q, k, v)]
    for selection in SELECTIONS:
        got, got_warnings = _attend(disttorch, arrays, kw, selection)
        expected, expected_warnings = _attend(torch, arrays, kw, selection)
        assert got_warnings == expected_warnings, selection
        if isinstance(expected, str):
            assert got == expected, selection
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_cpu_flash_refuses_noncontiguous_last_dim_like_torch():
    q = np.random.default_rng(1).standard_normal((2, 3, 8, 5)).astype(np.float32)
    k = np.ones((2, 3, 6, 8), np.float32)
    results = []
    for lib in (torch, disttorch):
        with pytest.raises(RuntimeError, match="No available kernel.  Aborting execution."):
            with pytest.warns(UserWarning) as caught:
                with lib.nn.attention.sdpa_kernel(lib.nn.attention.SDPBackend.FLASH_ATTENTION):
                    lib.nn.functional.scaled_dot_product_attention(
                        lib.tensor(q).transpose(-1, -2), lib.tensor(k), lib.tensor(k))
        results.append([str(c.message).split(" (Triggered")[0] for c in caught])
    assert results[0] == results[1]


def test_switches_are_restored_and_shared_with_backends_cuda():
    SDPBackend, sdpa_kernel = disttorch.nn.attention.SDPBackend, disttorch.nn.attention.sdpa_kernel
    flags = disttorch.backends.cuda
    assert repr(SDPBackend.MATH) == "<SDPBackend.MATH: 0>" and int(SDPBackend.ERROR) == -1
    with sdpa_kernel([SDPBackend.MATH, SDPBackend.MATH]):
        assert flags.math_sdp_enabled() and not flags.flash_sdp_enabled()
        assert not flags.mem_efficient_sdp_enabled() and not flags.cudnn_sdp_enabled()
    assert flags.flash_sdp_enabled() and flags.math_sdp_enabled()
    with pytest.raises(AssertionError, match="Backend must be an instance of SDPBackend or a "
                                             "list of SDPBackend instances, got str"):
        with sdpa_kernel("MATH"):
            pass
    flags.enable_math_sdp(False)
    try:
        with pytest.raises(RuntimeError, match="No viable backend"):
            with sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
                disttorch.nn.functional.scaled_dot_product_attention(
                    *[disttorch.ones(1, 1, 2, 4)] * 3)
    finally:
        flags.enable_math_sdp(True)


def _launches(selection, bool_mask=False, **kw):
    """Fused softmax launches of one attention call on the simulated GPU (launches are
    checked and counted there, not computed)."""
    SDPBackend, sdpa_kernel = disttorch.nn.attention.SDPBackend, disttorch.nn.attention.sdpa_kernel
    with _simulated.simulate(fused_kernels=True):
        q = disttorch.ones(2, 3, 5, 8, device="cuda")
        if bool_mask:
            kw["attn_mask"] = disttorch.ones(5, 5, dtype=disttorch.bool, device="cuda")
        before = sum(n for name, n in _sim_kernels.launches.items() if "softmax" in name)
        with sdpa_kernel([getattr(SDPBackend, b) for b in selection], set_priority=True):
            disttorch.nn.functional.scaled_dot_product_attention(q, q, q, **kw)
        return sum(n for name, n in _sim_kernels.launches.items() if "softmax" in name) - before


def test_fused_cuda_kernel_follows_the_selection():
    assert _launches(["FLASH_ATTENTION", "MATH"]) == 1
    assert _launches(["EFFICIENT_ATTENTION"], is_causal=True) == 1
    assert _launches(["MATH"]) == 0
    assert _launches(["MATH", "FLASH_ATTENTION"]) == 0       # priority: math first
    with pytest.warns(UserWarning, match="does not take a boolean attn_mask"):
        with pytest.raises(RuntimeError, match="No available kernel.  Aborting execution."):
            _launches(["FLASH_ATTENTION"], bool_mask=True)
    with pytest.warns(UserWarning, match="disttorch has no such kernel"):
        with pytest.raises(RuntimeError, match="No available kernel"):
            _launches(["CUDNN_ATTENTION"])


def test_math_only_on_the_simulated_device_matches_cpu():
    rng = np.random.default_rng(2)
    q, k, v = (rng.standard_normal((2, 3, 5, 8)).astype(np.float32) for _ in range(3))
    expected = disttorch.nn.functional.scaled_dot_product_attention(
        *[disttorch.tensor(a) for a in (q, k, v)], is_causal=True).numpy()
    with _simulated.simulate():
        with disttorch.nn.attention.sdpa_kernel(disttorch.nn.attention.SDPBackend.MATH):
            got = disttorch.nn.functional.scaled_dot_product_attention(
                *[disttorch.tensor(a, device="cuda") for a in (q, k, v)], is_causal=True)
        np.testing.assert_allclose(got.cpu().numpy(), expected, rtol=1e-6, atol=1e-6)


def test_stateless_functional_call_is_the_deprecated_func_functional_call():
    from disttorch.nn.utils.stateless import functional_call
    linear = disttorch.nn.Linear(3, 2)
    x = disttorch.ones(4, 3)
    weight = disttorch.zeros(2, 3, requires_grad=True)
    with pytest.warns(FutureWarning, match="`torch.nn.utils.stateless.functional_call` is "
                                           "deprecated as of PyTorch 2.0"):
        out = functional_call(linear, {"weight": weight}, (x,))
    np.testing.assert_allclose(out.detach().numpy(),
                               np.broadcast_to(linear.bias.detach().numpy(), (4, 2)))
    out.sum().backward()
    assert weight.grad is not None and linear.weight.grad is None
    with pytest.warns(FutureWarning), pytest.raises(AttributeError, match="has no attribute "
                                                                          "'keys'"):
        functional_call(linear, ({"weight": weight},), (x,))
    with pytest.warns(FutureWarning), pytest.raises(RuntimeError):
        functional_call(linear, {"weight": weight}, (x,), strict=True)
