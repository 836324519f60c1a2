"""Gradient clipping: ``clip_grad_norm_``, ``clip_grad_value_``, ``get_total_norm``,
``clip_grads_with_norm_``. They work on the gradient arrays in place, outside autograd."""
import math

from ..._backend import (device_index, device_scope, get_array_module, on_device_of,
                         several_devices)
from ...tensor import Tensor, _new

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_"]


def _as_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _array_norm(data, norm_type):
    xp = get_array_module(data)
    if data.size == 0:
        return xp.zeros((), data.dtype)
    if norm_type == math.inf:
        return xp.abs(data).max()
    if norm_type == -math.inf:
        return xp.abs(data).min()
    if norm_type == 2.0:
        flat = data.ravel()
        return xp.sqrt(xp.vdot(flat, flat).real)
    if norm_type == 0.0:
        return xp.asarray((data != 0).sum(), data.dtype)
    return (xp.abs(data) ** norm_type).sum() ** (1.0 / norm_type)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    r"""The norm of the norms of ``tensors``: the norm of all their elements taken together.

    Args:
        tensors (Iterable[Tensor] or Tensor): tensors (usually gradients).
        norm_type (float): the p of the p-norm; ``inf`` for the infinity norm. Default: 2.0
        error_if_nonfinite (bool): raise if the total norm is ``nan``, ``inf`` or ``-inf``.
        foreach (bool): accepted for compatibility; the computation is the same.

    Returns:
        Total norm of the tensors (viewed as a single vector), a 0-d tensor.
    """
    tensors = [t for t in _as_list(tensors) if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        from ...ops.creation import tensor
        return tensor(0.0)
    first = tensors[0]._data
    xp = get_array_module(first)
    if several_devices[0]:
        # as PyTorch: each norm on its tensor's device, then all of them on the first's
        norms = []
        for t in tensors:
            with device_scope([t._data]):
                norms.append(on_device_of(_array_norm(t._data, norm_type).astype(first.dtype),
                                          first))
    else:
        norms = [_array_norm(t._data, norm_type).astype(first.dtype) for t in tensors]
    with device_scope([first]):
        total = _array_norm(xp.stack(norms), norm_type).astype(first.dtype)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           f"is non-finite, so it cannot be clipped. To disable this error and "
                           f"scale the gradients by the non-finite norm anyway, set "
                           f"`error_if_nonfinite=False`")
    return _new(xp.asarray(total))


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    r"""Scale the gradients of ``parameters`` by ``max_norm / (total_norm + 1e-6)`` when that is
    below 1 (``total_norm`` as computed by :func:`get_total_norm`).

    As in PyTorch, the coefficient is computed and clamped on ``total_norm``'s device and the
    gradients are multiplied by it there: nothing is read back to the host (a NaN or infinite
    norm makes the gradients NaN or zero rather than raising)."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    if not isinstance(total_norm, Tensor):
        total = float(total_norm)
        coef = min(float(max_norm) / (total + 1e-6), 1.0) if not math.isnan(total) else math.nan
        for g in grads:
            data = g._data
            data *= data.dtype.type(coef)
            g._vc[0] += 1
        return
    total = total_norm._data
    xp = get_array_module(total)
    with device_scope([total]):
        coef = xp.minimum(float(max_norm) / (total + 1e-6), 1.0)  # NaN propagates, as clamp
    coefs = {}
    for g in grads:
        data = g._data
        key = (device_index(data), data.dtype)
        c = coefs.get(key)
        with device_scope([data]):
            if c is None:
                c = coefs[key] = on_device_of(coef, data).astype(data.dtype)
            data *= c
        g._vc[0] += 1


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    r"""Clip the gradient norm of an iterable of parameters, in place.

    The norm is computed over all gradients together, as if they were concatenated into a
    single vector.

    Args:
        parameters (Iterable[Tensor] or Tensor): tensors whose gradients will be normalized.
        max_norm (float): max norm of the gradients.
        norm_type (float): type of the used p-norm; ``inf`` for the infinity norm. Default: 2.0
        error_if_nonfinite (bool): raise if the total norm is ``nan``, ``inf`` or ``-inf``.
            Default: ``False``
        foreach (bool): accepted for compatibility.

    Returns:
        Total norm of the parameter gradients (viewed as a single vector).

    Examples::

        >>> loss.backward()
        >>> nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        >>> optimizer.step()
    """
    parameters = _as_list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated alias of :func:`clip_grad_norm_`."""
    import warnings
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    r"""Clamp every gradient of ``parameters`` into ``[-clip_value, clip_value]``, in place.

    Args:
        parameters (Iterable[Tensor] or Tensor): tensors whose gradients will be clipped.
        clip_value (float): maximum allowed absolute value of the gradients.
        foreach (bool): accepted for compatibility.
    """
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is None:
            continue
        data = p.grad._data
        get_array_module(data).clip(data, -clip_value, clip_value, out=data)
        p.grad._vc[0] += 1
