"""Activation checkpointing: trade compute for memory by recomputing a segment in backward.

``checkpoint(fn, *args)`` runs ``fn`` without recording a graph and keeps only its inputs; in
backward it re-runs ``fn`` with the random-number state of the first run (so dropout draws the
same mask) and back-propagates through the recomputed graph.
"""
import contextlib
import warnings

from .. import autograd
from .._backend import is_cuda_array
from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad, no_grad
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]


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
    def forward(ctx, run, preserve_rng_state, context_fn, _anchor, *args):
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
        return (None, None, None, None) + tuple(input_grads)


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default",
               debug=False, preserve_rng_state=True, **kwargs):
    r"""Run ``function(*args, **kwargs)`` without storing its intermediate activations; they are
    recomputed during backward.

    Args:
        function: the segment to run (a module or any callable).
        args: its arguments; tensors among them are kept for the recomputation.
        use_reentrant (bool): PyTorch's two implementations. Pass it explicitly (a warning is
            given otherwise, and ``True`` is used, as in PyTorch). Both recompute the segment and
            accumulate the gradients of tensors it uses (parameters included) during
            ``backward()``; with ``use_reentrant=False`` this also happens when no input
            requires grad. As with PyTorch's reentrant variant, use ``.backward()``, not
            ``torch.autograd.grad``, for tensors that are not arguments.
        context_fn: returns two context managers, entered around the first run and around the
            recomputation (``use_reentrant=False`` only).
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
    run = (lambda *a: function(*a, **kwargs)) if kwargs else function
    needs_anchor = not use_reentrant and not any(
        isinstance(a, Tensor) and a.requires_grad for a in args)
    if use_reentrant and autograd.is_grad_enabled() and not any(
            isinstance(a, Tensor) and a.requires_grad for a in args):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=2)
    # Without a differentiable input the node would not be recorded: an anchor that requires
    # grad keeps it in the graph so the parameters used inside still receive gradients.
    anchor = None
    if needs_anchor and autograd.is_grad_enabled():
        import disttorch
        anchor = disttorch.zeros((), requires_grad=True)
    return _Checkpoint.apply(run, preserve_rng_state, context_fn or _no_contexts, anchor, *args)


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
