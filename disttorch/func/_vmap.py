"""``vmap``: map a function over a batch dimension, by calling it once per sample.

PyTorch runs the function once on "batched tensors" and falls back to a per-sample loop
for ops without a batching rule; here every op takes that loop. The results are the same
(values, shapes, dtypes, gradients through the stacked outputs) and transforms nest
(``vmap(grad(f))``, ``vmap(vmap(f))``), only slower for large batches. See :func:`vmap`'s
notes for where the loop shows.
"""
import functools

from ..tensor import Tensor
from .. import _vmap_state
from ._pytree import broadcast_prefix, tree_flatten, tree_unflatten

__all__ = ["vmap"]


def _name(func):
    if hasattr(func, "__name__"):
        return func.__name__
    if isinstance(func, functools.partial):
        return f"functools.partial({_name(func.func)}, ...)"
    return repr(func)


def _check_out_dims(out_dims, func):
    if isinstance(out_dims, int):
        return
    leaves, _ = tree_flatten(out_dims)
    for d in leaves:
        if d is not None and not isinstance(d, int):
            raise ValueError(f"vmap({_name(func)}, ..., out_dims={out_dims}): `out_dims` must be "
                             f"an int, None or a python collection of ints representing where in "
                             f"the outputs the vmapped dimension should appear.")


def _batched_inputs(in_dims, args, func):
    """``(batch_size, flat_in_dims, flat_args, args_spec)`` with PyTorch's checks."""
    head = f"vmap({_name(func)}, in_dims={in_dims}, ...)(<inputs>)"
    if not isinstance(in_dims, (int, tuple)):
        raise ValueError(f"{head}: expected `in_dims` to be int or a (potentially nested) tuple "
                         f"matching the structure of inputs, got: {type(in_dims)}.")
    if len(args) == 0:
        raise ValueError(f"vmap({_name(func)})(<inputs>): got no inputs. Maybe you forgot to add "
                         f"inputs, or you are trying to vmap over a function with no inputs. The "
                         f"latter is unsupported.")
    flat_args, spec = tree_flatten(args)
    flat_dims = broadcast_prefix(in_dims, spec)
    if flat_dims is None:
        raise ValueError(f"{head}: in_dims is not compatible with the structure of `inputs`. "
                         f"in_dims has structure {tree_flatten(in_dims)[1]} but inputs has "
                         f"structure {spec}.")
    for arg, d in zip(flat_args, flat_dims):
        if d is not None and not isinstance(d, int):
            raise ValueError(f"{head}: Got in_dim={d} for an input but in_dim must be either an "
                             f"integer dimension or None.")
        if d is not None and not isinstance(arg, Tensor):
            raise ValueError(f"{head}: Got in_dim={d} for an input but the input is of type "
                             f"{type(arg)}. We cannot vmap over non-Tensor arguments, please use "
                             f"None as the respective in_dim")
        if d is not None and not -arg.ndim <= d < arg.ndim:
            raise ValueError(f"{head}: Got in_dim={d} for some input, but that input is a Tensor "
                             f"of dimensionality {arg.ndim} so expected in_dim to satisfy "
                             f"-{arg.ndim} <= in_dim < {arg.ndim}.")
    sizes = [arg.shape[d] for arg, d in zip(flat_args, flat_dims) if d is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                         f"dimension, got sizes {sizes} for the mapped dimension")
    return sizes[0], flat_dims, flat_args, spec


def _flat_out_dims(output, spec, out_dims, func):
    def incompatible():
        raise ValueError(f"vmap({_name(func)}, ..., out_dims={out_dims})(<inputs>): out_dims is "
                         f"not compatible with the structure of `outputs`. out_dims has structure "
                         f"{tree_flatten(out_dims)[1]} but outputs has structure {spec}.")
    if isinstance(output, Tensor):
        # a lone tensor takes an int, None, or a one-element tuple (as PyTorch allows)
        if out_dims is None or isinstance(out_dims, int):
            return [out_dims]
        if isinstance(out_dims, tuple) and len(out_dims) == 1:
            return list(out_dims)
        incompatible()
    flat = broadcast_prefix(out_dims, spec)
    if flat is None:
        incompatible()
    return flat


def _same_value(a, b):
    if a is b:
        return True
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if a.shape != b.shape or a.dtype != b.dtype or a.device != b.device:
            return False
        from .._backend import get_array_module
        xp = get_array_module(a._data)
        return bool(xp.array_equal(a._data, b._data, equal_nan=a._data.dtype.kind in "fc"))
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return False
    try:
        return bool(a == b)
    except Exception:
        return False


