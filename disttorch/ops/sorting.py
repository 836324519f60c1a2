"""Sorting and searching: sort/argsort/msort, topk, kthvalue, unique, unique_consecutive,
searchsorted, bucketize, repeat_interleave.

Values are read with ``gather``/``index_select`` at the computed (non-differentiable) indices,
so their gradients are the indexing ops' scatter-adds.
"""
import numpy as np

from .. import _dtype, return_types
from .._backend import get_array_module
from ..tensor import Tensor, _new
from . import _libstdcxx
from ._util import register_methods, wrap_dim, as_method as _method, promote, promote_scalar_tensor
from .indexing import Index
from .gather_scatter import gather_trusted
from .shape import squeeze, reshape

__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "unique", "unique_consecutive",
           "searchsorted", "bucketize", "repeat_interleave"]


def _with_out(result, out):
    """Write ``result`` (a tensor or a tuple of tensors) into the ``out=`` tensors, if given."""
    if out is None:
        return result
    from .arithmetic import _out
    if isinstance(result, tuple):
        return type(result)(*(_out(r, o) for r, o in zip(result, out)))
    return _out(result, out)


def _sort_indices(data, axis, descending):
    """Stable argsort along ``axis``; NaN sorts as the largest value, as in PyTorch."""
    xp = get_array_module(data)
    stable = {"kind": "stable"} if xp is np else {}  # CuPy's sort is always stable
    if not descending:
        return xp.argsort(data, axis=axis, **stable)
    # Reversing a stable ascending sort of the reversed data keeps ties in their original order.
    n = data.shape[axis]
    rev = xp.argsort(xp.flip(data, axis), axis=axis, **stable)
    return xp.flip(n - 1 - rev, axis)


def _take_sorted(input, d, order):
    index = _new(order.astype(np.int64, copy=False))
    if not input._data.ndim:
        return input.clone(), _new(get_array_module(order).zeros((), np.int64))
    return gather_trusted(input, d, index), index


def sort(input, dim=-1, descending=False, *, stable=False, out=None):
    """Sort the elements of ``input`` along ``dim``; returns ``(values, indices)``.

    The sort is always stable (equal elements keep their order); NaN sorts as the largest value.
    The gradient of ``values`` goes back to the sorted positions.

    Args:
        input (Tensor): the input tensor.
        dim (int): the dim to sort along. Default: -1.
        descending (bool): sort in descending order. Default: ``False``.
        stable (bool): accepted for compatibility (always stable).
        out (tuple of Tensors, optional): ``(values, indices)`` outputs.
    """
    d = wrap_dim(dim, input._data.ndim)
    data = input._data if input._data.ndim else input._data.reshape(1)
    values, indices = _take_sorted(input, d, _sort_indices(data, d, descending))
    return _with_out(return_types.sort(values, indices), out)


def argsort(input, dim=-1, descending=False, *, stable=False):
    """The indices that sort ``input`` along ``dim``."""
    return sort(input, dim, descending).indices


def msort(input):
    """``input`` sorted along dim 0."""
    return sort(input, 0).values


def topk(input, k, dim=-1, largest=True, sorted=True, *, out=None):
    """Return the ``k`` largest (or smallest) elements of ``input`` along ``dim``:
    ``(values, indices)``, sorted.

    Args:
        input (Tensor): the input tensor.
        k (int): how many elements.
        dim (int): the dim to search. Default: -1.
        largest (bool): largest (else smallest) elements. Default: ``True``.
        sorted (bool): accepted for compatibility (always sorted).
    """
    if input._data.dtype.kind == "b":
        raise RuntimeError("topk does not support bool dtypes on CPU")
    ndim = input._data.ndim
    d = wrap_dim(dim, ndim)
    size = input._data.shape[d] if ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError("selected index k out of range")
    data = input._data if ndim else input._data.reshape(1)
    order = _sort_indices(data, d, largest)
    order = order[(slice(None),) * d + (slice(0, k),)]
    if not ndim:
        order = order.reshape(())
    values, indices = _take_sorted(input, d, order)
    return _with_out(return_types.topk(values, indices), out)


