"""Every collective against a numpy reference, sync and async (run under mpiexec).

    collectives.py [gloo|nccl]     nccl: on simulated GPUs with the stand-in NCCL (nccl_sim.py)
"""
import sys

import numpy as np

import disttorch as torch
import disttorch.distributed as dist
import nccl_sim

BACKEND = sys.argv[1] if len(sys.argv) > 1 else "gloo"
DEVICE = nccl_sim.prepare(BACKEND)
BACKEND = BACKEND.split("-")[0]   # nccl-to-rank: the nccl backend, tensors on cuda:RANK
dist.init_process_group(BACKEND)
rank, n = dist.get_rank(), dist.get_world_size()
rng = np.random.default_rng(1234)
data = [rng.standard_normal((3, 5)).astype(np.float32) for _ in range(n)]  # same on every rank
mine = data[rank]


def check(actual, expected, what):
    if isinstance(actual, torch.Tensor):
        assert str(actual.device) == DEVICE or actual.device.type == DEVICE, (what, actual.device)
        actual = actual.cpu().numpy()
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=1e-5, atol=1e-6, err_msg=what)


def T(array):
    """``array`` as a tensor on this backend's device (floats as float32, as torch.tensor)."""
    array = np.array(array)
    return torch.from_numpy(array.astype(np.float32) if array.dtype == np.float64 else array) \
        .to(DEVICE)


def zeros(*shape):
    return torch.zeros(*shape, device=DEVICE)


for async_op in (False, True):
    for op, ref in [(dist.ReduceOp.SUM, np.sum), (dist.ReduceOp.PRODUCT, np.prod),
                    (dist.ReduceOp.MIN, np.min), (dist.ReduceOp.MAX, np.max),
                    (dist.ReduceOp.AVG, np.mean)]:
        t = T(mine.copy())
        work = dist.all_reduce(t, op=op, async_op=async_op)
        if async_op:
            assert work.wait() and work.is_completed()
            assert work.result()[0] is t  # PyTorch's: the list of output tensors
        else:
            assert work is None
        check(t, ref(np.stack(data), axis=0), f"all_reduce {op} async={async_op}")
    t = T(mine.copy())
    w = dist.broadcast(t, src=n - 1, async_op=async_op)
    w and w.wait()
    check(t, data[n - 1], "broadcast")
    t = T(mine.copy())
    w = dist.reduce(t, dst=0, async_op=async_op)
    w and w.wait()
    if rank == 0:
        check(t, np.sum(data, axis=0), "reduce")
    outs = [zeros(3, 5) for _ in range(n)]
    w = dist.all_gather(outs, T(mine.copy()), async_op=async_op)
    w and w.wait()
    for k in range(n):
        check(outs[k], data[k], "all_gather")
    big = zeros(n * 3, 5)
    w = dist.all_gather_into_tensor(big, T(mine.copy()), async_op=async_op)
    w and w.wait()
    check(big, np.concatenate(data), "all_gather_into_tensor")
    gl = [zeros(3, 5) for _ in range(n)] if rank == 0 else None
    w = dist.gather(T(mine.copy()), gl, dst=0, async_op=async_op)
    w and w.wait()
    if rank == 0:
        for k in range(n):
            check(gl[k], data[k], "gather")
    out = zeros(3, 5)
    sl = [T(d * 2) for d in data] if rank == 1 % n else None
    w = dist.scatter(out, sl, src=1 % n, async_op=async_op)
    w and w.wait()
    check(out, data[rank] * 2, "scatter")
    out = zeros(3, 5)
    w = dist.reduce_scatter(out, [T(d * (rank + 1)) for d in data],
                            async_op=async_op)
    w and w.wait()
    check(out, data[rank] * sum(range(1, n + 1)), "reduce_scatter")
    out = zeros(3, 5)
    w = dist.reduce_scatter_tensor(out, T(np.concatenate(data)), async_op=async_op)
    w and w.wait()
    check(out, data[rank] * n, "reduce_scatter_tensor")
    ins = [torch.full((2,), float(rank * 10 + k), device=DEVICE) for k in range(n)]
    outs = [zeros(2) for _ in range(n)]
    w = dist.all_to_all(outs, ins, async_op=async_op)
    w and w.wait()
    for k in range(n):
        check(outs[k], [k * 10 + rank] * 2, "all_to_all")
    single_out = zeros(n)
    w = dist.all_to_all_single(single_out, torch.arange(n, device=DEVICE).float() + rank * 100,
                               async_op=async_op)
    w and w.wait()
    check(single_out, [k * 100 + rank for k in range(n)], "all_to_all_single")
    w = dist.barrier(async_op=async_op)
    w and w.wait()

