"""``scatter``/``gather`` for ``DataParallel``: split a batch over devices and concatenate the
replicas' outputs, both differentiable (each one's backward is the other)."""
import contextlib
import warnings

import numpy as np

from ..._backend import cupy_module, get_array_module
from ..._device import device as _device
from ...autograd.function import Node
from ...ops.conversion import _move
from ...tensor import Tensor

__all__ = ["scatter", "scatter_kwargs", "gather"]


def _device_index(device, optional=False, allow_cpu=False):
    """The CUDA index ``device`` names (an int, ``"cuda:i"`` or a device); -1 for the CPU where
    ``allow_cpu``; the current device for a bare ``"cuda"`` where ``optional``."""
    if isinstance(device, str):
        device = _device(device)
    if isinstance(device, _device):
        if device.type == "cpu":
            if not allow_cpu:
                raise ValueError(f"Expected a non cpu device, but got: {device}")
            return -1
        if device.index is None:
            if not optional:
                raise ValueError(f"Expected a torch.device with a specified index or an "
                                 f"integer, but got:{device}")
            from ... import cuda
            return cuda.current_device()
        return device.index
    if device is None:
        if not optional:
            raise ValueError(f"Expected a torch.device with a specified index or an integer, "
                             f"but got:{device}")
        from ... import cuda
        return cuda.current_device()
    return int(device)


def _place(index):
    return _device("cpu") if index == -1 else _device("cuda", index)


def _on(index):
    """Make device ``index`` current (CuPy allocates and computes on the current device)."""
    if index is None or index < 0:
        return contextlib.nullcontext()
    return cupy_module().cuda.Device(index)


def _where(array):
    return -1 if type(array) is np.ndarray else int(array.device.id)


def _chunk_bounds(size, count):
    """Row ranges of ``Tensor.chunk(count)``: ``ceil(size / count)`` rows each, so there may
    be fewer than ``count`` chunks."""
    step = -(-size // count) if size else 0
    if step == 0:
        return [(0, 0)]
    return [(start, min(start + step, size)) for start in range(0, size, step)]


class Scatter(Node):
    """``x`` cut into chunks along ``dim``, chunk ``i`` on device ``indices[i]``."""

    crosses_devices = True

    def forward(self, x, indices, dim):
        self.dim, self.source = dim, _where(x)
        self.bounds = _chunk_bounds(x.shape[dim], len(indices))
        parts = []
        for (start, stop), index in zip(self.bounds, indices):
            part = x[(slice(None),) * dim + (slice(start, stop),)]
            moved = _move(part, _place(index))
            # a chunk left on the input's device must not alias it (as copies elsewhere don't)
            parts.append(moved.copy() if moved is part else moved)
        return tuple(parts)

    def backward(self, *grads):
        if any(isinstance(g, Tensor) for g in grads):
            from ...ops import cat
            moved = [g.to(_place(self.source)) for g in grads]
            return cat(moved, self.dim), None, None
        with _on(self.source):
            moved = [_move(g, _place(self.source)) for g in grads]
            return get_array_module(moved[0]).concatenate(moved, axis=self.dim), None, None

    @classmethod
    def name(cls):
        return "ScatterBackward"


class Gather(Node):
    """The replicas' outputs concatenated along ``dim`` on device ``index`` (-1: the CPU)."""

    crosses_devices = True

    def forward(self, index, dim, *parts):
        self.dim, self.sources = dim, [_where(p) for p in parts]
        self.sizes = [p.shape[dim] for p in parts]
        with _on(index):
            moved = [_move(p, _place(index)) for p in parts]
            return get_array_module(moved[0]).concatenate(moved, axis=dim)

    def backward(self, g):
        grads = []
        start = 0
        for size, source in zip(self.sizes, self.sources):
            part = g[(slice(None),) * self.dim + (slice(start, start + size),)]
            with _on(source):
                grads.append(part.to(_place(source)) if isinstance(part, Tensor)
                             else _move(part, _place(source)))
            start += size
        return (None, None, *grads)

    @classmethod
    def name(cls):
        return "GatherBackward"


def _is_namedtuple(obj):
    return isinstance(obj, tuple) and hasattr(obj, "_asdict") and hasattr(obj, "_fields")


def scatter(inputs, target_gpus, dim=0):
    """Slice tensors into approximately equal chunks along ``dim`` and distribute them over
    ``target_gpus``; other objects are repeated once per device. Tuples, lists, dicts and
    named tuples are walked (as ``Tensor.chunk`` does, there may be fewer chunks than
    devices)."""
    indices = [_device_index(d, True) for d in target_gpus]

    def scatter_map(obj):
        if isinstance(obj, Tensor):
            return list(Scatter.apply(obj, indices, dim))
        if _is_namedtuple(obj):
            return [type(obj)(*args) for args in zip(*map(scatter_map, obj))]
        if isinstance(obj, tuple) and len(obj) > 0:
            return list(zip(*map(scatter_map, obj)))
        if isinstance(obj, list) and len(obj) > 0:
            return [list(i) for i in zip(*map(scatter_map, obj))]
        if isinstance(obj, dict) and len(obj) > 0:
            return [type(obj)(i) for i in zip(*map(scatter_map, obj.items()))]
        return [obj for _ in target_gpus]

    return scatter_map(inputs)


def scatter_kwargs(inputs, kwargs, target_gpus, dim=0):
    """:func:`scatter` of the positional and the keyword arguments, padded to the same
    number of devices; returns ``(tuple of input tuples, tuple of kwargs dicts)``."""
    scattered_inputs = scatter(inputs, target_gpus, dim) if inputs else []
    scattered_kwargs = scatter(kwargs, target_gpus, dim) if kwargs else []
    if len(scattered_inputs) < len(scattered_kwargs):
        scattered_inputs.extend(() for _ in range(len(scattered_kwargs) - len(scattered_inputs)))
    elif len(scattered_kwargs) < len(inputs):
        scattered_kwargs.extend({} for _ in range(len(scattered_inputs) - len(scattered_kwargs)))
    return tuple(scattered_inputs), tuple(scattered_kwargs)


def gather(outputs, target_device, dim=0):
    """Concatenate the replicas' ``outputs`` along ``dim`` on ``target_device`` (an index,
    ``"cuda:i"``, or ``"cpu"``/-1), walking tuples, lists, dicts and named tuples. Scalar
    outputs are stacked into a vector, with PyTorch's warning."""
    index = _device_index(target_device, True, True)

    def gather_map(outputs):
        out = outputs[0]
        if isinstance(out, Tensor):
            if all(o.ndim == 0 for o in outputs):
                warnings.warn("Was asked to gather along dimension 0, but all input tensors "
                              "were scalars; will instead unsqueeze and return a vector.")
                outputs = [o.view(1) for o in outputs]
                return Gather.apply(index, 0, *outputs)
            return Gather.apply(index, dim, *outputs)
        if out is None:
            return None
        if isinstance(out, dict):
            if not all(len(out) == len(d) for d in outputs):
                raise ValueError("All dicts must have the same number of keys")
            return type(out)((k, gather_map([d[k] for d in outputs])) for k in out)
        if _is_namedtuple(out):
            return type(out)._make(map(gather_map, zip(*outputs)))
        return type(out)(map(gather_map, zip(*outputs)))

    return gather_map(outputs)

