"""Indexing, gather/scatter, index_*, masked ops, take/put, nonzero against torch; errors."""
import numpy as np
import pytest

import disttorch
from .harness import OpInfo, S, op_tests, randn, requires_torch, torch


def _i(*values):
    return np.array(values, dtype=np.int64)


def _op(name, fn, samples, **kw):
    return OpInfo(name, fn, lambda rng: samples(rng), **kw)


def _mask(rng, *shape):
    return rng.standard_normal(shape) > 0


GETITEM = [
    _op("getitem_int", lambda lib, x: x[1], lambda r: [S(randn(r, 3, 4)), S(randn(r, 3))]),
    _op("getitem_neg_int", lambda lib, x: x[-1, -2], lambda r: [S(randn(r, 3, 4))]),
    _op("getitem_slices", lambda lib, x: x[1:, ::2], lambda r: [S(randn(r, 3, 5))]),
    _op("getitem_none_ellipsis", lambda lib, x: x[None, ..., 1:3, None],
        lambda r: [S(randn(r, 2, 3, 4))]),
    _op("getitem_list", lambda lib, x: x[[0, 2, 2, 0]], lambda r: [S(randn(r, 3, 4))]),
    _op("getitem_tensor_dup", lambda lib, x, i: x[i], lambda r: [
        S(randn(r, 5, 2), _i(0, 4, 4, -1, 0)), S(randn(r, 6), _i(1, 1, 1, 5)),
        S(randn(r, 4, 3), np.array([[0, 1], [1, 1]]))]),
    _op("getitem_int32_index", lambda lib, x, i: x[:, i], lambda r: [
        S(randn(r, 3, 4), np.array([3, 0, 3], np.int32))]),
    _op("getitem_mixed", lambda lib, x, i: x[1:, i, ::2], lambda r: [
        S(randn(r, 3, 4, 5), _i(3, 0, 3))]),
    _op("getitem_two_arrays", lambda lib, x, i, j: x[i, :, j], lambda r: [
        S(randn(r, 3, 2, 4), _i(0, 2, 2), _i(1, 3, 1))]),
    _op("getitem_broadcast_arrays", lambda lib, x, i, j: x[i, j], lambda r: [
        S(randn(r, 3, 4), np.array([[0], [2]]), _i(1, 3, 1))]),
    _op("getitem_mask", lambda lib, x, m: x[m], lambda r: [S(randn(r, 3, 4), _mask(r, 3, 4)),
                                                          S(randn(r, 3, 4), _mask(r, 3))]),
    _op("getitem_mask_then_slice", lambda lib, x, m: x[m, 1:], lambda r: [
        S(randn(r, 4, 3), _mask(r, 4))]),
    _op("getitem_list_as_tuple", lambda lib, x: x[[0, slice(1, 3)]], lambda r: [
        S(randn(r, 3, 4))]),
    _op("getitem_empty_list", lambda lib, x: x[[]], lambda r: [S(randn(r, 3, 4))]),
    _op("getitem_scalar_tensor", lambda lib, x, i: x[i], lambda r: [S(randn(r, 3, 4),
                                                                      np.array(2))]),
]

SETITEM = [
    _op("setitem_tensor", lambda lib, x, v: _set(x, (slice(None), 1), v),
        lambda r: [S(randn(r, 3, 4), randn(r, 3)), S(randn(r, 3, 4), randn(r, 1))]),
    _op("setitem_scalar", lambda lib, x: _set(x, (0, slice(1, 3)), 2.5),
        lambda r: [S(randn(r, 3, 4))]),
    _op("setitem_advanced", lambda lib, x, v, i: _set(x, i, v),
        lambda r: [S(randn(r, 5, 2), randn(r, 3, 2), _i(4, 0, 2)),
                   S(randn(r, 5, 2), randn(r, 2), _i(4, -5))]),
    _op("setitem_mask", lambda lib, x, v, m: _set(x, m, v), lambda r: [
        S(randn(r, 3, 4), randn(r), _mask(r, 3, 4))]),
    _op("setitem_leading_ones", lambda lib, x, v: _set(x, 1, v),
        lambda r: [S(randn(r, 3, 4), randn(r, 1, 4))]),
    _op("setitem_ellipsis", lambda lib, x, v: _set(x, (Ellipsis, 0), v),
        lambda r: [S(randn(r, 2, 3, 4), randn(r, 3))]),
]


