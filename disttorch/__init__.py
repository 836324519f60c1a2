"""disttorch: PyTorch's API on numpy and CuPy, built for data-parallel training.

``import disttorch as torch`` gives tensors, autograd, ``nn``, ``optim``,
``utils.data`` and ``distributed``. MPI and CuPy are imported only when used.
"""
__version__ = "0.1.0"

import numpy as _np

# PyTorch computes inf/nan silently; numpy would warn on every such element-wise op.
_np.seterr(divide="ignore", invalid="ignore", over="ignore", under="ignore")

from ._malloc import tune as _tune_malloc  # noqa: E402

_tune_malloc()

from ._dtype import (dtype, float16, half, float32, float64, double, bfloat16, int8, int16, short,
                     int32, int64, long, uint8, bool, complex64, cfloat, complex128, cdouble,
                     get_default_dtype, set_default_dtype, promote_types, result_type, can_cast,
                     finfo, iinfo)
from ._device import device, set_default_device, get_default_device
from ._streams import Stream, Event
from .tensor import Tensor, Size, is_tensor, is_storage, numel
from .autograd.grad_mode import (no_grad, enable_grad, set_grad_enabled, inference_mode,
                                 is_grad_enabled, is_inference_mode_enabled)
from . import autograd
from .ops import *  # noqa: F401,F403  (the op library; also attaches Tensor methods)
from .ops import __all__ as _ops_all
from . import cuda
from ._threads import set_num_threads, get_num_threads
# CPU tensors sent through multiprocessing travel in shared memory, as in PyTorch, which also
# sets this up on import
from .multiprocessing import reductions as _mp_reductions  # noqa: E402,F401

float = float32  # noqa: A001 - PyTorch exposes torch.float
int = int32  # noqa: A001


def is_floating_point(input):
    return input.is_floating_point()


def is_complex(input):
    return input.is_complex()


_LAZY = {"nn", "optim", "utils", "distributed", "distributions", "func", "linalg", "amp", "testing",
         "backends", "fft", "special", "profiler", "vision", "multiprocessing", "jit",
         "random", "accelerator", "signal", "library"}


_COMPAT = {"compile", "set_printoptions", "set_float32_matmul_precision",
           "get_float32_matmul_precision", "use_deterministic_algorithms",
           "are_deterministic_algorithms_enabled", "is_deterministic_algorithms_warn_only_enabled",
           "set_deterministic_debug_mode", "get_deterministic_debug_mode", "set_warn_always",
           "is_warn_always_enabled"}
_AUTOCAST = {"autocast", "is_autocast_enabled", "get_autocast_dtype", "set_autocast_enabled",
             "set_autocast_dtype", "is_autocast_cache_enabled", "set_autocast_cache_enabled",
             "clear_autocast_cache", "autocast_increment_nesting", "autocast_decrement_nesting",
             "is_autocast_cpu_enabled", "set_autocast_cpu_enabled", "get_autocast_cpu_dtype",
             "set_autocast_cpu_dtype", "get_autocast_gpu_dtype", "set_autocast_gpu_dtype"}
# top-level names of functions that live in disttorch.linalg (loaded on first use)
_FROM_LINALG = {"lu": ("_lu", "lu_deprecated"), "lu_solve": ("_lu", "lu_solve_deprecated"),
                "lu_unpack": ("_lu", "lu_unpack"), "orgqr": ("_lstsq_eig", "orgqr"),
                **{name: ("_legacy", name) for name in ("qr", "slogdet", "cholesky_solve",
                                                        "cholesky_inverse", "geqrf", "ormqr")}}
_LEGACY_TYPES = {"FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "LongTensor",
                 "IntTensor", "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor",
                 "set_default_tensor_type"}


def __getattr__(name):
    # Subpackages load on first use: ``import disttorch`` stays fast.
    if name in _LAZY:
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    if name in _AUTOCAST:
        from .amp import autocast_mode
        return getattr(autocast_mode, name)
    if name == "OutOfMemoryError":
        from .cuda import OutOfMemoryError
        return OutOfMemoryError
    if name in ("save", "load"):
        from . import serialization
        return getattr(serialization, name)
    if name in _COMPAT:
        from . import _compat
        return getattr(_compat, name)
    if name == "GradScaler":
        from .amp import GradScaler
        return GradScaler
    if name in _LEGACY_TYPES:
        from . import _legacy_types
        return getattr(_legacy_types, name)
    if name in _FROM_LINALG:
        import importlib
        module, attr = _FROM_LINALG[name]
        return getattr(importlib.import_module(f"{__name__}.linalg.{module}"), attr)
    if name == "vmap":
        from .func import vmap
        return vmap
    raise AttributeError(f"module 'disttorch' has no attribute '{name}'")
