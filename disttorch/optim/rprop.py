"""Rprop: resilient backpropagation, sign-based steps with per-element adaptive sizes."""
from .._backend import get_array_module
from .optimizer import Optimizer, check_lr, grad_with_decay, scalar, step_tensor, zeros_like_param

__all__ = ["Rprop", "rprop"]


class Rprop(Optimizer):
    r"""The resilient backpropagation algorithm, like ``torch.optim.Rprop``.

    Each element moves by its own step size in the direction opposite to its gradient's sign;
    the step size grows by ``etas[1]`` while the sign persists and shrinks by ``etas[0]`` when
    it flips (and that element skips the update).

    Args:
        params (iterable): parameters to optimize, or dicts defining parameter groups.
        lr (float, Tensor, optional): initial step size (default: 1e-2).
        etas (Tuple[float, float], optional): multiplicative decrease and increase factors,
            ``0 < etaminus < 1 < etaplus`` (default: (0.5, 1.2)).
        step_sizes (Tuple[float, float], optional): minimal and maximal step sizes
            (default: (1e-6, 50)).
        maximize (bool, optional): maximize the objective (default: False).
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        params = self._params_with_grad(group)
        states = []
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = step_tensor()
                state["prev"] = zeros_like_param(p)
                state["step_size"] = zeros_like_param(p, scalar(group["lr"]))
            states.append(state)
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        rprop([p._data for p in params], [p._grad._data for p in params],
              [s["prev"]._data for s in states], [s["step_size"]._data for s in states],
              [s["step"]._data for s in states], step_size_min=step_size_min,
              step_size_max=step_size_max, etaminus=etaminus, etaplus=etaplus,
              maximize=group["maximize"])
        self._bump_versions(params)


def rprop(params, grads, prevs, step_sizes, steps, *, step_size_min, step_size_max, etaminus,
          etaplus, maximize):
    r"""Apply one Rprop update in place to the arrays ``params`` and their state arrays."""
    for param, grad, prev, step_size, step_t in zip(params, grads, prevs, step_sizes, steps):
        xp = get_array_module(param)
        step_t += 1
        grad = grad_with_decay(param, grad, 0, maximize)
        sign = xp.sign(grad * prev)
        factor = xp.where(sign > 0, etaplus, xp.where(sign < 0, etaminus, 1.0))
        factor = factor.astype(step_size.dtype, copy=False)
        step_size *= factor
        xp.clip(step_size, step_size_min, step_size_max, out=step_size)
        # After a sign flip the element does not move, and its next step sees no history.
        xp.copyto(prev, grad)
        prev[sign < 0] = 0
        update = xp.sign(prev)
        update *= step_size
        param -= update
