"""``disttorch.func``: function transforms built on the autograd engine.

``functional_call`` runs a module with parameters and buffers given as a dict; ``grad``,
``grad_and_value`` and ``vjp`` differentiate plain functions of tensors (and of dicts, lists
and tuples of tensors), composing with each other and with ``autograd`` (``grad(grad(f))``);
``jacrev`` and ``hessian`` give full Jacobians and Hessians of tensor functions; ``vmap``
maps a function over a batch dimension (per-sample gradients: ``vmap(grad(loss))``);
``jvp``, ``jacfwd`` and ``linearize`` are forward mode (computed exactly by differentiating
a vector-Jacobian product with respect to its cotangent); ``stack_module_state`` stacks the
parameters of an ensemble for ``vmap``.
"""
import contextlib

from ..autograd import grad as _autograd_grad
from ..autograd import grad_mode
from ..tensor import Tensor
from ._extras import (debug_unwrap, functionalize, rearrange,  # noqa: E402
                      replace_all_batch_norm_modules_)
from ._forward import jvp, jacfwd, linearize, stack_module_state
from ._vmap import vmap

__all__ = ["functional_call", "grad", "grad_and_value", "vjp", "jacrev", "hessian", "vmap", "jvp",
           "jacfwd", "linearize", "stack_module_state", "rearrange", "functionalize",
           "debug_unwrap", "replace_all_batch_norm_modules_"]


# ------------------------------------------------------------------ pytrees of tensors
def _flatten(tree):
    """The tensors of ``tree`` (a tensor, or dicts/lists/tuples of them) and a rebuilder."""
    if isinstance(tree, Tensor):
        return [tree], lambda leaves: leaves[0]
    if isinstance(tree, dict):
        keys = list(tree)
        parts = [_flatten(tree[k]) for k in keys]
        return _join(parts, lambda values: dict(zip(keys, values)))
    if isinstance(tree, (list, tuple)):
        parts = [_flatten(v) for v in tree]
        kind = type(tree)
        return _join(parts, lambda values: kind(values) if kind in (list, tuple) else
                     kind(*values))
    return [], lambda leaves: tree


def _join(parts, build):
    leaves = [leaf for part_leaves, _ in parts for leaf in part_leaves]
    sizes = [len(part_leaves) for part_leaves, _ in parts]

    def rebuild(values):
        out, start = [], 0
        for (_, rebuild_part), size in zip(parts, sizes):
            out.append(rebuild_part(values[start:start + size]))
            start += size
        return build(out)
    return leaves, rebuild


# ------------------------------------------------------------------ functional_call
def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """Call ``module(*args, **kwargs)`` with its parameters and buffers replaced by the tensors
    in ``parameter_and_buffer_dicts`` (a dict of full names, or a sequence of dicts), then put
    the originals back.

    Args:
        strict: every parameter and buffer must be given, and nothing else.
        tie_weights: a tensor given for one of several tied names is used for all of them.
    """
    if isinstance(parameter_and_buffer_dicts, dict):
        given = dict(parameter_and_buffer_dicts)
    else:
        given = {}
        for d in parameter_and_buffer_dicts:
            overlap = set(given) & set(d)
            if overlap:
                raise ValueError(f"{sorted(overlap)[0]} appeared in multiple dictionaries; "
                                 f"behavior of functional call is ambiguous")
            given.update(d)
    own = dict(module.named_parameters(remove_duplicate=False))
    own.update(module.named_buffers(remove_duplicate=False))
    if tie_weights:
        # a name given for one of several aliases of the same tensor serves them all
        for name, tensor in list(own.items()):
            if name in given:
                for other, t in own.items():
                    if t is tensor and other not in given:
                        given[other] = given[name]
    if strict:
        unexpected = [k for k in given if k not in own]
        missing = [k for k in own if k not in given]
        if unexpected or missing:
            lines = [f"Error(s) in reparametrizing for {type(module).__name__}:"]
            if unexpected:
                lines.append("\tUnexpected key(s): " + ", ".join(f"'{k}'" for k in unexpected)
                             + ".")
            if missing:
                lines.append("\tMissing key(s): " + ", ".join(f"'{k}'" for k in missing) + ".")
            raise RuntimeError("\n".join(lines))
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _swapped(module, given):
        return module(*args, **(kwargs or {}))


