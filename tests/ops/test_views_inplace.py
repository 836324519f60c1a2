"""In-place ops through views: gradients match torch, version counters, PyTorch's errors."""
import numpy as np
import pytest

import disttorch
from .harness import requires_torch, torch

pytestmark = requires_torch


def _run_both(fn, *shapes):
    """Run ``fn(lib, *leaves)`` in both libraries; compare outputs and leaf gradients."""
    rng = np.random.default_rng(0)
    data = [rng.standard_normal(s) for s in shapes]
    results = []
    for lib in (torch, disttorch):
        leaves = [lib.tensor(d, requires_grad=True) for d in data]
        out = fn(lib, *leaves)
        out.sum().backward() if out.ndim == 0 else (out * lib.tensor(
            np.arange(out.numel(), dtype=np.float64).reshape(tuple(out.shape)))).sum().backward()
        results.append((out.detach().numpy().copy(),
                        [None if t.grad is None else t.grad.numpy().copy() for t in leaves]))
    (t_out, t_grads), (d_out, d_grads) = results
    np.testing.assert_allclose(d_out, t_out, rtol=1e-12)
    for tg, dg in zip(t_grads, d_grads):
        if tg is None:
            assert dg is None or not dg.any()
        else:
            np.testing.assert_allclose(dg, tg, rtol=1e-12, atol=1e-12)


def _select_mul(lib, a):
    x = a * 1
    x[0].mul_(2)
    return x


def _column_iadd(lib, a, y):
    x = a * 1
    x[:, 1] += y
    return x


def _setitem_in_view(lib, a, v):
    x = a * 1
    x.t()[1:, 0] = v
    return x


def _view_of_view(lib, a):
    x = a * 2
    row = x.view(2, 6)[1]
    row.narrow(0, 2, 3).add_(1.5)
    return x * x


def _getitem_then_base_inplace(lib, a):
    x = a * 1
    row = x[1]
    x.mul_(2)
    return row * 3


def _sibling_view_after_view_inplace(lib, a):
    x = a * 1
    col = x[:, 1]
    block = x[1:, :2]
    block.mul_(a[1:, 2:])
    return col * 2 + block.sum()


def _reshape_view_of_non_contiguous_base(lib, a):
    b = a.t() * 1
    v = b.t().reshape(-1)
    v.mul_(lib.arange(12.0, dtype=a.dtype))
    return b * b


def _expanded_and_window_views_of_modified_base(lib, a):
    x = a * 1
    e = x.expand(2, 3, 4)
    w = x.unfold(1, 2, 1)
    x.mul_(2)
    return e.sum() + (w * w).sum()


def _masked_fill_on_view(lib, a):
    x = a.clone()
    x[:, :2].masked_fill_(x[:, :2] > 0, 0.0)
    return x


def _index_add_on_permuted(lib, a, s):
    x = a * 1
    x.permute(1, 0).index_add_(0, lib.tensor([0, 2, 0]), s)
    return x


def _copy_into_view(lib, a, s):
    x = a * 1
    x[1:].copy_(s)
    return x


def _scatter_on_row(lib, a):
    x = a * 1
    x[0].scatter_(0, lib.tensor([3, 1]), 7.0)
    return x


def _chain_of_inplace(lib, a, y):
    x = a * 1.5
    v = x[:, 1:3]
    v.mul_(y[:, :2])
    v[0].sub_(1)
    x.unsqueeze(0)[0, 2].div_(2)
    return x * a


@pytest.mark.parametrize("fn, shapes", [
    (_select_mul, [(3, 4)]),
    (_column_iadd, [(3, 4), (3,)]),
    (_setitem_in_view, [(3, 4), (3,)]),
    (_view_of_view, [(3, 4)]),
    (_getitem_then_base_inplace, [(3, 4)]),
    (_sibling_view_after_view_inplace, [(3, 4)]),
    (_reshape_view_of_non_contiguous_base, [(3, 4)]),
    (_expanded_and_window_views_of_modified_base, [(3, 4)]),
    (_masked_fill_on_view, [(3, 4)]),
    (_index_add_on_permuted, [(3, 4), (3, 3)]),
    (_copy_into_view, [(3, 4), (4,)]),
    (_scatter_on_row, [(3, 4)]),
    (_chain_of_inplace, [(3, 4), (3, 4)]),
], ids=lambda v: getattr(v, "__name__", ""))
def test_inplace_through_views_matches_torch(fn, shapes):
    _run_both(fn, *shapes)


