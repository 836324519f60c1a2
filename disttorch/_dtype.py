"""dtype objects with PyTorch's names and type-promotion rules."""
import numpy as np

__all__ = [
    "dtype", "float16", "half", "float32", "float", "float64", "double", "bfloat16",
    "int8", "int16", "short", "int32", "int", "int64", "long", "uint8", "bool",
    "complex64", "cfloat", "complex128", "cdouble",
    "get_default_dtype", "set_default_dtype", "promote_types", "result_type",
    "can_cast", "finfo", "iinfo",
]

# Category ranks used by promotion: a higher category wins regardless of width.
_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3


class dtype:
    """A tensor element type, e.g. ``disttorch.float32``."""

    __slots__ = ("name", "np_dtype", "category", "is_floating_point", "is_complex",
                 "is_signed", "itemsize")

    def __init__(self, name, np_dtype, category):
        self.name = name
        self.np_dtype = np.dtype(np_dtype)
        self.category = category
        self.is_floating_point = category == _FLOAT
        self.is_complex = category == _COMPLEX
        self.is_signed = name not in ("uint8", "bool")
        self.itemsize = self.np_dtype.itemsize

    def __repr__(self):
        return "disttorch." + self.name

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))

    def to_real(self):
        return {"complex64": float32, "complex128": float64}.get(self.name, self)

    def to_complex(self):
        # PyTorch pairs float16 with complex32, which disttorch lacks: the half types take the
        # narrowest complex type there is, which keeps both parts of the value
        return {"float32": complex64, "float64": complex128, "float16": complex64,
                "bfloat16": complex64}.get(self.name, self)


float16 = half = dtype("float16", np.float16, _FLOAT)
float32 = float = dtype("float32", np.float32, _FLOAT)
float64 = double = dtype("float64", np.float64, _FLOAT)
int8 = dtype("int8", np.int8, _INT)
int16 = short = dtype("int16", np.int16, _INT)
int32 = int = dtype("int32", np.int32, _INT)
int64 = long = dtype("int64", np.int64, _INT)
uint8 = dtype("uint8", np.uint8, _INT)
bool = dtype("bool", np.bool_, _BOOL)
complex64 = cfloat = dtype("complex64", np.complex64, _COMPLEX)
complex128 = cdouble = dtype("complex128", np.complex128, _COMPLEX)

_ALL = [float16, float32, float64, int8, int16, int32, int64, uint8, bool, complex64, complex128]

try:  # bfloat16 needs the optional ml_dtypes package (numpy has no bfloat16)
    import ml_dtypes as _ml_dtypes
    bfloat16 = dtype("bfloat16", _ml_dtypes.bfloat16, _FLOAT)
    _ALL.append(bfloat16)
    NP_BFLOAT16 = np.dtype(_ml_dtypes.bfloat16)
except ImportError:
    bfloat16 = None
    NP_BFLOAT16 = np.dtype([("no_bfloat16", "V2")])   # equal to no array's dtype
# numpy arrays' dtypes tested by equality: ``dtype.name`` is a Python property of some 1.5 us,
# too slow for the per-op checks (bfloat16 has numpy kind 'V', so ``kind`` cannot tell)
NP_LOW_FLOATS = frozenset([np.dtype(np.float16), NP_BFLOAT16])

_BY_NAME = {d.name: d for d in _ALL}
_FROM_NP = {d.np_dtype: d for d in _ALL}
_FROM_NP.update({np.dtype(np.uint16): int32, np.dtype(np.uint32): int64, np.dtype(np.uint64): int64})


def _dtype_by_name(name):
    return _BY_NAME[name]


def from_numpy_dtype(np_dtype):
    try:
        return _FROM_NP[np_dtype]
    except KeyError:
        raise TypeError(f"can't convert np.ndarray of type {np_dtype}. The only supported types are: "
                        "float64, float32, float16, complex64, complex128, int64, int32, int16, int8, "
                        "uint8, and bool.") from None


def to_numpy_dtype(d):
    """Accept a disttorch dtype, numpy dtype, Python type or name; return a numpy dtype."""
    if type(d) is dtype:
        return d.np_dtype
    if d is None:
        return _default[0].np_dtype
    return as_dtype(d).np_dtype


_py_float, _py_int, _py_bool, _py_complex = (__import__("builtins").float, __import__("builtins").int,
                                              __import__("builtins").bool, __import__("builtins").complex)


def as_dtype(d):
    """Convert dtype-like input (disttorch dtype, numpy dtype, Python type, name) to a dtype."""
    if type(d) is dtype:
        return d
    if d is _py_float:
        return _default[0]
    if d is _py_int:
        return int64
    if d is _py_bool:
        return bool
    if d is _py_complex:
        return _default[0].to_complex()
    if isinstance(d, str):
        name = d.replace("torch.", "").replace("disttorch.", "")
        aliases = {"float": "float32", "double": "float64", "half": "float16", "long": "int64",
                   "int": "int32", "short": "int16", "cfloat": "complex64", "cdouble": "complex128"}
        name = aliases.get(name, name)
        if name in _BY_NAME:
            return _BY_NAME[name]
        raise TypeError(f"unknown dtype name {d!r}")
    try:
        return from_numpy_dtype(np.dtype(d))
    except TypeError as exc:
        raise TypeError(f"cannot interpret {d!r} as a data type") from exc


