"""Define-by-run automatic differentiation: ``backward``, ``grad``, ``Function``, grad modes."""
from .grad_mode import (no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled,
                        is_inference_mode_enabled)
from .anomaly import detect_anomaly, set_detect_anomaly, is_anomaly_enabled
from .function import Function, FunctionCtx, once_differentiable, Node
from .function import GradientEdge as _GradientEdge, resolve_edges as _resolve_edges

__all__ = ["backward", "grad", "Function", "FunctionCtx", "once_differentiable", "no_grad",
           "enable_grad", "set_grad_enabled", "inference_mode", "gradcheck", "gradgradcheck",
           "detect_anomaly", "set_detect_anomaly", "Node"]


def _tensors(x):
    from ..tensor import Tensor
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, _GradientEdge):
        x = [x]
    return _resolve_edges(x)


def _make_grads(outputs, grad_outputs, create_graph):
    from .._backend import device_index, device_scope, get_array_module
    from ..tensor import Tensor, _new
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None and out._data is None:
            raise RuntimeError(f"grad_outputs[{i}] must be given for a GradientEdge output made "
                               f"without a tensor")
        if g is None:
            if not out._requires_grad:
                raise RuntimeError(f"element {i} of tensors does not require grad and does not have "
                                   f"a grad_fn")
            if out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if out._data.dtype.kind not in "fcV":
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but "
                                   f"got {out.dtype}")
            with device_scope([out._data]):   # on the output's device, not the current one
                data = get_array_module(out._data).ones(out._data.shape, out._data.dtype)
            grads.append(_new(data) if create_graph else data)
        else:
            if not out._requires_grad:
                raise RuntimeError(f"element {i} of tensors does not require grad and does not have "
                                   f"a grad_fn")
            if not isinstance(g, Tensor):
                raise TypeError(f"gradient must be a Tensor, got {type(g).__name__}")
            if out._data is None:   # a gradient edge made by hand: nothing to check against
                grads.append(g if create_graph else g._data)
                continue
            if g._data.shape != out._data.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                                   f"{g.shape} and output[{i}] has a shape of {out.shape}.")
            if type(g._data) is not type(out._data) or \
                    device_index(g._data) != device_index(out._data):
                raise RuntimeError(f"invalid gradient at index {i} - expected device {out.device} but "
                                   f"got {g.device}")
            data = g._data if g._data.dtype == out._data.dtype else g._data.astype(out._data.dtype)
            grads.append(g if create_graph else data)
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate into ``.grad`` of graph leaves the gradient of ``tensors``.

    Args:
        tensors: tensor(s) to differentiate.
        grad_tensors: the gradient w.r.t. each tensor (None for scalar tensors).
        retain_graph: keep the graph for another backward (defaults to ``create_graph``).
        create_graph: record the backward pass so higher-order gradients can be taken.
        inputs: accumulate only into these tensors' ``.grad``.
    """
    from .engine import run_backward
    outputs = _tensors(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(outputs)
    else:
        grad_tensors = _tensors(grad_tensors) if not isinstance(grad_tensors, (list, tuple)) \
            else list(grad_tensors)
    if len(grad_tensors) != len(outputs):
        raise RuntimeError(f"got {len(grad_tensors)} tensors and {len(outputs)} gradients")
    if retain_graph is None:
        retain_graph = create_graph
    grads = _make_grads(outputs, grad_tensors, create_graph)
    if inputs is not None:
        inputs = _tensors(inputs)
        if not inputs:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Compute and return the gradients of ``outputs`` w.r.t. ``inputs`` (without touching ``.grad``).

    Returns a tuple with one gradient per input (None for unused inputs when ``allow_unused``).
    With ``is_grads_batched`` the first dimension of every ``grad_outputs`` tensor is a batch of
    vectors: each input's gradient gains that leading dimension (one backward pass per vector).
    """
    from .engine import run_backward
    from ..tensor import _new
    if is_grads_batched:
        return _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph,
                             allow_unused, materialize_grads)
    given = [inputs] if isinstance(inputs, _GradientEdge) else list(inputs) \
        if isinstance(inputs, (list, tuple)) else [inputs]
    outputs = _tensors(outputs)
    inputs = _tensors(inputs)
    for i, t in enumerate(inputs):
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    else:
        grad_outputs = _tensors(grad_outputs) if not isinstance(grad_outputs, (list, tuple)) \
            else list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad requires one grad_output per output: got {len(grad_outputs)} "
                           f"grad_outputs and {len(outputs)} outputs")
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    grads = _make_grads(outputs, grad_outputs, create_graph)
    result = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs,
                          accumulate=False)
    out = []
    for i, (t, g) in enumerate(zip(inputs, result)):
        if g is None:
            if materialize_grads and isinstance(given[i], _GradientEdge):
                raise RuntimeError("materialize_grads cannot be used when the given input is a "
                                   "GradientEdge")
            if materialize_grads:
                from .._backend import get_array_module
                g = _new(get_array_module(t._data).zeros_like(t._data))
            elif not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have "
                                   f"been used in the graph. Set allow_unused=True if this is the "
                                   f"desired behavior.")
        out.append(g)
    return tuple(out)


def _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                  materialize_grads):
    """``grad`` with ``is_grads_batched``: PyTorch vmaps the vector-Jacobian product over the
    batch; here each vector gets its own pass over the retained graph and the results are
    stacked."""
    from ..ops.joining import stack
    outs = _tensors(outputs)
    vectors = [None] * len(outs) if grad_outputs is None else \
        (_tensors(grad_outputs) if not isinstance(grad_outputs, (list, tuple))
         else list(grad_outputs))
    batch = None
    for i, (out, v) in enumerate(zip(outs, vectors)):
        if v is None:
            continue
        if tuple(v.shape[1:]) != tuple(out.shape):
            raise RuntimeError(
                f"If `is_grads_batched=True`, we interpret the first dimension of each "
                f"grad_output as the batch dimension. The sizes of the remaining dimensions are "
                f"expected to match the shape of corresponding output, but a mismatch was "
                f"detected: grad_output[{i}] has a shape of {v.shape} and output[{i}] has a shape "
                f"of {out.shape}. If you only want some tensors in `grad_output` to be considered "
                f"batched, consider using vmap.")
        batch = v.shape[0] if batch is None else batch
    if retain_graph is None:
        retain_graph = create_graph
    per_vector = []
    for b in range(batch or 0):
        per_vector.append(grad(outs, inputs, [None if v is None else v[b] for v in vectors],
                               retain_graph=True if b < batch - 1 else retain_graph,
                               create_graph=create_graph, allow_unused=allow_unused,
                               materialize_grads=materialize_grads))
    if not per_vector:   # no batched vector: the implicit gradient, as a batch of one
        return tuple(None if g is None else g.unsqueeze(0) for g in
                     grad(outs, inputs, vectors, retain_graph=retain_graph,
                          create_graph=create_graph, allow_unused=allow_unused,
                          materialize_grads=materialize_grads))
    return tuple(None if column[0] is None else stack(list(column))
                 for column in zip(*per_vector))


def __getattr__(name):
    # gradcheck pulls in the op library; import it on first use.
    if name in ("gradcheck", "gradgradcheck"):
        from . import _gradcheck as module
        return getattr(module, name)
    if name in ("functional", "forward_ad", "graph"):
        # import_module, not "from . import": that would ask this __getattr__ again
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'disttorch.autograd' has no attribute '{name}'")
