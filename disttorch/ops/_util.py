"""Helpers shared by the op families: argument unwrapping, dims, broadcasting, promotion."""
import functools
import weakref

import numpy as np

from .. import _dtype
from .._backend import get_array_module, is_cuda_array, to_numpy
from ..autograd.function import Node
from ..tensor import Tensor, _new

_PY_SCALARS = (int, float, bool, complex)


def register_methods(methods):
    """Attach functions to Tensor as methods (``{"name": function}``)."""
    for name, fn in methods.items():
        setattr(Tensor, name, fn)


def as_method(fn):
    """``fn`` as a Tensor method (its name and docstring kept)."""
    def method(self, *args, **kwargs):
        return fn(self, *args, **kwargs)
    method.__name__ = fn.__name__
    method.__doc__ = fn.__doc__
    return method


def _type_label(value):
    """How PyTorch's argument parser names a value's type: ``float``, ``Tensor``,
    ``numpy.float64``."""
    kind = type(value)
    if kind.__module__ in ("builtins", "disttorch") or kind is Tensor:
        return kind.__name__
    return f"{kind.__module__}.{kind.__name__}"


def int_arg(value, fn, name, position):
    """``value`` as a Python int, or PyTorch's TypeError for an argument declared ``int``: a
    bool, a float or a floating tensor is refused (an int, a numpy integer or a 0-d integer
    tensor is taken)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    if (isinstance(value, Tensor) and value.ndim == 0 and value.dtype.is_floating_point is False
            and not value.dtype.is_complex and value.dtype is not _dtype.bool):
        return int(value.item())
    raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be int, not "
                    f"{_type_label(value)}")


def float_arg(value, fn, name, position):
    """``value`` as a Python float, or PyTorch's TypeError for an argument declared ``float``
    (a number, a numpy scalar or a 0-d tensor is taken)."""
    if isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
        return float(value)
    if isinstance(value, Tensor) and value.ndim == 0 and not value.dtype.is_complex:
        return float(value.item())
    raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be float, not "
                    f"{_type_label(value)}")


def wrap_dim(dim, ndim):
    n = ndim if ndim > 0 else 1
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but "
                         f"got {dim})")
    return dim % n if ndim else 0


def wrap_dims(dim, ndim):
    """Normalise ``dim`` (None, int or sequence) to a sorted tuple of axes (None -> all)."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        return (wrap_dim(int(dim), ndim),)
    dims = tuple(wrap_dim(int(d), ndim) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {dims} appears multiple times in the list of dims")
    return tuple(sorted(dims)) if dims else tuple(range(ndim))


def is_tensor_like(x):
    return isinstance(x, Tensor)


def sum_to(g, shape):
    """Sum a broadcast gradient back to ``shape``; works on arrays and on Tensors."""
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape)
                                      if s == 1 and gshape[i + lead] != 1)
    if isinstance(g, Tensor):
        out = g.sum(dim=axes, keepdim=True) if axes else g
        return out.reshape(shape)
    out = g.sum(axis=axes, keepdims=True) if axes else g
    return out.reshape(shape)


def device_mismatch(a, b):
    return RuntimeError(f"Expected all tensors to be on the same device, but found at least two "
                        f"devices, {a.device} and {b.device}!")


class HostScalarToDevice(Node):
    """A 0-d CPU tensor joining an op on a CUDA tensor, as PyTorch allows: its value goes to the
    device in a kernel-filled 0-d array (no host-to-device copy, which waits for the stream), and
    its gradient comes back as a 0-d CPU tensor of its own dtype."""

    def forward(self, x, like):
        xp = get_array_module(like)
        value = x.item()
        with xp.cuda.Device(like.device.id):
            return xp.full((), value, x.dtype)

    def backward(self, g):
        if isinstance(g, Tensor):
            from .conversion import ToDevice
            from .._device import device
            return ToDevice.apply(g, device("cpu")), None
        return to_numpy(g), None


def _is_host_scalar(data):
    return type(data) is np.ndarray and data.ndim == 0


def match_devices(a, b):
    """Put two tensors on one device for an elementwise op: a 0-d CPU tensor next to a CUDA
    tensor moves to the device (differentiably), as in PyTorch, where it acts as a scalar; any
    other mix raises PyTorch's device-mismatch error. Tensors already together pass through."""
    da, db = a._data, b._data
    if type(da) is type(db):
        return a, b
    if _is_host_scalar(db) and is_cuda_array(da):
        return a, HostScalarToDevice.apply(b, da)
    if _is_host_scalar(da) and is_cuda_array(db):
        return HostScalarToDevice.apply(a, db), b
    raise device_mismatch(a, b)


def on_device_of(x, like):
    """``x`` (Tensor or not) ready to meet tensor ``like``: a 0-d CPU tensor moves to ``like``'s
    CUDA device; a CPU tensor with dimensions next to a CUDA one raises PyTorch's error."""
    if isinstance(x, Tensor) and type(x._data) is not type(like._data):
        return match_devices(x, like)[0]
    return x


