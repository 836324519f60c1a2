"""Hook handles shared by tensors, nodes and modules."""
import itertools

_next_id = itertools.count()  # next() on it is atomic: handles may be made from any thread


class RemovableHandle:
    """A handle returned by ``register_*hook``; ``remove()`` unregisters the hook.

    Args:
        hooks_dict (dict): the hooks, by handle ``id``.
        hook (callable, optional): stored in ``hooks_dict`` under the new ``id``; without it
            the caller stores it (``hooks_dict[handle.id] = hook``), as with PyTorch's handle.
        extra_dict (dict or list of dicts, optional): more dictionaries whose entry under
            ``id`` is deleted on ``remove()`` too.

    Handles pickle (with their dictionaries) and work as context managers that remove the
    hook on exit.
    """

    def __init__(self, hooks_dict, hook=None, *, extra_dict=None):
        self.hooks_dict = hooks_dict
        self.id = next(_next_id)
        if isinstance(extra_dict, dict):
            self.extra_dicts = (extra_dict,)
        elif isinstance(extra_dict, list):
            self.extra_dicts = tuple(extra_dict)
        else:
            self.extra_dicts = ()
        if hook is not None:
            hooks_dict[self.id] = hook

    def remove(self):
        self.hooks_dict.pop(self.id, None)
        for extra in self.extra_dicts:
            extra.pop(self.id, None)

    def __getstate__(self):
        rest = {k: v for k, v in self.__dict__.items()
                if k not in ("hooks_dict", "id", "extra_dicts")}
        return self.hooks_dict, self.id, tuple(self.extra_dicts), rest

    def __setstate__(self, state):
        hooks_dict, self.id, extras = (tuple(state) + (None,))[:3]
        # a handle pickled without its dictionary removes nothing
        self.hooks_dict = {} if hooks_dict is None else hooks_dict
        self.extra_dicts = tuple(extras or ())
        if len(state) > 3:
            self.__dict__.update(state[3])
        # ids handed out from now on must not collide with the restored one
        global _next_id
        _next_id = itertools.count(max(next(_next_id), self.id + 1))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
