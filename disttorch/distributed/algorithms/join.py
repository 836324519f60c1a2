"""``Join``: training with uneven inputs across ranks.

Ranks that run out of data keep shadowing the collectives of the ranks still training until
every rank has finished, so nobody hangs in a collective its peers never call.
"""
import abc

__all__ = ["Join", "Joinable", "JoinHook"]


class JoinHook:
    """What a joined rank does each iteration (``main_hook``) and once all joined (``post_hook``)."""

    def main_hook(self):
        """Shadow one training iteration's collectives."""

    def post_hook(self, is_last_joiner):
        """Run once every rank has joined."""


class Joinable(abc.ABC):
    """An object (e.g. DDP) that can take part in :class:`Join`."""

    @abc.abstractmethod
    def join_hook(self, **kwargs):
        """The :class:`JoinHook` shadowing this object's collectives."""

    @property
    @abc.abstractmethod
    def join_device(self):
        """The device of the join bookkeeping tensors."""

    @property
    @abc.abstractmethod
    def join_process_group(self):
        """The process group the collectives run on."""


class Join:
    """Context manager for training loops with uneven inputs.

    Args:
        joinables: objects (e.g. ``DistributedDataParallel``) whose collectives are shadowed.
        enable: turn the machinery off (it costs one small all-reduce per iteration).
        throw_on_early_termination: raise on every rank as soon as one rank runs out of data.

    Example::

        >>> with Join([ddp_model]):
        ...     for batch in loader:          # ranks may see different numbers of batches
        ...         ddp_model(batch).sum().backward()
    """

    def __init__(self, joinables, enable=True, throw_on_early_termination=False, **kwargs):
        self.joinables = list(joinables)
        self.enable = enable
        self.throw = throw_on_early_termination
        self.hooks = [j.join_hook(**kwargs) for j in self.joinables]

    def __enter__(self):
        if self.enable:
            for j in self.joinables:
                j._join_config = self
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self.enable:
            return False
        try:
            if exc_type is None:
                self._shadow_until_all_joined()
        finally:
            for j in self.joinables:
                j._join_config = None
        return False

    def notify_join_context(self, joinable):
        """Called by an active rank at the start of each iteration: counts the active ranks."""
        from .. import all_reduce
        from ...ops.creation import ones
        flag = ones(1, device=joinable.join_device)
        all_reduce(flag, group=joinable.join_process_group)
        active = int(flag.item())
        if self.throw and active < joinable.join_process_group.size():
            raise RuntimeError("Rank ran out of inputs: a peer has joined early "
                               "(throw_on_early_termination=True)")
        return active

    def _shadow_until_all_joined(self):
        from .. import all_reduce
        from ...ops.creation import zeros
        from .. import ReduceOp
        group = self.joinables[0].join_process_group
        device = self.joinables[0].join_device
        shadowed = 0
        while True:
            flag = zeros(1, device=device)
            all_reduce(flag, group=group)
            if flag.item() == 0:
                break
            if self.throw:
                raise RuntimeError("Rank ran out of inputs before its peers "
                                   "(throw_on_early_termination=True)")
            shadowed += 1
            for hook in self.hooks:
                hook.main_hook()
        # The last joiner (a rank that never had to shadow; the highest such rank) holds the
        # final model that the others adopt.
        me = group.global_ranks[group.rank()]
        candidate = zeros(1, device=device)
        candidate.fill_(float(me if shadowed == 0 else -1))
        all_reduce(candidate, op=ReduceOp.MAX, group=group)
        self.last_joiner = int(candidate.item())
        for hook in self.hooks:
            hook.post_hook(me == self.last_joiner)
