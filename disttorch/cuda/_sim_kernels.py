"""``RawKernel`` for the simulated device: checks each launch against the kernel's CUDA signature
and counts it; it computes only inside ``simulate(fused_kernels="run")``, where the checked
launch then runs on the CPU emulator (``_kernel_emulator``).

A fused path's host code (which arrays, in which order, which scalar types, what grid) is what a
CPU machine can verify: CuPy passes a numpy scalar by its dtype and an array by its pointer, so
an ``np.int64`` where the kernel declares ``int``, a float64 array behind a ``float*`` or a
non-contiguous view would silently corrupt a real launch. Inside
``simulate(fused_kernels=True)`` the fused paths run with this stub and compute nothing: their
outputs are whatever the buffers held, so only the launches mean anything there.
"""
import collections
import re

import numpy as np

_C_TYPES = {"float": np.float32, "double": np.float64, "int": np.int32, "long long": np.int64,
            "unsigned int": np.uint32, "unsigned long long": np.uint64, "bool": np.bool_,
            "__half": np.float16, "half": np.float16, "fp16_t": np.float16}
_SIGNATURE = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)')
_MAX_SHARED = 48 * 1024      # without opting in, a block gets at most 48 KiB of shared memory

launches = collections.Counter()


class Param:
    """One kernel parameter: its name, its C type and whether it is a pointer."""

    def __init__(self, text):
        text = " ".join(text.replace("*", " * ").split())
        self.pointer = "*" in text
        words = [w for w in text.replace("*", " ").split() if w not in ("const", "__restrict__")]
        self.name = words[-1]
        self.ctype = " ".join(words[:-1])
        if self.ctype not in _C_TYPES and self.ctype != "void":
            raise ValueError(f"kernel parameter '{text}': unknown C type {self.ctype!r}")

    @property
    def dtype(self):
        return None if self.ctype == "void" else np.dtype(_C_TYPES[self.ctype])


def signature(source, name):
    """The parameters of ``extern "C" __global__ void name(...)`` in ``source``."""
    for match in _SIGNATURE.finditer(source):
        if match.group(1) == name:
            return [Param(p) for p in match.group(2).split(",") if p.strip()]
    raise ValueError(f"no extern \"C\" __global__ kernel named {name!r} in the source")


class RawKernel:
    """``cupy.RawKernel(source, name)``: calls check their arguments and count a launch."""

    def __init__(self, source, name, options=(), backend="nvrtc"):
        self.source = source
        self.name = name
        self.params = signature(source, name)

    def __call__(self, grid, block, args, shared_mem=0, stream=None):
        from . import _simulated
        where = f"kernel {self.name}"
        if not isinstance(args, tuple):
            raise TypeError(f"{where}: args must be a tuple, got {type(args).__name__}")
        if len(args) != len(self.params):
            raise TypeError(f"{where} takes {len(self.params)} arguments, got {len(args)}")
        for dims, what in ((grid, "grid"), (block, "block")):
            if not (isinstance(dims, tuple) and 1 <= len(dims) <= 3 and
                    all(isinstance(d, (int, np.integer)) and d >= 1 for d in dims)):
                raise ValueError(f"{where}: {what} must be a tuple of 1-3 positive ints, got "
                                 f"{dims!r}")
        if int(np.prod(block)) > 1024:
            raise ValueError(f"{where}: {int(np.prod(block))} threads per block (at most 1024)")
        if not 0 <= int(shared_mem) <= _MAX_SHARED:
            raise ValueError(f"{where}: {shared_mem} bytes of shared memory (at most "
                             f"{_MAX_SHARED})")
        if _simulated._state["count"] > 1:
            _simulated._check_devices(args, {})     # a launch reads the current device's memory
        for param, arg in zip(self.params, args):
            if param.pointer:
                if arg is None:
                    continue
                if type(arg) is not _simulated.ndarray:
                    raise TypeError(f"{where}: '{param.name}' is a device pointer, got "
                                    f"{type(arg).__name__}")
                if param.dtype is not None and arg.dtype != param.dtype:
                    raise TypeError(f"{where}: '{param.name}' points to {param.ctype}, got a "
                                    f"{arg.dtype} array")
                if not arg.flags.c_contiguous:
                    raise ValueError(f"{where}: '{param.name}' must be a contiguous array")
            elif not (isinstance(arg, np.generic) and arg.dtype == param.dtype):
                got = arg.dtype if isinstance(arg, np.generic) else type(arg).__name__
                raise TypeError(f"{where}: '{param.name}' is a C {param.ctype}; pass a numpy "
                                f"{param.dtype} scalar, got {got}")
        launches[self.name] += 1
        if _simulated.runs_kernels():
            from . import _kernel_emulator
            _kernel_emulator.compile_kernel(self.source, self.name)(grid, block, args,
                                                                    shared_mem)
