"""NAdam: Adam with Nesterov momentum."""
import numpy as np

from .._backend import get_array_module
from ..tensor import _new
from .adam import check_betas
from .optimizer import (Optimizer, add_scaled_square_, check_lr, grad_with_decay, lerp_, scalar,
                        step_tensor, zeros_like_param)

__all__ = ["NAdam", "nadam"]


class NAdam(Optimizer):
    r"""NAdam, like ``torch.optim.NAdam`` (`Incorporating Nesterov Momentum into Adam`_).

    Args:
        params (iterable): parameters to optimize, or dicts defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 2e-3).
        betas (Tuple[float, float], optional): running-average coefficients
            (default: (0.9, 0.999)).
        eps (float, optional): denominator term for numerical stability (default: 1e-8).
        weight_decay (float, optional): weight decay (default: 0).
        momentum_decay (float, optional): momentum decay :math:`\psi` (default: 4e-3).
        decoupled_weight_decay (bool, optional): decay the weights directly, as AdamW does
            (NAdamW) (default: False).
        maximize (bool, optional): maximize the objective (default: False).

    .. _Incorporating Nesterov Momentum into Adam:
        https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        check_lr(lr)
        check_betas(betas, eps, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        params = self._params_with_grad(group)
        states = []
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = step_tensor()
                state["mu_product"] = _new(np.ones((), dtype=np.float32))
                state["exp_avg"] = zeros_like_param(p)
                state["exp_avg_sq"] = zeros_like_param(p)
            states.append(state)
        beta1, beta2 = group["betas"]
        nadam([p._data for p in params], [p._grad._data for p in params],
              [s["exp_avg"]._data for s in states], [s["exp_avg_sq"]._data for s in states],
              [s["mu_product"]._data for s in states], [s["step"]._data for s in states],
              beta1=scalar(beta1), beta2=scalar(beta2), lr=scalar(group["lr"]),
              weight_decay=group["weight_decay"], momentum_decay=group["momentum_decay"],
              eps=group["eps"], decoupled_weight_decay=group["decoupled_weight_decay"],
              maximize=group["maximize"])
        self._bump_versions(params)


def nadam(params, grads, exp_avgs, exp_avg_sqs, mu_products, steps, *, beta1, beta2, lr,
          weight_decay, momentum_decay, eps, decoupled_weight_decay, maximize):
    r"""Apply one NAdam update in place to the arrays ``params`` and their state arrays.

    ``mu_products`` and ``steps`` are 0-d float32 arrays updated in place.
    """
    for i, param in enumerate(params):
        xp = get_array_module(param)
        step_t, mu_product = steps[i], mu_products[i]
        step_t += 1
        step = float(step_t)
        bias_correction2 = 1 - beta2 ** step
        if decoupled_weight_decay:
            if weight_decay != 0:
                param *= 1 - lr * weight_decay
            grad = grad_with_decay(param, grads[i], 0, maximize)
        else:
            grad = grad_with_decay(param, grads[i], weight_decay, maximize)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        mu_product *= mu
        exp_avg, exp_avg_sq = exp_avgs[i], exp_avg_sqs[i]
        lerp_(exp_avg, grad, 1 - beta1)
        exp_avg_sq *= beta2
        add_scaled_square_(exp_avg_sq, grad, 1 - beta2)
        denom = exp_avg_sq / bias_correction2
        xp.sqrt(denom, out=denom)
        denom += eps
        product = float(mu_product)
        product_next = product * mu_next
        param += grad / denom * (-lr * (1.0 - mu) / (1.0 - product))
        param += exp_avg / denom * ((-lr * mu_next) / (1.0 - product_next))
