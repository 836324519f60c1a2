"""Activation checkpointing: trade compute for memory by recomputing a segment in backward.

``checkpoint(fn, *args, use_reentrant=False)`` runs ``fn`` normally, so its graph is recorded
as usual (gradients reach everything it uses, ``autograd.grad`` included), but every value its
ops keep for backward is replaced by an index through saved-tensor hooks. The first time the
backward needs one of them, ``fn`` runs again with the random-number and autocast state of the
first run and the recomputed values are handed out; they are dropped once all are used.

``use_reentrant=True`` is PyTorch's older scheme: ``fn`` runs without recording a graph, and in
backward it is re-run and back-propagated through on its own.
"""
import contextlib
import warnings

from .. import autograd
from .._backend import is_cuda_array
from ..autograd.function import Function
from ..autograd.graph import saved_tensors_hooks
from ..autograd.grad_mode import enable_grad, no_grad
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "set_checkpoint_early_stop"]


class CheckpointError(RuntimeError):
    """A recomputation that did not reproduce what the first run saved."""


_early_stop = {"enabled": True}


@contextlib.contextmanager
def set_checkpoint_early_stop(enable):
    """Within it, a non-reentrant recomputation stops as soon as it has rebuilt every value the
    backward needs (``True``, the default) or runs the whole segment (``False``)."""
    previous = _early_stop["enabled"]
    _early_stop["enabled"] = bool(enable)
    try:
        yield
    finally:
        _early_stop["enabled"] = previous


def _cuda_devices(inputs):
    """The CUDA devices of the tensor arguments, whose generators are replayed (as in
    PyTorch, a segment that only moves CPU inputs to the GPU inside does not replay CUDA)."""
    return sorted({t._data.device.id for t in inputs if is_cuda_array(t._data)})


def _rng_state(inputs):
    import disttorch
    state = {"cpu": disttorch.get_rng_state()}
    devices = _cuda_devices(inputs)
    if devices:
        state["cuda"] = {d: disttorch.cuda.get_rng_state(d) for d in devices}
    return state


def _set_rng_state(state):
    import disttorch
    disttorch.set_rng_state(state["cpu"])
    for device, cuda_state in state.get("cuda", {}).items():
        disttorch.cuda.set_rng_state(cuda_state, device)


def _no_contexts():
    return contextlib.nullcontext(), contextlib.nullcontext()


class _Checkpoint(Function):
    """Reentrant recomputation: backward rebuilds the segment's graph and runs it."""

    @staticmethod
    def forward(ctx, run, preserve_rng_state, context_fn, *args):
        ctx.run = run
        forward_context, ctx.recompute_context = context_fn()
        ctx.tensor_index = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.args = list(args)
        ctx.save_for_backward(*[args[i] for i in ctx.tensor_index])
        ctx.rng = _rng_state([args[i] for i in ctx.tensor_index]) if preserve_rng_state else None
        with no_grad(), forward_context:
            return run(*args)

    @staticmethod
    def backward(ctx, *grads):
        args = list(ctx.args)
        for i, saved in zip(ctx.tensor_index, ctx.saved_tensors):
            args[i] = saved.detach().requires_grad_(saved.requires_grad)
        if ctx.rng is not None:
            outer = _rng_state([args[i] for i in ctx.tensor_index])
            _set_rng_state(ctx.rng)
        try:
            with enable_grad(), ctx.recompute_context:
                outputs = ctx.run(*args)
        finally:
            if ctx.rng is not None:
                _set_rng_state(outer)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grads)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not "
                               "necessary")
        autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        input_grads = [a.grad if isinstance(a, Tensor) else None for a in args]
        return (None, None, None) + tuple(input_grads)


class _StopRecomputation(Exception):
    pass


def _metadata(tensor):
    return {"shape": tuple(tensor.shape), "dtype": tensor.dtype, "device": tensor.device}


def _autocast_state():
    from ..amp import autocast_mode
    return dict(autocast_mode._regions.dtypes)


@contextlib.contextmanager
def _autocast_as(state):
    """The autocast state of the first run, as a region of its own: the casts it caches are
    dropped when it ends (unless it is nested in a region still running)."""
    from ..amp import autocast_mode
    regions = autocast_mode._regions
    previous = dict(regions.dtypes)
    regions.dtypes.clear()
    regions.dtypes.update(state)
    autocast_mode.autocast_increment_nesting()
    try:
        yield
    finally:
        if autocast_mode.autocast_decrement_nesting() == 0:
            autocast_mode.clear_autocast_cache()
        regions.dtypes.clear()
        regions.dtypes.update(previous)


