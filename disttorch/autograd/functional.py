"""Higher-level autograd: ``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp`` and ``vhp`` of a
function, as in ``torch.autograd.functional``.

Everything is built on reverse mode: a Jacobian takes one backward pass per output element, a
Jacobian-vector product uses the double-backward trick (the vjp is linear in its cotangent, so
differentiating it w.r.t. the cotangent gives the jvp).
"""
from . import grad as _grad
from .grad_mode import enable_grad
from ..tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(x, arg_name, fn_name):
    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            where = f"element {i} of the tuple " if is_tuple else ""
            raise TypeError(f"The {where}{arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but the value at index {i} has type {type(item)}.")
    return is_tuple, items


def _unpack(items, is_tuple):
    return items if is_tuple else items[0]


def _prepare_inputs(inputs, create_graph):
    # fresh leaves (or, with create_graph, views that keep the caller's graph)
    return tuple(t.view_as(t) if create_graph and t.requires_grad else
                 t.detach().requires_grad_(True) for t in inputs)


def _grads(outputs, inputs, grad_outputs, create_graph, strict, what):
    """Gradients of ``outputs`` w.r.t. ``inputs``; zeros (or an error when ``strict``) for
    inputs the outputs do not depend on."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if pairs:
        grads = _grad([o for o, _ in pairs], inputs, [g for _, g in pairs], retain_graph=True,
                      create_graph=create_graph, allow_unused=True)
    else:
        grads = (None,) * len(inputs)
    result = []
    for i, (g, x) in enumerate(zip(grads, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent of "
                                   f"input {i}. This is not allowed in strict mode when computing "
                                   f"{what}.")
            g = x.new_zeros(x.shape)
        result.append(g)
    return tuple(result)


def _finish(tensors, create_graph):
    return tuple(t if create_graph else t.detach() for t in tensors)


def _check_v(v, outputs, name, fn_name):
    if v is None:
        if len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError(f"The vector v can only be None if the {name} is a single Tensor "
                               f"with a single element.")
        return (outputs[0].new_ones(outputs[0].shape),)
    _, v = _as_tuple(v, "v", fn_name)
    if len(v) != len(outputs):
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(outputs)} but got "
                           f"{len(v)}.")
    for i, (a, b) in enumerate(zip(v, outputs)):
        if a.shape != b.shape:
            raise RuntimeError(f"Entry {i} in v has invalid size: should be {b.shape} but got "
                               f"{a.shape}.")
    return v


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    r"""The vector-Jacobian product :math:`v^\top J` of ``func`` at ``inputs``.

    Args:
        func: a function of the tensors ``inputs`` returning a tensor or a tuple of tensors.
        inputs (Tensor or tuple of Tensors): the point.
        v: the vector(s), shaped like ``func``'s output(s); may be omitted for a one-element
            output.
        create_graph (bool): make the result differentiable. Default: False.
        strict (bool): raise if an input does not influence the output instead of giving zeros.

    Returns:
        ``(func_output, vjp)``, each a tensor or tuple matching the output and ``inputs``.
    """
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare_inputs(inputs, create_graph)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "vjp")
        v = _check_v(v, outputs, "user-provided function", "vjp")
        grads = _grads(outputs, inputs, v, create_graph, strict, "vjp")
    return (_unpack(_finish(outputs, create_graph), out_tuple),
            _unpack(_finish(grads, create_graph), in_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    r"""The Jacobian-vector product :math:`J v` of ``func`` at ``inputs``.

    Args:
        func: a function of the tensors ``inputs`` returning a tensor or a tuple of tensors.
        inputs (Tensor or tuple of Tensors): the point.
        v: the vector(s), shaped like ``inputs``; may be omitted for a one-element input.
        create_graph (bool): make the result differentiable. Default: False.
        strict (bool): raise if an output does not depend on the inputs instead of giving zeros.

    Returns:
        ``(func_output, jvp)``, ``jvp`` shaped like the output(s).
    """
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare_inputs(inputs, create_graph)
        v = _check_v(v, inputs, "input to the user-provided function", "jvp")
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "jvp")
        # u -> u^T J is linear in u: its derivative w.r.t. u along v is J v
        cotangents = tuple(o.new_zeros(o.shape).requires_grad_(True) for o in outputs)
        vjps = _grads(outputs, inputs, cotangents, True, strict, "jvp")
        pairs = [(g, t) for g, t in zip(vjps, v) if g.requires_grad]
        if pairs:
            result = _grad([g for g, _ in pairs], cotangents, [t for _, t in pairs],
                           create_graph=create_graph, allow_unused=True)
        else:
            result = (None,) * len(outputs)
        jvps = []
        for i, (r, o) in enumerate(zip(result, outputs)):
            if r is None:
                if strict:
                    raise RuntimeError(f"The output of the user-provided function is independent "
                                       f"of input {i}. This is not allowed in strict mode.")
                r = o.new_zeros(o.shape)
            jvps.append(r)
    return (_unpack(_finish(outputs, create_graph), out_tuple),
            _unpack(_finish(jvps, create_graph), out_tuple))


def _jacobian_rows(outputs, inputs, create_graph, strict):
    """``rows[i][j]``: d outputs[i] / d inputs[j], shaped ``outputs[i].shape + inputs[j].shape``."""
    import disttorch
    rows = []
    for i, out in enumerate(outputs):
        flat = out.reshape(-1)
        per_input = [[] for _ in inputs]
        for k in range(flat.numel()):
            if out.requires_grad:
                picked = _grad(flat[k], inputs, retain_graph=True, create_graph=create_graph,
                               allow_unused=True)
            else:
                picked = (None,) * len(inputs)
            for j, (g, x) in enumerate(zip(picked, inputs)):
                if g is None:
                    if strict:
                        raise RuntimeError(f"Output {i} of the user-provided function is "
                                           f"independent of input {j}. This is not allowed in "
                                           f"strict mode.")
                    g = x.new_zeros(x.shape)
                per_input[j].append(g)
        row = []
        for j, x in enumerate(inputs):
            if per_input[j]:
                block = disttorch.stack(per_input[j])
            else:
                block = x.new_zeros((0,) + tuple(x.shape))
            row.append(block.reshape(tuple(out.shape) + tuple(x.shape)))
        rows.append(tuple(row))
    return rows


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    r"""The Jacobian of ``func`` at ``inputs``.

    Args:
        func: a function of the tensors ``inputs`` returning a tensor or a tuple of tensors.
        inputs (Tensor or tuple of Tensors): the point.
        create_graph (bool): make the Jacobian differentiable. Default: False.
        strict (bool): raise if an output is independent of an input instead of giving zeros.
        vectorize (bool): accepted for compatibility; the result is the same.
        strategy (str): ``"reverse-mode"`` or ``"forward-mode"`` (which, as in PyTorch, needs
            ``vectorize=True``); both give the same numbers here.

    Returns:
        For one output and one input, a tensor of shape ``output.shape + input.shape``; with
        tuples, ``result[i][j]`` is the block of output ``i`` w.r.t. input ``j``.

    Example::

        >>> torch.autograd.functional.jacobian(lambda x: x ** 2, torch.tensor([1.0, 2.0]))
        tensor([[2., 0.],
                [0., 4.]])
    """
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: '
                         'If your function has more outputs than inputs, "forward-mode" tends to '
                         'be more performant. Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode" and not vectorize:
        raise NotImplementedError("torch.autograd.functional.jacobian: `strategy=\"forward-mode\"`"
                                  " is only implemented together with `vectorize=True`.")
    if strategy == "forward-mode" and create_graph:
        raise NotImplementedError("torch.autograd.functional.jacobian: `create_graph=True` and "
                                  "`strategy=\"forward-mode\"` are not supported together (yet). "
                                  "Please either set `create_graph=False` or `strategy=\"reverse-"
                                  "mode\"`.")
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare_inputs(inputs, create_graph)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "jacobian")
        rows = _jacobian_rows(outputs, inputs, create_graph, strict)
    rows = [_unpack(_finish(row, create_graph), in_tuple) for row in rows]
    return _unpack(tuple(rows), out_tuple)


def _scalar_output(func, fn_name):
    def wrapped(*inputs):
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       fn_name)
        if out_tuple or outputs[0].numel() != 1:
            raise RuntimeError(f"The function given to {fn_name} should return a single Tensor "
                               f"with a single element.")
        return outputs[0]
    return wrapped


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    r"""The Hessian of the scalar function ``func`` at ``inputs``.

    Returns:
        For one input, a tensor of shape ``input.shape + input.shape``; for a tuple of inputs,
        ``result[i][j]`` is the block of second derivatives w.r.t. inputs ``i`` and ``j``.

    Example::

        >>> torch.autograd.functional.hessian(lambda x: (x ** 3).sum(), torch.tensor([1.0, 2.0]))
        tensor([[ 6.,  0.],
                [ 0., 12.]])
    """
    scalar = _scalar_output(func, "hessian")
    in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*xs):
        out = scalar(*xs)
        if not out.requires_grad:
            return tuple(x.new_zeros(x.shape) for x in xs)
        return _grads((out,), xs, (out.new_ones(out.shape),), True, strict, "hessian")

    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict,
                      vectorize=vectorize, strategy=outer_jacobian_strategy)
    return result if in_tuple else result[0][0]


def _second_order(func, inputs, v, create_graph, strict, fn_name):
    scalar = _scalar_output(func, fn_name)
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
        inputs = _prepare_inputs(inputs, create_graph)
        v = _check_v(v, inputs, "input to the user-provided function", fn_name)
        out = scalar(*inputs)
        first = _grads((out,), inputs, (out.new_ones(out.shape),), True, strict, fn_name)
        second = _grads(first, inputs, v, create_graph, strict, fn_name) \
            if any(g.requires_grad for g in first) else tuple(x.new_zeros(x.shape) for x in inputs)
    return (_finish((out,), create_graph)[0], _unpack(_finish(second, create_graph), in_tuple))


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    r"""The vector-Hessian product :math:`v^\top H` of the scalar function ``func``.

    Returns:
        ``(func_output, vhp)``, ``vhp`` shaped like ``inputs``.
    """
    return _second_order(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    r"""The Hessian-vector product :math:`H v` of the scalar function ``func`` (equal to
    :func:`vhp` because the Hessian of a twice-differentiable function is symmetric).

    Returns:
        ``(func_output, hvp)``, ``hvp`` shaped like ``inputs``.
    """
    return _second_order(func, inputs, v, create_graph, strict, "hvp")
