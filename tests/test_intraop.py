"""Intra-op threads: the worker pool, GEMMs split over it, and the kernels that run batch
slices on it (Winograd convolutions, recurrent layers) give the single-thread results."""
import multiprocessing
import threading

import numpy as np
import pytest

import disttorch
from disttorch import _gemm, _threads
from disttorch.nn.functional import _rnn

torch = pytest.importorskip("torch")


@pytest.fixture
def threads():
    """Run with the given intra-op thread count, restoring the previous one afterwards."""
    before = disttorch.get_num_threads()
    yield disttorch.set_num_threads
    disttorch.set_num_threads(before)


def test_parallel_map_keeps_order_and_runs_on_several_threads(threads):
    threads(2)
    seen = set()

    def work(k):
        seen.add(threading.get_ident())
        return k * k

    assert _threads.parallel_map(work, range(4)) == [0, 1, 4, 9]
    assert len(seen) == 2


def test_parallel_map_waits_for_every_item_before_raising(threads):
    threads(2)
    done = []
    gate = threading.Event()

    def work(k):
        if k == 0:
            raise ValueError("first item failed")
        gate.wait(5)
        done.append(k)

    threading.Timer(0.2, gate.set).start()
    with pytest.raises(ValueError, match="first item failed"):
        _threads.parallel_map(work, [0, 1])
    assert done == [1]


def test_nested_parallel_map_runs_inline(threads):
    threads(2)
    inner = _threads.parallel_map(lambda k: _threads.parallel_map(lambda j: j + k, [0, 1]),
                                  [10, 20])
    assert inner == [[10, 11], [20, 21]]


def test_batch_parts_cover_the_rows(threads):
    threads(3)
    parts = _threads.batch_parts(10, 1 << 30)
    assert [(p.start, p.stop) for p in parts] == [(0, 3), (3, 6), (6, 10)]
    assert _threads.batch_parts(10, 10) == [slice(0, 10)]
    # each slice keeps half the minimum work and the minimum rows
    assert len(_threads.batch_parts(10, 100, min_work=100)) == 2
    assert len(_threads.batch_parts(10, 1 << 30, min_rows=4)) == 2
    assert _threads.batch_parts(10, 1 << 30, min_rows=6) == [slice(0, 10)]
    threads(1)
    assert _threads.batch_parts(10, 1 << 30) == [slice(0, 10)]


def _child_gemm(queue):
    disttorch.set_num_threads(2)
    a = np.ones((512, 256), np.float32)
    b = np.ones((256, 512), np.float32)
    queue.put(float(_gemm.matmul(a, b)[0, 0]))


def test_pool_works_in_a_forked_child(threads):
    threads(2)
    _threads.parallel_map(lambda k: k, [0, 1])         # the parent's pool exists
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child_gemm, args=(queue,))
    proc.start()
    try:
        assert queue.get(timeout=60) == 256.0
    finally:
        proc.join(60)
        if proc.is_alive():
            proc.kill()
    assert proc.exitcode == 0


@pytest.mark.parametrize("shape_a,shape_b", [
    ((300, 200), (200, 100)),        # split by rows
    ((100, 200), (200, 300)),        # split by columns
    ((4, 96, 128), (4, 128, 96)),    # split by batch
    ((1, 300, 200), (1, 200, 100)),  # one matrix with leading ones
    ((4, 96, 128), (128, 96)),       # broadcast batch: not split, still right
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_gemm_matches_numpy(threads, monkeypatch, shape_a, shape_b, dtype):
    monkeypatch.setattr(_gemm, "_MIN_WORK", 1)
    threads(2)
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape_a).astype(dtype)
    b = rng.standard_normal(shape_b).astype(dtype)
    expected = np.matmul(a, b)
    got = _gemm.matmul(a, b)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)
    out = np.empty_like(expected)
    assert _gemm.matmul(a, b, out=out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)
    # a transposed (non-contiguous) operand takes the same path
    a_view = a.swapaxes(-1, -2).copy().swapaxes(-1, -2)
    np.testing.assert_allclose(_gemm.matmul(a_view, b), expected, rtol=1e-5, atol=1e-4)


