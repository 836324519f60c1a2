"""``disttorch.distributed``: process groups and collectives (PyTorch's API) over MPI.

Under ``mpiexec``/``srun``/``disttorch-run`` the MPI world is the default group; a lone
process is a world of size 1. ``import disttorch.distributed`` does not start MPI:
``init_process_group`` does.
"""
import datetime
import importlib.util
import os

from .process_group import (ReduceOp, ProcessGroup, Backend, register_backend, DistBackendError,
                            DistTimeoutError, DistError, DistStoreError, DistNetworkError,
                            default_pg_timeout, DebugLevel, get_debug_level, set_debug_level,
                            set_debug_level_from_env)
from .store import Store, HashStore, FileStore, TCPStore, PrefixStore
from ._work import Work
from . import _objects
from ._point_to_point import P2POp, batch_isend_irecv, send_object_list, recv_object_list

__all__ = ["is_available", "is_mpi_available", "is_nccl_available", "is_gloo_available",
           "init_process_group", "destroy_process_group", "is_initialized", "get_rank",
           "get_world_size", "get_backend", "new_group", "get_global_rank", "get_group_rank",
           "get_process_group_ranks", "ReduceOp", "Backend", "ProcessGroup", "Work", "GroupMember",
           "group", "all_reduce", "broadcast", "reduce", "all_gather", "all_gather_into_tensor",
           "gather", "scatter", "reduce_scatter", "reduce_scatter_tensor", "all_to_all",
           "all_to_all_single", "send", "recv", "isend", "irecv", "barrier", "monitored_barrier",
           "broadcast_object_list", "all_gather_object", "gather_object", "scatter_object_list",
           "DistBackendError", "DistTimeoutError", "register_backend", "get_default_group",
           "P2POp", "batch_isend_irecv", "send_object_list", "recv_object_list",
           "get_node_local_rank", "new_subgroups", "new_subgroups_by_enumeration",
           "get_pg_count", "is_backend_available", "get_default_backend_for_device",
           "DistError", "DistStoreError", "DistNetworkError", "Store", "HashStore", "FileStore",
           "TCPStore", "PrefixStore", "DebugLevel", "get_debug_level", "set_debug_level",
           "set_debug_level_from_env", "supports_complex", "is_ucc_available",
           "is_xccl_available", "get_backend_config", "breakpoint"]


class GroupMember:
    """``GroupMember.WORLD`` is the default group; ``NON_GROUP_MEMBER`` is what ranks outside a
    ``new_group`` receive."""

    WORLD = None
    NON_GROUP_MEMBER = object()


class group:
    WORLD = None


class _State:
    default = None
    backend = None
    groups = {}
    group_backends = {}   # id(subgroup) -> its Backend, where new_group named another one
    made = 0              # new_group calls since init (a rank outside a group counts it too)


