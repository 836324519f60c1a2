"""``disttorch.cuda.amp``: PyTorch's older spelling of ``disttorch.amp`` for CUDA."""
from .. import _dtype
from ..amp import autocast_mode, grad_scaler

__all__ = ["autocast", "GradScaler"]


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
