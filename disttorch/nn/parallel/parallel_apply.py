"""``parallel_apply``: run each replica on its inputs in its own thread, on its own device."""
import contextlib
import sys
import threading
import traceback

from ... import _backend
from ...amp import autocast_mode
from ...autograd import grad_mode
from ...tensor import Tensor
from .scatter_gather import _device_index, _on

__all__ = ["parallel_apply", "get_a_var"]

# the simulated CUDA device keeps one current device for the whole process (CuPy keeps one
# per thread): there the replicas take turns, each with its own device current
_simulated_turns = threading.Lock()


class _ExceptionWrapper:
    """An exception caught in a worker thread, re-raised in the caller with its traceback."""

    def __init__(self, where, exc_type=None, message=None):
        if exc_type is None:
            exc_type, exc, tb = sys.exc_info()
            message = "".join(traceback.format_exception(exc_type, exc, tb))
        self.exc_type, self.exc_msg, self.where = exc_type, message, where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyError(msg)
        try:
            exception = self.exc_type(msg)
        except TypeError:
            raise RuntimeError(msg) from None
        raise exception


def get_a_var(obj):
    """The first tensor found in ``obj`` (walking lists, tuples and dict items), or None."""
    if isinstance(obj, Tensor):
        return obj
    if isinstance(obj, (list, tuple)):
        for item in obj:
            found = get_a_var(item)
            if found is not None:
                return found
    if isinstance(obj, dict):
        for item in obj.items():
            found = get_a_var(item)
            if found is not None:
                return found
    return None


def parallel_apply(modules, inputs, kwargs_tup=None, devices=None):
    """Apply ``modules[i]`` to ``inputs[i]`` (and ``kwargs_tup[i]``) on ``devices[i]``, one
    thread per module, with the caller's grad mode and autocast state.

    Args:
        modules (list of Module): the replicas.
        inputs (list): one argument tuple (or single argument) per module.
        kwargs_tup (list of dict, optional): keyword arguments per module.
        devices (list, optional): the device of each module; default: the device of the first
            tensor in its inputs.

    Returns:
        list: the outputs, in order. An exception in a replica is re-raised here.
    """
    assert len(modules) == len(inputs), \
        f"The number of modules {len(modules)} is not equal to the number of inputs {len(inputs)}"
    if kwargs_tup is not None:
        assert len(modules) == len(kwargs_tup)
    else:
        kwargs_tup = ({},) * len(modules)
    if devices is not None:
        assert len(modules) == len(devices)
    else:
        devices = [None] * len(modules)
    devices = [None if d is None else _device_index(d, True) for d in devices]
    lock = threading.Lock()
    results = {}
    grad_enabled = grad_mode.is_grad_enabled()
    autocast_on = autocast_mode.is_autocast_enabled("cuda")
    autocast_dtype = autocast_mode.get_autocast_dtype("cuda")
    cp = _backend.cupy_module()
    take_turns = cp is not None and not _backend.is_real_cupy(cp)

    def worker(i, module, input, kwargs, device):
        grad_mode.set_grad_enabled(grad_enabled)
        if device is None:
            found = get_a_var(input)
            if found is None:
                with lock:
                    results[i] = _ExceptionWrapper(
                        f"in replica {i}, no device was provided and no tensor input was found; "
                        f"device cannot be resolved", RuntimeError, "no device")
                return
            device = found.get_device()
        try:
            turn = _simulated_turns if take_turns else contextlib.nullcontext()
            with turn, _on(device), \
                    autocast_mode.autocast("cuda", dtype=autocast_dtype, enabled=autocast_on):
                if not isinstance(input, (list, tuple)):
                    input = (input,)
                output = module(*input, **kwargs)
            with lock:
                results[i] = output
        except Exception:
            with lock:
                results[i] = _ExceptionWrapper(f"in replica {i} on device {device}")

    if len(modules) > 1:
        threads = [threading.Thread(target=worker, args=(i, module, input, kwargs, device))
                   for i, (module, input, kwargs, device) in
                   enumerate(zip(modules, inputs, kwargs_tup, devices))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        worker(0, modules[0], inputs[0], kwargs_tup[0], devices[0])
    outputs = []
    for i in range(len(inputs)):
        output = results[i]
        if isinstance(output, _ExceptionWrapper):
            output.reraise()
        outputs.append(output)
    return outputs
