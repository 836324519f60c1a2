"""``disttorch.testing``: ``assert_close`` and ``make_tensor``, as in ``torch.testing``."""
import collections.abc
import math

import numpy as np

from .. import _dtype
from .._backend import to_numpy
from ..tensor import Tensor

__all__ = ["assert_close", "make_tensor"]

# PyTorch's default (rtol, atol) per dtype; integers and bools compare exactly.
_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
               "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7)}


def _fail(msg, default):
    if callable(msg):
        raise AssertionError(msg(default))
    raise AssertionError(default if msg is None else msg)


def _as_tensor_like(value):
    """A (numpy array, dtype name, device, is tensor) view of a tensor, array or number."""
    if isinstance(value, Tensor):
        return to_numpy(value._data), value.dtype.name, str(value.device), True
    if isinstance(value, np.ndarray):
        return value, _dtype.from_numpy_dtype(value.dtype).name, "cpu", False
    array = np.asarray(value)
    if isinstance(value, bool):
        name = "bool"
    elif isinstance(value, int):
        name = "int64"
    elif isinstance(value, float):
        name = "float64"
    else:
        name = "complex128"
    return array, name, "cpu", False


def _index_str(index):
    return "(" + ", ".join(str(int(i)) for i in index) + (",)" if len(index) == 1 else ")")


def _compare_values(actual, expected, rtol, atol, equal_nan, check_device, check_dtype, msg, path):
    a, a_dtype, a_device, a_tensor = _as_tensor_like(actual)
    e, e_dtype, e_device, e_tensor = _as_tensor_like(expected)
    where = f" at {path}" if path else ""
    kind = "Tensor-likes" if a_tensor or e_tensor else "Scalars"
    if a_tensor != e_tensor and not (isinstance(actual, np.ndarray) or isinstance(expected,
                                                                                  np.ndarray)):
        _fail(msg, f"No comparison pair was able to handle inputs of type {type(actual)} and "
                   f"{type(expected)}.")
    if a.shape != e.shape:
        _fail(msg, f"The values for attribute 'shape' do not match: {tuple(a.shape)} != "
                   f"{tuple(e.shape)}{where}.")
    if check_device and a_device != e_device:
        _fail(msg, f"The values for attribute 'device' do not match: {a_device} != {e_device}"
                   f"{where}.")
    if check_dtype and a_dtype != e_dtype:
        _fail(msg, f"The values for attribute 'dtype' do not match: torch.{a_dtype} != "
                   f"torch.{e_dtype}{where}.")
    if rtol is None:
        rtol_a, atol_a = _TOLERANCES.get(a_dtype, (0.0, 0.0))
        rtol_e, atol_e = _TOLERANCES.get(e_dtype, (0.0, 0.0))
        rtol, atol = max(rtol_a, rtol_e), max(atol_a, atol_e)
    compute = np.complex128 if a.dtype.kind == "c" or e.dtype.kind == "c" else np.float64
    if a.dtype.kind == "b" and e.dtype.kind == "b":
        compute = np.bool_
    av, ev = a.astype(compute), e.astype(compute)
    if compute is np.bool_:
        close = av == ev
    else:
        with np.errstate(all="ignore"):
            close = np.abs(av - ev) <= atol + rtol * np.abs(ev)
            close |= av == ev
            if equal_nan:
                close |= np.isnan(av) & np.isnan(ev)
    if close.all():
        return
    mismatched = int((~close).sum())
    total = close.size
    lines = [f"{kind} are not close!{where}", ""]
    if total > 1 or a_tensor:
        lines.append(f"Mismatched elements: {mismatched} / {total} "
                     f"({100.0 * mismatched / total:.1f}%)")
    with np.errstate(all="ignore"):
        diff = np.abs(av.astype(np.complex128 if compute is np.complex128 else np.float64)
                      - ev.astype(np.complex128 if compute is np.complex128 else np.float64))
        rel = diff / np.abs(ev.astype(np.float64 if compute is not np.complex128 else np.complex128))
    diff = np.where(close, 0, diff)
    rel = np.where(close, 0, np.nan_to_num(rel, nan=np.inf))
    i_abs = np.unravel_index(int(np.argmax(np.nan_to_num(diff, nan=np.inf))), diff.shape)
    i_rel = np.unravel_index(int(np.argmax(rel)), rel.shape)
    at_abs = f" at index {_index_str(i_abs)}" if a.ndim else ""
    at_rel = f" at index {_index_str(i_rel)}" if a.ndim else ""
    lines.append(f"Greatest absolute difference: {diff[i_abs]}{at_abs} (up to {atol} allowed)")
    lines.append(f"Greatest relative difference: {rel[i_rel]}{at_rel} (up to {rtol} allowed)")
    _fail(msg, "\n".join(lines))


