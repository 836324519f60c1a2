"""A simulated CUDA device for CPU-only test runs: a small CuPy look-alike on numpy.

Its ``ndarray`` is *not* a numpy array, and it behaves like ``cupy.ndarray`` where CuPy is
strict, so that GPU-path mistakes fail on machines without a GPU:

* mixing numpy arrays and device arrays in one operation raises ``TypeError``;
* implicit conversion to numpy (``np.asarray(x)``, ``np.array(x)``) raises ``TypeError``;
  ``x.get()`` or ``xp.asnumpy(x)`` is the explicit copy to the host;
* reductions return 0-d device arrays, never host scalars;
* numpy functions that CuPy 14 does not have are missing, and keywords that CuPy's functions,
  methods and ufuncs do not take (``_cupy_api``, read off CuPy 14.2) raise ``TypeError``.

It is a test aid, not a backend: no streams really run asynchronously, and fused kernels do
not compute here. Their callers take the generic path, except inside
``simulate(fused_kernels=True)``, where each ``RawKernel`` launch is checked against the
kernel's signature and counted (``_sim_kernels``) without running, and inside
``simulate(fused_kernels="run")``, where the checked launch also runs on the CPU emulator
(``_kernel_emulator``). ``empty`` and ``empty_like`` hand out NaN-filled (all-ones-bits)
memory, as a GPU's reused pool blocks hold garbage: code that reads before writing shows it.

Like CuPy, it has a current device: new arrays live on it, views on their base's device, and
each device has its own memory count and random generator. There is one device unless
``DISTTORCH_SIMULATE_CUDA_DEVICES`` or ``simulate(device_count=...)`` asks for more.

Enable it with ``DISTTORCH_SIMULATE_CUDA=1`` (``=run``: with the fused kernels emulated) or the
:func:`simulate` context manager.
"""
import contextlib
import math
import os
import time
import types
import weakref

import numpy as np

from .._dtype import NP_BFLOAT16
from . import _cupy_api
from . import _sim_kernels

# numpy callables absent from CuPy 14 (``set(dir(numpy)) - set(dir(cupy))``, callables only).
_NUMPY_ONLY = frozenset("""
asmatrix block bmat busday_count busday_offset busdaycalendar datetime_as_string datetime_data
einsum_path errstate frompyfunc fromregex geomspace get_include getbufsize geterr geterrcall
histogram_bin_edges info insert is_busday isnat matrix matvec memmap nanpercentile nanquantile
ndenumerate nditer nested_iters polyder polydiv polyint recarray record setbufsize seterr
seterrcall show_runtime spacing test unstack vecdot vecmat vectorize
""".split())
_NDARRAY_ONLY = frozenset(["ctypes", "getfield", "resize", "setfield", "setflags", "to_device",
                           "tofile", "byteswap", "itemset", "newbyteorder"])
# CuPy 14 routes these through its GEMM/tensordot code, which has no bfloat16 ("data type 'E'
# not understood"); its elementwise kernels and reductions do take bfloat16
_NO_BFLOAT16 = frozenset(["matmul", "dot", "tensordot", "einsum", "inner", "vdot", "__matmul__",
                          "__rmatmul__", "__imatmul__"])
_HOST_INPUTS = frozenset(["asarray", "array", "asanyarray", "ascontiguousarray", "asnumpy"])

# the machine: device count, current device, memory per device (total_memory: its capacity)
_state = {"count": int(os.environ.get("DISTTORCH_SIMULATE_CUDA_DEVICES") or 1), "current": 0,
          "total_memory": 80 * 1024 ** 3,
          # DISTTORCH_SIMULATE_CUDA=run: the fused kernels run on the CPU emulator
          "fused": "run" if os.environ.get("DISTTORCH_SIMULATE_CUDA") == "run" else False}
_memory = {}  # device id -> {"allocated": bytes, "peak": bytes}


def _mem(device):
    return _memory.setdefault(device, {"allocated": 0, "peak": 0})


# ids of the numpy buffers counted as device memory. A buffer is counted while it lives, not
# while its first wrapper does: a view (a reshape of an op's output) keeps it alive, as a view
# keeps a CuPy allocation alive.
_accounted = set()


def _account(array, device):
    memory = _mem(device)
    if memory["allocated"] + array.nbytes > _state["total_memory"]:
        raise OutOfMemoryError(array.nbytes, memory["allocated"])
    memory["allocated"] += array.nbytes
    memory["peak"] = max(memory["peak"], memory["allocated"])
    _accounted.add(id(array))
    weakref.finalize(array, _release, id(array), device, array.nbytes)


def _release(key, device, nbytes):
    _accounted.discard(key)
    # at interpreter exit the module's globals may already be gone: nothing left to account
    if _mem is not None:
        _mem(device)["allocated"] -= nbytes


