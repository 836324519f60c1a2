"""Shape ops (views and copies) against torch, finite differences, double backward and errors."""
import numpy as np
import pytest

import disttorch
from .harness import OpInfo, S, op_tests, randn, requires_torch, torch


def _one(shape):
    return lambda rng: [S(randn(rng, *shape))]


def _op(name, fn, shapes=((3, 4),), **kw):
    return OpInfo(name, fn, lambda rng: [S(randn(rng, *s)) for s in shapes], **kw)


OPS = [
    _op("reshape", lambda lib, x: x.reshape(2, -1, 3), [(4, 6), (2, 3, 4)]),
    _op("reshape_tuple", lambda lib, x: lib.reshape(x, (-1,)), [(3, 4), ()]),
    _op("reshape_noncontig", lambda lib, x: x.t().reshape(12) * 1, [(3, 4)]),
    _op("view", lambda lib, x: x.view(2, 3, 4), [(6, 4)]),
    _op("view_as", lambda lib, x: x.view_as(x.reshape(4, 3).t()), [(3, 4)]),
    _op("reshape_as", lambda lib, x: x.t().reshape_as(x.reshape(2, 6)), [(3, 4)]),
    _op("flatten", lambda lib, x: lib.flatten(x, 1), [(2, 3, 4)]),
    _op("flatten_range", lambda lib, x: x.flatten(-3, -2), [(2, 3, 4, 1)]),
    _op("flatten_scalar", lambda lib, x: x.flatten(), [()]),
    _op("unflatten", lambda lib, x: x.unflatten(1, (2, -1)), [(3, 4, 2)]),
    _op("squeeze_all", lambda lib, x: x.squeeze(), [(1, 3, 1, 4)]),
    _op("squeeze_dim", lambda lib, x: lib.squeeze(x, -2), [(1, 3, 1, 4)]),
    _op("squeeze_tuple", lambda lib, x: x.squeeze((0, 1, 2)), [(1, 3, 1, 4)]),
    _op("unsqueeze", lambda lib, x: lib.unsqueeze(x, -1), [(3, 4), ()]),
    _op("permute", lambda lib, x: x.permute(2, 0, -2), [(2, 3, 4)]),
    _op("permute_tuple", lambda lib, x: lib.permute(x, (1, 0, 2)) + 0, [(2, 3, 4)]),
    _op("transpose", lambda lib, x: lib.transpose(x, 0, -1), [(2, 3, 4)]),
    _op("swapaxes", lambda lib, x: lib.swapaxes(x, 1, 2), [(2, 3, 4)]),
    _op("swapdims", lambda lib, x: x.swapdims(0, 1), [(2, 3, 4)]),
    _op("t", lambda lib, x: x.t(), [(3, 4), (5,)]),
    _op("T", lambda lib, x: x.T, [(3, 4)]),
    _op("mT", lambda lib, x: x.mT, [(2, 3, 4)]),
    _op("mH", lambda lib, x: x.mH, [(2, 3, 4)]),
    _op("H", lambda lib, x: x.H, [(3, 4)]),
    _op("adjoint", lambda lib, x: lib.adjoint(x), [(2, 3, 4)]),
    _op("expand", lambda lib, x: x.expand(2, 3, -1), [(3, 1), (1, 4)]),
    _op("expand_tuple", lambda lib, x: x.expand((4, 3)), [(3,), ()]),
    _op("expand_as", lambda lib, x: x.expand_as(lib.zeros(2, 3, 4)), [(3, 1)]),
    _op("broadcast_to", lambda lib, x: lib.broadcast_to(x, (2, 3, 4)), [(1, 4)]),
    OpInfo("broadcast_tensors", lambda lib, a, b: lib.broadcast_tensors(a, b),
           lambda rng: [S(randn(rng, 3, 1), randn(rng, 4)), S(randn(rng, 2, 1, 1), randn(rng))]),
    _op("repeat", lambda lib, x: x.repeat(2, 1, 3), [(3, 4), (4,)]),
    _op("tile", lambda lib, x: lib.tile(x, (2,)), [(3, 4), (3,)]),
    _op("tile_method", lambda lib, x: x.tile((2, 1, 2)), [(3, 4)]),
    _op("tile_method_varargs", lambda lib, x: x.tile(2, 2), [(3,)]),
    _op("permute_method_tuple", lambda lib, x: x.permute((2, 0, 1)), [(2, 3, 4)]),
    _op("reshape_method_tuple", lambda lib, x: x.reshape((4, -1)), [(2, 3, 4)]),
    _op("view_method_list", lambda lib, x: x.view([6, 4]), [(2, 3, 4)]),
    _op("expand_method_size", lambda lib, x: x.expand(lib.Size([2, 3, 4])), [(3, 1)]),
    _op("repeat_method_tuple", lambda lib, x: x.repeat((2, 1)), [(3, 4)]),
    OpInfo("cat", lambda lib, a, b, c: lib.cat([a, b, c], dim=-1),
           lambda rng: [S(randn(rng, 2, 3), randn(rng, 2, 1), randn(rng, 2, 4))]),
    OpInfo("cat_dim0", lambda lib, a, b: lib.concat((a, b)),
           lambda rng: [S(randn(rng, 2, 3), randn(rng, 4, 3))]),
    OpInfo("concatenate_same", lambda lib, a: lib.concatenate([a, a * 2], 1),
           lambda rng: [S(randn(rng, 2, 3))]),
    OpInfo("cat_list_arg", lambda lib, xs: lib.cat(xs, 1),
           lambda rng: [S([randn(rng, 2, 3), randn(rng, 2, 2)])]),
    OpInfo("cat_promote", lambda lib, a, i: lib.cat([a, i]),
           lambda rng: [S(randn(rng, 2, 3), np.arange(6).reshape(2, 3))]),
    OpInfo("cat_legacy_empty", lambda lib, a: lib.cat([a, lib.zeros(0, dtype=a.dtype), a]),
           lambda rng: [S(randn(rng, 2, 3))]),
    OpInfo("stack", lambda lib, a, b: lib.stack([a, b], -1),
           lambda rng: [S(randn(rng, 2, 3), randn(rng, 2, 3)), S(randn(rng), randn(rng))]),
    OpInfo("hstack", lambda lib, a, b: lib.hstack([a, b]),
           lambda rng: [S(randn(rng, 2, 3), randn(rng, 2, 1)), S(randn(rng, 3), randn(rng, 2))]),
    OpInfo("vstack", lambda lib, a, b: lib.vstack((a, b)),
           lambda rng: [S(randn(rng, 3), randn(rng, 2, 3))]),
    OpInfo("row_stack", lambda lib, a, b: lib.row_stack((a, b)),
           lambda rng: [S(randn(rng, 3), randn(rng, 3))]),
    OpInfo("dstack", lambda lib, a, b: lib.dstack([a, b]),
           lambda rng: [S(randn(rng, 3), randn(rng, 3)), S(randn(rng, 2, 3), randn(rng, 2, 3))]),
    OpInfo("column_stack", lambda lib, a, b: lib.column_stack([a, b]),
           lambda rng: [S(randn(rng, 3), randn(rng, 3, 2))]),
    _op("split_int", lambda lib, x: x.split(2, 1), [(3, 5)]),
    _op("split_sizes", lambda lib, x: lib.split(x, [1, 3, 1], dim=-1), [(3, 5)]),
    _op("split_one_used", lambda lib, x: lib.split(x, 2)[1], [(5, 2)]),
    _op("tensor_split_n", lambda lib, x: lib.tensor_split(x, 3, dim=1), [(2, 7)]),
    _op("tensor_split_idx", lambda lib, x: x.tensor_split([1, 4, -1]), [(6, 2)]),
    _op("hsplit", lambda lib, x: lib.hsplit(x, 2), [(3, 4), (4,)]),
    _op("vsplit", lambda lib, x: lib.vsplit(x, [1]), [(3, 4)]),
    _op("dsplit", lambda lib, x: lib.dsplit(x, 2), [(2, 3, 4)]),
    _op("chunk", lambda lib, x: x.chunk(3, -1), [(2, 7), (2, 6), (2, 2)]),
    _op("unbind", lambda lib, x: lib.unbind(x, 1), [(2, 3, 4)]),
    _op("unbind_partial", lambda lib, x: x.unbind()[0] * 2, [(3, 4)]),
    _op("flip", lambda lib, x: lib.flip(x, (0, -1)), [(2, 3, 4)]),
    _op("flip_method", lambda lib, x: x.flip(1), [(2, 3)]),
    _op("fliplr", lambda lib, x: lib.fliplr(x), [(2, 3)]),
    _op("flipud", lambda lib, x: x.flipud(), [(2, 3)]),
    _op("roll", lambda lib, x: lib.roll(x, (1, -2), (0, 1)), [(3, 4)]),
    _op("roll_flat", lambda lib, x: x.roll(3), [(3, 4)]),
    _op("rot90", lambda lib, x: lib.rot90(x, 1, (0, 1)), [(3, 4)]),
    _op("rot90_k", lambda lib, x: x.rot90(-3, [-1, 0]), [(3, 4, 2)]),
    _op("rot90_2", lambda lib, x: lib.rot90(x, 2), [(3, 4)]),
    _op("narrow", lambda lib, x: lib.narrow(x, -1, 1, 2), [(3, 4)]),
    _op("narrow_neg_start", lambda lib, x: x.narrow(0, -2, 2), [(3, 4)]),
    _op("select", lambda lib, x: lib.select(x, 1, -1), [(3, 4)]),
    _op("movedim", lambda lib, x: lib.movedim(x, 0, -1), [(2, 3, 4)]),
    _op("moveaxis_multi", lambda lib, x: lib.moveaxis(x, (0, 1), (2, 0)), [(2, 3, 4)]),
    _op("contiguous", lambda lib, x: x.t().contiguous(), [(3, 4)]),
    _op("clone", lambda lib, x: lib.clone(x), [(3, 4)]),
    _op("unfold", lambda lib, x: x.unfold(1, 3, 2), [(2, 7)]),
    _op("unfold_overlap", lambda lib, x: x.unfold(0, 2, 1), [(5, 3)]),
    # torch's strides address the storage; ours the row-major elements (same when contiguous)
    _op("as_strided", lambda lib, x: lib.as_strided(x, (3, 3), (1, 2), 1), [(3, 4)],
        noncontig=False),
    _op("as_strided_method", lambda lib, x: x.as_strided((2, 2), (4, 1)), [(3, 4)],
        noncontig=False),
    _op("atleast_1d", lambda lib, x: lib.atleast_1d(x), [(), (3,)]),
    _op("atleast_2d", lambda lib, x: lib.atleast_2d(x), [(), (3,), (2, 3)]),
    _op("atleast_3d", lambda lib, x: lib.atleast_3d(x), [(), (3,), (2, 3), (2, 3, 4)]),
    OpInfo("atleast_many", lambda lib, a, b: lib.atleast_2d(a, b),
           lambda rng: [S(randn(rng), randn(rng, 3))]),
    _op("ravel", lambda lib, x: lib.ravel(x.t()), [(3, 4)]),
    _op("squeeze_", lambda lib, x: (x * 1).squeeze_(1), [(3, 1, 4)]),
    _op("unsqueeze_", lambda lib, x: (x * 1).unsqueeze_(-1), [(3, 4)]),
    _op("transpose_", lambda lib, x: (x * 1).transpose_(0, 2), [(2, 3, 4)]),
    _op("swapdims_", lambda lib, x: (x * 1).swapdims_(0, 1), [(2, 3)]),
    _op("t_", lambda lib, x: (x * 1).t_(), [(2, 3)]),
    _op("view_then_t_", lambda lib, x: (x * 1)[1:].t_() * 2, [(3, 4)]),
    _op("narrow_copy", lambda lib, x: lib.narrow_copy(x, 1, 1, 2), [(3, 4)]),
    _op("split_with_sizes", lambda lib, x: x.split_with_sizes([1, 3], 1), [(2, 4)]),
    _op("chain_of_views", lambda lib, x: x.t()[1:].unsqueeze(0).expand(2, -1, -1).flatten(),
        [(3, 4)]),
]