def test_linear_layer_with_split_gemm_matches_torch(threads, monkeypatch):
    monkeypatch.setattr(_gemm, "_MIN_WORK", 1)
    threads(2)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 48))
    tl = torch.nn.Linear(48, 80).double()
    dl = disttorch.nn.Linear(48, 80).double()
    dl.load_state_dict({k: disttorch.tensor(v.detach().numpy())
                        for k, v in tl.state_dict().items()})
    tx, dx = torch.tensor(x, requires_grad=True), disttorch.tensor(x, requires_grad=True)
    g = rng.standard_normal((64, 80))
    tl(tx).backward(torch.tensor(g))
    dl(dx).backward(disttorch.tensor(g))
    np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(dl.weight.grad.numpy(), tl.weight.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("threads_n", [1, 2, 3])
def test_winograd_convolution_in_batch_slices_matches_torch(threads, threads_n):
    threads(threads_n)
    rng = np.random.default_rng(2)
    # 16 channels in and out on 16x16: the Winograd path, with enough work to split
    x = rng.standard_normal((8, 16, 16, 16))
    tc = torch.nn.Conv2d(16, 16, 3, padding=1).double()
    dc = disttorch.nn.Conv2d(16, 16, 3, padding=1).double()
    dc.load_state_dict({k: disttorch.tensor(v.detach().numpy())
                        for k, v in tc.state_dict().items()})
    tx, dx = torch.tensor(x, requires_grad=True), disttorch.tensor(x, requires_grad=True)
    g = rng.standard_normal((8, 16, 16, 16))
    ty, dy = tc(tx), dc(dx)
    np.testing.assert_allclose(dy.detach().numpy(), ty.detach().numpy(), atol=1e-10)
    ty.backward(torch.tensor(g))
    dy.backward(disttorch.tensor(g))
    np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dc.weight.grad.numpy(), tc.weight.grad.numpy(), atol=1e-9)
    np.testing.assert_allclose(dc.bias.grad.numpy(), tc.bias.grad.numpy(), atol=1e-9)


@pytest.mark.parametrize("cls_name,kwargs", [
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(num_layers=1, batch_first=True, proj_size=3)),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("RNN", dict(num_layers=1, nonlinearity="relu")),
])
def test_recurrent_layer_in_batch_slices_matches_torch(threads, monkeypatch, cls_name, kwargs):
    monkeypatch.setattr(_rnn, "_SPLIT_MIN_WORK", 0)
    monkeypatch.setattr(_rnn, "_SPLIT_MIN_ROWS", 1)
    threads(2)
    calls = []
    real = _rnn.parallel_map
    monkeypatch.setattr(_rnn, "parallel_map",
                        lambda fn, items: calls.append(len(items)) or real(fn, items))
    rng = np.random.default_rng(3)
    torch.manual_seed(0)
    tm = getattr(torch.nn, cls_name)(4, 5, **kwargs).double()
    dm = getattr(disttorch.nn, cls_name)(4, 5, **kwargs).double()
    dm.load_state_dict({k: disttorch.tensor(v.detach().numpy())
                        for k, v in tm.state_dict().items()})
    shape = (5, 7, 4) if kwargs.get("batch_first") else (7, 5, 4)
    x = rng.standard_normal(shape)
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    h0 = rng.standard_normal((layers, 5, kwargs.get("proj_size") or 5))
    states = [h0] + ([rng.standard_normal((layers, 5, 5))] if cls_name == "LSTM" else [])
    t_in = [torch.tensor(a, requires_grad=True) for a in [x] + states]
    d_in = [disttorch.tensor(a, requires_grad=True) for a in [x] + states]

    def run(lib, module, leaves):
        hidden = tuple(leaves[1:]) if cls_name == "LSTM" else leaves[1]
        out, hn = module(leaves[0], hidden)
        return [out] + (list(hn) if cls_name == "LSTM" else [hn])

    t_out, d_out = run(torch, tm, t_in), run(disttorch, dm, d_in)
    assert calls and all(n == 2 for n in calls)
    for t, d in zip(t_out, d_out):
        np.testing.assert_allclose(d.detach().numpy(), t.detach().numpy(), atol=1e-10)
    weights = [rng.standard_normal(tuple(t.shape)) for t in t_out]
    torch.autograd.backward(t_out, [torch.tensor(w) for w in weights])
    disttorch.autograd.backward(d_out, [disttorch.tensor(w) for w in weights])
    for t, d in zip(t_in, d_in):
        np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), atol=1e-10)
    for (name, tp), (_, dp) in zip(tm.named_parameters(), dm.named_parameters()):
        np.testing.assert_allclose(dp.grad.numpy(), tp.grad.numpy(), atol=1e-10, err_msg=name)


