"""Run every op on its inputs' CUDA device once a process uses more than one.

PyTorch runs an op on the device of its tensor arguments. CuPy launches each kernel on the
*current* device and allocates its result there, whatever device its arrays live on (and refuses
an array on a device it has no peer access to). With one GPU the two agree, so a process on one
GPU (whatever its index) pays nothing: the guards here are installed only when a second device
comes into play, holding arrays or made current (:func:`disttorch._backend.note_device`).

:func:`install` wraps the public entry points (``Tensor`` methods, the functions of ``disttorch``,
``nn.functional``, ``linalg``, ``special``, ``fft``, ``nn.init`` and, when loaded,
``distributed``, and ``nn.Module.__call__``)
so that each enters the device of its first CUDA tensor argument when that is not the current
one. ``Node.apply``, the autograd engine and the optimizers check devices themselves, so graph
nodes and gradients stay on their device whichever way they are reached. A function bound to a
name before the guards were installed (``from disttorch import cat``) is not guarded; the ops it
runs still are, through ``Node.apply``.
"""
import functools
import sys
import threading
import types

from ._backend import cupy_module, is_cuda_array

_installed = [False]
_lock = threading.RLock()   # DataParallel's threads may meet a second device at once
_replaced = []   # (owner, name, original): what install() wrapped, for uninstall()

# Tensor attributes that never launch work on the tensor's device, or must stay what they are
_UNGUARDED = {"__new__", "__init__", "__del__", "__getattr__", "__setattr__", "__delattr__",
              "__init_subclass__", "__class_getitem__", "__torch_function__", "__repr__",
              "__format__", "__reduce_ex__", "__reduce__", "__sizeof__", "__dir__", "__hash__",
              "__len__", "__iter__", "__contains__", "__bool__", "__index__", "__int__",
              "__float__", "__complex__", "__array__", "__dlpack__", "__dlpack_device__",
              "__cuda_array_interface__", "data_ptr", "get_device", "dim", "size", "numel",
              "is_contiguous", "stride", "storage_offset", "element_size", "nelement",
              "requires_grad_", "register_hook", "retain_grad", "type", "is_floating_point",
              "is_complex", "is_signed", "tolist", "item", "numpy", "cpu", "to", "cuda"}

_NAMESPACES = ("disttorch", "disttorch.nn.functional", "disttorch.linalg", "disttorch.special",
               "disttorch.fft", "disttorch.nn.init")
# guarded when already imported (importing them here would load MPI's bindings for nothing)
_LOADED_NAMESPACES = ("disttorch.distributed",)


def _cuda_index(value):
    data = getattr(value, "_data", None)
    if data is not None and type(data).__module__ != "numpy" and is_cuda_array(data):
        return data.device.id
    return None


def device_of(args, kwargs):
    """The ``cupy.cuda.Device`` of the first CUDA tensor in ``args``/``kwargs`` (looking one level
    into lists and tuples, as ``cat`` takes them) when it is not the current device; else None.
    None too for a call given a ``device``: it places its result there itself, and ``"cuda"``
    must keep meaning the caller's current device (``zeros_like(x, device="cuda")``)."""
    from .tensor import Tensor
    if kwargs and kwargs.get("device") is not None:
        return None
    index = None
    for a in args:
        if isinstance(a, Tensor):
            index = _cuda_index(a)
        elif type(a) in (list, tuple):
            for b in a:
                if isinstance(b, Tensor):
                    index = _cuda_index(b)
                    if index is not None:
                        break
        if index is not None:
            break
    if index is None and kwargs:
        for a in kwargs.values():
            if isinstance(a, Tensor):
                index = _cuda_index(a)
                if index is not None:
                    break
    if index is None:
        return None
    cp = cupy_module()
    return None if index == cp.cuda.runtime.getDevice() else cp.cuda.Device(index)


def guarded(fn):
    """``fn`` run with its first CUDA tensor argument's device current."""
    @functools.wraps(fn)
    def on_device(*args, **kwargs):
        device = device_of(args, kwargs)
        if device is None:
            return fn(*args, **kwargs)
        with device:
            return fn(*args, **kwargs)
    on_device._device_guarded = True
    return on_device


def unguarded(fn):
    """The function behind a guard (``fn`` itself when it has none): for identity checks that
    compare a function given earlier with one looked up now."""
    return fn.__wrapped__ if getattr(fn, "_device_guarded", False) else fn


def _replace(owner, name, value):
    _replaced.append((owner, name, value))
    setattr(owner, name, guarded(value))


def _guard_namespace(module):
    for name, value in list(vars(module).items()):
        if name.startswith("_") or not isinstance(value, types.FunctionType) or \
                getattr(value, "_device_guarded", False):
            continue
        _replace(module, name, value)


def install():
    """Guard the public entry points (once per process)."""
    with _lock:
        if not _installed[0]:
            _install()
            _installed[0] = True


def _install():
    from .tensor import Tensor
    for name, value in list(vars(Tensor).items()):
        if name in _UNGUARDED or not isinstance(value, types.FunctionType) or \
                getattr(value, "_device_guarded", False):
            continue
        _replace(Tensor, name, value)
    for module_name in _NAMESPACES:
        module = sys.modules.get(module_name)
        if module is None:
            import importlib
            module = importlib.import_module(module_name)
        _guard_namespace(module)
    for module_name in _LOADED_NAMESPACES:
        if module_name in sys.modules:
            _guard_namespace(sys.modules[module_name])
    from .nn.modules.module import Module
    _replace(Module, "__call__", Module.__call__)
    _replaced.append((Module, "_call_impl", Module._call_impl))
    Module._call_impl = Module.__call__


def uninstall():
    """Put back what :func:`install` wrapped: the simulated device (tests) leaves a process
    with one device again when its context closes."""
    with _lock:
        while _replaced:
            owner, name, value = _replaced.pop()
            setattr(owner, name, value)
        _installed[0] = False
