"""Array backends: numpy on the CPU, CuPy on CUDA devices.

This is the only module that imports cupy, and only when a CUDA array is
first needed, so ``import disttorch`` stays fast on machines without a GPU.

The CUDA array module is CuPy, or the simulated device of ``disttorch.cuda._simulated`` when
``DISTTORCH_SIMULATE_CUDA=1`` is set (or inside its ``simulate()`` context): every caller asks
:func:`cupy_module` and never imports cupy itself.
"""
import contextlib
import os
import sys

import numpy as np

_cupy = None
_cupy_tried = False


def _load():
    global _cupy, _cupy_tried
    _cupy_tried = True
    if os.environ.get("DISTTORCH_SIMULATE_CUDA", "0") not in ("", "0"):
        from .cuda import _simulated
        _cupy = _simulated
        return
    try:
        import cupy
        _cupy = cupy
    except Exception:  # ImportError, or a broken CUDA install
        _cupy = None


def cupy_module():
    """Return the CUDA array module (cupy, or the simulated device), or None without CuPy."""
    if not _cupy_tried:
        _load()
    return _cupy


def set_cuda_module(module):
    """Make ``module`` the CUDA array module; return the previous one (for tests)."""
    global _cupy, _cupy_tried
    previous = cupy_module()
    _cupy, _cupy_tried = module, True
    return previous


def is_real_cupy(xp):
    """True when ``xp`` is CuPy itself, where fused kernels can run."""
    return xp is not np and xp.__name__ == "cupy"


def cupyx_module(xp):
    """The ``cupyx`` companion of the CUDA array module ``xp`` (``cupyx.scipy.special``...)."""
    if is_real_cupy(xp):
        import cupyx
        import cupyx.scipy.special  # noqa: F401  (loads the submodule)
        return cupyx
    return xp.cupyx


def get_array_module(array):
    """Return the array module (numpy, cupy or the simulated device) that ``array`` belongs to."""
    if type(array) is np.ndarray:
        return np
    cp = _cupy
    if cp is not None and type(array) is cp.ndarray:
        return cp
    if type(array).__module__.partition(".")[0] == "cupy":
        return sys.modules["cupy"]
    return np


def is_cuda_array(array):
    if type(array) is np.ndarray:
        return False
    cp = _cupy
    if cp is not None and type(array) is cp.ndarray:
        return True
    return type(array).__module__.startswith("cupy")


_CONSTANTS = {}


# ``several_devices[0]`` turns True once two CUDA devices have been in play: the one current at
# the first CUDA use, those given arrays, those made current. Only then do ops check that they
# run on their inputs' device: CuPy launches a kernel on the current device whatever its arrays'
# devices, PyTorch on theirs. A process on one GPU (any index: a DDP rank after set_device)
# never pays for the check.
several_devices = [False]
_devices_seen = set()


def note_device(index):
    """Record that device ``index`` holds arrays or is made current; a second device installs
    the guards that run each op on its inputs' device (:mod:`disttorch._device_guard`)."""
    if several_devices[0] or index in _devices_seen:
        return
    if not _devices_seen:
        _devices_seen.add(cupy_module().cuda.runtime.getDevice())
    _devices_seen.add(index)
    if len(_devices_seen) > 1:
        several_devices[0] = True
        from . import _device_guard
        _device_guard.install()


def device_index(array):
    """The CUDA device index of ``array``; None for a host array."""
    return array.device.id if type(array) is not np.ndarray and is_cuda_array(array) else None


def on_device_of(array, like):
    """``array`` on ``like``'s device (itself when it is already there): to the host, from the
    host, or device to device (CuPy's ``copy`` copies from another device to the current one)."""
    target, source = device_index(like), device_index(array)
    if target == source:
        return array
    if target is None:
        return to_numpy(array)
    cp = cupy_module()
    with cp.cuda.Device(target):
        return cp.asarray(array) if source is None else array.copy()


def device_scope(arrays):
    """A context in which an op on ``arrays`` runs on their device: :func:`foreign_device`, or
    a no-op context when that is current (or the process uses one device)."""
    device = foreign_device(arrays) if several_devices[0] else None
    return device if device is not None else contextlib.nullcontext()


def forget_devices():
    """Back to the one-device state (the simulated device's context does this on exit)."""
    _devices_seen.clear()
    if several_devices[0]:
        several_devices[0] = False
        # imported by note_device already (a lookup, not an import: this runs at exit too)
        guard = sys.modules.get(__package__ + "._device_guard")
        if guard is not None:
            guard.uninstall()


def foreign_device(arrays):
    """The ``cupy.cuda.Device`` to enter so that an op on ``arrays`` runs on their CUDA
    device; None when that is already the current one (or none is CUDA). Raises PyTorch's
    error when the CUDA arrays among them are on different devices."""
    index = None
    for a in arrays:
        if a is not None and type(a) is not np.ndarray and hasattr(a, "device") \
                and is_cuda_array(a):
            if index is None:
                index = a.device.id
            elif a.device.id != index:
                raise RuntimeError(f"Expected all tensors to be on the same device, but found at "
                                   f"least two devices, cuda:{index} and cuda:{a.device.id}!")
    if index is None:
        return None
    cp = cupy_module()
    return None if index == cp.cuda.runtime.getDevice() else cp.cuda.Device(index)


def device_constant(xp, key, make):
    """``make()`` (a numpy array, or lists/tuples of them and None) on ``xp``'s current device,
    made once per ``key``, array module and device.

    Small constant tables (averaging matrices, gate scales, interpolation taps) built on the
    host would otherwise be copied to the GPU at every call, and a copy from pageable host
    memory waits for the stream. Callers must not write into what this returns.
    """
    device = None if xp is np else xp.cuda.runtime.getDevice()
    full_key = (key, xp, device)
    array = _CONSTANTS.get(full_key)
    if array is None:
        if len(_CONSTANTS) >= 256:
            _CONSTANTS.clear()
        array = _CONSTANTS[full_key] = _to_module(xp, make())
    return array


def _to_module(xp, value):
    if isinstance(value, (list, tuple)):
        return type(value)(_to_module(xp, v) for v in value)
    return value if value is None else xp.asarray(value)


def writes_stay_private(array):
    """True when writing into ``array`` in place changes each of its elements alone.

    numpy marks broadcast views (stride 0) read-only; CuPy arrays have no ``writeable`` flag and
    are always writable, so a zero stride over a dimension longer than one is what tells there.
    """
    writeable = getattr(array.flags, "writeable", None)
    if writeable is not None:
        return writeable
    return all(stride != 0 or size < 2 for stride, size in zip(array.strides, array.shape))


# set when device-side index checks (cuda/kernels/bounds.py) may have recorded a violation
# that the next copy to the host must report
index_checks_pending = [False]


def to_numpy(array):
    """Copy (or view) any backend array as a numpy array on the host."""
    if type(array) is np.ndarray:
        return array
    if is_cuda_array(array):
        host = array.get()
        if index_checks_pending[0]:
            from .cuda.kernels.bounds import raise_pending
            raise_pending()
        return host
    return np.asarray(array)