def broadcast_mismatch(a, b):
    """PyTorch's error for shapes ``a`` and ``b`` that do not broadcast, or None when they do:
    its ``infer_size`` names the rightmost dim (of the broadcast shape) where they differ."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    for d in range(n - 1, -1, -1):
        if a[d] != b[d] and a[d] != 1 and b[d] != 1:
            return RuntimeError(f"The size of tensor a ({a[d]}) must match the size of tensor b "
                                f"({b[d]}) at non-singleton dimension {d}")
    return None


def broadcast_error(exc, *operands):
    """numpy's ValueError ``exc`` from an elementwise op on ``operands`` (arrays, tensors or
    numbers) in PyTorch's words when their shapes do not broadcast; else ``exc`` itself. As
    PyTorch's TensorIterator, the shapes are broadcast in turn, left to right."""
    shapes = [tuple(x.shape) for x in operands if hasattr(x, "shape")]
    full = shapes[0] if shapes else ()
    for shape in shapes[1:]:
        err = broadcast_mismatch(full, shape)
        if err is not None:
            return err
        full = np.broadcast_shapes(full, shape)
    return exc


def inplace_shape_error(shape, other_shape):
    """PyTorch's error when an operand of ``other_shape`` cannot update a tensor of ``shape``
    in place (no common shape, or one larger than ``shape``); None when it can."""
    err = broadcast_mismatch(shape, other_shape)
    if err is not None:
        return err
    full = np.broadcast_shapes(shape, other_shape)
    if full != tuple(shape):
        return RuntimeError(f"output with shape {list(shape)} doesn't match the broadcast shape "
                            f"{list(full)}")
    return None


def zeros_grad(g):
    """Exact zeros shaped like the gradient ``g`` (array, or a constant Tensor under
    ``create_graph``): PyTorch's zero gradients are zeros, where ``g * 0`` would turn an inf or
    NaN of ``g`` into NaN."""
    if isinstance(g, Tensor):
        return _new(get_array_module(g._data).zeros_like(g._data))
    return get_array_module(g).zeros_like(g)


def masked_grad(g, keep):
    """``g`` where ``keep`` (a bool array or Tensor), exact zeros elsewhere: PyTorch's
    ``where``/``masked_fill`` in its backward formulas. ``g * keep`` would turn an inf or NaN
    gradient into NaN where the op passes nothing."""
    if isinstance(g, Tensor) or isinstance(keep, Tensor):
        from .pointwise import where
        return where(keep if isinstance(keep, Tensor) else _new(keep), g, 0.0)
    if type(g) is np.ndarray and g.dtype.kind in "fV" and g.dtype.itemsize in _SAME_SIZE_INT:
        # numpy's where is some 12x slower than a multiply on a random mask; an AND of the
        # bits with an all-ones or all-zeros word costs what the multiply did
        ints = _SAME_SIZE_INT[g.dtype.itemsize]
        return (g.view(ints) & -np.asarray(keep).astype(ints)).view(g.dtype)
    return get_array_module(g).where(keep, g, g.dtype.type(0))


_SAME_SIZE_INT = {2: np.int16, 4: np.int32, 8: np.int64}


def as_scalar(x):
    """Return a Python number for numpy scalars; Python numbers pass through."""
    if isinstance(x, np.generic):
        return x.item()
    return x


def cast(t, np_dtype):
    """Differentiable dtype cast (used by promotion); returns ``t`` when already ``np_dtype``."""
    if t._data.dtype == np_dtype:
        return t
    from .conversion import ToDtype
    return ToDtype.apply(t, np_dtype)


def promote(a, b):
    """Bring two operands (Tensor or Python number) to PyTorch's common dtype and one device.

    Returns ``(a, b)`` where tensors have been cast and numpy scalars made Python numbers.
    """
    a_t = isinstance(a, Tensor)
    b_t = isinstance(b, Tensor)
    if a_t and b_t:
        da, db = a._data, b._data
        if type(da) is not type(db):
            a, b = match_devices(a, b)
            da, db = a._data, b._data
        if da.dtype == db.dtype:
            return a, b
        rt = _dtype.result_type_from([t.dtype for t in (a, b) if t._data.ndim],
                                     [t.dtype for t in (a, b) if not t._data.ndim], ()).np_dtype
        return cast(a, rt), cast(b, rt)
    if a_t:
        return a, _promote_scalar(b, a)
    if b_t:
        s = _promote_scalar(a, b)
        return s, b
    raise TypeError("expected at least one Tensor operand")


def _promote_scalar(s, t):
    """Cast tensor ``t`` when a Python number of a higher category meets it; return the number."""
    if type(s) not in _PY_SCALARS:
        s = as_scalar(s)
        if type(s) not in _PY_SCALARS:
            raise TypeError(f"unsupported operand type: {type(s).__name__}")
    return wrap_int_scalar(s, t._data.dtype)