class CUDARuntimeError(RuntimeError):
    """``cupy_backends.cuda.api.runtime.CUDARuntimeError``."""


class OutOfMemoryError(MemoryError):
    """``cupy.cuda.memory.OutOfMemoryError``: the device has no room for an allocation."""

    def __init__(self, size, total, limit=0):
        super().__init__(f"Out of memory allocating {size:,} bytes (allocated so far: "
                         f"{total:,} bytes).")
# device-to-host reads (bool(), float(), .item(), .get()...): each one stalls a real GPU
_host_syncs = {"count": 0, "where": []}


def _host_sync(what, depth=2):
    _host_syncs["count"] += 1
    if len(_host_syncs["where"]) < 20:
        frame = __import__("sys")._getframe(depth)
        _host_syncs["where"].append(f"{what} at {frame.f_code.co_filename}:{frame.f_lineno}")


def _count_mask_read(index):
    """CuPy sizes a boolean-mask index on the host (its count of True values is read back,
    for reading and for assigning alike): a host synchronisation."""
    parts = index if type(index) is tuple else (index,)
    if any(type(i) is ndarray and i._a.dtype == bool for i in parts):
        _host_sync("boolean-mask indexing (CuPy reads the mask's count back)", depth=3)


def _mixed_error(value):
    return TypeError(f"Unsupported type {type(value)!r}: a numpy array cannot be mixed with a "
                     "(simulated) CUDA array; move it with .to(device) / cupy.asarray first")


def _unwrap(value, allow_host=False):
    if type(value) is ndarray:
        return value._a
    if isinstance(value, np.ndarray):
        if not allow_host:
            raise _mixed_error(value)
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v, allow_host) for v in value)
    return value


def _wrapped_index(shape, index):
    """``index`` with its integer index arrays taken modulo their dims' sizes: CuPy's integer
    array indexing (and ``take`` and the scatter ``at`` methods) wraps an out-of-range index
    around where numpy raises."""
    parts = index if type(index) is tuple else (index,)
    if not any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts):
        return index

    def dims(item):
        if item is None or item is Ellipsis or isinstance(item, (bool, np.bool_)):
            return 0
        if isinstance(item, np.ndarray) and item.dtype.kind == "b":
            return item.ndim
        return 1
    out, d = [], 0
    for item in parts:
        if item is Ellipsis:
            d += len(shape) - sum(dims(p) for p in parts)
        elif isinstance(item, np.ndarray) and item.dtype.kind in "iu" and d < len(shape) \
                and shape[d]:
            item = np.mod(item, shape[d])
        out.append(item)
        d += dims(item)
    return tuple(out) if type(index) is tuple else out[0]


def _rewrapped_index(array, index):
    """:func:`_wrapped_index` for an index of device arrays, given back as device arrays."""
    parts = index if type(index) is tuple else (index,)
    if not any(type(p) is ndarray for p in parts):
        return index
    wrapped = _wrapped_index(array.shape, _unwrap(index))
    return _wrap(wrapped, array) if type(wrapped) is not tuple else tuple(
        _wrap(p, array) if isinstance(p, np.ndarray) else p for p in wrapped)


def _wrap(value, like=None):
    """Wrap numpy results as device arrays: a view of ``like`` (a device array) stays on its
    device; anything else is new memory on the current device, as in CuPy."""
    if type(value) is np.ndarray:
        device = None
        if value.base is not None:
            # numpy makes some views read-only (diagonal, broadcast_to); CuPy's are writable.
            # Set without reading first: reading the flag of a broadcast_arrays result warns.
            try:
                value.flags.writeable = True
            except ValueError:
                pass
            if like is not None and np.may_share_memory(value, like._a):
                device = like._dev
        return ndarray(value, device)
    if isinstance(value, np.generic) and not isinstance(value, (np.str_, np.bytes_)):
        return ndarray(np.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v, like) for v in value)
    if isinstance(value, list) and value and type(value[0]) is np.ndarray:
        return [_wrap(v, like) for v in value]
    return value


_calls = []   # the counters of active count_calls() blocks


def _peer_error(array_device):
    return ValueError(f"The device where the array resides ({array_device}) is different from "
                      f"the current device ({_state['current']}). Peer access is unavailable "
                      f"between these devices.")


def _check_devices(args, kwargs):
    """CuPy launches every kernel on the current device and refuses an array that lives on
    another (the simulated devices have no peer access)."""
    current = _state["current"]
    for a in args:
        if type(a) is ndarray:
            if a._dev != current:
                raise _peer_error(a._dev)
        elif type(a) in (list, tuple):
            _check_devices(a, {})
    for a in kwargs.values():
        if type(a) is ndarray and a._dev != current:
            raise _peer_error(a._dev)


