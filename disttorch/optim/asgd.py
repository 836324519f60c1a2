"""ASGD: averaged stochastic gradient descent."""
import numpy as np

from ..tensor import _new
from .optimizer import Optimizer, check_lr, grad_with_decay, scalar, step_tensor, zeros_like_param

__all__ = ["ASGD", "asgd"]


class ASGD(Optimizer):
    r"""Averaged stochastic gradient descent, like ``torch.optim.ASGD`` (`Acceleration of
    Stochastic Approximation by Averaging`_).

    The state ``ax`` holds the running average of the iterates, which starts after ``t0``
    steps.

    Args:
        params (iterable): parameters to optimize, or dicts defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 1e-2).
        lambd (float, optional): decay term (default: 1e-4).
        alpha (float, optional): power for the eta update (default: 0.75).
        t0 (float, optional): step at which averaging starts (default: 1e6).
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0).
        maximize (bool, optional): maximize the objective (default: False).

    .. _Acceleration of Stochastic Approximation by Averaging:
        https://dl.acm.org/citation.cfm?id=131098
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        check_lr(lr)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        params = self._params_with_grad(group)
        states = []
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = step_tensor()
                state["eta"] = _new(np.array(scalar(group["lr"]), dtype=np.float32))
                state["mu"] = _new(np.ones((), dtype=np.float32))
                state["ax"] = zeros_like_param(p)
            states.append(state)
        asgd([p._data for p in params], [p._grad._data for p in params],
             [s["ax"]._data for s in states], [s["mu"]._data for s in states],
             [s["eta"]._data for s in states], [s["step"]._data for s in states],
             lambd=group["lambd"], lr=scalar(group["lr"]), t0=group["t0"],
             alpha=group["alpha"], weight_decay=group["weight_decay"],
             maximize=group["maximize"])
        self._bump_versions(params)


def asgd(params, grads, axs, mus, etas, steps, *, lambd, lr, t0, alpha, weight_decay, maximize):
    r"""Apply one ASGD update in place to the arrays ``params`` and their state arrays.

    ``mus``, ``etas`` and ``steps`` are 0-d float32 arrays updated in place.
    """
    for param, grad, ax, mu, eta, step_t in zip(params, grads, axs, mus, etas, steps):
        step_t += 1
        grad = grad_with_decay(param, grad, weight_decay, maximize)
        eta_value = float(eta)
        param *= 1 - lambd * eta_value
        param -= grad * eta_value
        if float(mu) != 1:
            delta = param - ax
            delta *= mu
            ax += delta
        else:
            ax[...] = param
        step = float(step_t)
        eta[...] = lr / ((1 + lambd * lr * step) ** alpha)
        mu[...] = 1 / max(1, step - t0)
