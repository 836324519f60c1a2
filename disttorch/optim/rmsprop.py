"""RMSprop, with optional momentum and the centered variant."""
from .._backend import get_array_module
from .optimizer import (Optimizer, add_scaled_square_, check_lr, grad_with_decay, lerp_, scalar,
                        step_tensor, zeros_like_param)

__all__ = ["RMSprop", "rmsprop"]


class RMSprop(Optimizer):
    r"""RMSprop, like ``torch.optim.RMSprop``.

    Divides the gradient by the root of a running average of its square; the centered
    variant subtracts the squared running average of the gradient first.

    Args:
        params (iterable): parameters to optimize, or dicts defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 1e-2).
        alpha (float, optional): smoothing constant (default: 0.99).
        eps (float, optional): denominator term for numerical stability (default: 1e-8).
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0).
        momentum (float, optional): momentum factor (default: 0).
        centered (bool, optional): normalize by an estimate of the gradient's variance
            (default: False).
        maximize (bool, optional): maximize the objective (default: False).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        params = self._params_with_grad(group)
        states = []
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = step_tensor()
                state["square_avg"] = zeros_like_param(p)
                if group["momentum"] > 0:
                    state["momentum_buffer"] = zeros_like_param(p)
                if group["centered"]:
                    state["grad_avg"] = zeros_like_param(p)
            states.append(state)
        rmsprop([p._data for p in params], [p._grad._data for p in params],
                [s["square_avg"]._data for s in states],
                [s["grad_avg"]._data for s in states] if group["centered"] else [],
                [s["momentum_buffer"]._data for s in states] if group["momentum"] > 0 else [],
                [s["step"]._data for s in states],
                lr=scalar(group["lr"]), alpha=group["alpha"], eps=group["eps"],
                weight_decay=group["weight_decay"], momentum=group["momentum"],
                centered=group["centered"], maximize=group["maximize"])
        self._bump_versions(params)


def rmsprop(params, grads, square_avgs, grad_avgs, momentum_buffers, steps, *, lr, alpha, eps,
            weight_decay, momentum, centered, maximize):
    r"""Apply one RMSprop update in place to the arrays ``params`` and their state arrays."""
    for i, param in enumerate(params):
        xp = get_array_module(param)
        steps[i] += 1
        grad = grad_with_decay(param, grads[i], weight_decay, maximize)
        square_avg = square_avgs[i]
        square_avg *= alpha
        add_scaled_square_(square_avg, grad, 1 - alpha)
        if centered:
            grad_avg = grad_avgs[i]
            lerp_(grad_avg, grad, 1 - alpha)
            avg = square_avg - xp.square(grad_avg)
            xp.sqrt(avg, out=avg)
        else:
            avg = xp.sqrt(square_avg)
        avg += eps
        if momentum > 0:
            buf = momentum_buffers[i]
            buf *= momentum
            buf += grad / avg
            param -= buf * lr
        else:
            xp.divide(grad, avg, out=avg)
            avg *= -lr
            param += avg