def is_available():
    """True: the MPI backend ships with disttorch (mpi4py and the mpich wheel)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_available():
    return is_available()


def is_gloo_available():
    # "gloo" names the CPU backend, served by MPI, so PyTorch scripts run unchanged
    return is_available()


def is_nccl_available():
    from .backend_nccl import nccl_available
    return nccl_available()


def is_initialized():
    """True once ``init_process_group`` has run (and ``destroy_process_group`` has not)."""
    return _State.default is not None


def is_torchelastic_launched():
    return "TORCHELASTIC_RUN_ID" in os.environ or "DISTTORCH_RUN_ID" in os.environ


def _require_init():
    if _State.default is None:
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    return _State.default


def get_default_group():
    return _require_init()


def _group(g):
    if g is None or g is GroupMember.WORLD:
        return _require_init()
    if g is GroupMember.NON_GROUP_MEMBER:
        raise ValueError("the calling rank is not part of this group")
    return g


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Initialise the default process group.

    Args:
        backend: ``"mpi"``, ``"gloo"`` (served by MPI) or ``"nccl"`` (CUDA); default: MPI.
        init_method: ``"env://"`` (the default), ``"tcp://host:port"`` or ``"file:///path"``.
            Whatever the method, the world comes from MPI (``disttorch-run``, ``mpiexec``,
            ``srun``, or :func:`disttorch.multiprocessing.spawn`, whose processes are an MPI
            world); ``RANK``/``WORLD_SIZE`` in the environment are checked against it.
        timeout: how long a collective may take before it raises ``DistTimeoutError``
            (default 30 minutes).
        world_size, rank: optional; must agree with MPI's view when given.
        device_id: for ``"nccl"``, the GPU (an int, ``"cuda:N"`` or a device) whose
            communicator is created now rather than at the first collective.
    """
    if _State.default is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if init_method is not None and not init_method.startswith(("env://", "tcp://", "file://")):
        scheme = init_method.split("://")[0] if "://" in init_method else init_method
        raise RuntimeError(f"No rendezvous handler for {scheme}:// (disttorch takes 'env://', "
                         "'tcp://host:port' or 'file:///path'; the world itself comes from MPI)")
    if timeout is None:
        timeout = default_pg_timeout
    elif not isinstance(timeout, datetime.timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got "
                        f"{type(timeout).__name__}")
    name = Backend(backend) if backend is not None else Backend.MPI
    from mpi4py import MPI
    world = MPI.COMM_WORLD
    size, me = world.Get_size(), world.Get_rank()
    expected_size = world_size if world_size != -1 else int(os.environ.get("WORLD_SIZE", size))
    expected_rank = rank if rank != -1 else int(os.environ.get("RANK", me))
    if expected_size != size or expected_rank != me:
        raise RuntimeError(
            f"the environment says rank {expected_rank} of {expected_size}, but MPI sees rank {me} "
            f"of {size}. disttorch forms the world through MPI: start the workers with "
            f"`disttorch-run --nproc-per-node N script.py`, `mpiexec -n N python script.py` or "
            f"`srun python script.py`, or from one process with "
            f"`disttorch.multiprocessing.spawn(fn, nprocs=N)` (processes started by "
            f"multiprocessing.Process, or with the fork or forkserver start methods, are not "
            f"an MPI world).")
    if name == Backend.NCCL:
        from .backend_nccl import ProcessGroupNCCL, nccl_unavailable_reason
        reason = nccl_unavailable_reason()
        if reason is not None:
            raise RuntimeError(reason)
        # device_id binds the communicator to that GPU now (PyTorch's eager init)
        pg = ProcessGroupNCCL(world.Dup(), timeout, device_id=device_id)
    elif name in (Backend.MPI, Backend.GLOO):
        from .backend_mpi import ProcessGroupMPI
        pg = ProcessGroupMPI(world.Dup(), timeout, list(range(size)))
    else:
        pg = Backend._registry[name](world.Dup(), timeout)
    _share_cores(pg)
    _State.default = pg
    _State.backend = name
    GroupMember.WORLD = group.WORLD = pg


