"""The Tensor class: an n-dimensional array (numpy or cupy) plus autograd metadata.

Operations are defined in ``disttorch.ops`` and attached to Tensor as methods by
``ops._methods``; this module holds only the storage, autograd attributes and the
conversions that every op relies on.
"""
import threading
import warnings

import numpy as np

from . import _dtype
from ._dtype import NP_BFLOAT16
from ._backend import is_cuda_array, to_numpy
from ._device import CPU, device as _device_cls

__all__ = ["Tensor", "Size", "is_tensor", "is_storage", "numel"]



class Size(tuple):
    """The shape of a tensor: a tuple of ints with ``numel()``."""

    def __repr__(self):
        return f"disttorch.Size({list(self)})"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        out = tuple.__getitem__(self, item)
        return Size(out) if isinstance(item, slice) else out

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))


_NON_LEAF_GRAD = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad field "
    "to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you "
    "access the non-leaf Tensor by mistake, make sure you access the leaf Tensor instead. See "
    "github.com/pytorch/pytorch/pull/30531 for more information.")


def _new(data, requires_grad=False, grad_fn=None, output_nr=0, vc=None):
    """Build a Tensor around an existing array without any checks (the op hot path)."""
    if isinstance(data, _np_generic):
        # numpy ufuncs answer a 0-d input with a scalar: a tensor always holds an array
        data = _np_asarray(data)
    t = _object_new(Tensor)
    t._data = data
    t._requires_grad = requires_grad
    t.grad_fn = grad_fn
    t._vc = [0] if vc is None else vc
    if output_nr:
        t._output_nr = output_nr
    if INFERENCE_THREADS and _get_ident() in INFERENCE_THREADS:
        t._inference = True
    return t


def _inference_mode_on():
    return _get_ident() in INFERENCE_THREADS


# idents of the threads inside ``inference_mode`` (set by grad_mode.inference_mode): tensors made
# there are inference tensors. A set, empty outside any such block, keeps _new's test cheap.
INFERENCE_THREADS = set()
_get_ident = threading.get_ident
_object_new = object.__new__
_np_generic = np.generic
_np_asarray = np.asarray


# Tensor._grad_dtype before a grad_dtype is set: the gradient takes the tensor's own dtype
_SAME_DTYPE = object()


