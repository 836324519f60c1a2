"""Autocast: regions where chosen ops run in float16/bfloat16 and precision-sensitive ops in
float32, PyTorch's mixed-precision policy.

Ops consult this module through :func:`cast_lower` and :func:`cast_float32`; both return their
arguments untouched (one dictionary test) when no autocast region is active.
"""
import functools
import threading

import warnings

import numpy as np

from .. import _dtype

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype", "cast_lower", "cast_float32",
           "cast_float32_cuda"]

_DEFAULT_DTYPE = {"cuda": "float16", "cpu": "bfloat16"}
_SUPPORTED = {"cuda": ("float16", "bfloat16"), "cpu": ("bfloat16", "float16")}


class _Regions(threading.local):
    """Per thread (like PyTorch): device type -> numpy dtype of the active autocast region."""

    def __init__(self):
        self.dtypes = {}


_regions = _Regions()


def _eligible_dtypes():
    names = ["float16", "float32"] + (["bfloat16"] if _dtype.bfloat16 is not None else [])
    return frozenset(np.dtype(getattr(_dtype, name).np_dtype) for name in names)


# float64 is never cast, in either direction (PyTorch's is_eligible)
_ELIGIBLE = _eligible_dtypes()
_FLOAT32 = np.dtype(np.float32)


class autocast:
    r"""Context manager (and decorator) for a mixed-precision region.

    Inside the region, matrix products (``matmul``, ``mm``, ``bmm``, ``addmm``, ``baddbmm``,
    ``linear``, convolutions) cast their floating inputs to ``dtype``; the losses cast theirs to
    float32, and on CUDA so do ``softmax``, ``log_softmax``, ``layer_norm`` and ``group_norm``. Only tensors on
    ``device_type`` are cast, float64 tensors never. Gradients flow back through the casts, so
    parameters keep float32 gradients.

    Args:
        device_type (str): ``"cuda"`` or ``"cpu"``.
        dtype (disttorch.dtype, optional): ``float16`` or ``bfloat16``; default float16 on cuda,
            bfloat16 on cpu (which needs the ``ml_dtypes`` package).
        enabled (bool): False makes a region where autocast is off (also inside another one).
        cache_enabled (bool, optional): accepted for compatibility.

    Example::

        >>> with disttorch.autocast("cuda"):
        ...     loss = loss_fn(model(x), y)
        >>> scaler.scale(loss).backward()
    """

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if device_type not in _SUPPORTED:
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
        if dtype is None:
            dtype = getattr(_dtype, _DEFAULT_DTYPE[device_type])
        if dtype is None and enabled:
            raise RuntimeError("autocast to bfloat16 needs the ml_dtypes package "
                               "(pip install ml_dtypes); numpy has no bfloat16 of its own")
        dtype = _dtype.as_dtype(dtype) if dtype is not None else _dtype.float32
        if enabled and dtype.name not in _SUPPORTED[device_type]:
            # PyTorch warns and turns autocast off for an unsupported target dtype
            supported = ", ".join(f"torch.{n}" for n in _SUPPORTED[device_type])
            warnings.warn(f"In {device_type} autocast, but the target dtype is not supported. "
                          f"Disabling autocast.\n{device_type} autocast only supports "
                          f"{supported}, got {dtype}.")
            enabled = False
        self.device = device_type
        self.fast_dtype = dtype
        self._enabled = bool(enabled)
        self._previous = None

    def __enter__(self):
        self._previous = _regions.dtypes.get(self.device)
        if self._enabled:
            _regions.dtypes[self.device] = np.dtype(self.fast_dtype.np_dtype)
        else:
            _regions.dtypes.pop(self.device, None)
        return self

    def __exit__(self, *exc):
        if self._previous is None:
            _regions.dtypes.pop(self.device, None)
        else:
            _regions.dtypes[self.device] = self._previous
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def run_in_region(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled):
                return func(*args, **kwargs)
        return run_in_region


def is_autocast_enabled(device_type="cuda"):
    """Return True inside an enabled autocast region for ``device_type``."""
    return device_type in _regions.dtypes


def get_autocast_dtype(device_type):
    """The low-precision dtype autocast uses on ``device_type`` (its default outside a region)."""
    active = _regions.dtypes.get(device_type)
    if active is not None:
        return _dtype.from_numpy_dtype(active)
    return getattr(_dtype, _DEFAULT_DTYPE[device_type])


def _device_type(array):
    return "cpu" if type(array) is np.ndarray else "cuda"


def _cast(value, target_of):
    from ..tensor import Tensor
    if not isinstance(value, Tensor) or value._data.dtype not in _ELIGIBLE:
        return value
    target = target_of(_device_type(value._data))
    if target is None or value._data.dtype == target:
        return value
    from ..ops._util import cast
    return cast(value, target)


def cast_lower(*values):
    """``values`` with eligible tensors cast to the active region's low-precision dtype."""
    dtypes = _regions.dtypes
    if not dtypes:
        return values
    return tuple(_cast(v, dtypes.get) for v in values)


def cast_float32(*values):
    """``values`` with eligible tensors cast to float32 inside an active region (the losses)."""
    dtypes = _regions.dtypes
    if not dtypes:
        return values
    return tuple(_cast(v, lambda device: _FLOAT32 if device in dtypes else None) for v in values)


def cast_float32_cuda(*values):
    """Like :func:`cast_float32` for CUDA regions only: softmax and the normalisations, which
    PyTorch's CPU autocast leaves in the low-precision dtype."""
    dtypes = _regions.dtypes
    if "cuda" not in dtypes:
        return values
    return tuple(_cast(v, lambda device: _FLOAT32 if device == "cuda" else None) for v in values)