def _share_cores(pg):
    """Workers sharing a node split its cores between their BLAS pools (as torchrun's
    ``OMP_NUM_THREADS=1`` does) unless the user chose a thread count."""
    if "OMP_NUM_THREADS" in os.environ or "OPENBLAS_NUM_THREADS" in os.environ:
        return
    board = getattr(pg, "board", None)
    local = board.node.Get_size() if board is not None else 1
    if local > 1:
        from .._threads import set_num_threads
        set_num_threads(max(1, (os.cpu_count() or 1) // local))


def destroy_process_group(group=None):
    """Tear down ``group`` (the default group and every subgroup when None)."""
    if group is None or group is _State.default:
        for g in list(_State.groups.values()):
            g.shutdown()
        _State.groups.clear()
        _State.group_backends.clear()
        _State.made = 0
        if _State.default is not None:
            _State.default.shutdown()
        _State.default = None
        _State.backend = None
        GroupMember.WORLD = globals()["group"].WORLD = None
    else:
        group.shutdown()
        _State.groups.pop(id(group), None)
        _State.group_backends.pop(id(group), None)


def get_rank(group=None):
    """This process's rank in ``group`` (the default group when None); -1 if not a member."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return _group(group).rank()


def get_world_size(group=None):
    """Number of ranks in ``group`` (the default group when None)."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return _group(group).size()


def get_backend(group=None):
    """The backend of ``group`` (the default group when None), as a string."""
    pg = _group(group)
    return str(_State.group_backends.get(id(pg), _State.backend))


def get_process_group_ranks(group):
    return list(_group(group).global_ranks)


def get_global_rank(group, group_rank):
    return _group(group).global_ranks[group_rank]


def get_group_rank(group, global_rank):
    ranks = _group(group).global_ranks
    if global_rank not in ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {group}")
    return ranks.index(global_rank)


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None):
    """A subgroup of the default group with the given global ``ranks`` (all ranks when None).

    Every rank of the default group calls it; ranks outside ``ranks`` get
    ``GroupMember.NON_GROUP_MEMBER``. ``backend`` gives the subgroup a backend of its own
    (``"gloo"``/``"mpi"`` for CPU tensors beside an NCCL world, ``"nccl"`` beside an MPI one);
    by default it has the default group's.
    """
    world = _require_init()
    ranks = list(range(world.size())) if ranks is None else sorted({int(r) for r in ranks})
    for r in ranks:
        if not 0 <= r < world.size():
            raise ValueError(f"The new group's rank should be within the world_size set by "
                             f"init_process_group, got rank {r}")
    name = f"group{len(_State.groups) + 1}"
    timeout = timeout or world.timeout
    wanted = Backend(backend) if backend is not None else _State.backend
    pg = world.split(ranks, timeout, name) if wanted == _State.backend else \
        _split_with_backend(world, wanted, ranks, timeout, name)
    _State.made += 1
    if pg is None:
        return GroupMember.NON_GROUP_MEMBER
    _State.groups[id(pg)] = pg
    if wanted != _State.backend:
        _State.group_backends[id(pg)] = wanted
    return pg


def new_subgroups(group_size=None, group=None, timeout=None, backend=None, pg_options=None,
                  group_desc=None):
    """Split ``group`` (the world by default) into subgroups of ``group_size`` consecutive
    ranks (by default, the GPUs of a machine). Every rank calls it; returns
    ``(this rank's subgroup, all subgroups)``."""
    if group_size is None:
        from .. import cuda
        if not cuda.is_available():
            raise ValueError("Default group size only takes effect when CUDA is available."
                             "If your subgroup using a backend that does not depend on CUDA,"
                             "please pass in 'group_size' correctly.")
        group_size = cuda.device_count()
    if group_size <= 0:
        raise ValueError(f"The arg 'group_size' ({group_size}) must be positive")
    size = get_world_size(group)
    if size < group_size:
        raise ValueError(f"The arg 'group_size' ({group_size}) must not exceed the world size "
                         f"({size})")
    if size % group_size:
        raise ValueError(f"The world size ({size}) must be divisible by "
                         f"'group_size={group_size}'")
    ranks = get_process_group_ranks(group if group is not None else _require_init())
    return new_subgroups_by_enumeration([ranks[i:i + group_size]
                                         for i in range(0, len(ranks), group_size)],
                                        timeout=timeout, backend=backend, pg_options=pg_options,
                                        group_desc=group_desc)


def new_subgroups_by_enumeration(ranks_per_subgroup_list, timeout=None, backend=None,
                                 pg_options=None, group_desc=None):
    """One subgroup per list of global ranks in ``ranks_per_subgroup_list`` (disjoint). Every
    rank calls it; returns ``(this rank's subgroup or None, all subgroups)``."""
    if not ranks_per_subgroup_list:
        raise ValueError("The arg 'ranks_per_subgroup_list' cannot be empty")
    # overlaps are refused before any group is made
    owner = {}
    for ranks in ranks_per_subgroup_list:
        for rank in ranks:
            if rank in owner:
                raise ValueError(f"Rank {rank} has appeared in both subgroup {owner[rank]} and "
                                 f"{ranks}")
            owner[rank] = ranks
    me = get_rank()
    subgroups, mine = [], None
    for ranks in ranks_per_subgroup_list:
        subgroup = new_group(ranks=ranks, timeout=timeout, backend=backend,
                             pg_options=pg_options, group_desc=group_desc)
        subgroups.append(subgroup)
        if me in ranks:
            mine = subgroup
    return mine, subgroups


def get_pg_count():
    """How many process groups have been made since ``init_process_group``, the default one
    included (every rank counts every ``new_group`` call, member or not)."""
    return 0 if _State.default is None else 1 + _State.made


def get_node_local_rank(fallback_rank=None):
    """This process's rank on its machine: ``LOCAL_RANK`` (set by ``disttorch-run`` and
    torchrun), else ``fallback_rank``."""
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment. Consider passing fallback_rank to "
                       "allow `get_node_local_rank` to work, assuming you are not running in a "
                       "multi-device context and want the code to run locally instead.")