@contextlib.contextmanager
def _swapped(module, tensors):
    saved = []
    try:
        for name, value in tensors.items():
            owner, _, attr = name.rpartition(".")
            target = module.get_submodule(owner) if owner else module
            if attr in target._parameters:
                saved.append((target, "_parameters", attr, target._parameters[attr]))
                target._parameters[attr] = value
            elif attr in target._buffers:
                saved.append((target, "_buffers", attr, target._buffers[attr]))
                target._buffers[attr] = value
            else:
                raise AttributeError(f"{type(target).__name__} has no parameter or buffer "
                                     f"'{attr}' (functional_call key '{name}')")
        yield
    finally:
        for target, table, attr, value in reversed(saved):
            getattr(target, table)[attr] = value


# ------------------------------------------------------------------ grad / vjp
def _picked(args, argnums):
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    for n in nums:
        if not isinstance(n, int) or not -len(args) <= n < len(args):
            raise RuntimeError(f"Got argnum={n}, but only {len(args)} positional inputs")
    return nums


def _track(leaves):
    """Leaves that record gradient: the given tensor when it already does (an outer transform
    or graph differentiates through this one), else a fresh detached copy."""
    tracked = []
    for t in leaves:
        if not t.is_floating_point() and not t.is_complex():
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        tracked.append(t if t.requires_grad else t.detach().requires_grad_(True))
    return tracked


def _detached(tree, keep):
    """``tree`` with its tensors detached from the transform's graph (kept when an outer
    transform differentiates through it)."""
    if keep:
        return tree
    leaves, rebuild = _flatten(tree)
    return rebuild([t.detach() for t in leaves]) if leaves else tree


def _rebuild_all(flats, values):
    out, start = [], 0
    for tracked, rebuild in flats:
        out.append(rebuild(values[start:start + len(tracked)]))
        start += len(tracked)
    return out


def _gradients(outputs, inputs, cotangents=None, create_graph=False):
    """Gradients of ``outputs`` (weighted by ``cotangents``) for ``inputs``; zeros for an
    input they do not depend on (and for all when no output depends on any input)."""
    pairs = [(o, c) for o, c in zip(outputs, cotangents or [None] * len(outputs))
             if o.requires_grad]
    if not pairs:
        return [t.detach() * 0 for t in inputs]
    grads = _autograd_grad([o for o, _ in pairs], inputs,
                           None if cotangents is None else [c for _, c in pairs],
                           retain_graph=True, create_graph=create_graph, allow_unused=True)
    return [g if g is not None else t.detach() * 0 for g, t in zip(grads, inputs)]


def grad_and_value(func, argnums=0, has_aux=False):
    """``func``'s gradient with respect to ``args[argnums]`` (an int or a tuple of ints; each
    argument a tensor or a dict/list/tuple of them), and its value: ``(grad, value)``, or
    ``(grad, (value, aux))`` with ``has_aux``. ``func`` must return a scalar tensor.

    An input that already records gradient (inside another ``grad``, or a parameter) keeps its
    graph: the gradient is then differentiable again, so transforms nest."""
    def wrapper(*args, **kwargs):
        nums = _picked(args, argnums)
        args = list(args)
        flats, outer = [], False
        for n in nums:
            leaves, rebuild = _flatten(args[n])
            outer = outer or any(t.requires_grad for t in leaves)
            tracked = _track(leaves)
            args[n] = rebuild(tracked)
            flats.append((tracked, rebuild))
        with grad_mode.enable_grad():
            result = func(*args, **kwargs)
            if has_aux:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError("grad_and_value(f)(*args): output of function f should "
                                       "be a tuple: (output, aux) if has_aux is True")
                output, aux = result
            else:
                output, aux = result, None
            if not isinstance(output, Tensor) or output.ndim != 0:
                dims = output.ndim if isinstance(output, Tensor) else "no"
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"scalar Tensor, got tensor with {dims} dims. Maybe you "
                                   f"wanted to use the vjp or jacrev APIs instead?")
            inputs = [t for tracked, _ in flats for t in tracked]
            grads = _gradients([output], inputs, create_graph=outer)
        out = _rebuild_all(flats, grads)
        gradient = tuple(out) if isinstance(argnums, tuple) else out[0]
        value = output if outer else output.detach()
        return gradient, ((value, _detached(aux, outer)) if has_aux else value)
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """``func``'s gradient with respect to ``args[argnums]`` (``aux`` too with ``has_aux``);
    see :func:`grad_and_value`.

    Example::

        >>> loss = lambda params, x: (functional_call(model, params, x) ** 2).mean()
        >>> grads = grad(loss)(dict(model.named_parameters()), x)
    """
    both = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        gradient, value = both(*args, **kwargs)
        return (gradient, value[1]) if has_aux else gradient
    return wrapper


