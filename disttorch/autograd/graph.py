"""``torch.autograd.graph``: hooks on the values the graph keeps for backward, and on groups of
gradients.

``saved_tensors_hooks(pack_hook, unpack_hook)`` routes every value a node recorded inside it
keeps for its backward through ``pack_hook`` (its result is stored instead) and back through
``unpack_hook`` when that backward runs; ``save_on_cpu`` uses it to keep activations in host
memory. ``register_multi_grad_hook`` calls a function once the gradients of several tensors
are computed (``mode="all"``) or with the first of them (``"any"``).
``allow_mutation_on_saved_tensors`` lets saved tensors be modified in place: each is copied
just before its memory first changes (every in-place path tells it through
``_saved_hooks.mutation_watch``), and backward uses the copy.
"""
import contextlib

from ..tensor import Tensor
from . import _saved_hooks
from .function import AccumulateGrad, GradientEdge, Node  # noqa: F401 (also re-exported)

__all__ = ["saved_tensors_hooks", "save_on_cpu", "disable_saved_tensors_hooks",
           "register_multi_grad_hook", "increment_version", "Node", "GradientEdge",
           "get_gradient_edge", "allow_mutation_on_saved_tensors"]


class saved_tensors_hooks:
    r"""Context manager that sets a pair of pack/unpack hooks for saved tensors.

    Inside it, every value an operation keeps for its backward is given to
    ``pack_hook(tensor)`` when the operation is recorded, and the hook's result is kept
    instead; when the backward runs, ``unpack_hook(packed)`` must give back a tensor with the
    same content. Nested contexts: only the innermost pair applies.

    Unlike PyTorch, disttorch's built-in operations also keep internal arrays (they are passed
    to ``pack_hook`` as tensors without history); the values are the same in both frameworks
    only for what ``save_for_backward`` keeps.

    Example::

        >>> with saved_tensors_hooks(lambda t: t.cpu(), lambda t: t.to("cuda")):
        ...     loss = model(x).sum()
        >>> loss.backward()
    """

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        _saved_hooks.push(self.pack_hook, self.unpack_hook)
        return self

    def __exit__(self, *exc):
        _saved_hooks.pop()
        return False


class save_on_cpu(saved_tensors_hooks):
    r"""Keep the values saved for backward in CPU memory, moved back to their device when the
    backward runs (activation offloading: GPU memory for the values of one layer at a time).

    Args:
        pin_memory (bool): keep them in page-locked memory, so the copies back run
            asynchronously. Default: ``False``.
        device_type (str): the device type whose tensors move (``"cuda"``). Default ``"cuda"``.
    """

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack_to_cpu(tensor):
            if tensor.device.type != device_type:
                return tensor.device, tensor
            host = tensor.to("cpu")
            if pin_memory:
                from .. import cuda
                if cuda.is_available():
                    host = host.pin_memory()
            return tensor.device, host

        def unpack_from_cpu(packed):
            device, tensor = packed
            return tensor.to(device, non_blocking=pin_memory)

        super().__init__(pack_to_cpu, unpack_from_cpu)


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message):
    """Context manager in which saved-tensor hooks are refused: setting them (or entering it
    while some are set) raises ``RuntimeError(error_message)``. For features that cannot work
    with them."""
    state = _saved_hooks.state
    if state.stack:
        raise RuntimeError(error_message)
    previous = state.disabled
    state.disabled = error_message
    try:
        yield
    finally:
        state.disabled = previous


def get_gradient_edge(tensor):
    """The :class:`GradientEdge` the gradient of ``tensor`` flows into: ``autograd.grad`` with
    it as an input gives that gradient (also once ``tensor`` itself is gone), and as an output
    starts a backward pass there.
    """
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does "
                           "not require gradients")
    if tensor.grad_fn is None:
        edge = GradientEdge(AccumulateGrad(tensor), 0)
    else:
        edge = GradientEdge(tensor.grad_fn, tensor._output_nr)
    from .._backend import get_array_module
    edge._meta = (tensor._data.shape, tensor._data.dtype, get_array_module(tensor._data))
    return edge


def increment_version(tensor):
    """Bump ``tensor``'s version counter, as an in-place operation does (after modifying its
    data out of autograd's sight, so that graphs that saved it refuse the stale value)."""
    tensor._vc[0] += 1