def test_packed_batch_of_unequal_lengths_is_not_split(threads, monkeypatch):
    monkeypatch.setattr(_rnn, "_SPLIT_MIN_WORK", 0)
    monkeypatch.setattr(_rnn, "_SPLIT_MIN_ROWS", 1)
    threads(2)
    x = np.zeros((6, 2), np.float32)
    weights = (np.zeros((8, 2), np.float32), np.zeros((8, 2), np.float32))
    assert _rnn._split_parts(x, weights, [(0, 3), (3, 2), (5, 1)]) == [slice(0, 3)]
    assert len(_rnn._split_parts(x, weights, [(0, 3), (3, 3)])) == 2


def _column_major_strided_batched(first, second, plan):
    """What cuBLAS's strided-batched GEMM computes from ``plan``, read from the operands' flat
    memory as column-major matrices (C_i = op(A_i) op(B_i) for each batch i)."""
    trans_a, trans_b, m, n, k, lda, stride_a, ldb, stride_b, ldc, stride_c, count = plan
    flat_a, flat_b = first.reshape(-1), second.reshape(-1)
    out = np.zeros(count * stride_c, np.float64)

    def matrix(flat, start, rows, cols, ld):
        # column-major rows x cols at ``start`` with leading dimension ``ld``
        return np.array([[flat[start + i + j * ld] for j in range(cols)] for i in range(rows)])

    for i in range(count):
        a = matrix(flat_a, i * stride_a, k if trans_a else m, m if trans_a else k, lda)
        b = matrix(flat_b, i * stride_b, n if trans_b else k, k if trans_b else n, ldb)
        c = (a.T if trans_a else a) @ (b.T if trans_b else b)
        for row in range(m):
            for col in range(n):
                out[i * stride_c + row + col * ldc] = c[row, col]
    return out


@pytest.mark.parametrize("layout", ["contiguous", "a_transposed", "b_transposed", "both",
                                    "strided_copy", "4d"])
def test_strided_batched_plan_computes_the_row_major_product(layout):
    """The argument mapping of the float16 batched GEMM that CUDA arrays take (one cuBLAS call),
    checked by evaluating its column-major semantics here: each operand C-contiguous, a
    transposed view (passed as transposed, no copy), or a copy."""
    rng = np.random.default_rng(3)
    batch, m, k, n = ((2, 3) if layout == "4d" else (4,)), 3, 5, 2
    a = rng.standard_normal(batch + (m, k))
    b = rng.standard_normal(batch + (k, n))
    if layout in ("a_transposed", "both"):
        a = np.ascontiguousarray(a.swapaxes(-1, -2)).swapaxes(-1, -2)
    if layout in ("b_transposed", "both"):
        b = np.ascontiguousarray(b.swapaxes(-1, -2)).swapaxes(-1, -2)
    if layout == "strided_copy":
        a = np.repeat(a, 2, axis=-1)[..., ::2]
    first, second, plan = _gemm.strided_batched_plan(np, a, b)
    assert plan[:2] == ({"b_transposed": 1, "both": 1}.get(layout, 0),
                        {"a_transposed": 1, "both": 1}.get(layout, 0))
    got = _column_major_strided_batched(first, second, plan)
    want = np.matmul(a, b)
    np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-12)
