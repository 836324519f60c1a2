"""Tensor creation: ``tensor``, ``zeros``, ``arange``, ``eye``, the ``*_like`` and ``new_*`` forms."""
import math
import numbers
import warnings

import numpy as np

from .. import _dtype
from .._backend import get_array_module, is_cuda_array
from .._device import default_or, device as _device
from ..tensor import Tensor, _new
from . import _torch_stream
from ._util import register_methods, with_out

__all__ = ["tensor", "as_tensor", "asarray", "from_numpy", "from_dlpack", "zeros", "ones", "full", "empty",
           "zeros_like", "ones_like", "full_like", "empty_like", "arange", "range", "linspace",
           "logspace", "eye", "scalar_tensor", "empty_strided", "complex", "polar"]


def shape_from_args(args, name="size"):
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` or ``f(Size)``; return a tuple of ints."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    shape = []
    for s in args:
        if isinstance(s, Tensor):
            s = int(s.item())
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"{name}(): argument 'size' must be tuple of ints, but found element of "
                            f"type {type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(args)}")
        shape.append(int(s))
    return tuple(shape)


def place(array, device):
    """Move a freshly made numpy array to ``device`` (None: the default device; cpu: stays)."""
    device = default_or(device)
    if device is None:
        return array
    dev = _device(device)
    if dev.type == "cpu":
        return array
    from .conversion import _move
    return _move(array, dev)


# a factory's requires_grad=True on an integer dtype: PyTorch's wording for factories
FACTORY_GRAD_REFUSAL = "Only Tensors of floating point and complex dtype can require gradients"


def _finish(array, device, requires_grad):
    t = _new(place(array, device))
    if requires_grad:
        t._set_requires_grad(True, FACTORY_GRAD_REFUSAL)
    return t


def _np_dtype(dtype, default=None):
    if dtype is None:
        return default if default is not None else _dtype.get_default_dtype().np_dtype
    return _dtype.to_numpy_dtype(dtype)


def _contains_float(data):
    if isinstance(data, float):
        return True
    if isinstance(data, (list, tuple)):
        return any(_contains_float(d) for d in data)
    return False


def _infer_array(data, narrow=True):
    """numpy array for ``data`` with PyTorch's inferred dtype (``narrow=False`` keeps Python
    floats in float64, for a caller that casts to an explicit dtype itself)."""
    if isinstance(data, Tensor):
        return np.array(data._data) if not is_cuda_array(data._data) else data._data.get()
    if isinstance(data, np.ndarray):
        array = np.array(data)
        if array.dtype.kind in "US" or array.dtype == object:
            raise TypeError(f"can't convert np.ndarray of type {array.dtype}")
        return array
    if isinstance(data, np.generic):
        return np.array(data)
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in _flatten(data)):
        data = _tensors_to_lists(data)
    array = np.array(data)
    if array.dtype == np.uint64 or array.dtype == object or (
            array.dtype.kind == "f" and not _contains_float(data) and not _is_numpy_float(data)):
        # numpy takes Python ints past int64 as uint64, object, or (mixed with smaller ones)
        # float64; PyTorch refuses them
        _check_int64_range(data)
    if array.dtype == object or array.dtype.kind in "US":
        raise TypeError(f"Could not infer dtype of {type(data).__name__}" if array.dtype == object
                        else "new(): invalid data type 'str'")
    if not narrow:
        return array
    if array.dtype.kind == "f" and array.dtype == np.float64 and not _is_numpy_float(data):
        array = array.astype(_dtype.get_default_dtype().np_dtype)
    elif array.dtype.kind == "c" and not _is_numpy_float(data):
        array = array.astype(_dtype.get_default_dtype().to_complex().np_dtype)
    elif array.dtype.kind in "iu" and array.dtype != np.int64 and not _is_numpy_float(data):
        array = array.astype(np.int64)
    return array


def _check_int64_range(data):
    values = _flatten(data) if isinstance(data, (list, tuple)) else (data,)
    for v in values:
        if type(v) is int and not -2 ** 63 <= v < 2 ** 63:
            raise ValueError("Overflow when unpacking long long")


def _flatten(data):
    for d in data:
        if isinstance(d, (list, tuple)):
            yield from _flatten(d)
        else:
            yield d


def _tensors_to_lists(data):
    if isinstance(data, Tensor):
        return data.tolist()
    if isinstance(data, (list, tuple)):
        return [_tensors_to_lists(d) for d in data]
    return data


def _is_numpy_float(data):
    # numpy scalars keep their own width (np.float64 stays float64), like PyTorch.
    if isinstance(data, np.generic):
        return True
    if isinstance(data, (list, tuple)) and data:
        return all(_is_numpy_float(d) for d in data)
    return False


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """Build a tensor by copying ``data`` (nested lists, numbers, numpy arrays, tensors).

    Python floats become the default dtype (float32), ints int64, bools bool.
    """
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use "
                      "sourceTensor.detach().clone() or "
                      "sourceTensor.detach().clone().requires_grad_(True), rather than "
                      "torch.tensor(sourceTensor).", UserWarning, stacklevel=2)
    if isinstance(data, Tensor) and is_cuda_array(data._data) and device is None:
        array = data._data.copy()
        if dtype is not None:
            array = array.astype(_dtype.to_numpy_dtype(dtype))
        return _finish(array, None, requires_grad)
    # with an explicit dtype, Python floats go straight to it (not through float32)
    array = _infer_array(data, narrow=dtype is None)
    if dtype is not None:
        target = _dtype.to_numpy_dtype(dtype)
        if target.kind in "iu" and isinstance(data, (list, tuple, int, float)):
            _check_integer_conversion(data, target)
        array = array.astype(target, copy=False)
    return _finish(array, device, requires_grad)


def _check_integer_conversion(data, target):
    """PyTorch's checked conversion of Python numbers to an integer dtype: a float must be
    finite and in range (255.9 is not, for uint8); an int in range, or for an unsigned dtype
    within its size below 0 (-1 wraps to 255 for uint8)."""
    info = np.iinfo(target)
    for v in (_flatten(data) if isinstance(data, (list, tuple)) else (data,)):
        if type(v) is float:
            bad = not math.isfinite(v) or not info.min <= v <= info.max   # (before truncation)
        elif type(v) is int:
            bad = v > info.max or v < (info.min if info.min < 0 else -info.max)
        else:
            continue
        if bad:
            raise RuntimeError(f"value cannot be converted to type {target.name} without "
                               f"overflow")


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a numpy array or tensor when no conversion is needed."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (dtype or device) else data
    if isinstance(data, np.ndarray):
        t = from_numpy(data)
        device = default_or(device)
        if dtype is not None or device is not None:
            return t.to(device=device, dtype=dtype)
        return t
    if is_cuda_array(data):
        t = _new(data)
        return t.to(device=device, dtype=dtype) if (dtype or device) else t
    return tensor(data, dtype=dtype, device=device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    t = tensor(obj, dtype=dtype, device=device) if copy else as_tensor(obj, dtype=dtype, device=device)
    if requires_grad:
        t._set_requires_grad(True, FACTORY_GRAD_REFUSAL)
    return t


_DLPACK_CUDA = (2, 13)  # kDLCUDA, kDLCUDAManaged


def from_dlpack(ext_tensor):
    """A tensor sharing memory with ``ext_tensor``, any object with ``__dlpack__`` (numpy and
    CuPy arrays, PyTorch tensors...): on the CPU, or on the GPU when its memory is there."""
    if not hasattr(ext_tensor, "__dlpack__"):
        raise TypeError(f"from_dlpack expects an object with __dlpack__ (a numpy or CuPy array, "
                        f"a tensor), got {type(ext_tensor).__name__}; DLPack capsules from "
                        f"to_dlpack are not accepted")
    if ext_tensor.__dlpack_device__()[0] in _DLPACK_CUDA:
        from .._backend import cupy_module
        return _new(cupy_module().from_dlpack(ext_tensor))
    return from_numpy(np.from_dlpack(ext_tensor))


def from_numpy(ndarray):
    """A tensor sharing memory with the numpy array ``ndarray``."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _dtype.from_numpy_dtype(ndarray.dtype)
    if not ndarray.dtype.isnative:
        raise ValueError("given numpy array has byte order different from the native byte order. "
                         "Conversion between byte orders is currently not supported.")
    t = _new(ndarray)
    t._shared = True
    return t


def _filled(args, size, fill, dtype, device, requires_grad, name, default=None):
    shape = shape_from_args(size if size is not None else args, name)
    dt = _np_dtype(dtype, default)
    device = default_or(device)
    if device is not None and _device(device).type == "cuda":
        from .conversion import _cuda_filled
        array = _cuda_filled(shape, dt, fill, _device(device).index)
    elif fill is None:
        array = np.empty(shape, dt)
    elif fill == 0:
        array = np.zeros(shape, dt)
    else:
        array = np.full(shape, fill, dt)
    t = _new(array)
    if requires_grad:
        t._set_requires_grad(True, FACTORY_GRAD_REFUSAL)
    return t


@with_out(factory=True)
def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """A tensor of zeros of the given shape."""
    return _filled(size, None, 0, dtype, device, requires_grad, "zeros")


@with_out(factory=True)
def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """A tensor of ones of the given shape."""
    return _filled(size, None, 1, dtype, device, requires_grad, "ones")


@with_out(factory=True)
def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False, memory_format=None):
    """An uninitialised tensor of the given shape."""
    return _filled(size, None, None, dtype, device, requires_grad, "empty")


def empty_strided(size, stride, *, dtype=None, device=None, requires_grad=False):
    return empty(size, dtype=dtype, device=device, requires_grad=requires_grad)


def _fill_dtype(value):
    if isinstance(value, bool):
        return np.dtype(np.bool_)
    if isinstance(value, numbers.Integral):
        return np.dtype(np.int64)
    if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real):
        return _dtype.get_default_dtype().to_complex().np_dtype
    return None


@with_out(factory=True)
def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """A tensor of ``size`` filled with ``fill_value`` (int fill -> int64, bool -> bool)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _filled((size,), None, fill_value, dtype, device, requires_grad, "full",
                   _fill_dtype(fill_value))


def _like(input, dtype, device):
    return (dtype if dtype is not None else input.dtype,
            device if device is not None else input.device)


def _preserve_layout(out, input, memory_format):
    """``out`` laid out in memory as ``input`` is (PyTorch's ``preserve_format``, the
    default of the ``*_like`` functions), so that an in-place fill that follows visits its
    elements in the order PyTorch's would. CPU only; a row-major input changes nothing."""
    from .aliases import preserve_format   # (aliases builds on this module's methods)
    if memory_format is not None and memory_format is not preserve_format:
        return out
    src, data = input._data, out._data
    if type(src) is not np.ndarray or type(data) is not np.ndarray:
        return out
    axes = _torch_stream.memory_axes(src)
    if axes is None:
        return out
    buffer = np.empty([data.shape[a] for a in axes], data.dtype).transpose(np.argsort(axes))
    buffer[...] = data
    out._data = buffer
    return out


def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None):
    dt, dev = _like(input, dtype, device)
    return _preserve_layout(zeros(input.shape, dtype=dt, device=dev, requires_grad=requires_grad),
                            input, memory_format)


def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    dt, dev = _like(input, dtype, device)
    return _preserve_layout(ones(input.shape, dtype=dt, device=dev, requires_grad=requires_grad),
                            input, memory_format)


def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None):
    dt, dev = _like(input, dtype, device)
    return _preserve_layout(empty(input.shape, dtype=dt, device=dev, requires_grad=requires_grad),
                            input, memory_format)


def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    dt, dev = _like(input, dtype, device)
    return _preserve_layout(full(input.shape, fill_value, dtype=dt, device=dev,
                                 requires_grad=requires_grad), input, memory_format)


def _num(x):
    return x.item() if isinstance(x, Tensor) else x


@with_out(factory=True)
def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad=False):
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 unless a bound is a float."""
    start, end, step = _num(start), _num(end), _num(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dt = _dtype.get_default_dtype().np_dtype if is_float else np.dtype(np.int64)
    else:
        dt = _dtype.to_numpy_dtype(dtype)
    n = int(np.ceil((end - start) / step))
    array = (start + step * np.arange(n, dtype=np.float64)).astype(dt) if dt.kind == "f" else \
        np.arange(start, start + n * step, step)[:n].astype(dt)
    return _finish(array, device, requires_grad)


def range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Deprecated in PyTorch: values from ``start`` to ``end`` inclusive."""
    if end is None:
        start, end = 0, start
    n = int(np.floor((end - start) / step)) + 1
    dt = _np_dtype(dtype)
    return _finish((start + step * np.arange(n, dtype=np.float64)).astype(dt), device, requires_grad)


def _split(x):
    """``x`` as ``hi + lo`` with ``hi`` holding 26 significant bits (Veltkamp's split)."""
    c = 134217729.0 * x  # 2**27 + 1
    hi = c - (c - x)
    return hi, x - hi


def _fused(base, step, j):
    """``base + step * j`` (float64; ``j`` integers below 2**26) rounded once, as a fused
    multiply-add rounds it: ``step * j`` is split into two exact products and the rounding
    error of the first sum is carried into the second."""
    hi, lo = _split(step)
    product = j * hi
    total = base + product
    back = total - base
    error = (base - (total - back)) + (product - back)
    return total + (error + j * lo)


def linspace_values(start, end, steps, np_dtype):
    """The host array ``torch.linspace`` gives for a floating ``np_dtype``: ``start + i * step``
    for the first half and ``end - (steps - 1 - i) * step`` for the second, ``step`` in the
    dtype; float32/float64 round each multiply-add once (PyTorch's kernel fuses it), float16
    and bfloat16 round every operation in their own precision, as their C++ arithmetic does."""
    compute = np_dtype.type if np_dtype.itemsize == 2 else \
        np.float64 if np_dtype == np.float64 else np.float32
    first_value, last_value = compute(start), compute(end)
    if steps == 1:
        return np.array([first_value]).astype(np_dtype)
    if np_dtype.itemsize == 2:
        step = compute(compute(last_value - first_value) / compute(steps - 1))
        index = np.arange(steps)
        head = first_value + step * index.astype(np_dtype)
        tail = last_value - step * (steps - 1 - index).astype(np_dtype)
        return np.where(index < steps // 2, head, tail).astype(np_dtype)
    step = float((last_value - first_value) / compute(steps - 1))
    i = np.arange(steps, dtype=np.float64)
    back = steps - 1 - i
    if compute is np.float64:
        head = _fused(float(first_value), step, i)
        tail = _fused(float(last_value), -step, back)
    else:   # float32 products are exact in float64: one rounding there, one to float32
        head = float(first_value) + i * step
        tail = float(last_value) - back * step
    return np.where(i < steps // 2, head, tail).astype(compute).astype(np_dtype)


@with_out(factory=True)
def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (floating types:
    equal to PyTorch's, rounding included)."""
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    np_dtype = np.dtype(_np_dtype(dtype))
    _check_bounds((_num(start), _num(end)), np_dtype)
    if steps and (np_dtype.kind == "f" or np_dtype.name == "bfloat16"):
        array = linspace_values(_num(start), _num(end), steps, np_dtype)
    else:
        array = np.linspace(_num(start), _num(end), steps, dtype=np.float64).astype(np_dtype)
    return _finish(array, device, requires_grad)


_C_INT_NAMES = {"int8": "int8_t", "int16": "int16_t", "int32": "int", "int64": "int64_t",
                "uint8": "uint8_t"}


def _check_bounds(values, np_dtype):
    """PyTorch's error for a range bound an integer dtype cannot hold."""
    if np_dtype.kind in "iu":
        info = np.iinfo(np_dtype)
        for v in values:
            if not info.min <= v <= info.max:
                raise RuntimeError(f"value cannot be converted to type "
                                   f"{_C_INT_NAMES[np_dtype.name]} without overflow")


def _c_pow(base, exponent):
    # math.pow is the C library's pow, as std::pow (numpy's SIMD power can differ by an ulp);
    # where it raises instead of giving inf or NaN, numpy's gives those
    try:
        return math.pow(base, exponent)
    except (ValueError, OverflowError, ZeroDivisionError):
        with np.errstate(all="ignore"):
            return float(np.power(np.float64(base), np.float64(exponent)))


def logspace_values(start, end, steps, base, np_dtype):
    """The host array ``torch.logspace`` gives: ``base ** e`` for exponents spaced as PyTorch's
    CPU kernel spaces them: the bounds in the dtype, the step, each exponent
    (``start + i * step``, ``end - (steps - 1 - i) * step`` past halfway) and ``pow`` in double,
    the result rounded to the dtype (truncated for integers). One step is ``base ** start``."""
    first, last = float(np_dtype.type(start)), float(np_dtype.type(end))
    if steps == 1:
        exponent = np.array([float(start)])
    else:
        step = float(np_dtype.type(last - first)) if np_dtype.kind == "f" or \
            np_dtype.name == "bfloat16" else last - first
        step /= steps - 1
        index = np.arange(steps, dtype=np.float64)
        head = first + index * step
        tail = last - (steps - 1 - index) * step
        exponent = np.where(index < steps // 2, head, tail)
    values = np.array([_c_pow(float(base), e) for e in exponent.tolist()], dtype=np.float64)
    if np_dtype.kind in "iub":
        with np.errstate(invalid="ignore", over="ignore"):
            return np.trunc(values).astype(np_dtype)
    if np_dtype.itemsize == 2:   # c10::Half and BFloat16 are made from a float, not a double
        values = values.astype(np.float32)
    return values.astype(np_dtype)


@with_out(factory=True)
def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    """``steps`` values ``base ** e`` for exponents evenly spaced from ``start`` to ``end``
    inclusive (equal to PyTorch's, rounding included)."""
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    np_dtype = np.dtype(_np_dtype(dtype))
    _check_bounds((_num(start), _num(end)), np_dtype)
    array = logspace_values(_num(start), _num(end), steps, base, np_dtype)
    return _finish(array, device, requires_grad)


@with_out(factory=True)
def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """A 2-D tensor with ones on the diagonal."""
    return _finish(np.eye(n, n if m is None else m, dtype=_np_dtype(dtype)), device, requires_grad)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    return _finish(np.array(s, dtype=_np_dtype(dtype)), device, requires_grad)


def _complex_parts(first, second, node):
    """``complex``/``polar``'s checks, in PyTorch's words: two floating tensors of one dtype
    on one device; no autograd (disttorch has none through complex tensors, and silently
    dropping the inputs' gradients would be worse than refusing)."""
    from .indexing import scalar_type_name
    from ._util import match_devices
    from ..autograd import grad_mode
    names = (scalar_type_name(first), scalar_type_name(second))
    if not all(name in ("Half", "Float", "Double") for name in names):
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{names[0]} and {names[1]}")
    if names[0] != names[1]:
        raise RuntimeError(f"Expected object of scalar type {names[0]} but got scalar type "
                           f"{names[1]} for second argument")
    if names[0] == "Half":
        raise RuntimeError("complex32 (ComplexHalf) tensors are not supported by disttorch: "
                           "use float32 parts for a complex64 result")
    if grad_mode.is_grad_enabled() and (first.requires_grad or second.requires_grad):
        raise RuntimeError(f"{node}: autograd through complex tensors is not supported by "
                           "disttorch (its gradients would be wrong). Work on the real and "
                           "imaginary parts as real tensors, or detach() the inputs.")
    from .linalg import _broadcast_batch
    _broadcast_batch(tuple(first.shape), tuple(second.shape))
    first, second = match_devices(first, second)
    return first._data, second._data


def complex(real, imag):
    """A complex tensor from real and imaginary parts: ``real + imag * 1j``, broadcast.

    Both parts are float32 (complex64 result) or float64 (complex128) tensors.
    """
    re, im = _complex_parts(real, imag, "ComplexBackward0")
    return _new(_from_parts(re, im))


def polar(abs, angle):
    """A complex tensor from polar coordinates: ``abs * (cos(angle) + sin(angle) * 1j)``."""
    r, theta = _complex_parts(abs, angle, "PolarBackward0")
    xp = get_array_module(r)
    return _new(_from_parts(r * xp.cos(theta), r * xp.sin(theta)))


def _from_parts(re, im):
    # written part by part: re + 1j * im would turn an infinite imaginary part into nan + inf j
    xp = get_array_module(re)
    shape = np.broadcast_shapes(re.shape, im.shape)
    pairs = xp.empty(shape + (2,), re.dtype)
    pairs[..., 0] = re
    pairs[..., 1] = im
    return pairs.view(np.result_type(re.dtype, np.complex64))[..., 0]


# ---------------------------------------------------------------- new_* methods
def _new_factory(fn):
    def method(self, *args, dtype=None, device=None, requires_grad=False, **kwargs):
        return fn(*args, dtype=dtype if dtype is not None else self.dtype,
                  device=device if device is not None else self.device,
                  requires_grad=requires_grad, **kwargs)
    return method


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    return full(size, fill_value, dtype=dtype if dtype is not None else self.dtype,
                device=device if device is not None else self.device, requires_grad=requires_grad)


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    return tensor(data, dtype=dtype if dtype is not None else self.dtype,
                  device=device if device is not None else self.device, requires_grad=requires_grad)


def _zero_(self):
    from .arithmetic import check_inplace, apply_inplace
    if check_inplace(self) and self._requires_grad:
        return apply_inplace(self, zeros_like(self))
    self._data[...] = 0
    self._vc[0] += 1
    return self


def _fill_(self, value):
    from .arithmetic import check_inplace, apply_inplace
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value._data.ndim} dimensions.")
        if check_inplace(self) and value._requires_grad:
            from .shape import expand
            return apply_inplace(self, expand(value.to(self.dtype), self.shape))
        value = value.item()
    if check_inplace(self) and self._requires_grad:
        return apply_inplace(self, full_like(self, value))
    self._data[...] = value
    self._vc[0] += 1
    return self


register_methods({
    "new_zeros": _new_factory(zeros), "new_ones": _new_factory(ones),
    "new_empty": _new_factory(empty), "new_full": _new_full, "new_tensor": _new_tensor,
    "zero_": _zero_, "fill_": _fill_,
})
