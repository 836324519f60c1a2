"""``quantile`` and ``nanquantile``: sort along the dimension, then pick or interpolate.

Built from differentiable ops (sort, gather, lerp), so the gradient reaches the one or two
sorted neighbours each quantile is made of, as in PyTorch. The ranks are computed on the
tensor's device, without reading anything back to the host.
"""
import numbers

import numpy as np

from .._backend import get_array_module
from ..autograd import grad_mode
from ..tensor import Tensor, _new
from ._util import as_method, register_methods, wrap_dim
from .arithmetic import _out

__all__ = ["quantile", "nanquantile"]

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _check(input, q, interpolation, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if input._data.dtype not in (np.float32, np.float64):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if input.numel() == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        if q.dtype != input.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        if q.device != input.device:
            raise RuntimeError(f"{name}() q tensor must be on the same device as the input "
                               f"tensor")
        return q
    if isinstance(q, numbers.Real) and not isinstance(q, bool):
        if not 0 <= q <= 1:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
        return float(q)
    raise TypeError(f"{name}() received an invalid combination of arguments - got "
                    f"(Tensor, {type(q).__name__}), but expected q to be a Tensor or a float")


def _quantile(input, q, dim, keepdim, interpolation, out, ignore_nan):
    name = "nanquantile" if ignore_nan else "quantile"
    q = _check(input, q, interpolation, name)
    xp = get_array_module(input._data)
    if isinstance(q, Tensor):
        qs = q._data.reshape(-1)
        # q's range is checked on the device and read once: PyTorch checks it the same way
        if bool(((qs < 0) | (qs > 1)).any()):
            raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
        qs = qs.astype(input._data.dtype, copy=False)
        scalar_q = q.ndim == 0
    else:
        qs = xp.asarray([q], dtype=input._data.dtype)
        scalar_q = True
    ndim = input.ndim
    if dim is None:
        x = input.reshape(-1)
    else:
        axis = wrap_dim(dim, ndim)
        x = input.movedim(axis, -1) if ndim else input.reshape(1)
    values = x.sort(-1).values  # NaN sorts last
    n = values.shape[-1]
    lead = values.shape[:-1]
    with grad_mode.no_grad():
        nan = xp.isnan(values._data)
        if ignore_nan:
            count = (~nan).sum(axis=-1, keepdims=True).astype(qs.dtype)
            ranks = qs * (count - 1)
            # an all-NaN slice takes its last value, a NaN
            ranks = xp.where(ranks < 0, n - 1, ranks)
        else:
            # a slice holding NaN is NaN: every rank points at its last value
            has_nan = nan.any(axis=-1, keepdims=True)
            ranks = xp.where(has_nan, n - 1, qs * (n - 1))
        ranks = xp.broadcast_to(ranks, lead + (qs.size,))
        if interpolation in ("lower", "higher", "nearest"):
            pick = {"lower": xp.floor, "higher": xp.ceil, "nearest": xp.round}[interpolation]
            index = pick(ranks).astype(np.int64)
    if interpolation in ("lower", "higher", "nearest"):
        result = values.gather(-1, _new(index))
    else:
        below = xp.floor(ranks)
        above = xp.ceil(ranks)
        weight = xp.full(ranks.shape, 0.5, ranks.dtype) if interpolation == "midpoint" else \
            ranks - below
        result = values.gather(-1, _new(below.astype(np.int64))).lerp(
            values.gather(-1, _new(above.astype(np.int64))), _new(weight))
    # (..., len(q)) -> (len(q), ...), then the reduced dim(s) kept as ones on request
    result = result.movedim(-1, 0)
    if dim is None:
        result = result.reshape(result.shape[:1] + ((1,) * ndim if keepdim else ()))
    elif keepdim and ndim:
        result = result.unsqueeze(axis + 1)
    if scalar_q:
        result = result.squeeze(0)
    return _out(result, out)


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    r"""The ``q``-th quantiles of ``input`` along ``dim`` (of all elements when None).

    Args:
        input (Tensor): float32 or float64, non-empty.
        q (float or Tensor): quantiles in [0, 1]; a 1-D tensor gives one result per quantile,
            stacked along a new first dimension.
        dim (int, optional): the dimension to reduce; None flattens the input.
        keepdim (bool): keep the reduced dimension(s) with size one.
        interpolation (str): between the two data points around a quantile: ``'linear'``,
            ``'lower'``, ``'higher'``, ``'midpoint'`` or ``'nearest'`` (half to even).

    A slice that holds a NaN has NaN quantiles (see :func:`nanquantile`).
    """
    return _quantile(input, q, dim, keepdim, interpolation, out, ignore_nan=False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    """:func:`quantile` ignoring NaN values (NaN for a slice of NaN only)."""
    return _quantile(input, q, dim, keepdim, interpolation, out, ignore_nan=True)


register_methods({name: as_method(globals()[name]) for name in __all__})
