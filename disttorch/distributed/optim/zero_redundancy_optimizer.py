"""``ZeroRedundancyOptimizer``: optimizer state sharded across ranks (ZeRO stage 1)."""
from ...autograd import grad_mode
from ...optim.optimizer import Optimizer
from .._coalesced import broadcast_coalesced

__all__ = ["ZeroRedundancyOptimizer"]


class ZeroRedundancyOptimizer(Optimizer):
    """Wrap an optimizer so that each rank keeps the state of only its share of the parameters.

    Every rank owns a partition of each parameter group (balanced by size); ``step`` updates the
    owned parameters with the wrapped optimizer and then broadcasts each partition from its
    owner, so all ranks end with the same parameters while holding ``1/world_size`` of the
    optimizer state (e.g. Adam's moments).

    Args:
        params: parameters or parameter groups, as for any optimizer.
        optimizer_class: the local optimizer class (e.g. ``disttorch.optim.Adam``).
        process_group: the group to shard over (default: the world).
        parameters_as_bucket_view: accepted for compatibility (parameters keep their storage).
        overlap_with_ddp: must be False (overlapping with DDP's hooks is not provided).
        **defaults: the wrapped optimizer's arguments (``lr=...``).

    Example::

        >>> opt = ZeroRedundancyOptimizer(ddp.parameters(), optimizer_class=optim.Adam, lr=1e-3)
        >>> loss.backward(); opt.step()
        >>> opt.consolidate_state_dict(to=0)
        >>> if rank == 0: disttorch.save(opt.state_dict(), "opt.pt")
    """

    def __init__(self, params, optimizer_class, process_group=None,
                 parameters_as_bucket_view=False, overlap_with_ddp=False, **defaults):
        if overlap_with_ddp:
            raise ValueError("ZeroRedundancyOptimizer(overlap_with_ddp=True) is not supported by "
                             "disttorch; step the optimizer after backward")
        from ... import distributed as dist
        super().__init__(params, defaults)
        self.process_group = process_group if process_group is not None else \
            dist.get_default_group()
        self.rank = self.process_group.rank()
        self.world_size = self.process_group.size()
        self.optimizer_class = optimizer_class
        self._all_params = [p for g in self.param_groups for p in g["params"]]
        self._global_index = {id(p): i for i, p in enumerate(self._all_params)}
        self._owner = {}
        for group in self.param_groups:
            self._partition(group["params"])
        local_groups = []
        for group in self.param_groups:
            options = {k: v for k, v in group.items() if k != "params"}
            mine = [p for p in group["params"] if self._owner[id(p)] == self.rank]
            local_groups.append(dict(options, params=mine))
        non_empty = [g for g in local_groups if g["params"]]
        self._local_groups_map = [i for i, g in enumerate(local_groups) if g["params"]]
        self.optim = optimizer_class(non_empty, **defaults) if non_empty else None
        self._consolidated = None

    def _partition(self, params):
        loads = [0] * self.world_size
        for p in sorted(params, key=lambda t: t.numel(), reverse=True):
            owner = min(range(self.world_size), key=lambda r: loads[r])
            self._owner[id(p)] = owner
            loads[owner] += p.numel()

    @property
    def state(self):
        return self.optim.state if self.optim is not None else {}

    @state.setter
    def state(self, value):
        # the base constructor assigns an empty state; the shard's state lives in self.optim
        pass

    def _sync_options(self):
        # lr schedulers edit self.param_groups: hand the options to the local optimizer
        if self.optim is None:
            return
        for local, index in zip(self.optim.param_groups, self._local_groups_map):
            for key, value in self.param_groups[index].items():
                if key != "params":
                    local[key] = value

    def step(self, closure=None):
        """Update the owned partition, then broadcast every partition from its owner."""
        self._sync_options()
        if self.optim is not None:
            loss = self.optim.step(closure)
        else:
            loss = None
            if closure is not None:
                with grad_mode.enable_grad():
                    loss = closure()
        self._broadcast_partitions()
        return loss

    def _broadcast_partitions(self):
        for owner in range(self.world_size):
            broadcast_coalesced(self.process_group,
                                [p for p in self._all_params if self._owner[id(p)] == owner], owner)

    def zero_grad(self, set_to_none=True):
        Optimizer.zero_grad(self, set_to_none)

    def add_param_group(self, param_group):
        if hasattr(self, "optim"):
            raise RuntimeError("ZeroRedundancyOptimizer does not support add_param_group after "
                               "construction in disttorch; pass every group to the constructor")
        super().add_param_group(param_group)

    # ------------------------------------------------------------- state dicts
    def _local_state_with_global_ids(self):
        if self.optim is None:
            return {}
        local = self.optim.state_dict()["state"]
        local_params = [p for g in self.optim.param_groups for p in g["params"]]
        return {self._global_index[id(local_params[k])]: v for k, v in local.items()}

    def consolidate_state_dict(self, to=0):
        """Gather every rank's shard of the state on global rank ``to`` (call on all ranks)."""
        from ... import distributed as dist
        shards = [None] * self.world_size
        dist.all_gather_object(shards, self._local_state_with_global_ids(),
                               group=self.process_group)
        me = self.process_group.global_ranks[self.rank]
        if me == to:
            merged = {}
            for shard in shards:
                merged.update({int(k): v for k, v in shard.items()})
            self._consolidated = merged
        else:
            self._consolidated = None

    def state_dict(self):
        """The full state, in the wrapped optimizer's format (after ``consolidate_state_dict``)."""
        if self._consolidated is None:
            raise RuntimeError("Optimizer state has not been consolidated on this rank. Please "
                               "call `consolidate_state_dict(to)` on all ranks beforehand and "
                               "then call `state_dict()` on the destination rank.")
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [self._global_index[id(p)] for p in group["params"]]
            groups.append(packed)
        return {"state": dict(sorted(self._consolidated.items())), "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load a full state dict; each rank keeps the shard of the parameters it owns."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for group, saved in zip(self.param_groups, saved_groups):
            for key, value in saved.items():
                if key != "params":
                    group[key] = value
        if self.optim is None:
            return
        local_params = [p for g in self.optim.param_groups for p in g["params"]]
        local_state = {}
        for k, p in enumerate(local_params):
            value = state_dict["state"].get(self._global_index[id(p)])
            if value is None:
                value = state_dict["state"].get(str(self._global_index[id(p)]))
            if value is not None:
                local_state[k] = value
        local_groups = []
        offset = 0
        for local, index in zip(self.optim.param_groups, self._local_groups_map):
            packed = {k: v for k, v in self.param_groups[index].items() if k != "params"}
            packed["params"] = list(range(offset, offset + len(local["params"])))
            offset += len(local["params"])
            local_groups.append(packed)
        self.optim.load_state_dict({"state": local_state, "param_groups": local_groups})
