"""Broadcasting many tensors at once: one collective per dtype and device, not one per tensor."""
from .._backend import device_index, device_scope, get_array_module
from ..autograd import grad_mode
from ..tensor import _new


def broadcast_coalesced(process_group, tensors, src):
    """Give every rank's ``tensors`` group rank ``src``'s values, in place.

    The tensors are packed into one flat buffer per dtype and device, broadcast, and unpacked;
    each buffer is made and unpacked on its tensors' device. Empty tensors and None are skipped.
    """
    groups = {}
    for t in tensors:
        if t is not None and t._data.size:
            groups.setdefault((t._data.dtype.str, device_index(t._data)), []).append(t)
    receiving = process_group.rank() != src
    for group in groups.values():
        with device_scope([group[0]._data]):
            xp = get_array_module(group[0]._data)
            flat = _new(xp.concatenate([t._data.reshape(-1) for t in group]))
            process_group.broadcast(flat, src)
            if not receiving:
                continue
            offset = 0
            with grad_mode.no_grad():
                for t in group:
                    n = t._data.size
                    t._data[...] = flat._data[offset:offset + n].reshape(t._data.shape)
                    t._vc[0] += 1
                    offset += n