def kthvalue(input, k, dim=-1, keepdim=False, *, out=None):
    """Return the ``k``-th smallest element of ``input`` along ``dim``:
    ``(values, indices)``.

    Args:
        input (Tensor): the input tensor.
        k (int): the rank, from 1.
        dim (int): the dim to search. Default: -1.
        keepdim (bool): keep ``dim`` with size 1. Default: ``False``.
    """
    if input._data.dtype.kind == "b":
        raise NotImplementedError("\"kthvalue_cpu\" not implemented for 'Bool'")
    ndim = input._data.ndim
    d = wrap_dim(dim, ndim)
    size = input._data.shape[d] if ndim else 1
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    if not ndim:
        return _with_out(return_types.kthvalue(input.clone(), _new(np.zeros((), np.int64))), out)
    order = _sort_indices(input._data, d, False)
    order = order[(slice(None),) * d + (slice(k - 1, k),)]
    values, indices = _take_sorted(input, d, order)
    if not keepdim:
        values, indices = squeeze(values, d), _new(indices._data.squeeze(d))
    return _with_out(return_types.kthvalue(values, indices), out)


def _maybe_tuple(output, inverse, counts, return_inverse, return_counts):
    result = [output]
    if return_inverse:
        result.append(inverse)
    if return_counts:
        result.append(counts)
    return result[0] if len(result) == 1 else tuple(result)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """Return the unique elements of ``input``, sorted.

    As PyTorch's CPU kernel, NaNs never equal one another (each is a unique element of its own,
    sorted last), and of equal elements such as ``-0.0`` and ``0.0`` the one that PyTorch's sort
    puts first is kept.

    Args:
        input (Tensor): the input tensor.
        sorted (bool): accepted for compatibility (always sorted, as PyTorch on the CPU).
        return_inverse (bool): also return, for each input element, its index in the output.
        return_counts (bool): also return how often each unique element occurs.
        dim (int, optional): return unique slices along ``dim`` instead of elements.
    """
    data = input._data
    xp = get_array_module(data)
    if dim is None:
        _refuse_complex(data, "unique")
        flat = data.reshape(-1)
        order = _unique_flat_order(flat, xp, return_inverse)
        values, inverse, counts = _group_sorted(flat[order], order, xp)
        inverse = inverse.reshape(data.shape)
    else:
        _refuse_complex(data, "unique_dim")
        d = _unique_dim(dim, data)
        if not data.size:
            return _maybe_tuple(*_unique_dim_empty(data, d, xp), return_inverse, return_counts)
        moved = xp.moveaxis(data, d, 0)
        rows = moved.reshape(moved.shape[0], -1)
        order = _unique_rows_order(rows, xp)
        values, inverse, counts = _group_sorted(rows[order], order, xp)
        values = xp.moveaxis(values.reshape((-1,) + moved.shape[1:]), 0, d)
    return _maybe_tuple(_new(values), _new(inverse), _new(counts), return_inverse, return_counts)


def _refuse_complex(data, kernel):
    if data.dtype.kind == "c":
        raise NotImplementedError(f"\"{kernel}\" not implemented for "
                                  f"'{_dtype.SCALAR_TYPE_NAMES[data.dtype.name]}'")


def _unique_dim(dim, data):
    if data.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return wrap_dim(dim, data.ndim)


def _unique_dim_empty(data, d, xp):
    """PyTorch's ``dim=`` result for an empty input: only the chosen dim may be the empty one."""
    zeros = sum(1 for n in data.shape if n == 0)
    if zeros > 1:
        raise RuntimeError("Number of zero sized dimensions is more than one, so unique cannot "
                           "be applied ")
    if data.shape[d] != 0:
        raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so unique "
                           "cannot be applied")
    empty = xp.zeros(0, np.int64)
    return _new(xp.empty(data.shape, data.dtype)), _new(empty), _new(empty.copy())


def _sort_key(flat):
    # ml_dtypes' bfloat16 argsort does not order its values; float32 holds them all exactly
    return flat.astype(np.float32) if flat.dtype == _dtype.NP_BFLOAT16 else flat


def _unique_flat_order(flat, xp, need_inverse):
    """The order in which PyTorch's CPU ``unique`` sees the elements: its unstable ``std::sort``
    (NaN last). A stable sort gives the same groups; it differs only in which of equal elements
    comes first, which shows in the result when both signed zeros occur (the one kept) or, with
    ``return_inverse``, when NaNs do (which NaN is which output); there the sort is replayed."""
    key = _sort_key(flat)
    order = xp.argsort(key, kind="stable") if xp is np else xp.argsort(key)
    n = flat.size
    if xp is not np or n <= 16 or flat.dtype.kind not in "fV":
        return order   # (up to 16 elements std::sort is an insertion sort: stable)
    nan = np.isnan(key)
    zero = key == 0
    signed_zeros = zero.any() and np.signbit(key[zero]).any() and not np.signbit(key[zero]).all()
    if not signed_zeros and not (need_inverse and np.count_nonzero(nan) > 1):
        return order
    # ranks of the sort's equivalence classes (NaNs are one class, last), compared as ints
    ordered, nan = key[order], nan[order]
    starts = np.empty(n, bool)
    starts[0] = False
    starts[1:] = (ordered[1:] != ordered[:-1]) & ~(nan[1:] & nan[:-1])
    rank = np.empty(n, np.int64)
    rank[order] = np.cumsum(starts)
    rank = rank.tolist()
    return np.array(_libstdcxx.sort(list(range(n)), lambda i, j: rank[i] < rank[j]), np.int64)