test_matches_torch, test_finite_differences = op_tests(OPS)


def _pair(shape, requires_grad=True):
    data = np.random.default_rng(0).standard_normal(shape)
    return (torch.tensor(data, requires_grad=requires_grad),
            disttorch.tensor(data, requires_grad=requires_grad))


def test_views_share_memory_and_version():
    x = disttorch.arange(12.0)
    for v in (x.view(3, 4), x.reshape(3, 4), x.view(3, 4).t(), x.unsqueeze(0), x[2:5],
              x.view(3, 4)[1], x.narrow(0, 1, 3), x.view(3, 4).select(1, 2), x.expand(2, 12),
              x.view(3, 4).permute(1, 0), x.split(5)[1], x.chunk(3)[2], x.unbind()[3],
              x.view(3, 4).transpose(0, 1), x.unfold(0, 3, 2), x.as_strided((2, 2), (3, 1))):
        assert np.shares_memory(v.numpy(), x.numpy())
        assert v._base is not None and v._version == x._version
    before = x._version
    x.view(3, 4)[1].mul_(2)
    assert x._version == before + 1
    assert x[4].item() == 8.0


def test_reshape_copies_when_layout_needs_it():
    x = disttorch.arange(12.0).view(3, 4).t()
    y = x.reshape(12)
    assert not np.shares_memory(y.numpy(), x.numpy())
    with pytest.raises(RuntimeError, match="view size is not compatible with input tensor's size "
                                           r"and stride .*Use .reshape\(...\) instead"):
        x.view(12)
    assert x.view(4, 3).shape == (4, 3)