def wrap_int_scalar(s, dtype):
    """A Python int meeting an integer tensor, as PyTorch takes it: converted to the tensor's
    dtype, wrapping when out of its range (``uint8 + -1`` subtracts 1; numpy would raise)."""
    if type(s) is int and dtype.kind in "iu":
        bounds = _INT_BOUNDS.get(dtype)
        if bounds is None:
            info = np.iinfo(dtype)
            bounds = _INT_BOUNDS[dtype] = (int(info.min), int(info.max))
        if not bounds[0] <= s <= bounds[1]:
            return int(np.array(s & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64).astype(dtype))
    return s


_INT_BOUNDS = {}


def scalar_result_dtype(t, s):
    """numpy dtype of ``t op s`` for a Python number ``s`` under PyTorch's rules."""
    kind = t._data.dtype.kind
    if type(s) is float and kind in "biu":
        return _dtype.get_default_dtype().np_dtype
    if type(s) is int and kind == "b":
        return np.dtype(np.int64)
    if type(s) is complex and kind != "c":
        if kind in "fV":
            # a float tensor keeps its precision: float64 + 1j is complex128 whatever the default
            return _dtype.from_numpy_dtype(t._data.dtype).to_complex().np_dtype
        return _dtype.get_default_dtype().to_complex().np_dtype
    return t._data.dtype


def promote_scalar_tensor(t, s):
    """Cast ``t`` so that numpy's weak-scalar rule gives PyTorch's result dtype for ``t op s``."""
    rt = scalar_result_dtype(t, s)
    return cast(t, rt) if rt != t._data.dtype else t


def to_array(x, like=None):
    if isinstance(x, Tensor):
        return x._data
    xp = np if like is None else get_array_module(like)
    return xp.asarray(x)


def new_tensor(data, requires_grad=False):
    return _new(data, requires_grad)


def default_float():
    return _dtype.get_default_dtype().np_dtype


def make_view(out, base, view_fn):
    """Mark ``out`` as a view of ``base``: shared version counter, and ``view_fn`` (root array ->
    view array) so in-place ops on the view can rewrite the base's autograd history."""
    if base._base is not None:
        root, parent_fn = base._base
        fn = (lambda arr, _p=parent_fn, _f=view_fn: _f(_p(arr)))
    else:
        root, fn = base, view_fn
    out._base = (root, fn)
    out._vc = root._vc
    if out._inference != root._inference:   # a view is what its root is (inference or not)
        out._inference = root._inference
    root._shared = True
    if out._requires_grad and root.grad_fn is not None:
        # remembered so that an in-place op on root can hand this view root's new history
        views = root.__dict__.get("_views")
        if views is None:
            root._views = views = []
        views.append(weakref.ref(out))
        n = len(views)
        if n >= 64 and not n & (n - 1):
            # drop dead entries now and then (at powers of two: amortised O(1) per view)
            views[:] = [ref for ref in views if ref() is not None]
    return out


def write_out(result, out):
    """``result`` (a tensor, or a tuple/list of them, possibly nested) written into ``out``,
    which must have the same structure; returns what the op returns with ``out=``."""
    from .arithmetic import _out
    if isinstance(result, (tuple, list)):
        if not isinstance(out, (tuple, list)):
            raise TypeError(f"argument 'out' must be tuple of Tensors, not {type(out).__name__}")
        if len(out) != len(result):
            raise RuntimeError(f"expected tuple of {len(result)} elements but got {len(out)}")
        parts = [write_out(r, o) for r, o in zip(result, out)]
        if hasattr(result, "_make"):
            return result._make(parts)
        return type(result)(parts)
    return _out(result, out)


def with_out(fn=None, *, factory=False):
    """Give ``fn`` PyTorch's ``out=`` argument: the result is written into ``out`` (a tensor or
    a tuple of them) and ``out`` is returned. For a ``factory`` (``zeros``, ``rand``,
    ``linspace``...) the values are made in ``out``'s dtype and on its device unless ``dtype``
    / ``device`` say otherwise (a different ``dtype`` is refused, as in PyTorch)."""
    if fn is None:
        return functools.partial(with_out, factory=factory)

    @functools.wraps(fn)
    def call(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        if factory and isinstance(out, Tensor):
            dtype = kwargs.get("dtype")
            if dtype is None:
                kwargs["dtype"] = out.dtype
            elif _dtype.as_dtype(dtype) != out.dtype:
                raise RuntimeError(f"dtype {_dtype.SCALAR_TYPE_NAMES.get(_dtype.as_dtype(dtype).name)}"
                                   f" does not match dtype of out parameter "
                                   f"({_dtype.SCALAR_TYPE_NAMES.get(out.dtype.name)})")
            if kwargs.get("device") is None:
                kwargs["device"] = out.device
        return write_out(fn(*args, **kwargs), out)
    return call