def _set(x, index, value):
    y = x * 1
    y[index] = value
    return y


INDEX_OPS = [
    _op("gather", lambda lib, x, i: lib.gather(x, 1, i), lambda r: [
        S(randn(r, 3, 4), _i(0, 3, 3, 1, 0, 0).reshape(3, 2)),
        S(randn(r, 3, 4), np.array([[0, 1, 2, 0], [2, 2, 2, 2]]))]),
    _op("gather_scatter_0d", lambda lib, x, i: lib.gather(x, 0, i) + lib.scatter_add(
        x, 0, i, x * 2) + x.scatter(0, i, 7.0), lambda r: [S(randn(r), np.array(0))]),
    _op("gather_neg_dim", lambda lib, x, i: x.gather(-1, i), lambda r: [
        S(randn(r, 2, 3, 4), np.zeros((2, 2, 1), np.int64))]),
    _op("scatter_src", lambda lib, x, s, i: lib.scatter(x, 0, i, s), lambda r: [
        S(randn(r, 3, 4), randn(r, 2, 4), np.array([[0, 1, 2, 0], [2, 0, 1, 1]]))]),
    # torch's own backward fails when src is larger than index
    _op("scatter_src_larger", lambda lib, x, s, i: lib.scatter(x, 0, i, s), lambda r: [
        S(randn(r, 3, 4), randn(r, 3, 5), np.array([[1, 2], [0, 1]]))], grad=False),
    _op("scatter_value", lambda lib, x, i: x.scatter(1, i, -1.5), lambda r: [
        S(randn(r, 3, 4), np.array([[0, 3], [1, 2], [2, 2]]))]),
    # torch has no derivative for scatter(reduce=...)
    _op("scatter_reduce_arg", lambda lib, x, s, i: x.scatter(0, i, s, reduce="multiply"),
        lambda r: [S(randn(r, 3, 4), randn(r, 2, 4), np.array([[0, 1, 2, 0], [0, 1, 1, 0]]))],
        grad=False),
    _op("scatter_add", lambda lib, x, s, i: lib.scatter_add(x, 1, i, s), lambda r: [
        S(randn(r, 3, 4), randn(r, 3, 3), np.array([[0, 0, 0], [1, 3, 1], [2, 2, 3]]))]),
    _op("scatter_add_", lambda lib, x, s, i: (x * 1).scatter_add_(0, i, s), lambda r: [
        S(randn(r, 3, 4), randn(r, 2, 4), np.array([[0, 1, 2, 0], [0, 1, 1, 0]]))]),
    _op("scatter_", lambda lib, x, i: (x * 1).scatter_(1, i, 3.0), lambda r: [
        S(randn(r, 3, 4), np.array([[0], [1], [3]]))]),
    _op("index_select", lambda lib, x, i: lib.index_select(x, -1, i), lambda r: [
        S(randn(r, 3, 4), _i(3, 0, 3, 3)), S(randn(r, 5), _i(2))]),
    _op("index_add", lambda lib, x, s, i: x.index_add(0, i, s, alpha=2.0), lambda r: [
        S(randn(r, 4, 3), randn(r, 5, 3), _i(0, 3, 3, 1, 0))]),
    _op("index_add_", lambda lib, x, s, i: (x * 1).index_add_(1, i, s), lambda r: [
        S(randn(r, 3, 4), randn(r, 3, 2), _i(2, 2))]),
    _op("index_copy", lambda lib, x, s, i: lib.index_copy(x, 1, i, s), lambda r: [
        S(randn(r, 3, 4), randn(r, 3, 2), _i(3, 0))]),
    _op("index_copy_", lambda lib, x, s, i: (x * 1).index_copy_(0, i, s), lambda r: [
        S(randn(r, 3, 4), randn(r, 2, 4), _i(2, 0))]),
    _op("index_fill", lambda lib, x, i: x.index_fill(1, i, -2.0), lambda r: [
        S(randn(r, 3, 4), _i(1, 3))]),
    _op("index_fill_tensor", lambda lib, x, v, i: (x * 1).index_fill_(0, i, v), lambda r: [
        S(randn(r, 3, 4), randn(r), _i(2))]),
    _op("index_put", lambda lib, x, v, i, j: lib.index_put(x, (i, j), v), lambda r: [
        S(randn(r, 3, 4), randn(r, 3), _i(0, 2, 1), _i(3, 3, 0))]),
    _op("index_put_accumulate", lambda lib, x, v, i: x.index_put((i,), v, accumulate=True),
        lambda r: [S(randn(r, 3, 4), randn(r, 4, 4), _i(0, 2, 0, 0)),
                   S(randn(r, 3, 4), randn(r, 4), _i(1, 1))]),
    _op("index_put_", lambda lib, x, v, m: (x * 1).index_put_((m,), v), lambda r: [
        S(randn(r, 3, 4), randn(r, 1), _mask(r, 3, 4))]),
    _op("index_put_function", lambda lib, x, v, i: lib.index_put_(x * 1, (i,), v), lambda r: [
        S(randn(r, 3, 4), randn(r, 4), _i(2))]),
    _op("select_scatter", lambda lib, x, s: lib.select_scatter(x, s, 1, -1), lambda r: [
        S(randn(r, 3, 4), randn(r, 3))]),
    _op("slice_scatter", lambda lib, x, s: x.slice_scatter(s, 0, 1, 4, 2), lambda r: [
        S(randn(r, 5, 2), randn(r, 2, 2))]),
    _op("slice_scatter_default", lambda lib, x, s: lib.slice_scatter(x, s, dim=1, start=2),
        lambda r: [S(randn(r, 3, 4), randn(r, 3, 2))]),
    _op("diagonal_scatter", lambda lib, x, s: lib.diagonal_scatter(x, s, 1, 1, 2), lambda r: [
        S(randn(r, 2, 3, 4), randn(r, 2, 3))]),
    _op("diagonal_scatter_neg", lambda lib, x, s: x.diagonal_scatter(s, -1), lambda r: [
        S(randn(r, 3, 4), randn(r, 2))]),
    _op("masked_fill", lambda lib, x, m: x.masked_fill(m, 0.5), lambda r: [
        S(randn(r, 3, 4), _mask(r, 3, 4)), S(randn(r, 3, 4), _mask(r, 4))]),
    _op("masked_fill_tensor", lambda lib, x, v, m: lib.masked_fill(x, m, v), lambda r: [
        S(randn(r, 3, 4), randn(r), _mask(r, 3, 1))]),
    _op("masked_fill_", lambda lib, x, m: (x * 1).masked_fill_(m, -1.0), lambda r: [
        S(randn(r, 3, 4), _mask(r, 4))]),
    _op("masked_select", lambda lib, x, m: lib.masked_select(x, m), lambda r: [
        S(randn(r, 3, 4), _mask(r, 3, 4)), S(randn(r, 4), _mask(r, 3, 4))]),
    _op("masked_scatter", lambda lib, x, s, m: x.masked_scatter(m, s), lambda r: [
        S(randn(r, 3, 4), randn(r, 4, 4), _mask(r, 3, 4)), S(randn(r, 3, 4), randn(r, 20),
                                                             _mask(r, 4))]),
    _op("masked_scatter_", lambda lib, x, s, m: (x * 1).masked_scatter_(m, s), lambda r: [
        S(randn(r, 3, 4), randn(r, 12), _mask(r, 3, 4))]),
    _op("take", lambda lib, x, i: lib.take(x, i), lambda r: [
        S(randn(r, 3, 4), np.array([[0, 11], [-1, 5]])), S(randn(r, 3, 4).T, _i(3, 3, 1))]),
    _op("take_along_dim", lambda lib, x, i: lib.take_along_dim(x, i, 1), lambda r: [
        S(randn(r, 3, 4), np.array([[0, 3, 3], [1, 1, 0], [2, 0, 1]])),
        S(randn(r, 3, 4), np.array([[0], [3], [1]]))]),
    _op("take_along_dim_broadcast", lambda lib, x, i: x.take_along_dim(i, 0), lambda r: [
        S(randn(r, 3, 4), np.array([[0], [2]]))]),
    _op("take_along_dim_flat", lambda lib, x, i: lib.take_along_dim(x, i), lambda r: [
        S(randn(r, 3, 4), _i(11, 0, 0))]),
    _op("put", lambda lib, x, s, i: x.put(i, s), lambda r: [S(randn(r, 3, 4), randn(r, 3),
                                                            _i(0, 11, -2))]),
    _op("put_accumulate", lambda lib, x, s, i: (x * 1).put_(i, s, accumulate=True), lambda r: [
        S(randn(r, 3, 4), randn(r, 2, 2), np.array([[0, 0], [5, 0]]))]),
    _op("copy_", lambda lib, x, s: (x * 1).copy_(s), lambda r: [
        S(randn(r, 3, 4), randn(r, 4)), S(randn(r, 3, 4), randn(r, 3, 4))]),
    _op("copy_int_src", lambda lib, x, s: (x * 1).copy_(s), lambda r: [
        S(randn(r, 3), np.arange(3))]),
    _op("nonzero", lambda lib, x: lib.nonzero(x > 0), lambda r: [S(randn(r, 3, 4)), S(randn(r, 5))],
        grad=False),
    _op("nonzero_tuple", lambda lib, x: (x > 0).nonzero(as_tuple=True),
        lambda r: [S(randn(r, 3, 4))], grad=False),
    _op("argwhere", lambda lib, x: lib.argwhere(x), lambda r: [S(_mask(r, 3, 4).astype(float))],
        grad=False),
    _op("where_single", lambda lib, x: lib.where(x > 0), lambda r: [S(randn(r, 2, 3))],
        grad=False),
]

