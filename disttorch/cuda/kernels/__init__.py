"""Fused CUDA kernels (CuPy ``RawKernel``), each declared once as CUDA source.

Raw kernels rather than ``ElementwiseKernel``: their full source is known up front, so the
tests compile every one with NVRTC on machines without a GPU.

Kernels compile on first use, per device, so importing this package needs no GPU. Callers test
:func:`fusable` first: on numpy arrays or on the simulated device they take their generic path.
"""
import functools

from ..._backend import cupy_module, cupyx_module, get_array_module, is_real_cupy

__all__ = ["fusable", "raw_kernel", "launch_multi_tensor", "contiguous"]


def fusable(*arrays):
    """True when the arrays are CuPy arrays on a real GPU (fused kernels can run on them), or
    simulated ones inside ``simulate(fused_kernels=True)`` (launches are checked, not run)."""
    if not arrays or arrays[0] is None:
        return False
    xp = get_array_module(arrays[0])
    if is_real_cupy(xp):
        return True
    check = getattr(xp, "runs_fused_kernels", None)
    return check is not None and check()


def contiguous(array, dtype=None):
    """``array`` as a C-contiguous CuPy array of ``dtype`` (default: its own): itself when it
    already is one (``ascontiguousarray`` would return it too, but costs a CuPy call)."""
    if array.flags.c_contiguous and (dtype is None or array.dtype == dtype):
        return array
    return cupy_module().ascontiguousarray(array, dtype=dtype)


def raw_kernel(source, name):
    """A ``RawKernel`` of the CUDA array module for ``name`` in ``source`` (built once per
    module, compiled lazily per device)."""
    return _raw_kernel(cupy_module(), source, name)


@functools.lru_cache(maxsize=None)
def _raw_kernel(module, source, name):
    return module.RawKernel(source, name)


class _PointerTables:
    """Device copies of per-tensor pointer tables, reused while the pointers stay the same.

    Parameters and optimizer state keep their memory from step to step and CuPy's pool hands
    gradients the same blocks each iteration, so after the first steps no upload happens; an
    upload goes through pinned memory on the current stream (no host synchronisation).
    """

    def __init__(self, capacity=64):
        self.capacity = capacity
        self.tables = {}

    def get(self, values, device):
        # a table serves one device (no peer access) and one array module: the CPU emulator's
        # tests run beside the real GPU's in one process, with equal sizes tables
        cp = cupy_module()
        key = (id(cp), device, len(values)) + values
        table = self.tables.get(key)
        if table is not None:
            return table[0]
        import numpy as np
        host = cupyx_module(cp).empty_pinned((len(values),), np.int64)
        host[...] = values
        device = cp.empty(len(values), np.int64)
        device.set(host, stream=cp.cuda.get_current_stream())
        if len(self.tables) >= self.capacity:
            self.tables.pop(next(iter(self.tables)))
        self.tables[key] = (device, host)  # the pinned source lives as long as the copy
        return device


_tables = _PointerTables()

_BLOCK = 256
_MAX_BLOCKS_PER_TENSOR = 1024


def launch_multi_tensor(kernel, tensor_lists, scalars):
    """Launch ``kernel`` once over many tensors.

    ``tensor_lists`` holds equally long lists of contiguous arrays (e.g. params, grads, state);
    the kernel receives one pointer table per list, a table of element counts, then
    ``scalars``; block row ``blockIdx.y`` handles tensor ``blockIdx.y``.
    """
    first = tensor_lists[0]
    sizes = tuple(int(a.size) for a in first)
    device = first[0].device.id
    pointers = [_tables.get(tuple(int(a.data.ptr) for a in arrays), device)
                for arrays in tensor_lists]
    count = _tables.get(sizes, device)
    blocks_x = min(_MAX_BLOCKS_PER_TENSOR, max(1, (max(sizes) + _BLOCK - 1) // _BLOCK))
    kernel((blocks_x, len(first)), (_BLOCK,), tuple(pointers) + (count,) + tuple(scalars))