def _combine(name, samples, out_dim, batch_size):
    """One output leaf of every sample joined along ``out_dim`` (None: the unbatched value)."""
    import disttorch
    first = samples[0]
    if out_dim is None:
        # the loop cannot see whether an output was computed from the batched inputs; one that
        # is the same in every sample is taken as unbatched
        if isinstance(first, Tensor) and not all(_same_value(first, s) for s in samples[1:]):
            raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor when "
                             f"out_dim is None")
        return first
    for s in samples:
        if not isinstance(s, Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type "
                             f"{type(s)}. Did you mean to set out_dims= to None for output?")
    stacked = disttorch.stack(samples, dim=out_dim)
    if batch_size == 0:
        return stacked.narrow(out_dim, 0, 0)
    return stacked


def _zero_sample(arg, dim):
    shape = list(arg.shape)
    del shape[dim]
    return arg.new_zeros(shape)


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """Vectorize ``func`` over a dimension of its inputs: ``vmap(func)(x)`` stacks
    ``func(x[i])`` for every ``i`` along dimension 0.

    Args:
        func: a function of tensors (and pytrees of them) returning tensors, or a pytree of
            tensors.
        in_dims (int or tuple): the dimension of each input to map over; a tuple with an entry
            per positional argument, each an int, None (the argument is passed whole to every
            call) or a pytree matching the argument. Keyword arguments are never mapped.
            Default: 0.
        out_dims (int or pytree): where the mapped dimension goes in each output; None for
            an output that does not depend on the mapped inputs. Default: 0.
        randomness (str): ``'error'`` (a random op inside ``func`` raises), ``'different'``
            (independent draws per sample) or ``'same'`` (every sample gets the same draws).
        chunk_size (int, optional): accepted for PyTorch compatibility (and validated); the
            samples already run one at a time, so it changes neither results nor memory.

    Returns:
        A function taking the same arguments as ``func``.

    .. note::
        ``func`` is called once per sample (PyTorch's own fallback for ops without batching
        rules), on views of the inputs with the mapped dimension removed. So Python side
        effects happen once per sample, ``.item()`` and data-dependent control flow work, and
        an output with ``out_dims=None`` is accepted when it is equal in every sample (PyTorch
        instead rejects any output computed from a mapped input). An in-place change to an
        unmapped argument raises (it would be applied once per sample; tensors captured by
        closure are not checked); in-place changes to the mapped inputs write through to
        them, as in PyTorch. For a batch of size 0, ``func`` is called once on zeros to learn
        the output shapes.

    Example::

        >>> # per-sample gradients
        >>> loss = lambda p, x, y: ((functional_call(model, p, (x,)) - y) ** 2).sum()
        >>> grads = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    """
    if randomness not in _vmap_state.RANDOMNESS:
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    def wrapped(*args, **kwargs):
        _check_out_dims(out_dims, func)
        batch_size, flat_dims, flat_args, spec = _batched_inputs(in_dims, args, func)
        dims = [None if d is None else d % arg.ndim for arg, d in zip(flat_args, flat_dims)]
        unmapped = [a for a, d in zip(flat_args, dims) if d is None and isinstance(a, Tensor)]
        unmapped += [a for a in tree_flatten(kwargs)[0] if isinstance(a, Tensor)]
        versions = [a._version for a in unmapped]
        outputs = []
        with _vmap_state.Level(randomness) as level:
            for i in range(max(batch_size, 1)):
                level.start_sample(i)
                sample = [a if d is None else a.select(d, i) if batch_size else
                          _zero_sample(a, d) for a, d in zip(flat_args, dims)]
                outputs.append(func(*tree_unflatten(sample, spec), **kwargs))
                if any(a._version != v for a, v in zip(unmapped, versions)):
                    raise RuntimeError(
                        f"vmap({_name(func)}, ...): `{_name(func)}` modified in place an input "
                        f"that is not mapped (in_dims=None or a keyword argument). disttorch's "
                        f"vmap calls the function once per sample, so the change would be "
                        f"applied once per sample: map that input, or modify it outside vmap.")
        out_leaves, out_spec = tree_flatten(outputs[0])
        per_sample = [out_leaves]
        for out in outputs[1:]:
            leaves, s = tree_flatten(out)
            if s != out_spec:
                raise ValueError(f"vmap({_name(func)}, ...): `{_name(func)}` returned outputs of "
                                 f"different structures for different samples: {out_spec} and "
                                 f"{s}")
            per_sample.append(leaves)
        flat_out_dims = _flat_out_dims(outputs[0], out_spec, out_dims, func)
        joined = [_combine(_name(func), [leaves[k] for leaves in per_sample], d, batch_size)
                  for k, d in enumerate(flat_out_dims)]
        return tree_unflatten(joined, out_spec)

    try:
        return functools.wraps(func)(wrapped)
    except (AttributeError, TypeError):
        return wrapped
