"""Forward-mode transforms: ``jvp``, ``jacfwd``, ``linearize``; and ``stack_module_state``.

disttorch has no per-op tangent rules. A Jacobian-vector product is computed exactly from
reverse mode instead: the vector-Jacobian product ``g(u) = J^T u`` is linear in the cotangent
``u``, so differentiating it with respect to ``u`` along ``v`` gives ``J v``. ``g`` is built
once with ``create_graph=True`` (any cotangent works, zeros are used), then each tangent
costs one backward pass through ``g``'s graph. This needs the ops' backward to be
differentiable, which disttorch's double backward provides.
"""
from ..autograd import grad as _autograd_grad
from ..autograd import grad_mode
from ..tensor import Tensor
from .. import _vmap_state
from ._pytree import tree_flatten, tree_unflatten

__all__ = ["jvp", "jacfwd", "linearize", "stack_module_state"]

_JVP = "jvp(f, primals, tangents)"


# ------------------------------------------------------------------ the double-vjp core
def track(t):
    """A differentiable stand-in for the primal ``t``: an alias that records gradient, still
    connected to ``t``'s own graph when it has one (so outer transforms see through)."""
    if not (t.is_floating_point() or t.is_complex()):
        raise ValueError(f"Expected primal to be floating point or complex, but got: {t.dtype}")
    with grad_mode.enable_grad():
        return t.view_as(t) if t.requires_grad else t.detach().requires_grad_(True)


def reaches_other_leaf(tensors, own):
    """Whether the graph of ``tensors`` reaches a leaf that records gradient and is not one of
    ``own`` (ids): then the result belongs to an outer graph and must keep it."""
    stack, seen = [], set()
    for t in tensors:
        if not isinstance(t, Tensor) or not t.requires_grad:
            continue
        if t.grad_fn is None:
            if id(t) not in own:
                return True
        else:
            stack.append(t.grad_fn)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for edge in node.next_edges:
            if edge is None:
                continue
            child, nr = edge
            if nr < 0:
                if id(child) not in own:
                    return True
            elif id(child) not in seen:
                stack.append(child)
    return False


class LinearizedVjp:
    """``u -> J^T u`` for ``outputs`` and ``inputs``, recorded so that it can be pushed
    forward: :meth:`push` gives ``J v``."""

    def __init__(self, outputs, inputs):
        self.outputs = outputs
        self.cotangents = [o.new_zeros(o.shape).requires_grad_(True) if o.requires_grad
                           else None for o in outputs]
        live = [(o, u) for o, u in zip(outputs, self.cotangents) if u is not None]
        if live:
            with grad_mode.enable_grad():
                self.vjps = list(_autograd_grad([o for o, _ in live], inputs,
                                                [u for _, u in live], retain_graph=True,
                                                create_graph=True, allow_unused=True))
        else:
            self.vjps = [None] * len(inputs)
        self.own = {id(t) for t in inputs} | {id(u) for u in self.cotangents if u is not None}

    def push(self, tangents, create_graph):
        """``J v`` per output for the input tangents ``v`` (None entries: zero tangent); None
        for an output that does not depend on the inputs."""
        pairs = [(g, t) for g, t in zip(self.vjps, tangents)
                 if g is not None and t is not None and g.requires_grad]
        live = [k for k, u in enumerate(self.cotangents) if u is not None]
        result = [None] * len(self.outputs)
        if not pairs or not live:
            return result
        with grad_mode.enable_grad():
            pushed = _autograd_grad([g for g, _ in pairs], [self.cotangents[k] for k in live],
                                    [t for _, t in pairs], retain_graph=True,
                                    create_graph=create_graph, allow_unused=True)
        for k, r in zip(live, pushed):
            result[k] = r
        return result

    def finish(self, tensor):
        """``tensor`` detached unless it belongs to an outer graph."""
        return tensor if reaches_other_leaf([tensor], self.own) else tensor.detach()


# ------------------------------------------------------------------ checks (PyTorch's text)
def _check_tensors(flat, api, argname):
    if len(flat) == 0:
        raise RuntimeError(f"{api}: Expected {argname} to contain at least one Tensor.")
    for t in flat:
        if not isinstance(t, Tensor):
            raise RuntimeError(f"{api}: Expected {argname} to only contain Tensors, got "
                               f"{type(t)}")


def _check_outputs(flat, api):
    if len(flat) < 1 or (len(flat) == 1 and flat[0] is None):
        raise RuntimeError(f"{api}: Expected f to be a function that has non-empty output (got "
                           f"output = {flat})")
    for o in flat:
        if not isinstance(o, Tensor):
            raise RuntimeError(f"{api}: expected f(*primals) to return only tensors, got "
                               f"unsupported type {type(o)}")


def _check_tangent_shapes(flat_primals, flat_tangents):
    for p, t in zip(flat_primals, flat_tangents):
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError(f"Trying to set a forward gradient that has a different size than "
                               f"that of the original Tensor, this is not supported. Tensor is of "
                               f"size {list(p.shape)} while the given forward gradient is of size "
                               f"{list(t.shape)}.")


