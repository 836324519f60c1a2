"""Every collective against a numpy reference, sync and async (run under mpiexec)."""
import numpy as np

import disttorch as torch
import disttorch.distributed as dist

dist.init_process_group("gloo")
rank, n = dist.get_rank(), dist.get_world_size()
rng = np.random.default_rng(1234)
data = [rng.standard_normal((3, 5)).astype(np.float32) for _ in range(n)]  # same on every rank
mine = data[rank]


def check(actual, expected, what):
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=1e-5, atol=1e-6, err_msg=what)


for async_op in (False, True):
    for op, ref in [(dist.ReduceOp.SUM, np.sum), (dist.ReduceOp.PRODUCT, np.prod),
                    (dist.ReduceOp.MIN, np.min), (dist.ReduceOp.MAX, np.max),
                    (dist.ReduceOp.AVG, np.mean)]:
        t = torch.from_numpy(mine.copy())
        work = dist.all_reduce(t, op=op, async_op=async_op)
        if async_op:
            assert work.wait() and work.is_completed()
        else:
            assert work is None
        check(t.numpy(), ref(np.stack(data), axis=0), f"all_reduce {op} async={async_op}")
    t = torch.from_numpy(mine.copy())
    w = dist.broadcast(t, src=n - 1, async_op=async_op)
    w and w.wait()
    check(t.numpy(), data[n - 1], "broadcast")
    t = torch.from_numpy(mine.copy())
    w = dist.reduce(t, dst=0, async_op=async_op)
    w and w.wait()
    if rank == 0:
        check(t.numpy(), np.sum(data, axis=0), "reduce")
    outs = [torch.zeros(3, 5) for _ in range(n)]
    w = dist.all_gather(outs, torch.from_numpy(mine.copy()), async_op=async_op)
    w and w.wait()
    for k in range(n):
        check(outs[k].numpy(), data[k], "all_gather")
    big = torch.zeros(n * 3, 5)
    w = dist.all_gather_into_tensor(big, torch.from_numpy(mine.copy()), async_op=async_op)
    w and w.wait()
    check(big.numpy(), np.concatenate(data), "all_gather_into_tensor")
    gl = [torch.zeros(3, 5) for _ in range(n)] if rank == 0 else None
    w = dist.gather(torch.from_numpy(mine.copy()), gl, dst=0, async_op=async_op)
    w and w.wait()
    if rank == 0:
        for k in range(n):
            check(gl[k].numpy(), data[k], "gather")
    out = torch.zeros(3, 5)
    sl = [torch.from_numpy(d * 2) for d in data] if rank == 1 % n else None
    w = dist.scatter(out, sl, src=1 % n, async_op=async_op)
    w and w.wait()
    check(out.numpy(), data[rank] * 2, "scatter")
    out = torch.zeros(3, 5)
    w = dist.reduce_scatter(out, [torch.from_numpy(d * (rank + 1)) for d in data],
                            async_op=async_op)
    w and w.wait()
    check(out.numpy(), data[rank] * sum(range(1, n + 1)), "reduce_scatter")
    out = torch.zeros(3, 5)
    w = dist.reduce_scatter_tensor(out, torch.from_numpy(np.concatenate(data)), async_op=async_op)
    w and w.wait()
    check(out.numpy(), data[rank] * n, "reduce_scatter_tensor")
    ins = [torch.full((2,), float(rank * 10 + k)) for k in range(n)]
    outs = [torch.zeros(2) for _ in range(n)]
    w = dist.all_to_all(outs, ins, async_op=async_op)
    w and w.wait()
    for k in range(n):
        check(outs[k].numpy(), [k * 10 + rank] * 2, "all_to_all")
    single_out = torch.zeros(n)
    w = dist.all_to_all_single(single_out, torch.arange(n).float() + rank * 100, async_op=async_op)
    w and w.wait()
    check(single_out.numpy(), [k * 100 + rank for k in range(n)], "all_to_all_single")
    w = dist.barrier(async_op=async_op)
    w and w.wait()

# uneven all_to_all_single: rank r sends r+1 rows to everyone
send = torch.full((n * (rank + 1),), float(rank))
recv_sizes = [k + 1 for k in range(n)]
recv = torch.zeros(sum(recv_sizes))
dist.all_to_all_single(recv, send, output_split_sizes=recv_sizes, input_split_sizes=[rank + 1] * n)
check(recv.numpy(), np.concatenate([[k] * (k + 1) for k in range(n)]), "all_to_all_single uneven")

# dtypes: ints, float16 (widened for the reduction), bool (logical), float64
for dtype in (torch.int32, torch.int64, torch.float16, torch.float64):
    t = torch.ones(4, dtype=dtype) * (rank + 1)
    dist.all_reduce(t)
    check(t.numpy().astype(np.float64), [n * (n + 1) / 2] * 4, f"all_reduce {dtype}")
    assert t.dtype == dtype
flags = torch.tensor([rank == 0, False, True])
dist.all_reduce(flags)
assert flags.tolist() == [True, False, True]

# non-contiguous tensors are reduced in place through a staging copy
base = torch.from_numpy(np.ones((4, 4), np.float32))
column = base.t()
dist.all_reduce(column)
check(base.numpy(), np.full((4, 4), n), "non-contiguous all_reduce")

# point to point, blocking and async
if n >= 2:
    if rank == 0:
        dist.send(torch.tensor([1.0, 2.0]), dst=1)
        w = dist.isend(torch.tensor([3.0]), dst=1, tag=7)
        w.wait()
    elif rank == 1:
        x = torch.zeros(2)
        assert dist.recv(x) == 0 and x.tolist() == [1.0, 2.0]
        y = torch.zeros(1)
        w = dist.irecv(y, src=0, tag=7)
        w.wait()
        assert y.tolist() == [3.0]

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
    t = torch.ones(1)
    dist.all_reduce(t, group=g)
    assert t.tolist() == [2.0 if n > 1 else 1.0]
    assert dist.get_world_size(g) == (2 if n > 1 else 1)
else:
    assert g is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(g) == -1

dist.destroy_process_group()
assert not dist.is_initialized()
print(f"rank {rank}: all collectives ok")