def is_backend_available(backend):
    """Whether ``backend`` (a built-in name or a registered one) can be used here."""
    name = str(backend).lower()
    checks = {Backend.MPI: is_mpi_available, Backend.GLOO: is_gloo_available,
              Backend.NCCL: is_nccl_available}
    if name in checks:
        return checks[name]()
    return name in Backend._registry


def get_default_backend_for_device(device):
    """The backend PyTorch picks for a device type: ``"gloo"`` (here: MPI) for the CPU,
    ``"nccl"`` for CUDA."""
    from .._device import device as as_device
    kind = device.type if hasattr(device, "type") else as_device(device).type
    backend = {"cpu": "gloo", "cuda": "nccl"}.get(kind)
    if backend is None:
        raise ValueError(f"Default backend not registered for device : {device}")
    return backend


def supports_complex(reduceOp):
    """Whether ``reduceOp`` is defined on complex tensors (not MAX, MIN, PRODUCT or the
    bitwise ops)."""
    return reduceOp not in (ReduceOp.MAX, ReduceOp.MIN, ReduceOp.PRODUCT, ReduceOp.BAND,
                            ReduceOp.BOR, ReduceOp.BXOR)


def is_ucc_available():
    return False


def is_xccl_available():
    return False


def get_backend_config(group=None):
    """Which backend serves each device type for ``group``, as PyTorch writes it
    (``"cpu:gloo,cuda:gloo"``, ``"cuda:nccl"``)."""
    backend = get_backend(group)
    return "cuda:nccl" if backend == Backend.NCCL else f"cpu:{backend},cuda:{backend}"


_breakpoint_hits = {}


def _terminal_pdb():
    """A pdb that reads the terminal (``/dev/stdin``): under a launcher a rank's ``sys.stdin``
    is often not the user's terminal. (pdb is imported only when a breakpoint is hit.)"""
    import pdb
    import sys

    class TerminalPdb(pdb.Pdb):
        def interaction(self, *args, **kwargs):
            saved = sys.stdin
            try:
                with open("/dev/stdin") as terminal:
                    sys.stdin = self.stdin = terminal
                    return super().interaction(*args, **kwargs)
            finally:
                sys.stdin = self.stdin = saved
    return TerminalPdb()


def breakpoint(rank=0, skip=0, timeout_s=3600):
    """Stop in pdb on ``rank`` only; every other rank waits (in a barrier) until it goes on.

    Args:
        rank (int): the rank that stops.
        skip (int): pass this breakpoint (at this place in the code) that many times first.
        timeout_s (float, optional): the groups' timeout while the debugger runs, so that the
            waiting ranks do not give up.
    """
    import sys
    caller = sys._getframe(1)
    if skip > 0:
        where = (caller.f_code.co_filename, caller.f_lineno)
        _breakpoint_hits[where] = _breakpoint_hits.get(where, 0) + 1
        if _breakpoint_hits[where] <= skip:
            return
    if timeout_s is not None:
        timeout = datetime.timedelta(seconds=timeout_s)
        for pg in [_require_init()] + list(_State.groups.values()):
            pg.timeout = timeout
    if get_rank() == rank:
        debugger = _terminal_pdb()
        debugger.message(f"\n!!! ATTENTION !!!\n\nType 'up' to get to the frame that called "
                         f"dist.breakpoint(rank={rank})\n")
        # stops here, before the barrier, as PyTorch's does: 'up' is the caller
        debugger.set_trace()
    barrier()