class Tensor:
    """A multi-dimensional array with autograd support, like ``torch.Tensor``.

    ``Tensor(data)`` builds a float tensor from data (the legacy constructor);
    prefer :func:`disttorch.tensor`.
    """

    __slots__ = ("_data", "_requires_grad", "grad_fn", "_vc", "__weakref__", "__dict__")

    # Rarely set attributes live in the instance __dict__ only once set; these class-level
    # defaults keep the constructor of op results to four stores.
    _output_nr = 0
    _grad = None
    _inference = False
    _base = None
    _hooks = None
    _post_hooks = None
    _retains_grad = False
    _shared = False  # memory also reachable through another tensor or a numpy array
    _grad_dtype = _SAME_DTYPE   # a leaf's grad_dtype: its own dtype until set

    # numpy defers binary operators to us when the left operand is an ndarray.
    __array_priority__ = 1000

    def __init__(self, *args, dtype=None, device=None, requires_grad=False):
        if len(args) == 1 and not isinstance(args[0], int):
            data = args[0]
            data = data._data if isinstance(data, Tensor) else data
            array = np.array(data, dtype=_dtype.to_numpy_dtype(dtype))
        else:
            shape = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
            array = np.empty(tuple(shape), dtype=_dtype.to_numpy_dtype(dtype))
        if device is not None and _device_cls(device).type == "cuda":
            from ._backend import cupy_module
            array = cupy_module().asarray(array)
        self._data = array
        self._requires_grad = bool(requires_grad)
        self.grad_fn = None
        self._vc = [0]

    # ----------------------------------------------------------- basic properties
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        """Return the shape, or the size of dimension ``dim``."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    @property
    def dtype(self):
        return _dtype.from_numpy_dtype(self._data.dtype)

    @property
    def device(self):
        if type(self._data) is np.ndarray:
            return CPU
        return _device_cls("cuda", int(self._data.device.id))

    @property
    def is_cuda(self):
        return type(self._data) is not np.ndarray and is_cuda_array(self._data)

    @property
    def is_cpu(self):
        return not self.is_cuda

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def numel(self):
        return int(self._data.size)

    nelement = numel

    def element_size(self):
        return self._data.itemsize

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return int(self._data.nbytes)

    def stride(self, dim=None):
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[_wrap_dim(dim, self._data.ndim)]

    def is_contiguous(self, memory_format=None):
        return bool(self._data.flags.c_contiguous)

    def data_ptr(self):
        if type(self._data) is np.ndarray:
            return self._data.__array_interface__["data"][0]
        return self._data.data.ptr

    def is_floating_point(self):
        return self._data.dtype.kind == "f" or self._data.dtype == NP_BFLOAT16

    def is_complex(self):
        return self._data.dtype.kind == "c"

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self._set_requires_grad(value, "only Tensors of floating point and complex dtype can "
                                       "require gradients")

    def requires_grad_(self, requires_grad=True):
        """Set whether autograd records operations on this (leaf) tensor; returns self."""
        return self._set_requires_grad(requires_grad, "only Tensors of floating point dtype can "
                                                      "require gradients")

    def _set_requires_grad(self, requires_grad, integer_error):
        # PyTorch words the refusal for an integer tensor differently for requires_grad_(),
        # the requires_grad attribute and a factory's requires_grad=True
        if requires_grad and self._inference and not _inference_mode_on():
            raise RuntimeError("Setting requires_grad=True on inference tensor outside "
                               "InferenceMode is not allowed.")
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to use a "
                    "computed variable in a subgraph that doesn't require differentiation use "
                    "var_no_grad = var.detach().")
            return self
        if requires_grad and self.is_complex():
            raise RuntimeError("autograd on complex tensors is not supported by disttorch (its "
                               "gradients would be wrong); use real tensors for the real and "
                               "imaginary parts")
        if requires_grad and not self.is_floating_point():
            raise RuntimeError(integer_error)
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def grad(self):
        grad = self._grad
        if grad is None and self.grad_fn is not None and not self._retains_grad:
            warnings.warn(_NON_LEAF_GRAD, UserWarning, stacklevel=2)
        return grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__name__}")
            allowed = self._allowed_grad_dtype()
            if allowed is not None and value._data.dtype != allowed:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype "
                    f"'{_dtype.C_TYPE_NAMES.get(value._data.dtype.name)}' to a tensor with "
                    f"grad_dtype '{_dtype.SCALAR_TYPE_NAMES.get(allowed.name)}'. The gradient "
                    f"must match the tensor's grad_dtype (defaults to the tensor's dtype). You "
                    f"can set the tensor's grad_dtype attribute with a specific dtype, or None to "
                    f"allow any dtype. Set grad_dtype with caution. Diverging the dtypes of a "
                    f"tensor and its gradient may break downstream systems that assume they "
                    f"match.")
            there, here = value.device, self.device
            if there.type != here.type:
                raise RuntimeError(f"attempting to assign a gradient with device type "
                                   f"'{there.type}' to a tensor with device type '{here.type}'. "
                                   f"Please ensure that the gradient and the tensor are on the "
                                   f"same device")
            if there != here:
                raise RuntimeError(f"attempting to assign a gradient located on device with index "
                                   f"'{there.index}' to a tensor located on device with index "
                                   f"'{here.index}'. Please ensure that the gradient and the "
                                   f"tensor are on the same device")
            if value._data.shape != self._data.shape:
                raise RuntimeError(f"attempting to assign a gradient of size "
                                   f"'{list(value._data.shape)}' to a tensor of size "
                                   f"'{list(self._data.shape)}'. Please ensure that the gradient "
                                   f"and the tensor are the same size")
        self._grad = value

    def _allowed_grad_dtype(self):
        """The numpy dtype a gradient of this leaf must have (None: any)."""
        if self._grad_dtype is _SAME_DTYPE:
            return self._data.dtype
        return None if self._grad_dtype is None else self._grad_dtype.np_dtype

    @property
    def grad_dtype(self):
        """The dtype :attr:`grad` of this leaf tensor has: its own dtype by default; set a dtype
        to have the autograd engine cast incoming gradients to it, or None to accept any."""
        if self.grad_fn is not None:
            raise RuntimeError("grad_dtype can only be accessed on leaf tensors.")
        return self.dtype if self._grad_dtype is _SAME_DTYPE else self._grad_dtype

    @grad_dtype.setter
    def grad_dtype(self, value):
        if self.grad_fn is not None:
            raise RuntimeError("grad_dtype can only be set on leaf tensors.")
        if value is not None and not isinstance(value, _dtype.dtype):
            raise RuntimeError(f"grad_dtype must be a torch.dtype or None, but got "
                               f"{type(value).__name__}")
        self._grad_dtype = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def data(self):
        """A tensor sharing this tensor's storage, detached from autograd."""
        self._shared = True
        t = _new(self._data, vc=self._vc)
        t._shared = True
        return t

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._data = value._data
        self._shared = value._shared = True

    @property
    def _version(self):
        return self._vc[0]

    @property
    def output_nr(self):
        return self._output_nr

    @property
    def retains_grad(self):
        return self._retains_grad

    @property
    def is_view(self):
        return self._base is not None

    # -------------------------------------------------------------- conversions
    def numpy(self, *, force=False):
        """Return the data as a numpy array sharing memory (CPU tensors only)."""
        if self._requires_grad and not force:
            from .autograd.grad_mode import state
            if state.enabled:   # (under no_grad PyTorch hands the array out)
                raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                                   "tensor.detach().numpy() instead.")
        if type(self._data) is not np.ndarray:
            if force:
                return to_numpy(self._data)
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use "
                            "Tensor.cpu() to copy the tensor to host memory first.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        # numpy() itself: PyTorch refuses a tensor that requires grad (outside no_grad) and a
        # device tensor here too
        array = self.numpy()
        return array if dtype is None else array.astype(dtype, copy=False)

    def __contains__(self, element):
        """``element in tensor``: whether any element equals ``element`` (a number or
        tensor)."""
        if not isinstance(element, (Tensor, int, float, bool, complex, np.generic)):
            raise RuntimeError(f"Tensor.__contains__ only supports Tensor or scalar, but you "
                               f"passed in a {type(element)}.")
        return bool((self == element).any().item())

    def __reversed__(self):
        """The tensor flipped along its first dim (itself when 0-d)."""
        return self if self._data.ndim == 0 else self.flip(0)

    @property
    def __cuda_array_interface__(self):
        """The CUDA array interface of a CUDA tensor's memory (CuPy, Numba and others read
        it without a copy)."""
        if not self.is_cuda:
            raise AttributeError(f"Can't get __cuda_array_interface__ on non-CUDA tensor type: "
                                 f"{self.type()} If CUDA data is required use tensor.cuda() to "
                                 f"copy tensor to device memory.")
        if self._requires_grad:
            raise RuntimeError("Can't get __cuda_array_interface__ on Variable that requires "
                               "grad. If gradients aren't required, use var.detach() to get "
                               "Variable that doesn't require grad.")
        return self._data.__cuda_array_interface__

    def __dlpack__(self, stream=None, **kwargs):
        """The DLPack capsule of the tensor's memory (``numpy.from_dlpack``,
        ``cupy.from_dlpack``, ``torch.from_dlpack``...)."""
        if self._requires_grad:
            raise RuntimeError("Can't export tensors that require gradient, use "
                               "tensor.detach()")
        if stream is None:
            return self._data.__dlpack__(**kwargs)
        return self._data.__dlpack__(stream=stream, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def item(self):
        """Return the value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item() if type(self._data) is np.ndarray else \
            to_numpy(self._data).reshape(()).item()

    def tolist(self):
        return to_numpy(self._data).tolist()

    def _python_scalar(self):
        # Python's number protocols raise ValueError where ``item()`` raises RuntimeError
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self.item()

    def __float__(self):
        return float(self._python_scalar())

    def __int__(self):
        return int(self._python_scalar())

    def __complex__(self):
        return complex(self._python_scalar())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with "
                               f"{'no values' if not self._data.size else 'more than one value'} "
                               f"is ambiguous")
        return bool(self.item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __hash__(self):
        return id(self)

    def __reduce_ex__(self, protocol):
        # Pickling (used by multiprocessing) carries data and requires_grad only.
        return (_rebuild, (to_numpy(self._data), self._requires_grad, str(self.device)))

    def __repr__(self, *, tensor_contents=None):
        from ._formatting import tensor_repr
        return tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec):
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Compute the gradient of this tensor w.r.t. graph leaves (see ``autograd.backward``)."""
        from .autograd import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook):
        """Register ``hook(grad) -> Tensor or None`` called with this tensor's gradient.

        Returns a handle with ``remove()``.
        """
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from .autograd.hooks import RemovableHandle
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = {}
            return RemovableHandle(self._hooks, hook)
        return self.grad_fn._register_tensor_pre_hook(self._output_nr, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Register ``hook(tensor)`` run after a gradient has been accumulated into ``.grad``."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from .autograd.hooks import RemovableHandle
        if self._post_hooks is None:
            self._post_hooks = {}
        return RemovableHandle(self._post_hooks, hook)

    def retain_grad(self):
        """Keep ``.grad`` populated for this non-leaf tensor during backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        self._retains_grad = True
        self.grad_fn._retain_grad_of(self)

    def detach(self):
        """Return a new tensor sharing storage, detached from the graph."""
        self._shared = True
        t = _new(self._data, vc=self._vc)
        t._shared = True
        return t

    def detach_(self):
        if self._base is not None:   # any view, as in PyTorch
            raise RuntimeError(
                "Can't detach views in-place. Use detach() instead. If you are using "
                "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set "
                "as True, gradients are views of DDP buckets, and hence detach_() cannot be "
                "called on these gradients. To fix this error, please refer to the "
                "Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    # ------------------------------------------------------------- device / dtype
    def to(self, *args, **kwargs):
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``; copies only if needed."""
        from .ops.conversion import to
        return to(self, *args, **kwargs)

    def cpu(self, memory_format=None):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        if device is None:
            dev = "cuda"
        elif isinstance(device, int):
            dev = f"cuda:{device}"
        else:
            dev = device
        return self.to(dev, non_blocking=non_blocking)

    def type(self, dtype=None, non_blocking=False):
        if dtype is None:
            names = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                     "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
                     "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}
            prefix = "torch.cuda." if self.is_cuda else "torch."
            return prefix + names.get(self.dtype.name, self.dtype.name)
        if isinstance(dtype, (str, type)):
            # a legacy type: torch.DoubleTensor or "torch.cuda.FloatTensor"
            from ._legacy_types import resolve
            dtype, device = resolve(dtype)
            return self.to(device=device, dtype=dtype)
        return self.to(dtype)

    def float(self):
        return self.to(_dtype.float32)

    def double(self):
        return self.to(_dtype.float64)

    def half(self):
        return self.to(_dtype.float16)

    def bfloat16(self):
        if _dtype.bfloat16 is None:
            raise RuntimeError("bfloat16 needs the ml_dtypes package: pip install ml_dtypes")
        return self.to(_dtype.bfloat16)

    def long(self):
        return self.to(_dtype.int64)

    def int(self):
        return self.to(_dtype.int32)

    def short(self):
        return self.to(_dtype.int16)

    def char(self):
        return self.to(_dtype.int8)

    def byte(self):
        return self.to(_dtype.uint8)

    def bool(self):
        return self.to(_dtype.bool)

    def type_as(self, other):
        return self.to(other.dtype)

    def get_device(self):
        return -1 if type(self._data) is np.ndarray else int(self._data.device.id)

    def pin_memory(self):
        """A copy in page-locked host memory, from which ``.to("cuda", non_blocking=True)``
        copies asynchronously (``self`` when already pinned, or when there is no GPU)."""
        from . import cuda
        if self.is_cuda:
            raise RuntimeError(f"cannot pin '{self.type()}' only dense CPU tensors can be pinned")
        if not cuda.is_available():
            return self
        from .cuda._pinned import pin_array
        pinned = pin_array(self._data)
        return self if pinned is self._data else _new(pinned)

    def record_stream(self, stream):
        """Mark this CUDA tensor as used by the work queued on ``stream``: when it is freed,
        its memory is not reused until that work has completed (needed when a tensor made on
        one stream is consumed on another)."""
        from .cuda import _stream_uses
        _stream_uses.record(self, stream)

    def is_pinned(self):
        """True when the tensor lives in page-locked host memory."""
        from .cuda._pinned import is_pinned
        return type(self._data) is np.ndarray and is_pinned(self._data)

    def share_memory_(self):
        """Move the tensor's memory to shared memory (a no-op if it is already shared, and
        for CUDA tensors). Returns ``self``.

        Processes that receive the tensor through :mod:`disttorch.multiprocessing` then see
        and make the same changes. For a view, the tensor it views moves with it; other
        views of that tensor made before the call keep the old, private memory.
        """
        from . import _shared_memory
        if self.device.type != "cpu" or _shared_memory.is_shared_array(self._data):
            return self
        root = self._base[0] if self._base is not None else None
        if root is None:
            self._data = _shared_memory.share_array(self._data)
            return self
        old = root._data
        if not old.flags.c_contiguous:
            raise RuntimeError("share_memory_: the tensor is a view of a non-contiguous "
                               "tensor; call share_memory_() on a contiguous copy instead")
        if _shared_memory.is_shared_array(old):
            # the root moved after this view was made: where the view lay in the root's old
            # memory is gone with it
            raise RuntimeError("share_memory_: the tensor is a view made before the tensor it "
                               "views moved to shared memory; take the view again")
        root._data = _shared_memory.share_array(old)
        self._data = _shared_memory.rebase(self._data, old, root._data)
        return self

    def is_shared(self):
        """Whether the tensor's memory is shared between processes (always for CUDA)."""
        from . import _shared_memory
        return self.device.type != "cpu" or _shared_memory.is_shared_array(self._data)


def _rebuild(array, requires_grad, device):
    t = _new(np.array(array))
    if device != "cpu":
        t = t.to(device)
    t._requires_grad = requires_grad
    return t


def _wrap_dim(dim, ndim):
    n = ndim if ndim > 0 else 1
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n if ndim else 0


def is_tensor(obj):
    """True if ``obj`` is a disttorch Tensor."""
    return isinstance(obj, Tensor)


def is_storage(obj):
    return False


def numel(input):
    return input.numel()
