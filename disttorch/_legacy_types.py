"""PyTorch's legacy tensor types (``torch.FloatTensor`` ...): constructors, ``isinstance`` checks
and ``Tensor.type(torch.DoubleTensor)``/``Tensor.type("torch.LongTensor")`` conversions."""
from . import _dtype
from .tensor import Tensor

__all__ = ["FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "LongTensor",
           "IntTensor", "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor",
           "set_default_tensor_type"]


class tensortype(type):
    """The metaclass of the legacy types: a class per (dtype, device type)."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype and bool(obj.is_cuda) == cls.is_cuda

    def __call__(cls, *args, device=None):
        import disttorch
        device = "cuda" if cls.is_cuda and device is None else device
        if not args:
            return disttorch.empty(0, dtype=cls.dtype, device=device)
        if len(args) == 1 and isinstance(args[0], Tensor):
            if args[0].dtype is not cls.dtype:
                raise TypeError(f"expected {_SCALAR_NAMES[cls.dtype.name]} (got "
                                f"{_SCALAR_NAMES.get(args[0].dtype.name, args[0].dtype.name)})")
            return args[0]
        if all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            return disttorch.empty(*args, dtype=cls.dtype, device=device)
        if len(args) == 1 and isinstance(args[0], disttorch.Size):
            return disttorch.empty(args[0], dtype=cls.dtype, device=device)
        if len(args) == 1:
            return disttorch.tensor(args[0], dtype=cls.dtype, device=device)
        raise TypeError(f"new() received an invalid combination of arguments for {cls.__name__}")


_SCALAR_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half",
                 "bfloat16": "BFloat16", "int64": "Long", "int32": "Int", "int16": "Short",
                 "int8": "Char", "uint8": "Byte", "bool": "Bool"}
_TYPES = {}


def _make(scalar_name, dtype, is_cuda):
    name = f"{scalar_name}Tensor"
    cls = tensortype(name, (), {"dtype": dtype, "is_cuda": is_cuda,
                                "__module__": "torch.cuda" if is_cuda else "torch",
                                "__doc__": f"Legacy constructor of {dtype} tensors."})
    _TYPES[("torch.cuda." if is_cuda else "torch.") + name] = cls
    return cls


for _np_name, _scalar in _SCALAR_NAMES.items():
    globals()[f"{_scalar}Tensor"] = _make(_scalar, getattr(_dtype, _np_name), False)
    _make(_scalar, getattr(_dtype, _np_name), True)


def resolve(legacy):
    """``(dtype, device)`` of a legacy type, given as the class or its name."""
    cls = _TYPES.get(legacy) if isinstance(legacy, str) else legacy
    if not isinstance(cls, tensortype):
        raise ValueError(f"invalid type: '{legacy}'")
    return cls.dtype, ("cuda" if cls.is_cuda else "cpu")


def set_default_tensor_type(t):
    """Make the dtype of the legacy type ``t`` (a class or a name such as
    ``"torch.DoubleTensor"``) the default; deprecated in PyTorch in favour of
    ``set_default_dtype``. CUDA types are refused: disttorch has no default device."""
    dtype, device = resolve(t)
    if device != "cpu":
        raise RuntimeError("disttorch cannot make CUDA tensors the default; create them with "
                           "device='cuda' or .cuda()")
    if not dtype.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _dtype.set_default_dtype(dtype)
