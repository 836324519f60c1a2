"""``disttorch.backends.cudnn``: cuDNN switches as plain attributes.

disttorch's GPU kernels are CuPy's; ``benchmark``, ``deterministic``, ``enabled`` and
``allow_tf32`` are kept for scripts that set or read them and change nothing.
"""
enabled = True
benchmark = False
benchmark_limit = 10
deterministic = False
allow_tf32 = True

__all__ = ["enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32",
           "is_available", "version", "is_acceptable"]


def is_available():
    """Whether a CUDA device is usable (cuDNN itself is never called)."""
    from .. import cuda
    return cuda.is_available()


def version():
    """None: disttorch does not link cuDNN."""
    return None


def is_acceptable(tensor):
    """Whether ``tensor`` is on a CUDA device (what PyTorch checks before using cuDNN)."""
    return bool(tensor.is_cuda) and is_available()