class _Frame:
    """One non-reentrant checkpointed call: what its forward saved (as indices), and the values
    its recomputation rebuilt."""

    def __init__(self, run, args, preserve_rng_state, recompute_context, determinism_check):
        self.run, self.args = run, args
        self.recompute_context = recompute_context
        self.check = determinism_check != "none"
        tensors = [a for a in args if isinstance(a, Tensor)]
        self.rng = _rng_state(tensors) if preserve_rng_state else None
        self.autocast = _autocast_state()
        self.metadata = []          # per value saved in the forward
        self.values = None          # the recomputed values while the backward uses them
        self.used = 0

    def pack(self, tensor):
        self.metadata.append(_metadata(tensor))
        return self, len(self.metadata) - 1

    def unpack(self, handle):
        _, index = handle
        if self.values is None:
            self.values = self._recompute()
            self.used = 0
        value = self.values[index]
        self.used += 1
        if self.used == len(self.metadata):
            self.values = None      # all handed out: a retained graph recomputes again
        return value

    def _recompute(self):
        values = []
        count = len(self.metadata)
        stop = _early_stop["enabled"]

        def pack(tensor):
            values.append(tensor)
            if stop and len(values) == count:
                raise _StopRecomputation
            return None

        def never(_):
            raise RuntimeError("the graph of a checkpoint recomputation is not differentiated")

        outer = None
        if self.rng is not None:
            outer = _rng_state([a for a in self.args if isinstance(a, Tensor)])
            _set_rng_state(self.rng)
        try:
            with enable_grad(), _autocast_as(self.autocast), saved_tensors_hooks(pack, never), \
                    self.recompute_context:
                try:
                    self.run(*self.args)
                except _StopRecomputation:
                    pass
        finally:
            if outer is not None:
                _set_rng_state(outer)
        if self.check:
            self._check(values)
        return values

    def _check(self, values):
        if len(values) != len(self.metadata):
            raise CheckpointError(
                "torch.utils.checkpoint: A different number of tensors was saved during the "
                "original forward and recomputation.\nNumber of tensors saved during forward: "
                f"{len(self.metadata)}\nNumber of tensors saved during recomputation: "
                f"{len(values)}")
        mismatched = [(i, saved, _metadata(v)) for i, (saved, v) in
                      enumerate(zip(self.metadata, values)) if saved != _metadata(v)]
        if mismatched:
            lines = "".join(f"tensor at position {i}:\nsaved metadata: {saved}\n"
                            f"recomputed metadata: {got}\n" for i, saved, got in mismatched)
            raise CheckpointError(
                "torch.utils.checkpoint: Recomputed values for the following tensors have "
                f"different metadata than during the forward pass.\n{lines}")


def _checkpoint_without_reentrant(run, args, preserve_rng_state, context_fn, determinism_check):
    forward_context, recompute_context = context_fn()
    frame = _Frame(run, args, preserve_rng_state, recompute_context, determinism_check)
    with saved_tensors_hooks(frame.pack, frame.unpack), forward_context:
        return run(*args)


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default",
               debug=False, preserve_rng_state=True, **kwargs):
    r"""Run ``function(*args, **kwargs)`` without storing its intermediate activations; they are
    recomputed during backward.

    Args:
        function: the segment to run (a module or any callable).
        args: its arguments; tensors among them are kept for the recomputation.
        use_reentrant (bool): PyTorch's two implementations. Pass it explicitly (a warning is
            given otherwise, and ``True`` is used, as in PyTorch). ``False`` (recommended)
            records the segment's graph as usual and recomputes only the values its ops saved,
            so gradients reach everything the segment uses, through ``backward()`` and
            ``autograd.grad`` alike. ``True`` re-runs the segment on its own in backward: use
            ``.backward()``, not ``autograd.grad``, there, for tensors that are not arguments.
        context_fn: returns two context managers, entered around the first run and around the
            recomputation (``use_reentrant=False`` only).
        determinism_check (str): ``"default"`` checks that the recomputation saved as many
            values, of the same shapes, dtypes and devices, as the first run (else
            :class:`CheckpointError`); ``"none"`` does not.
        preserve_rng_state (bool): replay the random-number state of the first run in the
            recomputation, so dropout and other random ops draw the same values. Default: True.

    Returns:
        The output of ``function``.

    Example::

        >>> h = checkpoint(block, x, use_reentrant=False)
        >>> h.sum().backward()      # block runs again here
    """
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed "
                      "explicitly. use_reentrant=False is recommended, but if you need to "
                      "preserve the current default behavior, you can pass use_reentrant=True.",
                      stacklevel=2)
        use_reentrant = True
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if context_fn is not None and use_reentrant:
        raise ValueError("Passing context_fn or debug is only supported when use_reentrant=False.")
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be one of ['default', 'none'], but got "
                         f"{determinism_check}")
    run = (lambda *a: function(*a, **kwargs)) if kwargs else function
    if not use_reentrant:
        return _checkpoint_without_reentrant(run, args, preserve_rng_state,
                                             context_fn or _no_contexts, determinism_check)
    if autograd.is_grad_enabled() and not any(
            isinstance(a, Tensor) and a.requires_grad for a in args):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=2)
    return _Checkpoint.apply(run, preserve_rng_state, _no_contexts, *args)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run a sequence of modules (an ``nn.Sequential`` or a list) in ``segments`` checkpointed
    chunks; the last chunk runs normally.

    Args:
        functions: the modules, applied in order.
        segments (int): the number of chunks.
        input (Tensor): the input of the first module.
        use_reentrant (bool): see :func:`checkpoint`.
    """
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter "
                      "should be passed explicitly.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    functions = list(functions.children()) if hasattr(functions, "children") else list(functions)
    size = max(len(functions) // max(segments, 1), 1)

    def segment(start, end):
        def run(x):
            for f in functions[start:end + 1]:
                x = f(x)
            return x
        return run

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(segment(start, end), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return segment(end + 1, len(functions) - 1)(input)