def test_view_dtype():
    x = disttorch.tensor([1.0, 2.0], dtype=disttorch.float32)
    assert x.view(disttorch.int32).tolist() == torch.tensor([1.0, 2.0]).view(torch.int32).tolist()


@pytest.mark.parametrize("call, message", [
    (lambda lib: lib.zeros(2, 3).reshape(4, 2), r"shape '\[4, 2\]' is invalid for input of size 6"),
    (lambda lib: lib.zeros(2, 3).view(-1, -1), "only one dimension can be inferred"),
    (lambda lib: lib.zeros(2, 3).expand(3, 3), "The expanded size of the tensor"),
    (lambda lib: lib.cat([lib.zeros(2, 3), lib.zeros(3, 2)]), "Sizes of tensors must match except "
                                                              "in dimension 0"),
    (lambda lib: lib.cat([lib.zeros(2, 3), lib.zeros(2)]), "Tensors must have same number of "
                                                          "dimensions"),
    (lambda lib: lib.cat([]), "expected a non-empty list of Tensors"),
    (lambda lib: lib.stack([lib.zeros(2), lib.zeros(3)]), "stack expects each tensor to be equal "
                                                         "size"),
    (lambda lib: lib.zeros(2, 3).permute(0, 0), "duplicate dims"),
    (lambda lib: lib.zeros(2, 3).split([1, 2]), "split_with_sizes expects split_sizes to sum "
                                                "exactly to 2"),
    (lambda lib: lib.zeros(2, 3).narrow(1, 2, 2), "exceeds dimension size"),
    (lambda lib: lib.zeros(2, 3, 4).t(), "t\\(\\) expects a tensor with <= 2 dimensions"),
    (lambda lib: lib.zeros(2, 3).repeat(2), "Number of dimensions of repeat dims"),
    (lambda lib: lib.zeros(2, 3).unfold(1, 4, 1), "maximum size for tensor at dimension 1 is 3"),
])
@requires_torch
def test_errors_match_torch(call, message):
    with pytest.raises(Exception, match=message) as expected:
        call(torch)
    with pytest.raises(expected.type, match=message):
        call(disttorch)


