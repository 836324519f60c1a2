"""``disttorch.backends.cuda``: CUDA switches (TF32 matmul, scaled-dot-product kernels).

They are recorded for scripts that set them; CuPy's kernels compute in the tensor's dtype.
"""
import contextlib
import types

__all__ = ["matmul", "is_built", "flash_sdp_enabled", "enable_flash_sdp",
           "mem_efficient_sdp_enabled", "enable_mem_efficient_sdp", "math_sdp_enabled",
           "enable_math_sdp", "cudnn_sdp_enabled", "enable_cudnn_sdp", "sdp_kernel",
           "preferred_linalg_library"]

matmul = types.SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                               allow_bf16_reduced_precision_reduction=True)
_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}
_linalg_library = ["default"]


def is_built():
    """Whether disttorch can use CUDA (CuPy importable)."""
    from .. import cuda
    return cuda.is_available()


def flash_sdp_enabled():
    """Whether the flash scaled-dot-product kernel switch is on."""
    return _sdp["flash"]


def enable_flash_sdp(enabled):
    """Turn the flash scaled-dot-product kernel switch on or off."""
    _sdp["flash"] = bool(enabled)


def mem_efficient_sdp_enabled():
    """Whether the memory-efficient scaled-dot-product kernel switch is on."""
    return _sdp["mem_efficient"]


def enable_mem_efficient_sdp(enabled):
    """Turn the memory-efficient scaled-dot-product kernel switch on or off."""
    _sdp["mem_efficient"] = bool(enabled)


def math_sdp_enabled():
    """Whether the math scaled-dot-product kernel switch is on."""
    return _sdp["math"]


def enable_math_sdp(enabled):
    """Turn the math scaled-dot-product kernel switch on or off."""
    _sdp["math"] = bool(enabled)


def cudnn_sdp_enabled():
    """Whether the cuDNN scaled-dot-product kernel switch is on."""
    return _sdp["cudnn"]


def enable_cudnn_sdp(enabled):
    """Turn the cuDNN scaled-dot-product kernel switch on or off."""
    _sdp["cudnn"] = bool(enabled)


@contextlib.contextmanager
def sdp_kernel(enable_flash=True, enable_math=True, enable_mem_efficient=True,
               enable_cudnn=True):
    """Context manager that sets the scaled-dot-product switches and restores them."""
    saved = dict(_sdp)
    _sdp.update(flash=enable_flash, math=enable_math, mem_efficient=enable_mem_efficient,
                cudnn=enable_cudnn)
    try:
        yield
    finally:
        _sdp.update(saved)


def preferred_linalg_library(backend=None):
    """Get (and with ``backend``, set) the preferred linear-algebra library name."""
    if backend is not None:
        if backend not in ("default", "cusolver", "magma"):
            raise RuntimeError("Unknown input value. Choose from: default, cusolver, magma.")
        _linalg_library[0] = backend
    return _linalg_library[0]