def _unique_rows_order(rows, xp):
    """The order of ``unique(dim=)``'s slices: PyTorch sorts them with ``std::sort`` under a
    lexicographic ``<`` that passes over elements neither less nor greater (NaN), which is no
    strict order when NaNs occur; its result is then replayed, as when equal slices differ in
    the sign of a zero (the one kept shows). Otherwise a stable lexicographic sort agrees."""
    key = _sort_key(rows)
    if xp is np and rows.dtype.kind in "fV":
        zero = key == 0
        signs = np.signbit(key[zero])
        if np.isnan(key).any() or (signs.any() and not signs.all()):
            items = key.astype(np.float64).tolist()
            order = _libstdcxx.sort(list(range(len(items))),
                                    lambda i, j: _lex_less(items[i], items[j]))
            return np.array(order, np.int64)
    if key.shape[1] == 0:
        return xp.arange(key.shape[0])
    return xp.lexsort(key.T[::-1])


def _lex_less(a, b):
    for x, y in zip(a, b):
        if x < y:
            return True
        if x > y:
            return False
    return False


def _group_sorted(ordered, order, xp):
    """Values, inverse and counts of ``unique`` from the sorted elements (or slices, as rows)
    and the order that sorted them; NaNs are unequal, so each stays a group of its own."""
    n = ordered.shape[0]
    starts = xp.ones(n, bool)
    if n > 1:
        diff = ordered[1:] != ordered[:-1]
        starts[1:] = diff.reshape(n - 1, -1).any(axis=1) if ordered.ndim > 1 else diff
    group = xp.cumsum(starts) - 1
    inverse = xp.empty(n, np.int64)
    inverse[order] = group
    first = xp.nonzero(starts)[0]
    counts = xp.diff(xp.append(first, n)).astype(np.int64)
    return ordered[first], inverse, counts


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse each run of equal consecutive elements (or slices along ``dim``) into one."""
    data = input._data
    _refuse_complex(data, "unique" if dim is None else "unique_dim")
    xp = get_array_module(data)
    if dim is None:
        rows = data.reshape(-1, 1)
        d = None
    else:
        d = _unique_dim(dim, data)
        if not data.size:
            return _maybe_tuple(*_unique_dim_empty(data, d, xp), return_inverse, return_counts)
        slice_size = data.size // data.shape[d]
        rows = xp.moveaxis(data, d, 0).reshape(data.shape[d], slice_size)
    n = rows.shape[0]
    starts = xp.ones(n, bool)
    if n > 1:
        starts[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    first = xp.nonzero(starts)[0]
    inverse = (xp.cumsum(starts) - 1).astype(np.int64)
    counts = xp.diff(xp.append(first, n)).astype(np.int64)
    if d is None:
        values = data.reshape(-1)[first]
        inverse = inverse.reshape(data.shape)
    else:
        values = xp.take(data, first, axis=d)
    return _maybe_tuple(_new(values), _new(inverse), _new(counts), return_inverse, return_counts)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None, out=None):
    """Return the indices where ``input`` would be inserted into ``sorted_sequence``
    (along its last dim) to keep it sorted.

    Args:
        sorted_sequence (Tensor): 1-D, or N-D with leading dims matching ``input``'s.
        input (Tensor or Number): the values to place.
        out_int32 (bool): return int32 instead of int64 indices. Default: ``False``.
        right (bool): for ties, the position after the equal elements. Default: ``False``.
        side (str, optional): ``'left'`` or ``'right'``, the same as ``right``.
        sorter (LongTensor, optional): the indices that sort an unsorted ``sorted_sequence``.
    """
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got "
                               f"{side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               "got side of left while right was True")
        right = side == "right"
    if isinstance(input, Tensor):
        sorted_sequence, input = promote(sorted_sequence, input)
        values = input._data
    else:   # a number: compared in the dtype PyTorch promotes the pair to
        sorted_sequence = promote_scalar_tensor(sorted_sequence, input)
        values = None
    seq = sorted_sequence._data
    xp = get_array_module(seq)
    if values is None:
        values = xp.asarray(input, dtype=seq.dtype)
    if sorter is not None:
        seq = xp.take_along_axis(seq, sorter._data, axis=-1)
    if seq.ndim > 1 and values.shape[:-1] != seq.shape[:-1]:
        raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or the "
                           f"first N-1 dimensions of boundaries tensor and input value tensor must "
                           f"match, but we got boundaries tensor {list(seq.shape)} and input value "
                           f"tensor {list(values.shape)}")
    result = _binary_search(xp, seq, values, right)
    return _with_out(_new(result.astype(np.int32 if out_int32 else np.int64, copy=False)), out)


def _sorted_without_nan(seq, values):
    if seq.dtype.kind in "fc" and (np.isnan(seq).any() or np.isnan(values).any()):
        return False
    return bool((seq[1:] >= seq[:-1]).all())


def _binary_search(xp, seq, values, right):
    """For each value, the index where it goes in its row of ``seq`` (1-D, or rows matching the
    values' leading dims), by PyTorch's own binary search run for all values at once: a probe
    that compares false (NaN) moves right, so NaN-last sequences and NaN values give PyTorch's
    indices (numpy's and CuPy's searchsorted order NaN differently), and an unsorted sequence
    gives PyTorch's answer too. ``bit_length(n)`` halving steps, each a few array passes."""
    n = seq.shape[-1]
    if n == 0 or values.size == 0:
        return xp.zeros(values.shape, np.int64)
    if xp is np and seq.ndim == 1 and _sorted_without_nan(seq, values):
        # there the first (last) position that keeps the order is unique: numpy's own search
        # finds the same index, faster
        return np.searchsorted(seq, values, side="right" if right else "left")
    rows = seq.reshape(-1, n)
    vals = values.reshape(rows.shape[0], -1)
    flat = rows.reshape(-1)
    base = xp.arange(rows.shape[0], dtype=np.int64)[:, None] * n
    start = xp.zeros(vals.shape, np.int64)
    end = xp.full(vals.shape, n, np.int64)
    for _ in range(n.bit_length()):
        mid = start + ((end - start) >> 1)
        active = start < end
        probe = flat[base + xp.minimum(mid, n - 1)]
        after = ~(probe > vals) if right else ~(probe >= vals)
        start = xp.where(active & after, mid + 1, start)
        end = xp.where(active & ~after, mid, end)
    return start.reshape(values.shape)


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """The bucket of each element of ``input`` given 1-D sorted ``boundaries``
    (``right=False``: ``boundaries[i-1] < x <= boundaries[i]``)."""
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got "
                           f"dim({boundaries.dim()})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


def _repeat(xp, values, reps):
    if xp is not np and not isinstance(reps, int):
        reps = reps.get().tolist()  # cupy.repeat takes counts as a host sequence
    return xp.repeat(values, reps)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element (or slice along ``dim``) of ``input`` ``repeats`` times, in
    place order: ``[a, b]`` -> ``[a, a, b, b]``.

    Args:
        input (Tensor): the input tensor; with no ``repeats``, a 1-D tensor of counts and the
            result is ``arange(len(counts))`` repeated by them.
        repeats (int or Tensor): the count for all, or one count per element/slice.
        dim (int, optional): the dim to repeat along; the flattened input when omitted.
    """
    if repeats is None:
        counts = input._data
        xp = get_array_module(counts)
        return _new(_repeat(xp, xp.arange(counts.shape[0], dtype=np.int64), counts))
    if dim is None:
        input = reshape(input, (-1,))
        d = 0
    else:
        d = wrap_dim(dim, input._data.ndim)
    xp = get_array_module(input._data)
    n = input._data.shape[d]
    if isinstance(repeats, Tensor):
        reps = repeats._data.reshape(-1)
        if reps.size not in (1, n):
            raise RuntimeError("repeats must have the same size as input along dim, but got "
                               f"repeats.size(0) = {reps.size} and input.size({d}) = {n}")
        if reps.size and int(reps.min()) < 0:
            raise RuntimeError("repeats can not be negative")
    else:
        if not isinstance(repeats, (int, np.integer)) or isinstance(repeats, bool):
            raise TypeError(f"repeat_interleave() received an invalid combination of arguments "
                            f"- got (Tensor, {type(repeats).__name__}): repeats must be an int "
                            f"or a Tensor")
        if repeats < 0:
            raise RuntimeError("repeats can not be negative")
        reps = repeats
    positions = _repeat(xp, xp.arange(n, dtype=np.int64), reps)
    return Index.apply(input, (slice(None),) * d + (positions,))


register_methods({
    "sort": _method(sort), "argsort": _method(argsort), "msort": msort, "topk": _method(topk),
    "kthvalue": _method(kthvalue), "unique": _method(unique),
    "unique_consecutive": _method(unique_consecutive),
    "repeat_interleave": _method(repeat_interleave),
})
