"""``disttorch.utils.hooks``: hook handles and helpers, as ``torch.utils.hooks``.

:class:`RemovableHandle` is the handle every ``register_*hook`` of disttorch returns.
:class:`BackwardHook` is the runner of modules' full backward hooks
(``Module.register_full_backward_hook``), loaded with ``disttorch.nn`` on first use.
"""
import warnings

from ..autograd.hooks import RemovableHandle

__all__ = ["RemovableHandle", "unserializable_hook", "warn_if_has_hooks", "BackwardHook"]


def unserializable_hook(f):
    """Mark ``f`` as a hook that is not meant to be serialized: :func:`warn_if_has_hooks` then
    stays silent about it. Use as a decorator; returns ``f``."""
    f.__torch_unserializable__ = True
    return f


def _tensor_hooks(tensor):
    # a leaf keeps its hooks itself; a non-leaf's are pre-hooks of its grad_fn, keyed by output
    if tensor.grad_fn is None:
        return list((tensor._hooks or {}).values())
    pre_hooks = tensor.grad_fn._pre_hooks or {}
    return [hook for output_nr, hook in pre_hooks.values() if output_nr == tensor._output_nr]


def warn_if_has_hooks(tensor):
    """Warn about each backward hook of ``tensor`` (``Tensor.register_hook``) that would be
    lost by serializing it, unless marked with :func:`unserializable_hook`."""
    for hook in _tensor_hooks(tensor):
        if not hasattr(hook, "__torch_unserializable__"):
            warnings.warn(f"backward hook {hook!r} on tensor will not be serialized.  If this "
                          "is expected, you can decorate the function with "
                          "@torch.utils.hooks.unserializable_hook to suppress this warning",
                          stacklevel=2)


def __getattr__(name):
    # disttorch.nn is heavy: import it only when the runner is asked for
    if name == "BackwardHook":
        from ..nn.modules._hooks import _BackwardHook
        return _BackwardHook
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
