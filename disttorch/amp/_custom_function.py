"""``custom_fwd`` / ``custom_bwd``: autocast for the methods of a custom ``autograd.Function``.

A Function's ``backward`` runs outside the caller's autocast region; these decorators make it
run under the autocast state its ``forward`` saw, and can run ``forward`` in one dtype instead.
"""
import functools

from .autocast_mode import autocast, get_autocast_dtype, is_autocast_enabled

__all__ = ["custom_fwd", "custom_bwd"]


def _check_device_type(device_type):
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")


def _cast(value, device_type, dtype):
    """Floating tensors on ``device_type`` (not float64) in ``value`` cast to ``dtype``,
    through lists, tuples and dicts."""
    from ..tensor import Tensor
    if isinstance(value, Tensor):
        if value.is_floating_point() and value.device.type == device_type and \
                value.dtype.name != "float64":
            return value.to(dtype)
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(v, device_type, dtype) for v in value)
    if isinstance(value, dict):
        return {k: _cast(v, device_type, dtype) for k, v in value.items()}
    return value


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorate a custom Function's ``forward`` for autocast.

    Args:
        device_type (str): the autocast device (``"cuda"`` or ``"cpu"``).
        cast_inputs (dtype, optional): inside an autocast region, run ``forward`` with autocast
            off and its floating ``device_type`` tensors cast to this dtype; without it,
            ``forward`` runs under the region as it is. Outside a region it changes nothing.

    Example::

        >>> class MyMM(disttorch.autograd.Function):
        ...     @staticmethod
        ...     @disttorch.amp.custom_fwd(device_type="cuda", cast_inputs=disttorch.float32)
        ...     def forward(ctx, a, b): ...
        ...     @staticmethod
        ...     @disttorch.amp.custom_bwd(device_type="cuda")
        ...     def backward(ctx, grad): ...
    """
    _check_device_type(device_type)
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(ctx, *args, **kwargs):
        ctx._dtype = get_autocast_dtype(device_type)
        active = is_autocast_enabled(device_type)
        if cast_inputs is None:
            ctx._fwd_used_autocast = active
            return fwd(ctx, *args, **kwargs)
        ctx._fwd_used_autocast = False
        if not active:
            return fwd(ctx, *args, **kwargs)
        with autocast(device_type, enabled=False):
            return fwd(ctx, *_cast(args, device_type, cast_inputs),
                       **_cast(kwargs, device_type, cast_inputs))
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """Decorate a custom Function's ``backward`` to run under the autocast state (enabled and
    dtype) its ``forward`` ran under (use with :func:`custom_fwd`)."""
    _check_device_type(device_type)
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(ctx, *args, **kwargs):
        with autocast(device_type, dtype=ctx._dtype, enabled=ctx._fwd_used_autocast):
            return bwd(ctx, *args, **kwargs)
    return decorate_bwd
