"""Array backends: numpy on the CPU, CuPy on CUDA devices.

This is the only module that imports cupy, and only when a CUDA array is
first needed, so ``import disttorch`` stays fast on machines without a GPU.
"""
import sys

import numpy as np

_cupy = None
_cupy_tried = False


def cupy_module():
    """Return the cupy module, or None when CuPy is not installed."""
    global _cupy, _cupy_tried
    if not _cupy_tried:
        _cupy_tried = True
        try:
            import cupy
            _cupy = cupy
        except Exception:  # ImportError, or a broken CUDA install
            _cupy = None
    return _cupy


def get_array_module(array):
    """Return the array module (numpy or cupy) that ``array`` belongs to."""
    if type(array) is np.ndarray:
        return np
    module = type(array).__module__.partition(".")[0]
    if module == "cupy":
        return sys.modules["cupy"]
    return np


def is_cuda_array(array):
    return type(array) is not np.ndarray and type(array).__module__.startswith("cupy")


def to_numpy(array):
    """Copy (or view) any backend array as a numpy array on the host."""
    if type(array) is np.ndarray:
        return array
    if is_cuda_array(array):
        return array.get()
    return np.asarray(array)
