"""``disttorch.amp``: automatic mixed precision (``autocast`` regions and ``GradScaler``)."""
from .autocast_mode import autocast, is_autocast_enabled, get_autocast_dtype
from ._custom_function import custom_bwd, custom_fwd
from .grad_scaler import GradScaler

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype", "GradScaler", "custom_fwd",
           "custom_bwd"]
