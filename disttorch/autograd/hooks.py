"""Hook handles shared by tensors, nodes and modules."""
import itertools

_next_id = itertools.count()


class RemovableHandle:
    """A handle returned by ``register_*hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks_dict, hook):
        self.hooks_dict = hooks_dict
        self.id = next(_next_id)
        hooks_dict[self.id] = hook

    def remove(self):
        self.hooks_dict.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