class _MultiGradHandle:
    """Removes the per-tensor hooks behind one ``register_multi_grad_hook``."""

    def __init__(self, handles):
        self._handles = handles

    def remove(self):
        for handle in self._handles:
            handle.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def register_multi_grad_hook(tensors, fn, *, mode="all"):
    r"""Register ``fn`` over the gradients of ``tensors``.

    With ``mode="all"``, ``fn(grads)`` runs once per backward pass that computes any of them,
    after the pass has computed them all: ``grads[i]`` is the gradient of ``tensors[i]``, None
    where this pass does not compute it. With ``mode="any"``, ``fn(grad)`` runs with the first
    of them computed in each pass.

    Returns:
        A handle whose ``remove()`` unregisters ``fn``.
    """
    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of ('all', 'any') but got {mode}")
    from .engine import _pass, queue_callback
    tensors = tuple(tensors)
    if not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError("register_multi_grad_hook: expected a sequence of Tensors")
    # the pass is recognised by its callback list, a fresh object per backward
    current = {"pass": None, "grads": None}

    def start_pass():
        if current["pass"] is not _pass.callbacks:
            current["pass"] = _pass.callbacks
            current["grads"] = [None] * len(tensors)
            return True
        return False

    def make_hook(index):
        def hook(grad):
            first = start_pass()
            if mode == "any":
                if first:
                    fn(grad)
                return None
            current["grads"][index] = grad
            if first:
                grads = current["grads"]
                queue_callback(lambda: fn(tuple(grads)))
            return None
        return hook

    return _MultiGradHandle([t.register_hook(make_hook(i)) for i, t in enumerate(tensors)
                             if t.requires_grad])


def _storage_key(array):
    # the array that owns the memory: a view and its base share one key
    while getattr(array, "base", None) is not None:
        array = array.base
    return id(array)


class _SavedValue:
    """What ``allow_mutation_on_saved_tensors`` keeps for one saved tensor: the tensor, and a
    copy of its values made just before its memory was first modified in place."""

    __slots__ = ("tensor", "version", "copy")

    def __init__(self, tensor):
        self.tensor, self.version, self.copy = tensor, tensor._vc[0], None


class _AllowMutationOnSavedContext:
    """The state of one ``allow_mutation_on_saved_tensors`` block: the saved values by the
    memory they live in."""

    def __init__(self):
        self.saved = {}
        self.closed = False

    def pack(self, tensor):
        value = _SavedValue(tensor)
        self.saved.setdefault(_storage_key(tensor._data), []).append(value)
        return value

    def unpack(self, value):
        if self.closed:
            raise AssertionError("Trying to backward outside of the "
                                 "'allow_mutation_on_saved_tensors' contextin which the graph was "
                                 "originally recorded.")
        if value.copy is not None:
            return value.copy
        if value.tensor._vc[0] != value.version:
            # modified by a write this context was not told of: refuse the stale value
            raise RuntimeError("one of the variables needed for gradient computation has been "
                               "modified by an inplace operation outside of the writes "
                               "allow_mutation_on_saved_tensors can see")
        return value.tensor

    def before_mutation(self, tensor):
        for value in self.saved.get(_storage_key(tensor._data), ()):
            if value.copy is None:
                from ..ops.shape import clone
                from .grad_mode import no_grad
                with no_grad():
                    value.copy = clone(value.tensor.detach())


@contextlib.contextmanager
def allow_mutation_on_saved_tensors():
    """Context manager under which tensors saved for backward may be modified in place.

    A saved tensor whose memory is about to change is copied first, and its backward uses the
    copy (the values it had when it was saved). The graph must be backpropagated inside the
    same block; these contexts do not nest.

    Example::

        >>> with allow_mutation_on_saved_tensors():
        ...     b = a.clone()
        ...     out = (b ** 2).sum()
        ...     b.sin_()
        ...     out.backward()     # the gradient of the squares of b before sin_
    """
    if _saved_hooks.mutation_watch[0] is not None:
        raise RuntimeError("allow_mutation_on_saved_tensors contexts cannot be nested")
    ctx = _AllowMutationOnSavedContext()
    _saved_hooks.mutation_watch[0] = ctx.before_mutation
    try:
        with saved_tensors_hooks(ctx.pack, ctx.unpack):
            yield ctx
    finally:
        ctx.closed = True
        ctx.saved.clear()
        _saved_hooks.mutation_watch[0] = None
