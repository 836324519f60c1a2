"""RAdam: Adam with a rectified adaptive learning rate."""
from .._backend import get_array_module
from .adam import check_betas
from .optimizer import (Optimizer, add_scaled_square_, check_lr, grad_with_decay, lerp_, scalar,
                        step_tensor, zeros_like_param)

__all__ = ["RAdam", "radam"]


class RAdam(Optimizer):
    r"""RAdam, like ``torch.optim.RAdam`` (`On the Variance of the Adaptive Learning Rate and
    Beyond`_).

    Args:
        params (iterable): parameters to optimize, or dicts defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 1e-3).
        betas (Tuple[float, float], optional): running-average coefficients
            (default: (0.9, 0.999)).
        eps (float, optional): denominator term for numerical stability (default: 1e-8).
        weight_decay (float, optional): weight decay (default: 0).
        decoupled_weight_decay (bool, optional): decay the weights directly, as AdamW does
            (default: False).
        maximize (bool, optional): maximize the objective (default: False).

    .. _On the Variance of the Adaptive Learning Rate and Beyond:
        https://arxiv.org/abs/1908.03265
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        check_lr(lr)
        check_betas(betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        params = self._params_with_grad(group)
        states = []
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = step_tensor()
                state["exp_avg"] = zeros_like_param(p)
                state["exp_avg_sq"] = zeros_like_param(p)
            states.append(state)
        beta1, beta2 = group["betas"]
        radam([p._data for p in params], [p._grad._data for p in params],
              [s["exp_avg"]._data for s in states], [s["exp_avg_sq"]._data for s in states],
              [s["step"]._data for s in states], beta1=scalar(beta1), beta2=scalar(beta2),
              lr=scalar(group["lr"]), weight_decay=group["weight_decay"], eps=group["eps"],
              decoupled_weight_decay=group["decoupled_weight_decay"],
              maximize=group["maximize"])
        self._bump_versions(params)


def radam(params, grads, exp_avgs, exp_avg_sqs, steps, *, beta1, beta2, lr, weight_decay, eps,
          decoupled_weight_decay, maximize):
    r"""Apply one RAdam update in place to the arrays ``params`` and their state arrays."""
    for i, param in enumerate(params):
        xp = get_array_module(param)
        step_t = steps[i]
        step_t += 1
        step = float(step_t)
        if decoupled_weight_decay:
            if weight_decay != 0:
                param *= 1 - lr * weight_decay
            grad = grad_with_decay(param, grads[i], 0, maximize)
        else:
            grad = grad_with_decay(param, grads[i], weight_decay, maximize)
        exp_avg, exp_avg_sq = exp_avgs[i], exp_avg_sqs[i]
        lerp_(exp_avg, grad, 1 - beta1)
        exp_avg_sq *= beta2
        add_scaled_square_(exp_avg_sq, grad, 1 - beta2)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        update = exp_avg / bias_correction1
        update *= lr
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        if rho_t > 5.0:
            adaptive = xp.sqrt(exp_avg_sq)
            adaptive += eps
            xp.divide(bias_correction2 ** 0.5, adaptive, out=adaptive)
            update *= adaptive
            update *= ((rho_t - 4) * (rho_t - 2) * rho_inf
                       / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        param -= update