def vjp(func, *primals, has_aux=False):
    """``(func(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` gives the vector-Jacobian products
    with respect to each primal, as a tuple (``(output, vjp_fn, aux)`` with ``has_aux``)."""
    flats = []
    tracked_primals = []
    for p in primals:
        leaves, rebuild = _flatten(p)
        tracked = _track(leaves)
        tracked_primals.append(rebuild(tracked))
        flats.append((tracked, rebuild))
    with grad_mode.enable_grad():
        result = func(*tracked_primals)
    output, aux = (result if has_aux else (result, None))
    out_leaves, _ = _flatten(output)
    inputs = [t for tracked, _ in flats for t in tracked]

    def vjp_fn(cotangents):
        cot_leaves, _ = _flatten(cotangents)
        if len(cot_leaves) != len(out_leaves):
            raise RuntimeError(f"Expected pytree structure of cotangents to be the same as "
                               f"pytree structure of outputs to the function: {len(cot_leaves)} "
                               f"tensors given for {len(out_leaves)} outputs")
        return tuple(_rebuild_all(flats, _gradients(out_leaves, inputs, cot_leaves)))
    detached = _flatten(output)[1]([t.detach() for t in out_leaves])
    return (detached, vjp_fn, aux) if has_aux else (detached, vjp_fn)


def jacrev(func, argnums=0, *, has_aux=False):
    """The Jacobian of ``func`` with respect to ``args[argnums]`` (an int or a tuple of ints,
    tensors), by reverse mode: shape ``output.shape + input.shape`` (a tuple over a tuple of
    ``argnums``); ``(jacobian, aux)`` with ``has_aux``. Nests (``jacrev(jacrev(f))``)."""
    from ..autograd.functional import jacobian

    def wrapper(*args, **kwargs):
        nums = _picked(args, argnums)
        for n in nums:
            if not isinstance(args[n], Tensor):
                raise RuntimeError(f"jacrev: argument {n} must be a Tensor (dicts and lists of "
                                   f"tensors are taken by grad and vjp)")
        outer = any(args[n].requires_grad for n in nums)
        aux_box = []

        def of_picked(*picked):
            full = list(args)
            for n, value in zip(nums, picked):
                full[n] = value
            result = func(*full, **kwargs)
            if has_aux:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError("jacrev(f, ...)(*args): output of function f should be "
                                       "a tuple: (output, aux) if has_aux is True")
                result, aux = result
                aux_box.append(aux)
            return result

        jac = jacobian(of_picked, tuple(args[n] for n in nums), create_graph=outer)
        if not isinstance(argnums, tuple):
            jac = jac[0] if isinstance(jac, tuple) else jac
        return (jac, _detached(aux_box[0], outer)) if has_aux else jac
    return wrapper


def hessian(func, argnums=0):
    """The Hessian of the scalar ``func`` with respect to ``args[argnums]``: the forward-mode
    Jacobian of its reverse-mode Jacobian, ``jacfwd(jacrev(func, argnums), argnums)`` (shape
    ``input.shape + input.shape``)."""
    return jacfwd(jacrev(func, argnums), argnums)