def _compare(actual, expected, rtol, atol, equal_nan, check_device, check_dtype, msg, path):
    leaf = (Tensor, np.ndarray, bool, int, float, complex)
    if isinstance(actual, leaf) or isinstance(expected, leaf):
        if not isinstance(actual, leaf) or not isinstance(expected, leaf):
            _fail(msg, f"No comparison pair was able to handle inputs of type {type(actual)} and "
                       f"{type(expected)}.")
        _compare_values(actual, expected, rtol, atol, equal_nan, check_device, check_dtype, msg,
                        path)
        return
    if isinstance(actual, collections.abc.Mapping) and isinstance(expected,
                                                                  collections.abc.Mapping):
        if set(actual) != set(expected):
            _fail(msg, f"The keys of the mappings do not match{' at ' + path if path else ''}:\n"
                       f"{sorted(map(str, actual))} != {sorted(map(str, expected))}")
        for key in actual:
            _compare(actual[key], expected[key], rtol, atol, equal_nan, check_device, check_dtype,
                     msg, f"{path}[{key!r}]" if path else f"item [{key!r}]")
        return
    sequence = collections.abc.Sequence
    if isinstance(actual, sequence) and isinstance(expected, sequence) and \
            not isinstance(actual, str) and not isinstance(expected, str):
        if len(actual) != len(expected):
            _fail(msg, f"The length of the sequences mismatch: {len(actual)} != {len(expected)}"
                       f"{' at ' + path if path else ''}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, rtol, atol, equal_nan, check_device, check_dtype, msg,
                     f"{path}[{i}]" if path else f"item [{i}]")
        return
    if actual == expected:
        return
    _fail(msg, f"No comparison pair was able to handle inputs of type {type(actual)} and "
               f"{type(expected)}.")


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    r"""Assert that ``actual`` and ``expected`` are close: :math:`|a - e| \le atol + rtol |e|`
    elementwise, after checking shape, device and dtype.

    Tensors, numpy arrays, Python numbers and (nested) sequences or mappings of them are compared
    pairwise. The default tolerances depend on the dtype (``float32``: ``rtol=1.3e-6``,
    ``atol=1e-5``; ``float64``: ``1e-7`` both; integers and bools: exact), as in PyTorch.

    Args:
        rtol (float): relative tolerance; must be given together with ``atol``.
        atol (float): absolute tolerance; must be given together with ``rtol``.
        equal_nan (bool): treat two NaNs as equal. Default: False.
        check_device (bool): require the same device. Default: True.
        check_dtype (bool): require the same dtype. Default: True.
        msg (str or Callable): replaces the failure message (a callable receives the default).

    Raises:
        AssertionError: with the number of mismatched elements and the greatest absolute and
            relative differences.
    """
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no "
                         f"{'rtol' if rtol is None else 'atol'}.")
    _compare(actual, expected, rtol, atol, equal_nan, check_device, check_dtype, msg, "")


def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False,
                noncontiguous=False, exclude_zero=False, memory_format=None):
    """A tensor of the given shape filled with uniform random values in ``[low, high)``
    (defaults: ``[-9, 9)`` for floats and signed integers, ``[0, 10)`` for unsigned, and
    ``False``/``True`` for bool), like ``torch.testing.make_tensor``."""
    import disttorch
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if dtype is disttorch.bool:
        data = disttorch.randint(0, 2, shape).to(disttorch.bool)
    elif dtype.is_floating_point:
        lo = -9.0 if low is None else float(low)
        hi = 9.0 if high is None else float(high)
        if lo > hi:
            raise ValueError(f"`low` must be less than or equal to `high`, but got {lo} > {hi}")
        data = disttorch.rand(shape, dtype=disttorch.float64) * (hi - lo) + lo
        data = data.to(dtype)
    else:
        lo = (0 if dtype is disttorch.uint8 else -9) if low is None else math.ceil(low)
        hi = 10 if high is None else math.ceil(high)
        data = disttorch.randint(lo, hi, shape).to(dtype)
    if exclude_zero:
        replacement = 1 if not dtype.is_floating_point else disttorch.finfo(dtype).tiny
        data = disttorch.where(data == 0, disttorch.full_like(data, replacement), data)
    if noncontiguous and data.numel() > 1:
        data = disttorch.repeat_interleave(data.flatten(), 2)[::2].reshape(data.shape)
    data = data.to(device)
    if requires_grad:
        data.requires_grad_(True)
    return data
