"""Adagrad: per-coordinate learning rates from the sum of squared gradients."""
from .._backend import get_array_module
from .optimizer import (Optimizer, check_lr, grad_with_decay, scalar, step_tensor,
                        zeros_like_param)

__all__ = ["Adagrad", "adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad, like ``torch.optim.Adagrad`` (`Adaptive Subgradient Methods`_).

    Args:
        params (iterable): parameters to optimize, or dicts defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 1e-2).
        lr_decay (float, optional): learning rate decay (default: 0).
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0).
        initial_accumulator_value (float, optional): initial value of the sum of squared
            gradients (default: 0).
        eps (float, optional): denominator term for numerical stability (default: 1e-10).
        maximize (bool, optional): maximize the objective (default: False).

    Unlike the other optimizers, the state (``step`` and ``sum``) is created for every
    parameter at construction, as in PyTorch.

    .. _Adaptive Subgradient Methods:
        http://jmlr.org/papers/v12/duchi11a.html
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_lr(lr)
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = step_tensor()
        state["sum"] = zeros_like_param(p, group["initial_accumulator_value"])

    def _update_group(self, group):
        params = self._params_with_grad(group)
        for p in params:
            # Parameters added by add_param_group after construction start here.
            if len(self.state[p]) == 0:
                self._init_state(p, group)
        states = [self.state[p] for p in params]
        adagrad([p._data for p in params], [p._grad._data for p in params],
                [s["sum"]._data for s in states], [s["step"]._data for s in states],
                lr=scalar(group["lr"]), weight_decay=group["weight_decay"],
                lr_decay=group["lr_decay"], eps=group["eps"], maximize=group["maximize"])
        self._bump_versions(params)


def adagrad(params, grads, state_sums, steps, *, lr, weight_decay, lr_decay, eps, maximize):
    r"""Apply one Adagrad update in place to the arrays ``params`` and ``state_sums``."""
    for param, grad, state_sum, step_t in zip(params, grads, state_sums, steps):
        xp = get_array_module(param)
        step_t += 1
        step = float(step_t)
        grad = grad_with_decay(param, grad, weight_decay, maximize)
        clr = lr / (1 + (step - 1) * lr_decay)
        state_sum += xp.square(grad)
        std = xp.sqrt(state_sum)
        std += eps
        xp.divide(grad, std, out=std)
        std *= -clr
        param += std