# uneven all_to_all_single: rank r sends r+1 rows to everyone
send = torch.full((n * (rank + 1),), float(rank), device=DEVICE)
recv_sizes = [k + 1 for k in range(n)]
recv = zeros(sum(recv_sizes))
dist.all_to_all_single(recv, send, output_split_sizes=recv_sizes, input_split_sizes=[rank + 1] * n)
check(recv, np.concatenate([[k] * (k + 1) for k in range(n)]), "all_to_all_single uneven")

# dtypes: ints, float16 (widened for the reduction), bool (logical), float64
for dtype in (torch.int32, torch.int64, torch.float16, torch.bfloat16, torch.float64):
    t = torch.ones(4, dtype=dtype, device=DEVICE) * (rank + 1)
    dist.all_reduce(t)
    check(t.double(), [n * (n + 1) / 2] * 4, f"all_reduce {dtype}")
    assert t.dtype == dtype
    t = torch.full((3,), rank + 2, dtype=dtype, device=DEVICE)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    check(t.double(), [n + 1] * 3, f"all_reduce MAX {dtype}")
for op, expected in [(dist.ReduceOp.SUM, [True, False, True, n > 1]),
                     (dist.ReduceOp.MAX, [True, False, True, n > 1]),
                     (dist.ReduceOp.PRODUCT, [n == 1, False, True, False]),
                     (dist.ReduceOp.MIN, [n == 1, False, True, False])]:
    flags = torch.tensor([rank == 0, False, True, rank != n - 1], device=DEVICE)
    dist.all_reduce(flags, op=op)
    assert flags.dtype == torch.bool and flags.tolist() == [bool(e) for e in expected], \
        (op, flags.tolist(), expected)

base = T(np.ones((4, 4), np.float32))
column = base.t()
if BACKEND == "nccl":
    # as PyTorch's NCCL backend: in place only on contiguous tensors
    try:
        dist.all_reduce(column)
    except ValueError as exc:
        assert "Tensors must be contiguous" in str(exc), exc
    else:
        raise AssertionError("NCCL must refuse a non-contiguous tensor")
else:
    # non-contiguous tensors are reduced in place through a staging copy
    dist.all_reduce(column)
    check(base, np.full((4, 4), n), "non-contiguous all_reduce")

# point to point, blocking and async
if n >= 2:
    if rank == 0:
        dist.send(T([1.0, 2.0]), dst=1)
        w = dist.isend(T([3.0]), dst=1, tag=7)
        w.wait()
    elif rank == 1:
        x = zeros(2)
        # (NCCL cannot receive from any source, as in PyTorch)
        assert dist.recv(x, src=0 if BACKEND == "nccl" else None) == 0
        assert x.tolist() == [1.0, 2.0]
        y = zeros(1)
        w = dist.irecv(y, src=0, tag=7)
        w.wait()
        assert y.tolist() == [3.0]

# batched point to point: a ring where every rank sends before it receives (one NCCL group)
if n >= 2:
    right, left = (rank + 1) % n, (rank - 1) % n
    incoming = zeros(3)
    works = dist.batch_isend_irecv([dist.P2POp(dist.isend, T([float(rank)] * 3), right),
                                    dist.P2POp(dist.irecv, incoming, left)])
    for w in works:
        w.wait()
    assert incoming.tolist() == [float(left)] * 3, incoming