def test_dim_out_of_range():
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of "
                                         r"\[-2, 1\], but got 2\)"):
        disttorch.zeros(2, 3).transpose(0, 2)


def test_cat_promotion_and_return_types():
    out = disttorch.cat([disttorch.zeros(2, dtype=disttorch.int32),
                         disttorch.zeros(1, dtype=disttorch.float16)])
    assert out.dtype == disttorch.float16
    assert disttorch.cat([disttorch.zeros(1, dtype=disttorch.uint8),
                          disttorch.zeros(1, dtype=disttorch.int8)]).dtype == disttorch.int16


@requires_torch
@pytest.mark.parametrize("fn", [
    lambda lib, x: x.reshape(4, 3).t().expand(2, 3, 4).sum(0),
    lambda lib, x: lib.cat([x, x.flip(0)], 1).permute(1, 0)[1:4],
    lambda lib, x: lib.stack([x, x * 2]).split(1, 2)[1],
    lambda lib, x: x.repeat(2, 1).roll(1, 0).unfold(1, 2, 1),
    lambda lib, x: x.as_strided((2, 2), (1, 3)).rot90(),
])
def test_double_backward(fn):
    t_x, d_x = _pair((3, 4))
    results = []
    for lib, x in ((torch, t_x), (disttorch, d_x)):
        y = fn(lib, x)
        w = lib.ones(tuple(y.shape), dtype=x.dtype, requires_grad=True)
        g, = lib.autograd.grad((y * w * y).sum(), x, create_graph=True)
        g2, = lib.autograd.grad((g * g).sum(), w)
        results.append((g.detach().numpy(), g2.detach().numpy()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-10)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-10)