OPS = GETITEM + SETITEM + INDEX_OPS + [
    _op("scatter_reduce_" + reduce + ("_self" if include_self else ""),
        lambda lib, x, s, i, _r=reduce, _s=include_self: lib.scatter_reduce(
            x, 0, i, s, _r, include_self=_s),
        lambda r: [S(randn(r, 3, 4), randn(r, 3, 4),
                     np.array([[0, 1, 2, 0], [0, 1, 1, 0], [2, 1, 1, 0]]))])
    for reduce in ("sum", "prod", "mean", "amax", "amin") for include_self in (True, False)
]

OPS += [
    _op("index_reduce_" + reduce + ("_self" if include_self else ""),
        lambda lib, x, s, i, _r=reduce, _s=include_self: x.index_reduce(
            1, i, s, _r, include_self=_s),
        lambda r: [S(randn(r, 3, 4), randn(r, 3, 5), _i(0, 3, 3, 1, 0))])
    for reduce in ("prod", "mean", "amax", "amin") for include_self in (True, False)
]

test_matches_torch, test_finite_differences = op_tests(OPS)


@requires_torch
def test_scatter_reduce_prod_with_zeros():
    data = np.array([[1.0, 0.0, 2.0], [3.0, 4.0, 0.0]])
    src = np.array([[0.0, 2.0, 5.0], [3.0, 0.0, 0.5]])
    index = np.array([[0, 0, 1], [0, 1, 1]])
    grads = []
    for lib in (torch, disttorch):
        x = lib.tensor(data, requires_grad=True)
        s = lib.tensor(src, requires_grad=True)
        lib.scatter_reduce(x, 1, lib.tensor(index), s, "prod").sum().backward()
        grads.append((x.grad.numpy(), s.grad.numpy()))
    np.testing.assert_allclose(grads[1][0], grads[0][0])
    np.testing.assert_allclose(grads[1][1], grads[0][1])


