"""``disttorch.cuda``: device queries through CuPy (imported only when first asked)."""
from .._backend import cupy_module

__all__ = ["is_available", "device_count", "current_device", "set_device", "synchronize",
           "manual_seed", "manual_seed_all"]

_initialized = False


def _is_initialized():
    return _initialized


def is_available():
    """True if CuPy is installed and at least one CUDA device is usable. Never raises."""
    cp = cupy_module()
    if cp is None:
        return False
    try:
        return bool(cp.cuda.is_available())
    except Exception:
        return False


def device_count():
    """Number of visible CUDA devices (0 without CuPy or a driver)."""
    if not is_available():
        return 0
    return cupy_module().cuda.runtime.getDeviceCount()


def _require():
    if not is_available():
        raise RuntimeError("CUDA is not available: no CuPy installation or no NVIDIA GPU/driver on "
                           "this machine.")
    global _initialized
    _initialized = True
    return cupy_module()


def current_device():
    return _require().cuda.runtime.getDevice()


def set_device(device):
    """Select the current CUDA device by index or ``disttorch.device``."""
    index = device if isinstance(device, int) else (getattr(device, "index", None) or 0)
    _require().cuda.runtime.setDevice(index)


def synchronize(device=None):
    _require().cuda.runtime.deviceSynchronize()


def manual_seed(seed):
    """Seed the CuPy generator of the current device (a no-op without CUDA, like PyTorch)."""
    if is_available():
        cupy_module().random.seed(int(seed) % (2 ** 32))


manual_seed_all = manual_seed