def test_grad_fn_names():
    x = disttorch.zeros(2, 3, requires_grad=True)
    # PyTorch's names (tests/autograd/test_api_parity.py compares more of them with torch's)
    assert x.t().grad_fn.name() == "TBackward0"
    assert x.reshape(6).grad_fn.name() == "ViewBackward0"
    assert x[0].grad_fn.name() == "SelectBackward0"


@requires_torch
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool", "float16", "int8"])
@pytest.mark.parametrize("expr", [
    "x.t().reshape(-1)", "lib.cat([x, x], 1)", "lib.stack([x, x])", "x.flip(0)", "x.roll(1, 1)",
    "x.repeat(2, 1)", "x.unfold(1, 2, 1)", "x.expand(2, 3, 4)", "x.split(3, 1)", "x.rot90()",
    "lib.cat([x, x.float()])", "lib.cat([x, lib.ones(1, 4, dtype=lib.bool)])",
    "lib.hstack([x, x.double()])", "x.movedim(0, 1).contiguous()", "x.unbind(1)",
])
def test_non_float_dtypes(dtype, expr):
    data = np.random.default_rng(0).integers(0, 3, (3, 4)).astype(dtype)
    expected = eval(expr, {"lib": torch, "x": torch.tensor(data)})
    actual = eval(expr, {"lib": disttorch, "x": disttorch.tensor(data)})
    for e, a in zip(*(r if isinstance(r, (tuple, list)) else [r] for r in (expected, actual))):
        assert str(a.dtype).split(".")[-1] == str(e.dtype).split(".")[-1]
        np.testing.assert_array_equal(a.numpy(), e.numpy())


@requires_torch
@pytest.mark.parametrize("shape, chunks, dim", [
    ((0,), 2, 0), ((0,), 3, -1), ((0,), 1, 0), ((0,), 7, 0), ((0, 3), 3, 0), ((0, 3), 2, 1),
    ((3, 0), 4, -1), ((2, 0), 2, 1), ((5,), 2, 0), ((6,), 4, 0), ((1,), 3, 0),
])
def test_chunk_of_an_empty_dim_gives_chunks_pieces(shape, chunks, dim):
    # any number of empty pieces covers an empty dim; PyTorch returns ``chunks`` of them
    expected = torch.ones(shape).chunk(chunks, dim)
    actual = disttorch.ones(shape).chunk(chunks, dim)
    assert [tuple(p.shape) for p in actual] == [tuple(p.shape) for p in expected]
    assert [tuple(p.shape) for p in disttorch.chunk(disttorch.ones(shape), chunks, dim)] == \
        [tuple(p.shape) for p in expected]
    assert len(disttorch.ones(shape).unsafe_chunk(chunks, dim)) == len(expected)


def test_chunk_of_zero_dim_tensor_raises_torchs_error():
    with pytest.raises(RuntimeError, match="^chunk expects at least a 1-dimensional tensor$"):
        disttorch.tensor(1.0).chunk(1)
    with pytest.raises(RuntimeError, match="chunk expects `chunks` to be greater than 0, got: 0"):
        disttorch.ones(3).chunk(0)


@requires_torch
@pytest.mark.parametrize("make", [
    lambda L: L.arange(6.).reshape(2, 3).t(),
    lambda L: L.arange(24.).reshape(2, 3, 4).permute(2, 0, 1),
    lambda L: L.arange(24.).reshape(2, 3, 4)[:, :, ::2],
    lambda L: L.arange(24.).reshape(2, 3, 4).permute(2, 0, 1)[::2],
    lambda L: L.arange(3.).expand(4, 3),
    lambda L: L.arange(6.).reshape(2, 3).flip(1),
], ids=["transposed", "permuted", "sliced", "permuted_sliced", "expanded", "flipped"])
@pytest.mark.parametrize("how", ["clone", "preserve", "contiguous_format", "contiguous"])
def test_clone_keeps_the_layout_as_pytorch(make, how):
    """``clone`` keeps a permuted tensor's strides (``preserve_format``), a sliced one's copy is
    dense in the same axis order; the other formats and ``contiguous`` are row-major."""
    def copy(L):
        x = make(L)
        return {"clone": lambda: x.clone(), "preserve": lambda: x.clone(
            memory_format=L.preserve_format), "contiguous": lambda: x.contiguous(),
            "contiguous_format": lambda: x.clone(memory_format=L.contiguous_format)}[how]()
    want, got = copy(torch), copy(disttorch)
    assert tuple(got.stride()) == want.stride()
    np.testing.assert_array_equal(got.numpy(), want.numpy())
