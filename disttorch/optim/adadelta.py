"""Adadelta: an adaptive learning rate method without a global learning-rate schedule."""
from .._backend import get_array_module
from .optimizer import (Optimizer, add_scaled_square_, check_lr, grad_with_decay, scalar,
                        step_tensor, zeros_like_param)

__all__ = ["Adadelta", "adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta, like ``torch.optim.Adadelta`` (`ADADELTA: An Adaptive Learning Rate
    Method`_).

    Args:
        params (iterable): parameters to optimize, or dicts defining parameter groups.
        lr (float, Tensor, optional): coefficient that scales the delta (default: 1.0).
        rho (float, optional): coefficient of the running averages of the squared gradient
            and squared update (default: 0.9).
        eps (float, optional): term added inside the square roots (default: 1e-6).
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0).
        maximize (bool, optional): maximize the objective (default: False).

    .. _ADADELTA\: An Adaptive Learning Rate Method: https://arxiv.org/abs/1212.5701
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        params = self._params_with_grad(group)
        states = []
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = step_tensor()
                state["square_avg"] = zeros_like_param(p)
                state["acc_delta"] = zeros_like_param(p)
            states.append(state)
        adadelta([p._data for p in params], [p._grad._data for p in params],
                 [s["square_avg"]._data for s in states], [s["acc_delta"]._data for s in states],
                 [s["step"]._data for s in states], lr=scalar(group["lr"]), rho=group["rho"],
                 eps=group["eps"], weight_decay=group["weight_decay"],
                 maximize=group["maximize"])
        self._bump_versions(params)


def adadelta(params, grads, square_avgs, acc_deltas, steps, *, lr, rho, eps, weight_decay,
             maximize):
    r"""Apply one Adadelta update in place to the arrays ``params`` and their state arrays."""
    for param, grad, square_avg, acc_delta, step_t in zip(params, grads, square_avgs, acc_deltas,
                                                          steps):
        xp = get_array_module(param)
        step_t += 1
        grad = grad_with_decay(param, grad, weight_decay, maximize)
        square_avg *= rho
        add_scaled_square_(square_avg, grad, 1 - rho)
        std = square_avg + eps
        xp.sqrt(std, out=std)
        delta = acc_delta + eps
        xp.sqrt(delta, out=delta)
        delta /= std
        delta *= grad
        acc_delta *= rho
        add_scaled_square_(acc_delta, delta, 1 - rho)
        delta *= lr
        param -= delta