def _call(fn, args, kwargs, allow_host=False, like=None):
    if _calls:
        _calls[-1][getattr(fn, "__name__", "?")] += 1
    if _state["count"] > 1:
        _check_devices(args, kwargs)
    if like is None:
        like = next((a for a in args if type(a) is ndarray), None)
    if getattr(fn, "__name__", "") in _NO_BFLOAT16 and any(
            type(a) is ndarray and a._a.dtype == NP_BFLOAT16 for a in args):
        raise TypeError("data type 'E' not understood")
    args = _unwrap(args, allow_host)
    kwargs = {k: _unwrap(v, allow_host) for k, v in kwargs.items()}
    return _wrap(fn(*args, **kwargs), like)


class Device:
    """``cupy.cuda.Device``: ``Device()`` is the current device; entering one makes it current
    until the block ends, and ``use()`` makes it current."""

    def __init__(self, device=None):
        self.id = _state["current"] if device is None else int(device)
        if not 0 <= self.id < _state["count"]:
            raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")
        self._previous = []

    @classmethod
    def _of(cls, device_id):
        # an array's device, even after the simulated machine shrank
        self = cls.__new__(cls)
        self.id, self._previous = device_id, []
        return self

    def __enter__(self):
        self._previous.append(_state["current"])
        _state["current"] = self.id
        return self

    def __exit__(self, *exc):
        _state["current"] = self._previous.pop()
        return False

    def use(self):
        _state["current"] = self.id

    @property
    def compute_capability(self):
        props = _Runtime.getDeviceProperties(self.id)
        return f"{props['major']}{props['minor']}"

    @property
    def mem_info(self):
        return _Runtime.memGetInfo() if self.id == _state["current"] else \
            (_state["total_memory"] - _mem(self.id)["allocated"], _state["total_memory"])

    def synchronize(self):
        return None

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return self.id


