"""Batched point-to-point ops (``P2POp``, ``batch_isend_irecv``) and objects sent to one rank
(``send_object_list``, ``recv_object_list``)."""
import numpy as np

from . import _objects

__all__ = ["P2POp", "batch_isend_irecv", "send_object_list", "recv_object_list"]


def _package():
    from .. import distributed
    return distributed


class P2POp:
    """One send or receive for :func:`batch_isend_irecv`.

    Args:
        op: ``disttorch.distributed.isend`` or ``disttorch.distributed.irecv``.
        tensor (Tensor): what to send, or where to receive.
        peer (int, optional): the other side's global rank.
        group (ProcessGroup, optional): the group (default: the world).
        tag (int): the message tag.
        group_peer (int, optional): the other side's rank in ``group`` instead of ``peer``.
    """

    def __init__(self, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        dist = _package()
        if op not in (dist.isend, dist.irecv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type "
                             "``torch.distributed.isend`` or ``torch.distributed.irecv``.")
        if (peer is None) == (group_peer is None):
            raise ValueError("Exactly one of peer and group_peer must be specified")
        dist._check_tensor(tensor, "tensor")
        self.op, self.tensor, self.peer, self.group = op, tensor, peer, group
        self.tag, self.group_peer = tag, group_peer

    def __repr__(self):
        kind = "isend" if self.op is _package().isend else "irecv"
        return (f"P2POp(op={kind}, tensor shape={tuple(self.tensor.shape)}, "
                f"peer={self.peer if self.peer is not None else self.group_peer})")


def batch_isend_irecv(p2p_op_list):
    """Start every send and receive of ``p2p_op_list`` (a list of :class:`P2POp` of one
    group) together and return their requests (``Work``), in order. On NCCL they form one
    group, so an order that would deadlock op by op completes."""
    dist = _package()
    if not p2p_op_list:
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type "
                         "``torch.distributed.P2POp``.")
    if not all(isinstance(op, P2POp) for op in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type "
                         "``torch.distributed.P2POp``.")
    group = p2p_op_list[0].group
    if not all(op.group is group for op in p2p_op_list):
        raise ValueError("All ops need to use the same group.")
    pg = dist._group(group)
    ops = []
    for op in p2p_op_list:
        peer = op.group_peer if op.group_peer is not None else \
            dist._rank_in(pg, op.peer, "peer")
        ops.append(("send" if op.op is dist.isend else "recv", op.tensor, peer, op.tag))
    return pg.batch_p2p(ops)


def _object_channel(group):
    # objects travel as bytes on the CPU: over an NCCL group's MPI control group
    pg = _package()._group(group)
    return pg, getattr(pg, "control", None) or pg


def send_object_list(object_list, dst=None, group=None, device=None, group_dst=None):
    """Send the objects of ``object_list`` to ``dst``, which receives them with
    :func:`recv_object_list` into a list of the same length.

    Objects are plain data and tensors (msgpack, never pickle), as for
    :func:`broadcast_object_list`; ``device`` is accepted for PyTorch's signature (the bytes
    travel on the CPU).
    """
    from ..ops.creation import tensor as make_tensor
    dist = _package()
    pg, channel = _object_channel(group)
    peer = group_dst if group_dst is not None else dist._rank_in(pg, dst, "dst")
    if peer == pg.rank():
        raise ValueError("Invalid destination rank: destination rank should not be the same as "
                         "the rank of the current process.")
    payload = _objects.dumps(list(object_list))
    channel.send(make_tensor([len(payload)]), peer, 0, False)
    channel.send(make_tensor(np.frombuffer(payload, np.uint8).copy()), peer, 0, False)


def recv_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Receive objects sent by :func:`send_object_list` into ``object_list`` (in place, same
    length); from ``src``, or any rank when None. Returns the sender's global rank."""
    from ..ops.creation import empty, zeros
    from .. import int64, uint8
    dist = _package()
    pg, channel = _object_channel(group)
    peer = group_src if group_src is not None else \
        (None if src is None else dist._rank_in(pg, src, "src"))
    size = zeros(1, dtype=int64)
    sender = channel.recv(size, peer, 0, False)
    data = empty(int(size.item()), dtype=uint8)
    channel.recv(data, pg.global_ranks.index(sender), 0, False)
    received = _objects.loads(data.numpy().tobytes())
    if len(received) != len(object_list):
        raise ValueError(f"recv_object_list: rank {sender} sent {len(received)} objects, but "
                         f"object_list has {len(object_list)} entries")
    object_list[:] = received
    return sender