def _split_aux(result, has_aux):
    if not has_aux:
        return result, None
    if not (isinstance(result, tuple) and len(result) == 2):
        raise RuntimeError(f"{_JVP}: output of function f should be a tuple: (output, aux) if "
                           f"has_aux is True")
    return result


def _finish_aux(aux, own):
    leaves, spec = tree_flatten(aux)
    return tree_unflatten([t if not isinstance(t, Tensor) or reaches_other_leaf([t], own)
                           else t.detach() for t in leaves], spec)


# ------------------------------------------------------------------ jvp
def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """The Jacobian-vector product of ``func`` at ``primals`` along ``tangents``.

    Args:
        func: a function of tensors (or pytrees of tensors) returning a tensor or a pytree
            of tensors.
        primals (tuple): the arguments, ``func(*primals)``.
        tangents (tuple): one tensor per primal tensor, with the same structure and shapes.
        strict (bool): raise when an output does not depend on the primals (instead of a
            zero tangent).
        has_aux (bool): ``func`` returns ``(output, aux)``; ``aux`` is passed through.

    Returns:
        ``(func(*primals), jvp_out)``, ``jvp_out`` shaped like the output (``(output, jvp_out,
        aux)`` with ``has_aux``).

    The result is exact: it is the derivative, with respect to the cotangent, of a
    vector-Jacobian product taken with ``create_graph=True`` (see the module notes), so it costs
    about two backward passes instead of one forward pass.
    """
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{_JVP}: Expected primals to be a tuple. E.g. it should be valid to "
                           f"call f(*primals).")
    flat_p, p_spec = tree_flatten(primals)
    flat_t, t_spec = tree_flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError(f"{_JVP}: Expected primals and tangents to have the same python "
                           f"structure. For example, if primals is a tuple of 3 tensors, tangents "
                           f"also must be. Got primals with structure {p_spec} and tangents with "
                           f"structure {t_spec}")
    _check_tensors(flat_p, _JVP, "primals")
    _check_tensors(flat_t, _JVP, "tangents")
    _check_tangent_shapes(flat_p, flat_t)
    inputs = [track(p) for p in flat_p]
    with grad_mode.enable_grad():
        result, aux = _split_aux(func(*tree_unflatten(inputs, p_spec)), has_aux)
    outputs, out_spec = tree_flatten(result)
    _check_outputs(outputs, _JVP)
    lin = LinearizedVjp(outputs, inputs)
    create_graph = reaches_other_leaf(outputs, lin.own) or any(t.requires_grad for t in flat_t)
    pushed = lin.push(flat_t, create_graph)
    out_tangents = []
    for o, t in zip(outputs, pushed):
        if t is None:
            if strict:
                raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f is "
                                   "independent of the inputs. This is not allowed with "
                                   "strict=True.")
            t = o.detach().new_zeros(o.shape)
        out_tangents.append(lin.finish(t))
    primals_out = tree_unflatten([lin.finish(o) for o in outputs], out_spec)
    tangents_out = tree_unflatten(out_tangents, out_spec)
    if has_aux:
        return primals_out, tangents_out, _finish_aux(aux, lin.own)
    return primals_out, tangents_out


