"""Forward-mode AD with dual tensors: ``dual_level``, ``make_dual``, ``unpack_dual``
(PyTorch's ``torch.autograd.forward_ad``).

disttorch has no per-op tangent rules, so tangents are not carried along with each op.
Instead ``make_dual`` gives a tensor whose operations are recorded by the reverse-mode
engine, and ``unpack_dual`` computes the tangent of a result exactly when asked: the
vector-Jacobian product ``u -> J^T u`` from the duals to the result is taken with
``create_graph=True``, and differentiating it with respect to ``u`` along the duals'
tangents gives ``J v`` (see ``disttorch.func._forward``).

Differences from PyTorch that follow from it:

- a dual tensor records gradient (``requires_grad`` is True), so in-place ops on it raise the
  leaf error, and tangents are lost through ops run under ``no_grad`` (PyTorch keeps
  forward gradients there);
- each ``unpack_dual`` of a computed tensor costs two backward passes over its graph;
- a ``primal`` that depends only on duals is returned detached; one that also depends on
  other tensors recording gradient (model parameters) is the result itself, so reverse mode
  through it still works.
"""
import collections
import functools

from . import grad_mode
from ..tensor import Tensor

__all__ = ["UnpackedDualTensor", "enter_dual_level", "exit_dual_level", "make_dual",
           "unpack_dual", "dual_level"]

UnpackedDualTensor = collections.namedtuple("UnpackedDualTensor", ["primal", "tangent"])
UnpackedDualTensor.__doc__ = """Namedtuple returned by :func:`unpack_dual` containing the
primal and tangent components of the dual tensor."""


class _Level:
    def __init__(self):
        self.duals = []       # (dual tensor, tangent, primal given to make_dual)
        self.by_id = {}       # id(dual) -> index in duals
        self.hidden = set()   # ids of the leaves that stand for primals not recording gradient


_state = {"level": None}


def enter_dual_level():
    """Enter a new forward-AD level (only one may be active) and return its index, 0."""
    if _state["level"] is not None:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _state["level"] = _Level()
    return 0


def exit_dual_level(*, level=None):
    """Exit the forward-AD level: its dual tensors lose their tangents."""
    if _state["level"] is None:
        raise RuntimeError("Dual level must be a positive number.")
    if level is not None and level != 0:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was "
                           "created. This is not supported.")
    _state["level"] = None


def _current(level, what):
    current = _state["level"]
    if current is None:
        raise RuntimeError(f"Trying to {what} for forward AD but no level exists, make sure to "
                           f"enter_dual_level() first.")
    if level is not None and level != 0:
        raise RuntimeError(f"Trying to {what} for forward AD at level {level}, but only level 0 "
                           f"exists.")
    return current


def make_dual(tensor, tangent, *, level=None):
    """Associate ``tangent`` with ``tensor`` to form a dual tensor for forward AD: functions
    of it carry the directional derivative along ``tangent``, read with :func:`unpack_dual`.

    Args:
        tensor (Tensor): the primal, floating point.
        tangent (Tensor): the direction, same shape as ``tensor``.
        level (int, optional): the dual level (default: the current one).

    Example::

        >>> with dual_level():
        ...     y = make_dual(x, v).sin()
        ...     jvp = unpack_dual(y).tangent    # cos(x) * v
    """
    current = _current(level, "create a dual Tensor")
    for name, t in (("primal", tensor), ("tangent", tangent)):
        if not (t.is_floating_point() or t.is_complex()):
            raise ValueError(f"Expected {name} to be floating point or complex, but got: "
                             f"{t.dtype}")
    if tuple(tensor.shape) != tuple(tangent.shape):
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than "
                           f"that of the original Tensor, this is not supported. Tensor is of "
                           f"size {list(tensor.shape)} while the given forward gradient is of "
                           f"size {list(tangent.shape)}.")
    if tangent.dtype != tensor.dtype:
        tangent = tangent.to(tensor.dtype)
    if tensor.requires_grad and current.duals and unpack_dual(tensor).tangent is not None:
        raise RuntimeError("Making a dual Tensor based on a Tensor that already has a forward "
                           "gradient at the same level 0 is not supported.")
    with grad_mode.enable_grad():
        if tensor.requires_grad:
            # an alias inside the caller's graph: reverse mode through the dual still works
            dual = tensor.view_as(tensor)
        else:
            dual = tensor.detach().requires_grad_(True)
            current.hidden.add(id(dual))
    current.by_id[id(dual)] = len(current.duals)
    current.duals.append((dual, tangent, tensor))
    return dual


def _reaches_user_leaf(t, level):
    from ..func._forward import reaches_other_leaf
    return reaches_other_leaf([t], level.hidden)


def unpack_dual(tensor, *, level=None):
    """``UnpackedDualTensor(primal, tangent)`` of ``tensor``: its value, and its directional
    derivative along the tangents of the current level's dual tensors (None when ``tensor``
    does not depend on any)."""
    current = _state["level"]
    if current is None or (level is not None and level != 0):
        return UnpackedDualTensor(tensor, None)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"_unpack_dual(): argument 'dual' (position 1) must be Tensor, not "
                        f"{type(tensor).__name__}")
    index = current.by_id.get(id(tensor))
    if index is not None and current.duals[index][0] is tensor:
        dual, tangent, given = current.duals[index]
        return UnpackedDualTensor(given.view_as(given) if given.requires_grad else
                                  dual.detach(), tangent)
    if not tensor.requires_grad or not current.duals:
        return UnpackedDualTensor(tensor, None)
    from ..func._forward import LinearizedVjp
    duals = [d for d, _, _ in current.duals]
    lin = LinearizedVjp([tensor], duals)
    keep = _reaches_user_leaf(tensor, current)
    tangents = [t for _, t, _ in current.duals]
    out_tangent, = lin.push(tangents, keep or any(t.requires_grad for t in tangents))
    if out_tangent is None:
        # depends on no dual: PyTorch reports no tangent
        return UnpackedDualTensor(tensor if keep else tensor.detach(), None)
    if not (keep or any(t.requires_grad for t in tangents)):
        out_tangent = out_tangent.detach()
    return UnpackedDualTensor(tensor if keep else tensor.detach(), out_tangent)


class dual_level:
    """Context manager (or decorator) for a forward-AD level: dual tensors made inside it
    carry tangents until it exits.

    Example::

        >>> with dual_level():
        ...     inp = make_dual(x, v)
        ...     out = f(inp)
        ...     y, jvp = unpack_dual(out)
    """

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, exc_type, exc_value, traceback):
        exit_dual_level()

    def __call__(self, func):
        @functools.wraps(func)
        def wrapped(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)
        return wrapped