def _split_with_backend(world, backend, ranks, timeout, name):
    """A subgroup of ``world`` on another built-in backend: its ranks' MPI communicator (the
    NCCL backend's control group, or the MPI group itself), wrapped in NCCL where asked."""
    from .backend_mpi import ProcessGroupMPI
    base = world if isinstance(world, ProcessGroupMPI) else getattr(world, "control", None)
    if base is None or backend not in (Backend.MPI, Backend.GLOO, Backend.NCCL):
        raise ValueError(f"new_group: cannot make a '{backend}' subgroup of a "
                         f"'{_State.backend}' default group")
    control = base.split(ranks, timeout, name)
    if control is None or backend != Backend.NCCL:
        return control
    from .backend_nccl import ProcessGroupNCCL, nccl_unavailable_reason
    reason = nccl_unavailable_reason()
    if reason is not None:
        raise RuntimeError(reason)
    return ProcessGroupNCCL(None, timeout, name=name, control=control)


def _rank_in(pg, global_rank, what):
    ranks = pg.global_ranks
    if global_rank not in ranks:
        raise ValueError(f"{what} rank {global_rank} is not part of the group (ranks {ranks})")
    return ranks.index(global_rank)


def _check_tensor(t, name="tensor"):
    from ..tensor import Tensor
    if not isinstance(t, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type "
                        f"torch.Tensor but got {type(t).__name__} instead.")