# a receive buffer smaller than the message is named (MPI's own error says "see MPI_ERROR")
if n >= 2 and BACKEND == "gloo":
    if rank == 0:
        dist.send(torch.ones(4, dtype=torch.float64), dst=1)
    elif rank == 1:
        try:
            dist.recv(zeros(4), src=0)
        except dist.DistBackendError as exc:
            assert "recv on rank 1 failed: a message from another rank was longer than this " \
                "rank's tensor" in str(exc), exc
        else:
            raise AssertionError("a truncated message must raise")

# object collectives (msgpack: plain data and tensors)
objs = [None] * n
dist.all_gather_object(objs, {"rank": rank, "tensor": torch.tensor([rank]), "pair": (rank, "x"),
                              "nested": [1.5, None, b"raw"]})
for k, o in enumerate(objs):
    assert o["rank"] == k and o["tensor"].tolist() == [k] and o["pair"] == (k, "x")
    assert o["nested"] == [1.5, None, b"raw"]
lst = ["hello", {"lr": 0.1}] if rank == 0 else [None, None]
dist.broadcast_object_list(lst, src=0)
assert lst == ["hello", {"lr": 0.1}]
got = [None] * n if rank == 0 else None
dist.gather_object(rank * 2, got, dst=0)
if rank == 0:
    assert got == [2 * k for k in range(n)]
out = [None]
dist.scatter_object_list(out, [f"to{k}" for k in range(n)] if rank == 0 else None, src=0)
assert out[0] == f"to{rank}"
try:
    dist.all_gather_object([None] * n, object())
except TypeError as exc:
    assert "cannot be sent through the object collectives" in str(exc)
else:
    raise AssertionError("an arbitrary object must be refused")

# subgroups
g = dist.new_group([0, n - 1])
if rank in (0, n - 1):
    t = torch.ones(1, device=DEVICE)
    dist.all_reduce(t, group=g)
    assert t.tolist() == [2.0 if n > 1 else 1.0]
    assert dist.get_world_size(g) == (2 if n > 1 else 1)
else:
    assert g is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(g) == -1

# a subgroup whose ranks are not the world's: roots and peers are global ranks at the API
members = list(range(1, n)) or [0]
sub = dist.new_group(members)
if rank in members:
    me, size = members.index(rank), len(members)
    last = members[-1]
    t = T(data[rank])
    dist.broadcast(t, src=last, group=sub)
    check(t, data[last], "subgroup broadcast")
    t = T(data[rank])
    dist.reduce(t, dst=last, group=sub)
    if rank == last:
        check(t, np.sum([data[r] for r in members], axis=0), "subgroup reduce")
    outs = [zeros(3, 5) for _ in members]
    dist.all_gather(outs, T(data[rank]), group=sub)
    for k, r in enumerate(members):
        check(outs[k], data[r], "subgroup all_gather")
    gl = [zeros(3, 5) for _ in members] if rank == last else None
    dist.gather(T(data[rank]), gl, dst=last, group=sub)
    if rank == last:
        for k, r in enumerate(members):
            check(gl[k], data[r], "subgroup gather")
    out = zeros(3, 5)
    dist.scatter(out, [T(data[r] * 3) for r in members] if rank == last else None, src=last,
                 group=sub)
    check(out, data[rank] * 3, "subgroup scatter")
    out = zeros(3, 5)
    dist.reduce_scatter_tensor(out, T(np.concatenate([data[r] for r in members])), group=sub)
    check(out, data[rank] * size, "subgroup reduce_scatter_tensor")
    if size >= 2:
        first = members[0]
        if rank == first:
            dist.send(T(data[rank]), dst=last, group=sub)
        elif rank == last:
            x = zeros(3, 5)
            assert dist.recv(x, src=first, group=sub) == first
            check(x, data[first], "subgroup send/recv")
else:
    assert sub is dist.GroupMember.NON_GROUP_MEMBER

dist.destroy_process_group()
assert not dist.is_initialized()
if BACKEND == "nccl":  # the tensors did go through the stand-in NCCL
    seen = {name for name, _ in nccl_sim.calls()}
    assert {"allReduce", "bcast", "reduce", "allGather", "reduceScatter"} <= seen, seen
    assert n == 1 or {"send", "recv"} <= seen, seen
print(f"rank {rank}: all collectives ok")
