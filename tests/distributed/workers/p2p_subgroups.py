"""batch_isend_irecv (a ring where every rank sends before it receives), send/recv_object_list
(from a known and from any source), new_subgroups / new_subgroups_by_enumeration."""
import numpy as np

import disttorch
import disttorch.distributed as dist

dist.init_process_group("gloo")
rank, size = dist.get_rank(), dist.get_world_size()

# a ring: each rank sends to the next and receives from the previous, all ops started at once
right, left = (rank + 1) % size, (rank - 1) % size
outgoing = disttorch.full((4,), float(rank))
incoming = disttorch.zeros(4)
ops = [dist.P2POp(dist.isend, outgoing, right), dist.P2POp(dist.irecv, incoming, left)]
works = dist.batch_isend_irecv(ops)
assert len(works) == 2
for work in works:
    work.wait()
assert incoming.tolist() == [float(left)] * 4, incoming
# group_peer instead of peer, with tags
second = disttorch.zeros(2, dtype=disttorch.int64)
ops = [dist.P2POp(dist.irecv, second, group_peer=left, tag=7),
       dist.P2POp(dist.isend, disttorch.tensor([rank, 10 * rank]), group_peer=right, tag=7)]
for work in dist.batch_isend_irecv(ops):
    work.wait()
assert second.tolist() == [left, 10 * left]

# objects: rank 0 sends to each other rank; the others answer to rank 0 (received from any)
if size > 1:
    if rank == 0:
        for peer in range(1, size):
            dist.send_object_list([{"to": peer}, [1, 2.5, "x"], disttorch.arange(3)], dst=peer)
        seen = set()
        for _ in range(1, size):
            box = [None]
            sender = dist.recv_object_list(box)
            assert box[0] == f"from {sender}", box
            seen.add(sender)
        assert seen == set(range(1, size))
    else:
        box = [None, None, None]
        assert dist.recv_object_list(box, src=0) == 0
        assert box[0] == {"to": rank} and box[1] == [1, 2.5, "x"]
        assert box[2].tolist() == [0, 1, 2]
        dist.send_object_list([f"from {rank}"], dst=0)

# subgroups of two consecutive ranks (size even)
if size % 2 == 0:
    mine, groups = dist.new_subgroups(group_size=2)
    assert len(groups) == size // 2
    assert dist.get_process_group_ranks(mine) == [rank - rank % 2, rank - rank % 2 + 1]
    total = disttorch.tensor([float(rank)])
    dist.all_reduce(total, group=mine)
    assert total.item() == 2 * (rank - rank % 2) + 1
    mine, groups = dist.new_subgroups_by_enumeration([[r] for r in range(size)])
    assert dist.get_process_group_ranks(mine) == [rank]
    assert dist.get_pg_count() == 1 + size // 2 + size
dist.barrier()
print(f"rank {rank}: p2p ok")
dist.destroy_process_group()