def test_getitem_basic_is_view_and_advanced_is_copy():
    x = disttorch.arange(12.0).reshape(3, 4)
    assert np.shares_memory(x[1:, 2].numpy(), x.numpy())
    assert np.shares_memory(x[1, 2].numpy(), x.numpy())
    assert x[1, 2].shape == () and x[1, 2]._base is not None
    assert not np.shares_memory(x[[1, 2]].numpy(), x.numpy())
    assert not np.shares_memory(x[x > 3].numpy(), x.numpy())


def test_setitem_versions_and_no_grad():
    x = disttorch.zeros(3, 4)
    x[1] = 2.0
    x[:, disttorch.tensor([0, 3])] = disttorch.ones(3, 2)
    assert x._version == 2
    assert x.sum().item() == 4 * 1 + 2 * 2 + 2


def test_setitem_value_requires_grad_into_buffer():
    for lib in (torch, disttorch):
        buf = lib.zeros(3)
        w = lib.tensor([1.5, -2.0], requires_grad=True)
        buf[1:] = w * 2
        (buf * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        assert buf.requires_grad
        np.testing.assert_allclose(w.grad.numpy(), [4.0, 6.0])


@pytest.mark.parametrize("call, exc, message", [
    (lambda lib: lib.zeros(3)[5], IndexError,
     "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda lib: lib.zeros(2, 3)[:, -4], IndexError,
     "index -4 is out of bounds for dimension 1 with size 3"),
    (lambda lib: lib.zeros(3)[lib.tensor([0, 3])], IndexError,
     "index 3 is out of bounds for dimension 0 with size 3"),
    (lambda lib: lib.zeros(3)[::-1], ValueError, "step must be greater than zero"),
    (lambda lib: lib.zeros(3)[0, 0], IndexError, "too many indices for tensor of dimension 1"),
    (lambda lib: lib.zeros(3)[lib.tensor([0.5])], IndexError,
     "tensors used as indices must be long, int, byte or bool tensors"),
    (lambda lib: lib.zeros(3).index_select(0, lib.tensor([3])), IndexError,
     "index out of range in self"),
    (lambda lib: lib.zeros(3, 4).gather(1, lib.tensor([[4]])), RuntimeError,
     "index 4 is out of bounds for dimension 1 with size 4"),
    (lambda lib: lib.zeros(3, 4).gather(1, lib.tensor([[1.0]])), RuntimeError,
     "gather\\(\\): Expected dtype int32/int64 for index"),
    (lambda lib: lib.zeros(2, 3).take(lib.tensor([6])), IndexError,
     "out of range: tried to access index 6 on a tensor of 6 elements"),
    (lambda lib: lib.zeros(3).masked_fill(lib.tensor([1, 0, 1]), 1.0), RuntimeError,
     "masked_fill_ only supports boolean masks, but got mask with dtype long int"),
    (lambda lib: lib.zeros(3).masked_fill_(lib.zeros(2, 3) > 0, 1.0), RuntimeError,
     "output with shape \\[3\\] doesn't match the broadcast shape \\[2, 3\\]"),
    (lambda lib: lib.zeros(3).masked_fill(lib.zeros(2) > 0, 1.0), RuntimeError,
     "The size of tensor a \\(2\\) must match the size of tensor b \\(3\\) at non-singleton "
     "dimension 0"),
    (lambda lib: lib.zeros(3).masked_fill(lib.zeros(3) > 0, lib.zeros(2)), RuntimeError,
     "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with 1 dimension"),
    (lambda lib: lib.zeros(3).__setitem__(lib.tensor([0, 1]), lib.zeros(2, dtype=lib.float64)),
     RuntimeError, "Index put requires the source and destination dtypes match, got Float for "
                   "the destination and Double for the source."),
    (lambda lib: lib.zeros(3).masked_scatter(lib.ones(3) > 0, lib.zeros(3, dtype=lib.float64)),
     RuntimeError, "masked_scatter: expected self and source to have same dtypes"),
    (lambda lib: lib.zeros(3).index_add(0, lib.tensor([0]), lib.zeros(1, dtype=lib.float64)),
     RuntimeError, "self \\(Float\\) and source \\(Double\\) must have the same scalar type"),
])
@requires_torch
def test_errors_match_torch(call, exc, message):
    with pytest.raises(exc, match=message):
        call(torch)
    with pytest.raises(exc, match=message):
        call(disttorch)


_SETITEM_MISMATCHES = [
    (0, (4,)), (0, (2,)), (0, (1, 3)), (0, (2, 3)), (0, (1, 1, 4)), (0, (2, 1, 4)), (0, (3, 1)),
    (slice(None), (3, 3)), (slice(None), (2, 2)), (slice(None), (2, 1, 3)), (Ellipsis, (4,)),
    ((0, 0), (2,)), ((0, 0), (1, 1)), ((slice(None), 0), (3,)), ((1, slice(0, 2)), (3,)),
    (slice(0, 0), (2,)), ([0, 1], (4,)), ([0, 1], (1, 1, 4)), ([0], (2, 3)), ([0, 1], (2, 1)),
    ("mask", (4,)), ("mask", (2, 3)), ("mask", (1, 1, 4)), ("mask2d", (5,)),
    ("index", (2, 4)),
]


def _setitem(lib, index, value_shape, requires_grad=False, dtype=None):
    t = lib.ones(2, 3)
    if requires_grad:
        t = t.clone().requires_grad_() * 1
    if index == "mask":
        index = lib.tensor([True, False])
    elif index == "mask2d":
        index = lib.ones(2, 3).bool()
    elif index == "index":
        index = lib.tensor([0, 1])
    t[index] = lib.ones(value_shape, dtype=dtype or lib.float32)
    return t


@requires_torch
@pytest.mark.parametrize("index, value_shape", _SETITEM_MISMATCHES)
@pytest.mark.parametrize("requires_grad", [False, True])
def test_setitem_shape_mismatch_raises_torchs_error(index, value_shape, requires_grad):
    # PyTorch's expand / index_put errors, not numpy's "could not broadcast" ValueErrors
    try:
        _setitem(torch, index, value_shape)
    except RuntimeError as exc:
        with pytest.raises(RuntimeError) as actual:
            _setitem(disttorch, index, value_shape, requires_grad)
        assert str(actual.value) == str(exc)
    else:
        expected = _setitem(torch, index, value_shape)
        actual = _setitem(disttorch, index, value_shape, requires_grad)
        np.testing.assert_array_equal(actual.detach().numpy(), expected.numpy())


def test_setitem_expand_error_names_the_value_type():
    with pytest.raises(RuntimeError, match=r"^The expanded size of the tensor \(3\) must match "
                                           r"the existing size \(4\) at non-singleton dimension "
                                           r"0\.  Target sizes: \[3\]\.  Tensor sizes: \[4\]$"):
        disttorch.ones(2, 3)[0] = disttorch.ones(4)
    with pytest.raises(RuntimeError, match=r"^expand\(torch\.LongTensor\{\[2, 3\]\}, "
                                           r"size=\[3\]\)"):
        disttorch.ones(2, 3)[0] = disttorch.ones(2, 3, dtype=disttorch.int64)
    with pytest.raises(TypeError, match="can't assign a numpy.ndarray to a torch.FloatTensor"):
        disttorch.ones(2, 3)[0] = np.ones(3)


@requires_torch
@pytest.mark.parametrize("self_shape, src_shape", [((2,), (3,)), ((2,), (2, 1)), ((2,), (2, 2)),
                                                   ((2, 3), (4, 1)), ((2, 1), (3,))])
def test_copy_shape_mismatch_raises_torchs_error(self_shape, src_shape):
    with pytest.raises(RuntimeError) as expected:
        torch.ones(self_shape).copy_(torch.ones(src_shape))
    with pytest.raises(RuntimeError) as actual:
        disttorch.ones(self_shape).copy_(disttorch.ones(src_shape))
    assert str(actual.value) == str(expected.value)


def test_nonzero_outputs_do_not_require_grad():
    x = disttorch.randn(3, 4, requires_grad=True)
    assert not disttorch.nonzero(x).requires_grad
    assert disttorch.nonzero(x).dtype == disttorch.int64


def test_copy_converts_dtype_and_keeps_gradient_to_src():
    x = disttorch.zeros(2, 3, dtype=disttorch.float64)
    src = disttorch.tensor([1.0, 2.0, 3.0], dtype=disttorch.float32, requires_grad=True)
    x.copy_(src)
    assert x.dtype == disttorch.float64 and x.requires_grad
    x.sum().backward()
    assert src.grad.dtype == disttorch.float32
    np.testing.assert_allclose(src.grad.numpy(), [2.0, 2.0, 2.0])


@requires_torch
@pytest.mark.parametrize("fn", [
    lambda lib, x, i: x[i] * x[i],
    lambda lib, x, i: lib.gather(x * x, 0, i.unsqueeze(1).expand(-1, 3)),
    lambda lib, x, i: lib.index_add(x, 0, i, x[i] * x[i]),
    lambda lib, x, i: (x * x).index_put((i,), x[i] * 2, accumulate=True),
    lambda lib, x, i: lib.masked_select(x * x, x > 0),
    lambda lib, x, i: lib.scatter_add(x * x, 0, i[:2].reshape(2, 1).expand(2, 3), x[:2] * x[1:3]),
    lambda lib, x, i: lib.scatter(x * x, 1, lib.tensor([[2], [0], [1], [1]]), x[:, :1] * 3),
    lambda lib, x, i: lib.scatter_reduce(x * x, 0, i[:3].reshape(3, 1).expand(3, 3), x[:3] * x[:3],
                                         "mean"),
    lambda lib, x, i: lib.scatter_reduce(x * x, 0, i[:3].reshape(3, 1).expand(3, 3), x[:3] * 2,
                                         "prod"),
    lambda lib, x, i: lib.scatter_reduce(x * x, 1, i.reshape(4, 1) % 3, x[:, :1] * 2, "amax",
                                         include_self=False),
    lambda lib, x, i: (x * 1).masked_fill(x > 0, 2.0) * x,
    lambda lib, x, i: lib.take(x * x, i) * x[0, 0],
    lambda lib, x, i: lib.sort(x * x, 0).values * x,
    lambda lib, x, i: _set(x * x, (i[:2], slice(1, None)), x[2:, :2] * x[2:, 1:]),
])
def test_double_backward(fn):
    data = np.random.default_rng(0).standard_normal((4, 3))
    results = []
    for lib in (torch, disttorch):
        x = lib.tensor(data, requires_grad=True)
        y = fn(lib, x, lib.tensor([0, 3, 3, 1]))
        g, = lib.autograd.grad(y.sum(), x, create_graph=True)
        g2, = lib.autograd.grad((g * g).sum(), x)
        results.append((g.detach().numpy(), g2.numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-10)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-10)


@requires_torch
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool", "float16"])
@pytest.mark.parametrize("expr", [
    "x[x > 0] if x.dtype != lib.bool else x[x]", "x[[0, 2]]", "x[1:, ::2]",
    "lib.gather(x, 1, lib.tensor([[0], [1], [3]]))", "x.masked_fill(x == 1, 1)",
    "x.index_select(0, lib.tensor([2, 2]))", "x.scatter(1, lib.tensor([[0], [1], [3]]), 0)",
    "x.nonzero()", "lib.take(x, lib.tensor([0, 5]))", "x.index_fill(1, lib.tensor([0]), 1)",
    "lib.unique(x, return_counts=True)", "x.unique_consecutive()",
    "lib.sort(x.long() if x.dtype == lib.bool else x, dim=1, stable=True)",
])
def test_non_float_dtypes(dtype, expr):
    data = np.random.default_rng(0).integers(0, 3, (3, 4)).astype(dtype)
    expected = eval(expr, {"lib": torch, "x": torch.tensor(data)})
    actual = eval(expr, {"lib": disttorch, "x": disttorch.tensor(data)})
    for e, a in zip(*(r if isinstance(r, (tuple, list)) else [r] for r in (expected, actual))):
        assert str(a.dtype).split(".")[-1] == str(e.dtype).split(".")[-1]
        np.testing.assert_array_equal(a.numpy(), e.numpy())
