"""``disttorch.cuda.amp``: PyTorch's older spelling of ``disttorch.amp`` for CUDA."""
from .. import _dtype
from ..amp import autocast_mode, grad_scaler

__all__ = ["autocast", "GradScaler", "custom_fwd", "custom_bwd"]


class autocast(autocast_mode.autocast):
    """``disttorch.autocast("cuda", ...)``, as ``torch.cuda.amp.autocast``."""

    def __init__(self, enabled=True, dtype=_dtype.float16, cache_enabled=True):
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(grad_scaler.GradScaler):
    """``disttorch.amp.GradScaler("cuda", ...)``, as ``torch.cuda.amp.GradScaler``."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval,
                         enabled)


def custom_fwd(fwd=None, *, cast_inputs=None):
    """``disttorch.amp.custom_fwd(device_type="cuda", ...)``, as ``torch.cuda.amp.custom_fwd``."""
    from ..amp import custom_fwd as _custom_fwd
    return _custom_fwd(fwd, device_type="cuda", cast_inputs=cast_inputs)


def custom_bwd(bwd=None):
    """``disttorch.amp.custom_bwd(device_type="cuda")``, as ``torch.cuda.amp.custom_bwd``."""
    from ..amp import custom_bwd as _custom_bwd
    return _custom_bwd(bwd, device_type="cuda")
