"""``DistributedDataParallel``: data-parallel training with gradient all-reduce overlapped
with the backward pass."""
import contextlib
import time

from ..._backend import device_scope, several_devices
from ...autograd import grad_mode
from ...autograd.engine import queue_callback
from ...tensor import Tensor, _new
from ..modules.module import Module
from ..parameter import is_lazy
from ._buckets import GradBucket, build_buckets, _FIRST_BUCKET_BYTES
from ...cuda.kernels.ddp import copy_into
from ...distributed._coalesced import broadcast_coalesced

__all__ = ["DistributedDataParallel"]


class _DDPJoinHook:
    def __init__(self, ddp):
        self.ddp = ddp

    def main_hook(self):
        self.ddp._shadow_iteration()

    def post_hook(self, is_last_joiner):
        # ranks that joined early stopped stepping: adopt the last joiner's model
        ddp = self.ddp
        src = ddp._join_config.last_joiner
        group = ddp.process_group
        tensors = [p for _, p in ddp.module.named_parameters()] + \
            [b for _, b in ddp.module.named_buffers()]
        ddp._broadcast_coalesced(tensors, group.global_ranks.index(src))


class DistributedDataParallel(Module):
    """Data parallelism across processes: each rank runs the module on its own batch and the
    gradients are averaged across ranks during ``backward``.

    Parameters and buffers are broadcast from rank 0 at construction (and buffers before each
    forward when ``broadcast_buffers``). Gradients are packed into flat buckets in reverse
    registration order (the first bucket small, then ``bucket_cap_mb``); each bucket's
    all-reduce starts as soon as its last gradient has been accumulated, so communication
    overlaps the rest of the backward pass. When ``backward`` returns, every ``.grad`` holds
    the average over ranks.

    Args:
        module: the module to replicate.
        device_ids, output_device, dim: accepted for PyTorch compatibility (one device per rank).
        broadcast_buffers (bool): sync buffers from rank 0 before each forward. Default: True.
        process_group: the group to average over (default: the world).
        bucket_cap_mb (float): bucket size in MiB. Default: 25.
        find_unused_parameters (bool): traverse the graph after forward and treat parameters
            that do not take part as ready (zero gradient).
        gradient_as_bucket_view (bool): leave ``.grad`` as views into the buckets (saves the
            copy back and memory).
        static_graph (bool): accepted; the graph is re-examined each iteration anyway.

    Example::

        >>> dist.init_process_group("gloo")
        >>> model = DistributedDataParallel(Net())
        >>> loss_fn(model(x), y).backward()   # grads averaged across ranks
        >>> optimizer.step()
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 init_sync=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None,
                 mixed_precision=None, device_mesh=None, skip_all_reduce_unused_params=False):
        super().__init__()
        from ... import distributed as dist
        self.module = module
        self.process_group = process_group if process_group is not None else \
            dist.get_default_group()
        if any(is_lazy(p) for p in module.parameters()):
            raise RuntimeError("Modules with uninitialized parameters can't be used with "
                               "`DistributedDataParallel`. Run a dummy forward pass to correctly "
                               "initialize the modules")
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        self._comm_hook = None
        self._comm_hook_state = None
        self._join_config = None
        self._unused_error = None
        self._unused = set()
        self._iteration_started = False
        self.bucket_log = []
        seen = set()
        self._named_params = []
        for name, p in module.named_parameters():
            if p._requires_grad and id(p) not in seen:
                seen.add(id(p))
                self._named_params.append((name, p))
        self._verify_same_model()
        with self._on_device():
            if init_sync:
                self._sync_module_states()
            self._buckets = build_buckets(self._named_params, min(_FIRST_BUCKET_BYTES,
                                                                  self.bucket_bytes_cap),
                                          self.bucket_bytes_cap)
        self._slot = {}
        for bucket in self._buckets:
            for i, p in enumerate(bucket.params):
                self._slot[id(p)] = (bucket, i)
        self._next_to_launch = 0
        self._hook_handles = [p.register_post_accumulate_grad_hook(self._on_grad_ready)
                              for _, p in self._named_params]

    def _on_device(self):
        """Enter the parameters' CUDA device when another is current: the buckets and
        broadcasts are raw array work, which CuPy launches on the current device."""
        if not several_devices[0]:
            return contextlib.nullcontext()
        return device_scope([p._data for _, p in self._named_params[:1]] or
                            [b._data for b in self.module.buffers()][:1])

    # ------------------------------------------------------------ construction
    def _verify_same_model(self):
        from ...distributed import _objects
        mine = [[name, list(p.shape), p._data.dtype.str] for name, p in self._named_params]
        everyone = [_objects.loads(b) for b in
                    self.process_group.allgather_bytes(_objects.dumps(mine))]
        reference = everyone[0]
        ranks = self.process_group.global_ranks
        for r, theirs in enumerate(everyone[1:], start=1):
            if len(theirs) != len(reference):
                raise RuntimeError(f"DDP expects same model across all ranks, but Rank {ranks[r]} has "
                                   f"{len(theirs)} params, while rank {ranks[0]} has inconsistent "
                                   f"{len(reference)} params.")
            for (name0, shape0, dt0), (name, shape, dt) in zip(reference, theirs):
                if shape != shape0 or dt != dt0 or name != name0:
                    raise RuntimeError(
                        f"DDP expects same model across all ranks: parameter '{name}' has shape "
                        f"{shape} ({dt}) on rank {ranks[r]} but '{name0}' has shape {shape0} "
                        f"({dt0}) on rank {ranks[0]}.")

    def _sync_module_states(self):
        tensors = [p for _, p in self.module.named_parameters()] + \
            [b for _, b in self.module.named_buffers()]
        self._broadcast_coalesced(tensors)

    def _broadcast_coalesced(self, tensors, src=0):
        """Broadcast from group rank ``src`` with one collective per dtype (not one per tensor)."""
        broadcast_coalesced(self.process_group, tensors, src)

    # ------------------------------------------------------------------ forward
    def forward(self, *inputs, **kwargs):
        if self._unused_error is not None:
            error, self._unused_error = self._unused_error, None
            raise RuntimeError(error)
        if self._join_config is not None:
            self._join_config.notify_join_context(self)
        if self.broadcast_buffers and self.require_forward_param_sync:
            buffers = [b for _, b in self.module.named_buffers()]
            if buffers and self.process_group.size() > 1:
                self._broadcast_coalesced(buffers)
        output = self.module(*inputs, **kwargs)
        self._unused = set()
        if self.find_unused_parameters and grad_mode.is_grad_enabled() and \
                self.require_backward_grad_sync:
            self._unused = self._find_unused(output)
        return output

    def _find_unused(self, output):
        reached = set()
        roots = [t.grad_fn for t in _tensors_in(output) if t.grad_fn is not None]
        leaves = {id(t) for t in _tensors_in(output) if t.grad_fn is None and t._requires_grad}
        seen = set(roots)
        stack = list(roots)
        while stack:
            node = stack.pop()
            for edge in node.next_edges:
                if edge is None:
                    continue
                if edge[1] < 0:
                    reached.add(id(edge[0]))
                elif edge[0] not in seen:
                    seen.add(edge[0])
                    stack.append(edge[0])
        reached |= leaves
        return {id(p) for _, p in self._named_params if id(p) not in reached}

    # ----------------------------------------------------------------- backward
    def _start_iteration(self):
        self._iteration_started = True
        for bucket in self._buckets:
            bucket.reset()
        self._next_to_launch = 0
        self.bucket_log = []
        queue_callback(self._finish_iteration)
        for pid in self._unused:
            bucket, i = self._slot[pid]
            if bucket.fill(i, None):
                self._launch_ready()

    def _on_grad_ready(self, param):
        if not self.require_backward_grad_sync:
            return
        if not self._iteration_started:
            self._start_iteration()
        bucket, i = self._slot[id(param)]
        poll = getattr(self.process_group, "poll", None)
        if poll is not None:
            poll()  # advance the all-reduces already started (no busy communication thread)
        if bucket.ready[i]:
            # a parameter used twice accumulates again after its bucket was filled
            bucket.fill(i, param._grad._data)
            bucket.remaining += 1
            return
        if bucket.fill(i, param._grad._data):
            self._launch_ready()

    def _launch_ready(self):
        # Buckets are launched strictly in index order so every rank issues the same sequence
        # of collectives whatever order its gradients became ready in.
        while self._next_to_launch < len(self._buckets) and \
                self._buckets[self._next_to_launch].remaining == 0:
            bucket = self._buckets[self._next_to_launch]
            bucket.launched_at = time.perf_counter()
            bucket.future = self._reduce(bucket)
            self.bucket_log.append((bucket.index, bucket.launched_at))
            self._next_to_launch += 1

    def _reduce(self, bucket):
        grad_bucket = GradBucket(bucket, bucket.index == len(self._buckets) - 1)
        if self._comm_hook is not None:
            return self._comm_hook(self._comm_hook_state, grad_bucket)
        from ...distributed import ReduceOp
        work = self.process_group.allreduce(bucket.buffer_tensor, ReduceOp.AVG, True)
        return work.get_future()

    def _finish_iteration(self):
        with self._on_device():
            self._finish_buckets()

    def _finish_buckets(self):
        self._iteration_started = False
        self.backward_finished_at = time.perf_counter()
        missing = [(bucket, i) for bucket in self._buckets for i in range(len(bucket.params))
                   if not bucket.ready[i]]
        for bucket in self._buckets[:self._next_to_launch]:
            result = bucket.future.wait()
            if isinstance(result, (list, tuple)) and len(result) == 1:
                result = result[0]  # a collective's own future: its list of output tensors
            if isinstance(result, Tensor) and result._data is not bucket.buffer:
                bucket.buffer[...] = result._data.reshape(-1)
            self._write_back(bucket)
        if missing:
            missing.sort(key=lambda item: self._index_of(item[0].params[item[1]]))
            names = [bucket.names[i] for bucket, i in missing]
            indices = [self._index_of(bucket.params[i]) for bucket, i in missing]
            rank = self.process_group.global_ranks[self.process_group.rank()]
            self._unused_error = (
                "Expected to have finished reduction in the prior iteration before starting a new "
                "one. This error indicates that your module has parameters that were not used in "
                "producing loss. You can enable unused parameter detection by passing the keyword "
                "argument `find_unused_parameters=True` to "
                "`disttorch.nn.parallel.DistributedDataParallel`, and by making sure all `forward` "
                "function outputs participate in calculating loss.\n"
                f"Parameter indices which did not receive grad for rank {rank}: "
                f"{' '.join(map(str, indices))}\n"
                f"Parameters which did not receive grad for rank {rank}: {', '.join(names)}")

    def _index_of(self, param):
        for k, (_, p) in enumerate(self._named_params):
            if p is param:
                return k
        return -1

    def _write_back(self, bucket):
        targets, sources = [], []
        for i, p in enumerate(bucket.params):
            if id(p) in self._unused and p._grad is None:
                continue
            view = bucket.view(i)
            if self.gradient_as_bucket_view:
                p._grad = view
            elif p._grad is None:
                p._grad = _new(view._data.copy())
            else:
                targets.append(p._grad._data)
                sources.append(view._data)
                p._grad._vc[0] += 1
        if not copy_into(targets, sources):
            for target, source in zip(targets, sources):
                target[...] = source

    def _shadow_iteration(self):
        """A rank that has run out of data (``Join``): take part in the buffer broadcast and
        every bucket's all-reduce of one iteration with zero gradients."""
        if self.broadcast_buffers:
            buffers = [b for _, b in self.module.named_buffers()]
            if buffers:
                self._broadcast_coalesced(buffers)
        from ...distributed import ReduceOp
        with self._on_device():
            for bucket in self._buckets:
                bucket.buffer[...] = 0
                self.process_group.allreduce(bucket.buffer_tensor, ReduceOp.AVG, False)

    # ---------------------------------------------------------------- user API
    def will_sync_module_buffers(self):
        """Whether the next forward broadcasts the module's buffers from rank 0."""
        return bool(self.require_forward_param_sync and self.broadcast_buffers and
                    any(True for _ in self.module.buffers()))

    @contextlib.contextmanager
    def no_sync(self):
        """Accumulate gradients locally (no all-reduce) inside the block; the first backward
        after it all-reduces the accumulated gradients."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def register_comm_hook(self, state, hook):
        """Replace the bucket all-reduce by ``hook(state, bucket) -> Future`` (once)."""
        if self._comm_hook is not None:
            raise RuntimeError("register_comm_hook or register_builtin_comm_hook can only be called "
                               "once.")
        if not callable(hook):
            raise TypeError("Communication hook must be callable.")
        self._comm_hook = hook
        self._comm_hook_state = state

    def join(self, divide_by_initial_world_size=True, enable=True,
             throw_on_early_termination=False):
        """Context manager for uneven inputs (see :class:`disttorch.distributed.algorithms.Join`)."""
        from ...distributed.algorithms.join import Join
        return Join([self], enable, throw_on_early_termination)

    def join_hook(self, **kwargs):
        return _DDPJoinHook(self)

    @property
    def join_device(self):
        """Where the join flags live: the parameters' device (NCCL reduces only CUDA tensors)."""
        for p in self.module.parameters():
            return p.device
        from ..._device import device
        return device("cpu")

    @property
    def join_process_group(self):
        return self.process_group

    def _get_ddp_logging_data(self):
        return {"bucket_sizes": [b.buffer.nbytes for b in self._buckets],
                "num_buckets": len(self._buckets)}

    def __getstate__(self):
        raise RuntimeError("DistributedDataParallel cannot be pickled; save "
                           "`model.module.state_dict()` instead")


def _tensors_in(obj):
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors_in(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors_in(o)