# ------------------------------------------------------------------ jacfwd
def _argnums(args, argnums):
    if not isinstance(argnums, (int, tuple)):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    wrapped = []
    for n in nums:
        if not isinstance(n, int):
            raise RuntimeError(f"argnum must be int, got: {type(n)}")
        if not -len(args) <= n < len(args):
            raise RuntimeError(f"Got argnum={n}, but only {len(args)} positional inputs")
        wrapped.append(n % len(args))
    if isinstance(argnums, tuple):
        if len(argnums) == 0:
            raise RuntimeError("argnums must be non-empty")
        if len(set(wrapped)) != len(wrapped):
            raise RuntimeError(f"argnums elements must be unique, got {argnums}")
    return wrapped


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian of ``func`` with respect to ``args[argnums]`` by forward mode: one
    Jacobian-vector product per input element.

    Args:
        func: a function returning a tensor or a pytree of tensors.
        argnums (int or tuple of ints): the arguments (tensors or pytrees of tensors) to
            differentiate. Default: 0.
        has_aux (bool): ``func`` returns ``(output, aux)``; ``aux`` is passed through.
        randomness (str): as in :func:`vmap` (PyTorch runs ``jacfwd`` under ``vmap``): with
            ``'error'`` a random op inside ``func`` raises; ``'same'`` and ``'different'`` let it
            draw (``func`` runs once, so both give the same Jacobian).

    Returns:
        For each output tensor, blocks of shape ``output.shape + input.shape`` arranged like
        the differentiated arguments (a tuple for a tuple ``argnums``); ``(jacobian, aux)``
        with ``has_aux``. Equal to :func:`jacrev`'s result; nests (``jacfwd(jacrev(f))``).
    """
    def wrapper(*args):
        if randomness not in _vmap_state.RANDOMNESS:
            raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', "
                               f"or 'same'. Got {randomness}")
        nums = _argnums(args, argnums)
        picked = tuple(args[n] for n in nums)
        flat_p, p_spec = tree_flatten(picked)
        _check_tensors(flat_p, _JVP, "primals")
        inputs = [track(p) for p in flat_p]
        tracked = tree_unflatten(inputs, p_spec)
        full = list(args)
        for n, value in zip(nums, tracked):
            full[n] = value
        with _vmap_state.Level(randomness), grad_mode.enable_grad():
            result, aux = _split_aux(func(*full), has_aux)
        outputs, out_spec = tree_flatten(result)
        _check_outputs(outputs, _JVP)
        lin = LinearizedVjp(outputs, inputs)
        create_graph = reaches_other_leaf(outputs, lin.own)
        # columns[k][j]: d outputs[k] / d inputs[j] along each element of inputs[j]
        columns = [[[] for _ in inputs] for _ in outputs]
        for j, x in enumerate(inputs):
            for e in range(x.numel()):
                basis = x.detach().new_zeros(x.numel())
                basis[e] = 1
                tangents = [None] * len(inputs)
                tangents[j] = basis.reshape(x.shape)
                for k, (o, col) in enumerate(zip(outputs, lin.push(tangents, create_graph))):
                    columns[k][j].append(col if col is not None
                                         else o.detach().new_zeros(o.shape))
        import disttorch
        jac = []
        for k, o in enumerate(outputs):
            blocks = []
            for j, x in enumerate(inputs):
                cols = columns[k][j]
                if cols:
                    block = disttorch.stack(cols, dim=-1)
                else:
                    block = o.detach().new_zeros(tuple(o.shape) + (0,))
                blocks.append(lin.finish(block.reshape(tuple(o.shape) + tuple(x.shape))))
            per_arg = tree_unflatten(blocks, p_spec)
            jac.append(per_arg if isinstance(argnums, tuple) else per_arg[0])
        jac = tree_unflatten(jac, out_spec)
        return (jac, _finish_aux(aux, lin.own)) if has_aux else jac
    return wrapper


# ------------------------------------------------------------------ linearize
def linearize(func, *primals):
    """``(func(*primals), jvp_fn)``: ``jvp_fn(*tangents)`` gives the Jacobian-vector product
    at ``primals`` for any tangents, reusing one recorded linearization (each call costs one
    backward pass through it).

    Example::

        >>> output, jvp_fn = linearize(torch.sin, x)
        >>> jvp_fn(torch.ones_like(x))   # == x.cos()
    """
    flat_p, p_spec = tree_flatten(primals)
    inputs = [track(p) if isinstance(p, Tensor) else p for p in flat_p]
    with grad_mode.enable_grad():
        result = func(*tree_unflatten(inputs, p_spec))
    outputs, out_spec = tree_flatten(result)
    tensors_in = [t for t in inputs if isinstance(t, Tensor)]
    lin = LinearizedVjp(outputs, tensors_in)
    meta = [(p.shape, p.device, p.dtype) for p in flat_p]

    def jvp_fn(*tangents):
        flat_t, t_spec = tree_flatten(tangents)
        if t_spec != p_spec:
            raise RuntimeError(f"Expected the tangents {t_spec} to have the same argspec as the "
                               f"primals {p_spec}")
        for idx, (t, (shape, device, dtype)) in enumerate(zip(flat_t, meta)):
            for what, got, want in (("shape", t.shape, shape), ("device", t.device, device),
                                    ("dtype", t.dtype, dtype)):
                if got != want:
                    raise RuntimeError(f"tangent:{idx} with {what} {got} in flattened pytree "
                                       f"doesn't match the {what} {want} of the corresponding "
                                       f"primal.")
        create_graph = reaches_other_leaf(outputs, lin.own) or \
            any(t.requires_grad for t in flat_t)
        pushed = lin.push(flat_t, create_graph)
        out = [lin.finish(t) if t is not None else o.detach().new_zeros(o.shape)
               for o, t in zip(outputs, pushed)]
        return tree_unflatten(out, out_spec)

    return tree_unflatten([lin.finish(o) for o in outputs], out_spec), jvp_fn


# ------------------------------------------------------------------ stack_module_state
def stack_module_state(models):
    """``(params, buffers)``: the parameters and buffers of ``models`` (modules of one class)
    stacked along a new dimension 0, by name, ready for ``vmap`` over an ensemble with
    :func:`functional_call`. The stacked parameters are new leaves (optimizable, unrelated to
    the models' own)."""
    import disttorch
    if len(models) == 0:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or not any(m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same "
                           "training/eval mode.")
    if not all(type(m) is type(models[0]) for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")

    def stacked(tables):
        out = {}
        for name in tables[0]:
            tensors = [table[name] for table in tables]
            needs = [t.requires_grad for t in tensors]
            if any(needs) and not all(needs):
                raise RuntimeError(f"Expected {name} from each model to have the same "
                                   f".requires_grad")
            result = disttorch.stack(tensors)
            out[name] = result.detach().requires_grad_() if all(needs) else result
        return out

    return (stacked([dict(m.named_parameters()) for m in models]),
            stacked([dict(m.named_buffers()) for m in models]))