class ndarray:
    """A device array: a numpy array behind CuPy's stricter interface."""

    __slots__ = ("_a", "_dev")
    __array_priority__ = 100
    __hash__ = None

    def __init__(self, array, device=None):
        self._a = array
        self._dev = _state["current"] if device is None else device
        if array.base is None and id(array) not in _accounted:
            _account(array, self._dev)

    # -- what CuPy refuses
    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` "
                        "to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _call(getattr(ufunc, method), inputs, kwargs)

    def __array_function__(self, func, types_, args, kwargs):
        if func.__name__ in _NUMPY_ONLY:
            return NotImplemented
        return _call(func, args, kwargs)

    # -- CuPy's own API
    @property
    def device(self):
        return Device._of(self._dev)

    def get(self, stream=None, order="C", out=None, blocking=True):
        """Copy to a numpy array on the host."""
        _host_sync("get()")
        return np.array(self._a, order=order)

    def item(self):
        _host_sync("item()")
        return self._a.item()

    def tolist(self):
        _host_sync("tolist()")
        return self._a.tolist()

    def set(self, arr, stream=None):
        """Copy the host array ``arr`` into this array."""
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        self._a[...] = arr

    def __getattr__(self, name):
        # dunders too: numpy would find __array_interface__ and convert silently
        if name in _NDARRAY_ONLY or name.startswith("__"):
            raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")
        attr = getattr(self._a, name)
        if callable(attr):
            return _function(attr, name, like=self, allowed=_cupy_api.METHODS.get(name))
        return _wrap(attr, self)

    @property
    def data(self):
        """``cupy.cuda.MemoryPointer``-like: ``.ptr`` is the address of the first element."""
        return types.SimpleNamespace(ptr=self._a.__array_interface__["data"][0])

    @property
    def flags(self):
        """CuPy's flags: no ``writeable`` (CuPy arrays are always writable), no ``aligned``."""
        f = self._a.flags
        return _Flags(f.c_contiguous, f.f_contiguous, self._a.base is None)

    @property
    def T(self):
        return _wrap(self._a.T, self)

    @property
    def real(self):
        return _wrap(self._a.real, self)

    @property
    def imag(self):
        return _wrap(self._a.imag, self)

    def __getitem__(self, index):
        if _calls:
            _calls[-1]["__getitem__"] += 1
        _count_mask_read(index)
        if _state["count"] > 1 and type(index) is not int and type(index) is not slice:
            parts = index if type(index) is tuple else (index,)
            if any(type(i) is ndarray for i in parts):   # a gather kernel, not a view
                _check_devices((self,) + parts, {})
        return _wrap(self._a[_wrapped_index(self._a.shape, _unwrap(index, allow_host=True))],
                     self)

    def __setitem__(self, index, value):
        if _calls:
            _calls[-1]["__setitem__"] += 1
        _count_mask_read(index)
        if _state["count"] > 1:
            _check_devices((self, value, index), {})
        value = _unwrap(value, allow_host=True)
        if self._a.dtype.kind == "u" and getattr(value, "dtype", np.dtype(np.int8)).kind in "fV":
            value = _gpu_unsigned(value, self._a.dtype)   # CuPy's cast on assignment
        self._a[_wrapped_index(self._a.shape, _unwrap(index, allow_host=True))] = value

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(row, self) for row in self._a)

    def __bool__(self):
        _host_sync("bool()")
        return bool(self._a)

    def __int__(self):
        _host_sync("int()")
        return int(self._a)

    def __float__(self):
        _host_sync("float()")
        return float(self._a)

    def __complex__(self):
        _host_sync("complex()")
        return complex(self._a)

    def __copy__(self):
        return ndarray(self._a.copy(), self._dev)

    def __deepcopy__(self, memo):
        return ndarray(self._a.copy(), self._dev)

    def __reduce__(self):
        return (_from_host, (self._a.copy(), self._dev))

    def __repr__(self):
        return repr(self._a)

    def __str__(self):
        return str(self._a)


class _Flags:
    """``cupy._core.flags.Flags``: the three flags CuPy keeps, read-only."""

    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, c_contiguous, f_contiguous, owndata):
        self.c_contiguous, self.f_contiguous, self.owndata = c_contiguous, f_contiguous, owndata

    def __getitem__(self, key):
        return getattr(self, {"C_CONTIGUOUS": "c_contiguous", "F_CONTIGUOUS": "f_contiguous",
                              "OWNDATA": "owndata"}[key])


def _from_host(array, device=0):
    return ndarray(array, device if device < _state["count"] else None)


def _operator(name):
    numpy_op = getattr(np.ndarray, name)

    def op(self, *args):
        if args and type(args[0]) is not ndarray and \
                getattr(args[0], "__array_priority__", 0) > ndarray.__array_priority__:
            return NotImplemented  # CuPy defers to operands of higher priority (Tensor)
        result = _call(numpy_op, (self,) + args, {}, like=self)
        # in-place operators hand back the same array: keep the same wrapper
        return self if type(result) is ndarray and result._a is self._a else result
    op.__name__ = name
    return op


for _name in ("add radd sub rsub mul rmul truediv rtruediv floordiv rfloordiv mod rmod pow rpow "
              "matmul rmatmul and rand or ror xor rxor lshift rlshift rshift rrshift "
              "iadd isub imul itruediv ifloordiv imod ipow iand ior ixor ilshift irshift "
              "lt le gt ge eq ne neg pos abs invert divmod").split():
    setattr(ndarray, f"__{_name}__", _operator(f"__{_name}__"))


# CuPy 14's ufunc methods: ``at`` only where the ufunc has a scatter kernel, ``reduce`` and
# ``accumulate`` only for add and multiply, ``reduceat`` only for add
_UFUNC_METHODS = {
    "at": frozenset("add subtract maximum minimum bitwise_and bitwise_or bitwise_xor".split()),
    "reduce": frozenset(["add", "multiply"]), "accumulate": frozenset(["add", "multiply"]),
    "reduceat": frozenset(["add"])}


class _Ufunc:
    """A numpy ufunc whose call and methods (``at``, ``reduce``...) take device arrays."""

    def __init__(self, ufunc):
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        _keywords_checked(self.__name__, _cupy_api.UFUNC_KEYWORDS, kwargs)
        return _call(self._ufunc, args, kwargs)

    def __getattr__(self, name):
        if name in _UFUNC_METHODS and self.__name__ not in _UFUNC_METHODS[name]:
            def refused(*args, **kwargs):
                raise NotImplementedError(f"`cupy_{self.__name__}.{name}` is not supported yet")
            return refused
        attr = getattr(self._ufunc, name)
        if name == "at":   # CuPy's scatter kernels wrap out-of-range indices around
            return lambda a, index, *rest: _call(attr, (a, _rewrapped_index(a, index)) + rest, {})
        if callable(attr):
            return lambda *args, **kwargs: _call(attr, args, kwargs)
        return attr


class _Namespace(types.SimpleNamespace):
    """A numpy submodule (``linalg``, ``random``, ``fft``) restricted to device arrays."""

    def __init__(self, module, **extra):
        super().__init__(**extra)
        object.__setattr__(self, "_module", module)

    def __getattr__(self, name):
        return _lookup(self._module, name)


class _Indexer:
    """``ogrid``, ``mgrid``, ``r_``, ``c_``: index objects that build device arrays."""

    def __init__(self, indexer):
        self._indexer = indexer

    def __getitem__(self, key):
        return _wrap(self._indexer[_unwrap(key)])


def _einsum_checked(equation, *operands, **kwargs):
    # CuPy's einsum cannot sum over an ellipsis that the output leaves out (numpy's optimized
    # path can)
    if isinstance(equation, str) and "->" in equation:
        lhs, rhs = equation.replace(" ", "").split("->")
        if "..." in lhs and "..." not in rhs and any(
                o.ndim > len(t.replace("...", "")) for t, o in zip(lhs.split(","), operands)):
            raise ValueError("output has more dimensions than subscripts given in einstein sum, "
                             "but no '...' ellipsis provided to broadcast the extra dimensions.")
    return np.einsum(equation, *operands, **kwargs)


def _solve_checked(a, b):
    # CuPy's solve does not broadcast batch dims
    if b.ndim > 1 and (a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-2]):
        raise ValueError("a must have (..., M, M) shape and b must have (..., M, K) for "
                         "multidimensional b")
    return np.linalg.solve(a, b)


def _bincount_syncing(x, weights=None, minlength=0):
    # CuPy's bincount reads the input's min and max back to the host
    _host_sync("bincount (CuPy reads the input's range on the host)")
    return np.bincount(x, weights=weights, minlength=minlength)


def _uninitialized(allocate):
    """``empty``/``empty_like`` whose memory holds all-ones bits (NaN, -1, True), like the
    leftovers of a reused pool block: a read before the first write shows in the values."""
    def empty(*args, **kwargs):
        out = allocate(*args, **kwargs)
        kind = out.dtype.kind
        out.fill(True if kind == "b" else np.nan if kind in "fc" else ~np.zeros((), out.dtype))
        return out
    return empty


def _where_checked(condition, *values):
    # CuPy's three-argument where calls condition.astype: a Python bool or number is refused
    if values and isinstance(condition, (bool, int, float, complex)):
        raise AttributeError(f"'{type(condition).__name__}' object has no attribute 'astype'")
    return np.where(condition, *values)


_STRICTER = {(np, "einsum"): _einsum_checked, (np, "where"): _where_checked, (np.linalg, "solve"): _solve_checked,
             (np, "bincount"): _bincount_syncing, (np, "empty"): _uninitialized(np.empty),
             (np, "empty_like"): _uninitialized(np.empty_like)}


# numpy.linalg functions that cupy.linalg lacks (CuPy 14.2)
_LINALG_NUMPY_ONLY = frozenset("diagonal matrix_norm multi_dot outer svdvals tensordot test trace "
                               "vecdot vector_norm".split())


def _lookup(module, name):
    if name.startswith("__") or (name in _NUMPY_ONLY if module is np else
                                 module is np.linalg and name in _LINALG_NUMPY_ONLY):
        prefix = "cupy" if module is np else "cupy." + module.__name__.rpartition(".")[2]
        raise AttributeError(f"module '{prefix}' has no attribute '{name}'")
    attr = _STRICTER.get((module, name)) or getattr(module, name)
    if name in ("ogrid", "mgrid", "r_", "c_"):
        return _Indexer(attr)
    if isinstance(attr, np.ufunc):
        return _Ufunc(attr)
    if isinstance(attr, types.ModuleType):
        return _Namespace(attr)
    if callable(attr) and not isinstance(attr, type):
        qualname = _PREFIXES.get(id(module), "") + name
        return _function(attr, name, name in _HOST_INPUTS,
                         allowed=_cupy_api.FUNCTIONS.get(qualname))
    return attr


_PREFIXES = {id(np): "", id(np.linalg): "linalg.", id(np.fft): "fft."}


def _keywords_checked(qualname, allowed, kwargs):
    """Refuse a keyword that CuPy's function (or method) does not take, in Python's words."""
    if allowed is None:
        return
    for key in kwargs:
        if key not in allowed:
            raise TypeError(f"{qualname}() got an unexpected keyword argument '{key}'")


def _gpu_unsigned(values, target):
    """Floats converted to the unsigned ``target`` as a GPU converts them: truncated, then
    saturated (negative -> 0), NaN -> 0; numpy on x86 wraps instead (-1.0 -> 255)."""
    values = np.trunc(np.asarray(values, dtype=np.float64))
    return np.where(np.isnan(values), 0, np.clip(values, 0, np.iinfo(target).max)).astype(target)


def _function(fn, name, allow_host=False, like=None, allowed=None):
    if name in ("sort", "argsort"):
        # CuPy's sorts are always stable; numpy's default quicksort is not
        def sort(*args, **kwargs):
            _keywords_checked(name, allowed, kwargs)
            return _call(fn, args, {"kind": "stable", **kwargs}, like=like)
        return sort

    if name == "astype" and like is not None:
        def astype(dtype, *args, **kwargs):
            # a GPU converts floats to unsigned integers with saturation (CuPy: -1.0 -> 0 where
            # numpy on x86 gives 255); numpy's conversion otherwise
            _keywords_checked(name, allowed, kwargs)
            target = np.dtype(dtype)
            if target.kind == "u" and like._a.dtype.kind in "fV":
                values = _gpu_unsigned(like._a, target)
                return _call(lambda a, *r, **k: values, (like,) + args, kwargs, like=like)
            return _call(fn, (dtype,) + args, kwargs, like=like)
        return astype

    if name in ("sum", "prod"):
        def reduce(*args, **kwargs):
            # CuPy accumulates float16 sums and products in float32 and rounds once; numpy
            # rounds every partial result to float16
            _keywords_checked(name, allowed, kwargs)
            source = like if like is not None else (args[0] if args else kwargs.get("a"))
            positional_dtype = len(args) > (1 if like is not None else 2)
            if (type(source) is not ndarray or source._a.dtype != np.float16 or positional_dtype
                    or kwargs.get("dtype") is not None or kwargs.get("out") is not None):
                return _call(fn, args, kwargs, allow_host, like)

            def in_float32(*a, **k):
                k["dtype"] = np.float32
                return fn(*a, **k).astype(np.float16)
            in_float32.__name__ = name
            return _call(in_float32, args, kwargs, allow_host, like)
        return reduce

    if name == "copy" and like is not None:
        def copy(*args, **kwargs):
            # CuPy's ndarray.copy copies to the current device from any device
            _keywords_checked(name, allowed, kwargs)
            if _calls:
                _calls[-1]["copy"] += 1
            return ndarray(fn(*args, **kwargs), None)
        return copy

    def call(*args, **kwargs):
        _keywords_checked(name, allowed, kwargs)
        return _call(fn, args, kwargs, allow_host, like)
    return call


def __getattr__(name):
    return _lookup(np, name)


def asarray(a, dtype=None, order=None, blocking=False):
    """``cupy.asarray``: host data is copied to the device; device arrays pass through."""
    if type(a) is ndarray:
        return a if dtype is None or a._a.dtype == dtype else ndarray(a._a.astype(dtype))
    _host_sync("asarray() of host data (a pageable copy waits for the stream)")
    return ndarray(np.array(_unwrap(a, allow_host=True), dtype=dtype, order=order or "K"))


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, blocking=False):
    if type(obj) is not ndarray:
        _host_sync("array() of host data (a pageable copy waits for the stream)")
    return ndarray(np.array(_unwrap(obj, allow_host=True), dtype=dtype, copy=True, order=order,
                            ndmin=ndmin))


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    return a.get() if type(a) is ndarray else np.asarray(a)


def get_array_module(*args):
    return _this if any(type(a) is ndarray for a in args) else np


# -- cupy.cuda


class Stream:
    """``cupy.cuda.Stream``: work is done eagerly, so every stream is always complete."""

    null = None

    def __init__(self, null=False, non_blocking=False, ptr=0, priority=0):
        self.ptr = 0 if null else id(self)
        self.priority = priority

    def __enter__(self):
        _streams.append(self)
        return self

    def __exit__(self, *exc):
        _streams.pop()
        return False

    def use(self):
        _streams[0] = self
        return self

    @classmethod
    def from_external(cls, obj):
        """``Stream.from_external``: a stream made elsewhere, through the CUDA stream protocol."""
        protocol = getattr(obj, "__cuda_stream__", None)
        if protocol is None:
            raise TypeError(f"{type(obj).__name__} does not implement __cuda_stream__")
        version, ptr = protocol()
        if version != 0:
            raise TypeError(f"unsupported CUDA stream protocol version {version}")
        stream = cls()
        stream.ptr = ptr
        return stream

    def synchronize(self):
        return None

    def record(self, event=None):
        event = event or Event()
        event.record(self)
        return event

    def wait_event(self, event):
        return None

    @property
    def done(self):
        return True


Stream.null = Stream(null=True)
_streams = [Stream.null]


class Event:
    """``cupy.cuda.Event``: records the host clock."""

    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self._time = None

    def record(self, stream=None):
        self._time = time.perf_counter()

    def synchronize(self):
        return None

    @property
    def done(self):
        return True


def get_elapsed_time(start_event, end_event):
    return (end_event._time - start_event._time) * 1000.0


class _MemoryPool:
    """The memory pool of ``cupy.get_default_memory_pool()``: counts for the current
    device, with nothing cached (reserved bytes are the allocated ones)."""

    def used_bytes(self):
        return _mem(_state["current"])["allocated"]

    def total_bytes(self):
        return _mem(_state["current"])["allocated"]

    def free_all_blocks(self, stream=None):
        return None


class _Runtime:
    @staticmethod
    def getDeviceCount():
        return _state["count"]

    @staticmethod
    def getDevice():
        return _state["current"]

    @staticmethod
    def setDevice(device):
        _state["current"] = Device(device).id

    @staticmethod
    def deviceSynchronize():
        return None

    @staticmethod
    def memGetInfo():
        """``(free, total)`` bytes of the current device."""
        total = _state["total_memory"]
        return total - _mem(_state["current"])["allocated"], total

    @staticmethod
    def getDeviceProperties(device):
        """The keys of ``cupy.cuda.runtime.getDeviceProperties`` that disttorch reads."""
        Device(device)
        return {"name": b"disttorch simulated CUDA device", "totalGlobalMem":
                _state["total_memory"], "major": 8, "minor": 0, "multiProcessorCount": 108,
                "integrated": 0, "isMultiGpuBoard": 0, "maxThreadsPerMultiProcessor": 2048,
                "warpSize": 32, "l2CacheSize": 40 * 1024 ** 2, "regsPerMultiprocessor": 65536,
                "sharedMemPerMultiprocessor": 167936, "pciBusID": device, "pciDeviceID": 0,
                "pciDomainID": 0}


_pool = _MemoryPool()


def get_default_memory_pool():
    """``cupy.get_default_memory_pool()`` (CuPy has it at the top level, not in ``cupy.cuda``)."""
    return _pool


class _Nvtx:
    """``cupy.cuda.nvtx``: records the calls in ``events`` (("push", msg), ("pop",)...)."""

    available = True

    def __init__(self):
        self.events = []
        self._next_range = 0

    def RangePush(self, message, id_color=-1):
        self.events.append(("push", message))

    def RangePop(self):
        self.events.append(("pop",))

    def Mark(self, message, id_color=-1):
        self.events.append(("mark", message))

    def RangeStart(self, message, color):
        self._next_range += 1
        self.events.append(("start", message, self._next_range))
        return self._next_range

    def RangeEnd(self, range_id):
        self.events.append(("end", range_id))


cuda = types.SimpleNamespace(
    is_available=lambda: True, Device=Device, Stream=Stream, Event=Event, runtime=_Runtime(),
    nvtx=_Nvtx(),
    get_elapsed_time=get_elapsed_time, get_current_stream=lambda: _streams[-1],
    simulated=True,
    memory=types.SimpleNamespace(OutOfMemoryError=OutOfMemoryError))


class RandomState:
    """``cupy.random.RandomState`` on numpy's legacy MT19937 generator, returning device
    arrays; ``state`` is the numpy ``RandomState`` (its ``get_state``/``set_state`` are exact)."""

    def __init__(self, seed=None):
        self.seed(seed)

    def seed(self, seed=None):
        """Reseed: any integer in ``[0, 2**64)``, or fresh entropy for None."""
        self.state = np.random.RandomState(np.random.MT19937(
            None if seed is None else int(seed)))

    def random_sample(self, size=None, dtype=float):
        return ndarray(np.asarray(self.state.random_sample(size)).astype(dtype))

    random = random_sample

    def __getattr__(self, name):
        if name.startswith("__") or name == "state":
            raise AttributeError(name)
        draw = _function(getattr(self.state, name), name)

        def device_draw(*args, **kwargs):
            # CuPy's samplers always answer an array (numpy's give a scalar for 0-d parameters)
            result = draw(*args, **kwargs)
            return result if type(result) is ndarray else ndarray(np.asarray(result))
        return device_draw


_random_states = {}  # device id -> RandomState, made on first use (CuPy: seeded from entropy)


def _get_random_state():
    rs = _random_states.get(_state["current"])
    if rs is None:
        rs = _random_states[_state["current"]] = RandomState()
    return rs


def _set_random_state(rs):
    if not isinstance(rs, RandomState):
        raise TypeError(f"Random state must be an instance of RandomState. Actual: {type(rs)}")
    _random_states[_state["current"]] = rs


class _RandomModule(types.SimpleNamespace):
    """``cupy.random``: module functions draw from the current device's ``RandomState``."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_get_random_state(), name)


random = _RandomModule(
    RandomState=RandomState, get_random_state=_get_random_state,
    set_random_state=_set_random_state, seed=lambda seed=None: _get_random_state().seed(seed))

class PinnedMemoryPointer(bytearray):
    """Host buffers from ``cupyx.empty_pinned`` (so pinned arrays can be told apart)."""


def _empty_pinned(shape, dtype=np.float32, order="C"):
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    return np.frombuffer(PinnedMemoryPointer(count * dtype.itemsize), dtype, count).reshape(shape)


def _special_ufunc(scalar_fn):
    """A ``cupyx.scipy.special`` ufunc: float32 stays float32, float16 gives float64 (CuPy's
    types 'e->d', 'f->f', 'd->d')."""
    vectorized = np.frompyfunc(scalar_fn, 1, 1)

    def ufunc(x):
        if type(x) is not ndarray:
            raise TypeError(f"Unsupported type {type(x)}")
        a = _unwrap(x)
        # (np.asarray: frompyfunc gives a bare Python float for 0-d input)
        return ndarray(np.asarray(vectorized(a), dtype=np.float32 if a.dtype == np.float32
                                  else np.float64))
    return ufunc


cupyx = types.SimpleNamespace(
    scipy=types.SimpleNamespace(special=types.SimpleNamespace(
        erf=_special_ufunc(math.erf), erfc=_special_ufunc(math.erfc))),
    scatter_add=lambda a, slices, value: _call(np.add.at, (a, slices, value), {}),
    empty_pinned=_empty_pinned)


def reset_peak_memory(device=None):
    """Restart the peak of ``device`` (default: current) from its current usage."""
    memory = _mem(_state["current"] if device is None else device)
    memory["peak"] = memory["allocated"]


def peak_memory(device=None):
    """The most bytes allocated at once on ``device`` (default: current)."""
    return _mem(_state["current"] if device is None else device)["peak"]


def host_values(array):
    """A copy of a simulated array's values, read without counting a host synchronisation: the
    stand-in for checks a GPU makes itself (device-side index asserts)."""
    return np.array(array._a)


@contextlib.contextmanager
def count_host_syncs():
    """Count the device-to-host reads inside the block: ``with count_host_syncs() as syncs:``;
    ``syncs["count"]`` and ``syncs["where"]`` (the first 20, with file and line) afterwards."""
    _host_syncs["count"], _host_syncs["where"] = 0, []
    yield _host_syncs


@contextlib.contextmanager
def count_calls():
    """Count the array calls (functions, methods, operators, indexing) inside the block, by
    name: ``with count_calls() as calls:`` gives a ``collections.Counter``. Each is a CuPy call
    on a GPU, and each costs host time there (kernel launches: see ``_sim_kernels.launches``)."""
    counter = __import__("collections").Counter()
    _calls.append(counter)
    try:
        yield counter
    finally:
        _calls.remove(counter)


@contextlib.contextmanager
def simulate(device_count=None, total_memory=None, fused_kernels=False):
    """Within this context ``device="cuda"`` means the simulated device (tests use this).

    Args:
        device_count (int, optional): how many devices the machine has inside the context
            (device 0 is current on entry); default: as it is.
        total_memory (int, optional): bytes per device; allocating past it raises CuPy's
            ``OutOfMemoryError``. Default: as it is (80 GiB).
        fused_kernels (bool or "run"): ``True`` takes the fused-kernel paths, whose launches
            are checked against each kernel's CUDA signature and counted but compute nothing
            (``_sim_kernels``): outputs are meaningless then. ``"run"`` also runs each checked
            launch on the CPU emulator (``_kernel_emulator``, needs a C++ compiler), so the
            values are the kernels' own. Default: False (the generic paths, real values).
    """
    from .. import _backend
    if fused_kernels not in (False, True, "run"):
        raise ValueError(f"fused_kernels must be False, True or 'run', got {fused_kernels!r}")
    saved = dict(_state)
    _state["fused"] = fused_kernels
    if device_count is not None:
        _state.update(count=int(device_count), current=0)
    if total_memory is not None:
        _state["total_memory"] = int(total_memory)
    previous = _backend.set_cuda_module(_this)
    several = _backend.several_devices[0]
    try:
        yield
    finally:
        _backend.set_cuda_module(previous)
        _state.update(saved)
        if not several:
            _backend.forget_devices()
        if previous is not _this:
            # index errors recorded on the simulated devices go with them
            from .kernels import bounds
            bounds.discard(_this)


RawKernel = _sim_kernels.RawKernel   # cupy.RawKernel: launches are checked, nothing runs


def runs_fused_kernels():
    """Whether fused-kernel paths run here (``simulate(fused_kernels=True)`` or ``"run"``)."""
    return bool(_state.get("fused", False))


def runs_kernels():
    """Whether fused kernels compute here, on the CPU emulator (``fused_kernels="run"``)."""
    return _state.get("fused") == "run"


_this = __import__("sys").modules[__name__]


def _register():
    from ..autograd.function import register_array_type
    register_array_type(ndarray)


_register()