_default = [float32]


def get_default_dtype():
    """Return the current default floating point dtype (``float32`` at start)."""
    return _default[0]


def set_default_dtype(d):
    """Set the default floating point dtype: ``float32`` or ``float64`` (or ``float16``)."""
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default[0] = d


_promote_cache = {}


def promote_types(type1, type2):
    """The smallest dtype to which both ``type1`` and ``type2`` can be cast (PyTorch's table)."""
    key = (type1, type2)
    hit = _promote_cache.get(key)
    if hit is not None:
        return hit
    a, b = as_dtype(type1), as_dtype(type2)
    if a is b:
        result = a
    elif a.category != b.category:
        hi, lo = (a, b) if a.category > b.category else (b, a)
        result = hi
        if hi.is_complex and lo.is_floating_point and lo.itemsize * 2 > hi.itemsize:
            result = complex128
    elif a.category == _FLOAT and {a.name, b.name} == {"float16", "bfloat16"}:
        result = float32
    else:
        result = from_numpy_dtype(np.promote_types(a.np_dtype, b.np_dtype))
    _promote_cache[key] = result
    return result


def _scalar_category(value):
    if isinstance(value, _py_bool) or isinstance(value, np.bool_):
        return _BOOL
    if isinstance(value, (_py_int, np.integer)):
        return _INT
    if isinstance(value, (_py_float, np.floating)):
        return _FLOAT
    if isinstance(value, (_py_complex, np.complexfloating)):
        return _COMPLEX
    raise TypeError(f"unsupported scalar type {type(value).__name__}")


def _category_default(category):
    if category == _FLOAT:
        return _default[0]
    if category == _INT:
        return int64
    if category == _COMPLEX:
        return _default[0].to_complex()
    return bool


def _combine_categories(higher, lower):
    # PyTorch's rule: a lower tier only changes the result when its category is higher.
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.is_complex:
        return higher
    if lower.is_complex:
        return higher.to_complex() if higher.is_floating_point else lower
    if higher.is_floating_point:
        return higher
    if higher is bool or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher


def result_type_from(dims, zero_dims, scalar_categories):
    """PyTorch's promotion over three tiers: dimensioned tensors, zero-dim tensors, Python scalars."""
    dim_result = zero_result = None
    for d in dims:
        dim_result = d if dim_result is None else promote_types(dim_result, d)
    for d in zero_dims:
        zero_result = d if zero_result is None else promote_types(zero_result, d)
    wrapped = _category_default(max(scalar_categories)) if scalar_categories else None
    return _combine_categories(dim_result, _combine_categories(zero_result, wrapped))


def result_type(tensor1, tensor2):
    """The dtype of an arithmetic operation on the two arguments (tensors or Python numbers)."""
    from .tensor import Tensor
    dims, zero_dims, scalars = [], [], []
    for x in (tensor1, tensor2):
        if isinstance(x, Tensor):
            (dims if x.ndim else zero_dims).append(x.dtype)
        else:
            scalars.append(_scalar_category(x))
    return result_type_from(dims, zero_dims, scalars)


def can_cast(from_, to):
    """True when PyTorch's casting rules allow ``from_`` to be cast to ``to`` in-place ops."""
    a, b = as_dtype(from_), as_dtype(to)
    return a.category <= b.category


class finfo:
    """Machine limits of a floating point dtype (``eps``, ``max``, ``min``, ``tiny``)."""

    def __init__(self, type=None):
        d = as_dtype(type) if type is not None else _default[0]
        # numpy's finfo refuses ml_dtypes' bfloat16 ("not inexact"); ml_dtypes has its own
        info = _ml_dtypes.finfo(d.np_dtype) if d.np_dtype == NP_BFLOAT16 else np.finfo(d.np_dtype)
        self.bits = info.bits
        self.eps = _py_float(info.eps)
        self.max = _py_float(info.max)
        self.min = _py_float(info.min)
        self.tiny = self.smallest_normal = _py_float(info.tiny)
        self.resolution = 10.0 ** -info.precision   # (PyTorch's: 1e-06, not float32's)
        self.nmant = info.nmant
        self.dtype = d.name


class iinfo:
    """Machine limits of an integer dtype (``bits``, ``max``, ``min``)."""

    def __init__(self, type):
        d = as_dtype(type)
        info = np.iinfo(d.np_dtype)
        self.bits, self.max, self.min, self.dtype = info.bits, _py_int(info.max), _py_int(info.min), d.name


# PyTorch's names of dtypes in error messages: ScalarType names ("Float", "Long") and the C++
# type names ("float", "long int") some messages use instead
SCALAR_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half",
                     "bfloat16": "BFloat16", "int64": "Long", "int32": "Int", "int16": "Short",
                     "int8": "Char", "uint8": "Byte", "bool": "Bool", "complex64": "ComplexFloat",
                     "complex128": "ComplexDouble"}
C_TYPE_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half",
                "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int",
                "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
                "bool": "bool", "complex64": "c10::complex<float>",
                "complex128": "c10::complex<double>"}
