"""``GradScaler``: dynamic loss scaling for float16 training."""
import warnings

import numpy as np

from .._backend import device_index, device_scope, get_array_module, on_device_of, several_devices
from ..cuda.kernels.amp import unscale_and_check, update_scale

__all__ = ["GradScaler"]

_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


class GradScaler:
    r"""Scale the loss so that float16 gradients do not underflow, and undo it before the step.

    ``scale(loss).backward()`` produces gradients multiplied by the scale; ``step(optimizer)``
    unscales them (unless :meth:`unscale_` already did), and skips ``optimizer.step()`` when any
    gradient is inf or NaN; ``update()`` then halves the scale after a skipped step, or doubles
    it after ``growth_interval`` clean steps in a row.

    Args:
        device (str): device of the scale (``"cuda"`` or ``"cpu"``).
        init_scale (float): initial scale factor.
        growth_factor (float): factor applied after ``growth_interval`` clean steps.
        backoff_factor (float): factor applied after a step with inf/NaN gradients.
        growth_interval (int): clean steps between growths.
        enabled (bool): False makes every method a pass-through.

    Example::

        >>> scaler = disttorch.amp.GradScaler("cuda")
        >>> with disttorch.autocast("cuda"):
        ...     loss = loss_fn(model(x), y)
        >>> scaler.scale(loss).backward()
        >>> scaler.step(optimizer)
        >>> scaler.update()
    """

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = str(device)
        if enabled and self._device.startswith("cuda"):
            from .. import cuda
            if not cuda.is_available():
                warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  "
                              "Disabling.")
                enabled = False
        self._enabled = enabled
        if growth_factor <= 1.0:
            raise AssertionError("The growth factor must be > 1.0.")
        if backoff_factor >= 1.0:
            raise AssertionError("The backoff factor must be < 1.0.")
        self._init_scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._init_growth_tracker = 0
        self._scale = None
        # consecutive unskipped steps, an int32 0-d tensor beside the scale: update() changes both
        # on the device, as torch._amp_update_scale_ does, with no readback
        self._growth_tracker = None
        self._per_optimizer = {}

    def is_enabled(self):
        return self._enabled

    def _scale_tensor(self, like):
        if self._scale is None:
            from .. import _dtype
            from ..ops.creation import full
            self._scale = full((), self._init_scale, dtype=_dtype.float32, device=like.device)
            self._growth_tracker = full((), self._init_growth_tracker, dtype=_dtype.int32,
                                        device=like.device)
        return self._scale

    def scale(self, outputs):
        """Multiply ``outputs`` (a tensor, or nested lists/tuples of tensors) by the scale."""
        if not self._enabled:
            return outputs
        from ..tensor import Tensor
        if isinstance(outputs, Tensor):
            scale = self._scale_tensor(outputs)
            if scale.device != outputs.device:   # a copy per device, as torch's replicator
                scale = scale.to(outputs.device, non_blocking=True)
            return outputs * scale
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _state(self, optimizer):
        return self._per_optimizer.setdefault(id(optimizer), {"stage": _READY, "found_inf": None})

    def unscale_(self, optimizer):
        """Divide ``optimizer``'s gradients by the scale in place, noting any inf/NaN.

        Call it between ``backward()`` and ``step()`` to clip or inspect true gradients.
        """
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["stage"] is _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the "
                               "last update().")
        if state["stage"] is _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        if self._scale is None:
            raise AssertionError("Attempted unscale_ but _scale is None.  This may indicate your "
                                 "script did not use scaler.scale(loss or outputs) earlier in the "
                                 "iteration.")
        grads = [p.grad for group in optimizer.param_groups for p in group["params"]
                 if p.grad is not None]
        if any(g._data.dtype == np.float16 for g in grads):
            raise ValueError("Attempting to unscale FP16 gradients.")
        arrays = [g._data for g in grads]
        if several_devices[0]:
            found = _unscale_per_device(arrays, self._scale._data)
        else:
            found = _unscale(arrays, self._scale._data)
        for g in grads:
            g._vc[0] += 1
        state["found_inf"] = found
        state["stage"] = _UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """Unscale (if not done yet) and run ``optimizer.step()`` unless a gradient is inf/NaN.

        Returns what ``optimizer.step`` returned, or None when the step was skipped.
        """
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        state = self._state(optimizer)
        if state["stage"] is _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is _READY:
            self.unscale_(optimizer)
        found = state["found_inf"]
        result = None
        # the one host synchronisation of a scaled step, as in PyTorch's _maybe_opt_step
        if found is None or not bool(found):
            result = optimizer.step(*args, **kwargs)
        state["stage"] = _STEPPED
        return result

    def update(self, new_scale=None):
        """Adjust the scale for the next iteration (or set it to ``new_scale``, a float or a
        one-element tensor).

        Everything stays on the device (no host synchronisation): after a step with inf/NaN
        gradients the scale is multiplied by ``backoff_factor`` and the growth tracker reset;
        otherwise the tracker counts the step and, at ``growth_interval``, the scale grows by
        ``growth_factor`` (unless that would overflow float32) and the tracker restarts.
        """
        if not self._enabled:
            return
        if self._scale is None:
            raise AssertionError("Attempted update but _scale is None.  This may indicate your "
                                 "script did not use scaler.scale(loss or outputs) earlier in the "
                                 "iteration.")
        with device_scope([self._scale._data]):
            self._update(new_scale)
        self._scale._vc[0] += 1
        self._growth_tracker._vc[0] += 1
        self._per_optimizer = {}

    def _update(self, new_scale):
        scale = self._scale._data
        if new_scale is not None:
            from ..tensor import Tensor
            if isinstance(new_scale, Tensor):
                reason = ("new_scale should be a float or a 1-element torch.cuda.FloatTensor or "
                          "torch.FloatTensor with requires_grad=False.")
                if new_scale.device.type != self._device.split(":")[0] or \
                        new_scale.numel() != 1 or new_scale.requires_grad:
                    raise AssertionError(reason)
                scale[...] = new_scale._data.reshape(()).astype(scale.dtype)
            else:
                scale[...] = float(new_scale)
        else:
            found_infs = [s["found_inf"] for s in self._per_optimizer.values()
                          if s["found_inf"] is not None]
            if not found_infs:
                raise AssertionError("No inf checks were recorded prior to update.")
            found = found_infs[0]
            for other in found_infs[1:]:
                found = found + other
            _update_scale(scale, self._growth_tracker._data, found, self._growth_factor,
                          self._backoff_factor, self._growth_interval)

    def get_scale(self):
        """The current scale as a Python float (1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale._data)

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = int(new_interval)

    def state_dict(self):
        """``scale``, ``growth_factor``, ``backoff_factor``, ``growth_interval`` and
        ``_growth_tracker``; empty when disabled."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def _get_growth_tracker(self):
        """The growth tracker as a Python int (a host synchronisation, as in PyTorch)."""
        if self._growth_tracker is None:
            return self._init_growth_tracker
        return int(self._growth_tracker._data)

    def load_state_dict(self, state_dict):
        """Restore what :meth:`state_dict` returned."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from "
                               "a disabled instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale._data[...] = self._init_scale
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker._data[...] = self._init_growth_tracker


def _unscale(grads, scale):
    """Divide ``grads`` (arrays on ``scale``'s device) by ``scale`` in place; a one-element
    float32 flag on the device, nonzero where one was inf or NaN (None without grads)."""
    found = unscale_and_check(grads, scale)
    if found is None and grads:
        inv_scale = 1.0 / scale
        for data in grads:
            data *= inv_scale.astype(data.dtype)
            bad = ~get_array_module(data).isfinite(data).all()
            found = bad if found is None else (found | bad)
        # a one-element float32 flag on the device, as the fused kernel and torch keep it
        found = found.astype(np.float32).reshape(1)
    return found


def _unscale_per_device(grads, scale):
    """:func:`_unscale` for gradients spread over several devices, as PyTorch's per-device
    pass: each device's gradients with a copy of the scale on that device, and the flags summed
    on the scale's device."""
    by_device = {}
    for data in grads:
        by_device.setdefault(device_index(data), []).append(data)
    home = device_index(scale)
    if list(by_device) in ([], [home]):
        with device_scope([scale]):
            return _unscale(grads, scale)
    found = None
    for group in by_device.values():
        with device_scope(group[:1]):
            flag = on_device_of(_unscale(group, on_device_of(scale, group[0])), scale)
        with device_scope([scale]):
            found = flag if found is None else found + flag
    return found


def _update_scale(scale, growth_tracker, found_inf, growth_factor, backoff_factor,
                  growth_interval):
    """``torch._amp_update_scale_`` on the device arrays ``scale`` (float32, 0-d) and
    ``growth_tracker`` (int32, 0-d), in place, without reading anything back: one fused launch
    on a GPU, else the same rule in array ops."""
    if update_scale(scale, growth_tracker, found_inf, growth_factor, backoff_factor,
                    growth_interval):
        return
    xp = get_array_module(scale)
    found = found_inf.reshape(()) != 0
    successful = growth_tracker + 1
    grow = (successful == growth_interval) & ~found
    wide = scale.astype(np.float64)  # the CUDA kernel multiplies by the double factors
    grown = (wide * growth_factor).astype(np.float32)
    backed_off = (wide * backoff_factor).astype(np.float32)
    kept = xp.where(grow & xp.isfinite(grown), grown, scale)
    scale[...] = xp.where(found, backed_off, kept)
    growth_tracker[...] = xp.where(found | grow, 0, successful).astype(growth_tracker.dtype)