def test_brief_examples_exact():
    a = disttorch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x = a * 1
    x[0].mul_(2)
    x.sum().backward()
    assert a.grad.tolist() == [[2.0, 2.0], [1.0, 1.0]]
    y = disttorch.tensor([5.0, 6.0], requires_grad=True)
    b = disttorch.zeros(2, 2, requires_grad=True)
    z = b * 1
    z[:, 1] += y
    (z * disttorch.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert y.grad.tolist() == [2.0, 4.0]
    assert b.grad.tolist() == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize("make_view", [
    lambda a: a[0], lambda a: a.view(6), lambda a: a.t(), lambda a: a.unsqueeze(0),
    lambda a: a.narrow(1, 0, 2), lambda a: a[:, 1:],
    lambda a: a.select(0, 1), lambda a: a.permute(1, 0), lambda a: a.squeeze(),
])
def test_inplace_on_view_of_leaf_raises(make_view):
    message = "a view of a leaf Variable that requires grad is being used in an in-place operation."
    for lib in (torch, disttorch):
        a = lib.zeros(2, 3, requires_grad=True)
        with pytest.raises(RuntimeError, match=message):
            make_view(a).add_(1)


@pytest.mark.parametrize("modify, message", [
    (lambda x: x.split(1, 1)[1].mul_(2), "Output 1 of Split is a view and is being modified "
                                         "inplace"),
    (lambda x: x.chunk(2)[0][0].add_(1), "is a view and is being modified inplace. This view "
                                         "is the output of a function that returns multiple "
                                         "views"),
    (lambda x: x.unbind(0)[2].add_(1), "Output 2 of Unbind is a view and is being modified "
                                       "inplace"),
    (lambda x: x.split(2)[1].t().__setitem__(0, 1.0), "returns multiple views"),
])
def test_inplace_on_multi_output_view_raises(modify, message):
    for lib in (torch, disttorch):
        x = lib.zeros(3, 4, requires_grad=True) * 1
        with pytest.raises(RuntimeError, match=message):
            modify(x)
        with lib.no_grad():
            modify(x)
        modify(lib.zeros(3, 4))


def test_setitem_on_leaf_raises():
    for lib in (torch, disttorch):
        a = lib.zeros(2, 3, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used "
                                               "in an in-place operation."):
            a[0] = 1.0


def test_inplace_on_view_under_no_grad_is_allowed_for_leaf():
    a = disttorch.zeros(2, 3, requires_grad=True)
    with disttorch.no_grad():
        a[0].fill_(1)
        a[:, 2] = 5.0
    assert a.tolist() == [[1.0, 1.0, 5.0], [0.0, 0.0, 5.0]]
    assert a.is_leaf and a.grad_fn is None


def test_modified_saved_view_is_detected():
    for lib in (torch, disttorch):
        a = lib.ones(3, requires_grad=True)
        x = a * 1
        row = x[1:]
        y = row * row
        x.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_view_versions_shared():
    x = disttorch.zeros(4)
    v = x[1:3]
    w = v.view(2, 1)
    v.add_(1)
    assert x._version == v._version == w._version == 1
    x[0] = 3.0
    assert w._version == 2
    assert x.tolist() == [3.0, 1.0, 1.0, 0.0]


def test_views_of_views_write_through():
    x = disttorch.arange(12.0)
    x.view(3, 4).t()[2].mul_(0)
    assert x.view(3, 4)[:, 2].tolist() == [0.0, 0.0, 0.0]
    x.unfold(0, 4, 4)[1, 1:3] = -1.0
    assert x[5:7].tolist() == [-1.0, -1.0]


@pytest.mark.parametrize("fn", [_select_mul, _column_iadd, _setitem_in_view, _chain_of_inplace,
                                _getitem_then_base_inplace, _copy_into_view],
                         ids=lambda f: f.__name__)
def test_double_backward_through_inplace_views(fn):
    rng = np.random.default_rng(0)
    data = [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]
    results = []
    for lib in (torch, disttorch):
        a, b = (lib.tensor(d, requires_grad=True) for d in data)
        extra = {_column_iadd: (b[:, 0] * b[:, 1],), _setitem_in_view: (b[:, 0] * b[:, 2],),
                 _chain_of_inplace: (b * b,), _copy_into_view: (b[0] * b[1],)}.get(fn, ())
        out = fn(lib, a * a, *extra)
        g = lib.autograd.grad((out * out).sum(), (a, b), create_graph=True, allow_unused=True)
        total = sum((x * x).sum() for x in g if x is not None)
        g2 = lib.autograd.grad(total, (a, b), allow_unused=True)
        results.append([None if x is None else x.detach().numpy() for x in g + g2])
    for t_val, d_val in zip(*results):
        if t_val is None:
            assert d_val is None or not d_val.any()
        else:
            np.testing.assert_allclose(d_val, t_val, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("index", [
    0, -1, None, slice(0, 2), slice(None, None, 2), slice(-3, None), slice(None, 0),
    (Ellipsis, 0), (slice(None), None), (0, [1]), (slice(None), 0),
    slice(None), slice(0, 3), slice(0, 100), (Ellipsis,), (), [0], ([0, 1], slice(None)),
    "mask"], ids=str)
def test_assignment_into_a_leaf_names_the_view_as_pytorch(index):
    """``x[i] = v`` on a leaf that requires grad: PyTorch writes through the view that the
    basic part of ``i`` selects ("a view of a leaf Variable"), or into the leaf itself where
    that part selects all of it (full slices as written, an advanced index alone)."""
    messages = []
    for lib in (torch, disttorch):
        x = lib.ones(3, 2, requires_grad=True)
        i = lib.tensor([True, False, True]) if index == "mask" else index
        with pytest.raises(RuntimeError) as caught:
            x[i] = 5
        messages.append(str(caught.value))
    assert messages[1] == messages[0]
