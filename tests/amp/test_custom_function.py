"""``amp.custom_fwd`` / ``amp.custom_bwd`` on custom autograd Functions, against torch."""
import pytest

import disttorch
from disttorch.cuda import _simulated

torch = pytest.importorskip("torch")


def _trace(lib, device, dtype, cast_inputs, decorate=True):
    """What forward and backward of a custom matmul saw under an autocast region."""
    seen = {}
    fwd_deco = lib.amp.custom_fwd(device_type=device, cast_inputs=cast_inputs) if decorate \
        else (lambda f: f)
    bwd_deco = lib.amp.custom_bwd(device_type=device) if decorate else (lambda f: f)

    class MM(lib.autograd.Function):
        @staticmethod
        @fwd_deco
        def forward(ctx, a, b, extra):
            seen["forward"] = (a.dtype, extra["scale"].dtype, lib.is_autocast_enabled(device),
                               (a @ b).dtype)
            ctx.save_for_backward(a, b)
            return a @ b * extra["scale"]

        @staticmethod
        @bwd_deco
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            seen["backward"] = (g.dtype, lib.is_autocast_enabled(device), (g @ b.T).dtype)
            return g @ b.T, a.T @ g, None

    a = lib.ones(2, 2, device=device, requires_grad=True)
    b = lib.ones(2, 2, device=device, requires_grad=True)
    scale = {"scale": lib.ones(1, device=device)}
    with lib.autocast(device, dtype=dtype):
        y = MM.apply(a, b, scale)
    y.float().sum().backward()
    seen["out"] = (y.dtype, a.grad.dtype)
    return {k: tuple(str(v).replace("disttorch.", "torch.") for v in values)
            for k, values in seen.items()}


@pytest.mark.parametrize("cast", [None, "float32"])
@pytest.mark.parametrize("decorate", [True, False])
def test_cpu_matches_torch(cast, decorate):
    want = _trace(torch, "cpu", torch.bfloat16, cast and getattr(torch, cast), decorate)
    got = _trace(disttorch, "cpu", disttorch.bfloat16, cast and getattr(disttorch, cast),
                 decorate)
    assert got == want


def test_cuda_float16_on_the_simulated_device():
    with _simulated.simulate():
        plain = _trace(disttorch, "cuda", disttorch.float16, None)
        cast = _trace(disttorch, "cuda", disttorch.float16, disttorch.float32)
    # forward under the region (half GEMM; the float32 scale promotes the output) and
    # backward under it again (its GEMM in half too)
    assert plain["forward"] == ("torch.float32", "torch.float32", "True", "torch.float16")
    assert plain["backward"] == ("torch.float32", "True", "torch.float16")
    # cast_inputs: float32 inputs, autocast off in both
    assert cast["forward"] == ("torch.float32", "torch.float32", "False", "torch.float32")
    assert cast["backward"] == ("torch.float32", "False", "torch.float32")
    assert cast["out"] == ("torch.float32", "torch.float32")


def test_device_type_must_be_a_string():
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`, got: "):
        disttorch.amp.custom_fwd(device_type=None)
    with pytest.raises(TypeError):
        disttorch.amp.custom_bwd(lambda ctx, g: g)  # device_type is keyword-only and required


def test_cuda_amp_spellings():
    assert disttorch.cuda.amp.custom_fwd(cast_inputs=disttorch.float32) is not None
    deco = disttorch.cuda.amp.custom_bwd(lambda ctx, g: g)
    assert callable(deco)