def _done(result, async_op):
    return result if async_op else None


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` across all ranks, in place (every rank gets the result)."""
    _check_tensor(tensor)
    return _done(_group(group).allreduce(tensor, op, async_op), async_op)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy ``tensor`` from global rank ``src`` to every rank, in place."""
    _check_tensor(tensor)
    pg = _group(group)
    root = group_src if group_src is not None else _rank_in(pg, src, "src")
    return _done(pg.broadcast(tensor, root, async_op), async_op)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce ``tensor`` across ranks into global rank ``dst``."""
    _check_tensor(tensor)
    pg = _group(group)
    root = group_dst if group_dst is not None else _rank_in(pg, dst, "dst")
    return _done(pg.reduce(tensor, root, op, async_op), async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Gather ``tensor`` from every rank into ``tensor_list`` (one tensor per rank)."""
    _check_tensor(tensor)
    pg = _group(group)
    if len(tensor_list) != pg.size():
        raise ValueError(f"all_gather expects a list of {pg.size()} tensors, got {len(tensor_list)}")
    return _done(pg.allgather(tensor_list, tensor, async_op), async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Gather every rank's ``input_tensor`` into ``output_tensor`` (concatenated or stacked)."""
    pg = _group(group)
    if output_tensor.numel() != input_tensor.numel() * pg.size():
        raise ValueError(f"output tensor must have {pg.size()} times the input's elements "
                         f"({input_tensor.numel() * pg.size()}), got {output_tensor.numel()}")
    return _done(pg.allgather_into_tensor(output_tensor, input_tensor, async_op), async_op)


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """Gather ``tensor`` from every rank into ``gather_list`` on global rank ``dst``."""
    pg = _group(group)
    root = _rank_in(pg, dst, "dst")
    if pg.rank() == root and (gather_list is None or len(gather_list) != pg.size()):
        raise ValueError(f"gather_list on the destination must hold {pg.size()} tensors")
    return _done(pg.gather(tensor, gather_list, root, async_op), async_op)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """Send ``scatter_list[i]`` from global rank ``src`` to rank ``i``'s ``tensor``."""
    pg = _group(group)
    root = _rank_in(pg, src, "src")
    if pg.rank() == root and (scatter_list is None or len(scatter_list) != pg.size()):
        raise ValueError(f"scatter_list on the source must hold {pg.size()} tensors")
    return _done(pg.scatter(tensor, scatter_list, root, async_op), async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input_list[i]`` across ranks into rank ``i``'s ``output``."""
    pg = _group(group)
    if len(input_list) != pg.size():
        raise ValueError(f"reduce_scatter expects {pg.size()} input tensors, got {len(input_list)}")
    return _done(pg.reduce_scatter(output, input_list, op, async_op), async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input`` across ranks and give rank ``i`` the ``i``-th chunk in ``output``."""
    pg = _group(group)
    if input.numel() != output.numel() * pg.size():
        raise ValueError(f"input tensor must have {pg.size()} times the output's elements")
    return _done(pg.reduce_scatter_tensor(output, input, op, async_op), async_op)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """Rank ``i`` sends ``input_tensor_list[j]`` to rank ``j``'s ``output_tensor_list[i]``."""
    return _done(_group(group).alltoall(output_tensor_list, input_tensor_list, async_op), async_op)


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None,
                      async_op=False):
    """``all_to_all`` on single tensors split along dim 0 (evenly, or by the split sizes)."""
    return _done(_group(group).alltoall_single(output, input, output_split_sizes,
                                               input_split_sizes, async_op), async_op)


def send(tensor, dst, group=None, tag=0):
    """Send ``tensor`` to global rank ``dst`` (blocking)."""
    pg = _group(group)
    pg.send(tensor, _rank_in(pg, dst, "dst"), tag, False)


def recv(tensor, src=None, group=None, tag=0):
    """Receive into ``tensor`` from global rank ``src`` (any rank when None); returns the sender."""
    pg = _group(group)
    return pg.recv(tensor, None if src is None else _rank_in(pg, src, "src"), tag, False)


def isend(tensor, dst, group=None, tag=0):
    pg = _group(group)
    return pg.send(tensor, _rank_in(pg, dst, "dst"), tag, True)


def irecv(tensor, src=None, group=None, tag=0):
    pg = _group(group)
    return pg.recv(tensor, None if src is None else _rank_in(pg, src, "src"), tag, True)


def barrier(group=None, async_op=False, device_ids=None):
    """Block until every rank of the group has reached the barrier."""
    return _done(_group(group).barrier(async_op), async_op)


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    """A barrier that fails with the ranks that did not arrive within ``timeout``."""
    pg = _group(group)
    if timeout is None:
        pg.barrier(False)
        return
    saved = pg.timeout
    pg.timeout = timeout
    try:
        pg.barrier(False)
    finally:
        pg.timeout = saved


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Broadcast picklable-free objects (plain data and tensors) from ``src``, in place."""
    pg = _group(group)
    root = group_src if group_src is not None else _rank_in(pg, src if src is not None else 0,
                                                            "src")
    payload = _objects.dumps(list(object_list)) if pg.rank() == root else b""
    received = _objects.loads(pg.broadcast_bytes(payload, root))
    if pg.rank() != root:
        object_list[:] = received


def all_gather_object(object_list, obj, group=None):
    """Gather one object from every rank into ``object_list``."""
    pg = _group(group)
    if len(object_list) != pg.size():
        raise ValueError(f"object_list must have {pg.size()} entries, got {len(object_list)}")
    for i, payload in enumerate(pg.allgather_bytes(_objects.dumps(obj))):
        object_list[i] = _objects.loads(payload)


def gather_object(obj, object_gather_list=None, dst=0, group=None):
    """Gather one object from every rank into ``object_gather_list`` on ``dst``."""
    pg = _group(group)
    root = _rank_in(pg, dst, "dst")
    everything = pg.allgather_bytes(_objects.dumps(obj))
    if pg.rank() == root:
        if object_gather_list is None or len(object_gather_list) != pg.size():
            raise ValueError(f"object_gather_list on the destination must have {pg.size()} entries")
        for i, payload in enumerate(everything):
            object_gather_list[i] = _objects.loads(payload)


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=0,
                        group=None):
    """Rank ``i`` receives ``scatter_object_input_list[i]`` from ``src`` into
    ``scatter_object_output_list[0]``."""
    pg = _group(group)
    root = _rank_in(pg, src, "src")
    payload = _objects.dumps(list(scatter_object_input_list)) if pg.rank() == root else b""
    everything = _objects.loads(pg.broadcast_bytes(payload, root))
    scatter_object_output_list[0] = everything[pg.rank()]
