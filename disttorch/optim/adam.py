"""Adam, and the decoupled-weight-decay variant that AdamW builds on."""
from .._backend import get_array_module
from ..tensor import Tensor
from .optimizer import (Optimizer, add_scaled_square_, check_lr, grad_with_decay, lerp_, scalar,
                        step_tensor, zeros_like_param)
from ._cuda_kernels import adam_step

__all__ = ["Adam", "adam"]


def check_betas(betas, eps, weight_decay):
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= scalar(betas[0]) < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= scalar(betas[1]) < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    if isinstance(betas[0], Tensor) != isinstance(betas[1], Tensor):
        raise ValueError("betas must be either both floats or both Tensors")


class Adam(Optimizer):
    r"""Adam, like ``torch.optim.Adam`` (`Adam: A Method for Stochastic Optimization`_).

    Args:
        params (iterable): parameters to optimize, or dicts defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 1e-3).
        betas (Tuple[float, float], optional): coefficients for the running averages of the
            gradient and its square (default: (0.9, 0.999)).
        eps (float, optional): term added to the denominator for numerical stability
            (default: 1e-8).
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0).
        amsgrad (bool, optional): use the AMSGrad variant (`On the Convergence of Adam and
            Beyond`_) (default: False).
        maximize (bool, optional): maximize the objective (default: False).
        decoupled_weight_decay (bool, optional): decay the weights directly, as AdamW does,
            instead of adding an L2 term to the gradient (default: False).
        foreach, capturable, fused: accepted for compatibility and stored in the parameter
            groups; the update is always the array function :func:`adam`.
            ``differentiable=True`` raises: disttorch never records optimizer steps.

    .. _Adam\: A Method for Stochastic Optimization: https://arxiv.org/abs/1412.6980
    .. _On the Convergence of Adam and Beyond: https://openreview.net/forum?id=ryQu7f-RZ
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        check_lr(lr)
        check_betas(betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update_group(self, group):
        params = self._params_with_grad(group)
        amsgrad = group["amsgrad"]
        states = []
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = step_tensor()
                state["exp_avg"] = zeros_like_param(p)
                state["exp_avg_sq"] = zeros_like_param(p)
                if amsgrad:
                    state["max_exp_avg_sq"] = zeros_like_param(p)
            states.append(state)
        beta1, beta2 = group["betas"]
        adam([p._data for p in params], [p._grad._data for p in params],
             [s["exp_avg"]._data for s in states], [s["exp_avg_sq"]._data for s in states],
             [s["max_exp_avg_sq"]._data for s in states] if amsgrad else [],
             [s["step"]._data for s in states],
             amsgrad=amsgrad, beta1=scalar(beta1), beta2=scalar(beta2), lr=scalar(group["lr"]),
             weight_decay=group["weight_decay"], eps=group["eps"], maximize=group["maximize"],
             decoupled_weight_decay=group["decoupled_weight_decay"])
        self._bump_versions(params)


def adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, amsgrad, beta1, beta2,
         lr, weight_decay, eps, maximize, decoupled_weight_decay):
    r"""Apply one Adam update in place to the arrays ``params`` and their state arrays.

    ``steps`` are 0-d float32 arrays, incremented in place.
    """
    if not amsgrad and adam_step(params, grads, exp_avgs, exp_avg_sqs, steps, beta1=beta1,
                                 beta2=beta2, lr=lr, weight_decay=weight_decay, eps=eps,
                                 maximize=maximize, decoupled_weight_decay=decoupled_weight_decay):
        return
    for i, param in enumerate(params):
        xp = get_array_module(param)
        step_t = steps[i]
        step_t += 1
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

        step = float(step_t)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = lr / bias_correction1
        if amsgrad:
            xp.maximum(max_exp_avg_sqs[i], exp_avg_sq, out=max_exp_avg_sqs[i])
            denom = xp.sqrt(max_exp_avg_sqs[i])
        else:
            denom = xp.sqrt(exp_avg_sq)
        denom /= bias_correction2 ** 0.5
        denom += eps
        xp.divide(exp_avg, denom, out=denom)
        denom *= -step_size
        param += denom
