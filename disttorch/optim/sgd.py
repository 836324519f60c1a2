"""Stochastic gradient descent, with optional momentum and Nesterov momentum."""
import numpy as np

from .._backend import get_array_module
from ..tensor import _new
from .optimizer import Optimizer, check_lr, grad_with_decay, scalar
from ._cuda_kernels import sgd_step

__all__ = ["SGD", "sgd"]


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), like ``torch.optim.SGD``.

    .. math::
        g_t = \nabla_\theta f_t(\theta_{t-1}) + \lambda \theta_{t-1}, \quad
        b_t = \mu b_{t-1} + (1 - \tau) g_t, \quad
        \theta_t = \theta_{t-1} - \gamma\, (g_t + \mu b_t \text{ if nesterov else } b_t)

    Args:
        params (iterable): parameters to optimize, or dicts defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 1e-3).
        momentum (float, optional): momentum factor (default: 0).
        dampening (float, optional): dampening for momentum (default: 0).
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0).
        nesterov (bool, optional): enables Nesterov momentum (default: False).
        maximize (bool, optional): maximize the objective instead of minimizing it
            (default: False).
        foreach, fused: accepted for compatibility and stored in the parameter groups; the
            update is always the array function :func:`sgd`.
            ``differentiable=True`` raises: disttorch never records optimizer steps.

    Example::

        >>> optimizer = disttorch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> optimizer.zero_grad()
        >>> loss_fn(model(input), target).backward()
        >>> optimizer.step()
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None):
        check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach,
                        differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def _update_group(self, group):
        params = self._params_with_grad(group)
        momentum = group["momentum"]
        buffers = []
        if momentum != 0:
            for p in params:
                buf = self.state[p].get("momentum_buffer")
                buffers.append(None if buf is None else buf._data)
        new_buffers = sgd([p._data for p in params], [p._grad._data for p in params], buffers,
                          weight_decay=scalar(group["weight_decay"]), momentum=momentum,
                          lr=scalar(group["lr"]), dampening=group["dampening"],
                          nesterov=group["nesterov"], maximize=group["maximize"])
        if momentum != 0:
            for p, buf, new in zip(params, buffers, new_buffers):
                if buf is None:
                    self.state[p]["momentum_buffer"] = _new(new)
        self._bump_versions(params)


def sgd(params, grads, momentum_buffers, *, weight_decay, momentum, lr, dampening, nesterov,
        maximize):
    r"""Apply one SGD update in place to the arrays ``params``.

    ``momentum_buffers`` holds one array (or ``None`` before the first step) per parameter;
    the list of buffers after the update is returned (new ones are created for ``None``).
    """
    fused = sgd_step(params, grads, momentum_buffers, weight_decay=weight_decay, momentum=momentum,
                     lr=lr, dampening=dampening, nesterov=nesterov, maximize=maximize)
    if fused is not None:
        return fused
    out_buffers = []
    for i, param in enumerate(params):
        grad = grad_with_decay(param, grads[i], weight_decay, maximize)
        if momentum != 0:
            buf = momentum_buffers[i]
            if buf is None:
                buf = grad.copy()
            else:
                buf *= momentum
                if dampening == 0:
                    buf += grad
                else:
                    buf += grad * (1 - dampening)
            out_buffers.append(buf)
            if nesterov:
                grad = grad + buf * momentum
            else:
                grad = buf
        scaled = _scratch(param)
        get_array_module(param).multiply(grad, lr, out=scaled)
        param -= scaled
    return out_buffers


_scratch_buffers = {}


def _scratch(like):
    """A reusable temporary shaped like ``like``: a fresh multi-megabyte array every step costs
    page faults (the allocator returns such blocks to the OS), a reused one does not."""
    key = (like.shape, like.dtype.str, type(like),
           None if type(like) is np.ndarray else like.device.id)
    buf = _scratch_buffers.get(key)
    if buf is None:
        if len(_scratch_buffers) > 64:
            _scratch_buffers.clear()
        buf = _scratch_buffers[key] = get_array_module(like).empty_like(like)
    return buf
