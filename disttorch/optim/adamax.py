"""Adamax: Adam with the infinity norm."""
from .._backend import get_array_module
from .adam import check_betas
from .optimizer import (Optimizer, check_lr, grad_with_decay, lerp_, scalar, step_tensor,
                        zeros_like_param)

__all__ = ["Adamax", "adamax"]


class Adamax(Optimizer):
    r"""Adamax, the infinity-norm variant of Adam, like ``torch.optim.Adamax``.

    Args:
        params (iterable): parameters to optimize, or dicts defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 2e-3).
        betas (Tuple[float, float], optional): coefficients for the running average of the
            gradient and the exponentially weighted infinity norm (default: (0.9, 0.999)).
        eps (float, optional): term added to the norm for numerical stability (default: 1e-8).
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0).
        maximize (bool, optional): maximize the objective (default: False).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        check_lr(lr)
        check_betas(betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        params = self._params_with_grad(group)
        states = []
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = step_tensor()
                state["exp_avg"] = zeros_like_param(p)
                state["exp_inf"] = zeros_like_param(p)
            states.append(state)
        beta1, beta2 = group["betas"]
        adamax([p._data for p in params], [p._grad._data for p in params],
               [s["exp_avg"]._data for s in states], [s["exp_inf"]._data for s in states],
               [s["step"]._data for s in states], eps=group["eps"], beta1=scalar(beta1),
               beta2=scalar(beta2), lr=scalar(group["lr"]), weight_decay=group["weight_decay"],
               maximize=group["maximize"])
        self._bump_versions(params)


def adamax(params, grads, exp_avgs, exp_infs, steps, *, eps, beta1, beta2, lr, weight_decay,
           maximize):
    r"""Apply one Adamax update in place to the arrays ``params`` and their state arrays."""
    for i, param in enumerate(params):
        xp = get_array_module(param)
        step_t = steps[i]
        step_t += 1
        grad = grad_with_decay(param, grads[i], weight_decay, maximize)
        exp_avg, exp_inf = exp_avgs[i], exp_infs[i]
        lerp_(exp_avg, grad, 1 - beta1)
        exp_inf *= beta2
        norm = xp.abs(grad)
        norm += eps
        xp.maximum(exp_inf, norm, out=exp_inf)
        clr = lr / (1 - beta1 ** float(step_t))
        xp.divide(exp_avg, exp_inf, out=norm)
        norm *= -clr
        param += norm
