"""``DataParallel``: single-process data parallelism over the CUDA devices of one machine."""
import warnings
from itertools import chain

from ... import cuda
from ..._device import device as _device
from ..modules.module import Module
from .parallel_apply import parallel_apply
from .replicate import replicate
from .scatter_gather import _device_index, gather, scatter_kwargs

__all__ = ["DataParallel", "data_parallel"]

_IMBALANCE = """
    There is an imbalance between your GPUs. You may want to exclude GPU {} which
    has less than 75% of the memory or cores of GPU {}. You can do so by setting
    the device_ids argument to DataParallel, or by setting the CUDA_VISIBLE_DEVICES
    environment variable."""


def _available_device_type():
    return "cuda" if cuda.is_available() else None


def _check_balance(device_ids):
    props = [cuda.get_device_properties(i) for i in device_ids]
    for read in (lambda p: p.total_memory, lambda p: p.multi_processor_count):
        values = [read(p) for p in props]
        low = min(range(len(values)), key=values.__getitem__)
        high = max(range(len(values)), key=values.__getitem__)
        if values[high] and values[low] / values[high] < 0.75:
            warnings.warn(_IMBALANCE.format(device_ids[low], device_ids[high]), stacklevel=3)
            return


def _resolve_devices(device_ids, output_device):
    """``(device_ids, output_device)`` as indices, defaulting to every visible device and
    ``device_ids[0]``."""
    if device_ids is None:
        device_ids = list(range(cuda.device_count()))
    if not device_ids:
        raise RuntimeError("no available devices were found")
    if output_device is None:
        output_device = device_ids[0]
    return [_device_index(d, True) for d in device_ids], _device_index(output_device, True)


def _check_source(module, source):
    for t in chain(module.parameters(), module.buffers()):
        if t.device != source:
            raise RuntimeError(f"module must have its parameters and buffers on device {source} "
                               f"(device_ids[0]) but found one of them on device: {t.device}")


class DataParallel(Module):
    r"""Data parallelism over the CUDA devices of one process.

    Each forward splits the inputs along ``dim`` over ``device_ids`` (other arguments are
    copied to every device), runs a replica of ``module`` on each device in its own thread,
    and concatenates the outputs on ``output_device``. The replicas' parameters are
    differentiable copies of ``module``'s, which must live on ``device_ids[0]``: ``backward``
    accumulates every replica's gradient into them. Without CUDA the module runs as it is.

    For multi-process training prefer :class:`~disttorch.nn.parallel.DistributedDataParallel`.

    Args:
        module (Module): the module to parallelize.
        device_ids (list of int or device, optional): CUDA devices. Default: all devices.
        output_device (int or device, optional): where outputs are gathered. Default:
            ``device_ids[0]``
        dim (int): the dimension inputs are split along. Default: 0

    Attributes:
        module (Module): the module to be parallelized.

    Example::

        >>> net = disttorch.nn.DataParallel(model, device_ids=[0, 1, 2])
        >>> output = net(input_var)  # input_var can be on any device, including CPU
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        device_type = _available_device_type()
        if device_type is None:
            self.module = module
            self.device_ids = []
            return
        self.device_ids, self.output_device = _resolve_devices(device_ids, output_device)
        self.dim = dim
        self.module = module
        self.src_device_obj = _device(device_type, self.device_ids[0])
        _check_balance(self.device_ids)
        if len(self.device_ids) == 1:
            self.module.to(self.src_device_obj)

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        _check_source(self.module, self.src_device_obj)
        inputs, module_kwargs = self.scatter(inputs, kwargs, self.device_ids)
        # a forward without arguments still runs once, on device_ids[0]
        if not inputs and not module_kwargs:
            inputs, module_kwargs = ((),), ({},)
        if len(self.device_ids) == 1:
            return self.module(*inputs[0], **module_kwargs[0])
        replicas = self.replicate(self.module, self.device_ids[:len(inputs)])
        outputs = self.parallel_apply(replicas, inputs, module_kwargs)
        return self.gather(outputs, self.output_device)

    def replicate(self, module, device_ids):
        from ...autograd import grad_mode
        return replicate(module, device_ids, not grad_mode.is_grad_enabled())

    def scatter(self, inputs, kwargs, device_ids):
        return scatter_kwargs(inputs, kwargs, device_ids, dim=self.dim)

    def parallel_apply(self, replicas, inputs, kwargs):
        return parallel_apply(replicas, inputs, kwargs, self.device_ids[:len(replicas)])

    def gather(self, outputs, output_device):
        return gather(outputs, output_device, dim=self.dim)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0,
                  module_kwargs=None):
    r"""Evaluate ``module(input)`` in parallel across ``device_ids``: the functional form of
    :class:`DataParallel`.

    Args:
        module (Module): the module to evaluate in parallel.
        inputs (Tensor or tuple): inputs to the module.
        device_ids (list of int or device, optional): CUDA devices. Default: all devices.
        output_device (int or device, optional): where the output goes. Default:
            ``device_ids[0]``
        dim (int): the dimension inputs are split along. Default: 0
        module_kwargs (dict, optional): keyword arguments of the module.

    Returns:
        The module's output gathered on ``output_device``.
    """
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    device_type = _available_device_type()
    if device_type is None:
        raise RuntimeError("device type could not be determined")
    device_ids, output_device = _resolve_devices(device_ids, output_device)
    _check_source(module, _device(device_type, device_ids[0]))
    inputs, module_kwargs = scatter_kwargs(inputs, module_kwargs, device_ids, dim)
    if not inputs and not module_kwargs:
        inputs, module_kwargs = ((),), ({},)
    if len(device_ids) == 1:
        return module(*inputs[0], **module_kwargs[0])
    used = device_ids[:len(inputs)]
    replicas = replicate(module, used)
    outputs = parallel_apply(replicas, inputs, module_kwargs, used)
    return gather(outputs, output_device, dim)
