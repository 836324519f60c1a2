"""Adafactor: Adam-like steps with a factored second moment (one row and one column vector
per matrix instead of a full-size buffer)."""
import math

import numpy as np

from .._backend import get_array_module
from .optimizer import Optimizer, lerp_, scalar, step_tensor, zeros_like_param
from ..tensor import Tensor, _new

__all__ = ["Adafactor", "adafactor"]


class Adafactor(Optimizer):
    r"""Adafactor, like ``torch.optim.Adafactor`` (`Adafactor: Adaptive Learning Rates with
    Sublinear Memory Cost`_).

    A parameter with two or more dimensions keeps the running mean of its squared gradient
    factored over its last two dimensions (``row_var``, ``col_var``); a vector keeps it whole
    (``variance``). The step is relative to the parameter's RMS and clipped by RMS ``d``.

    Args:
        params (iterable): parameters to optimize, or dicts defining parameter groups.
        lr (float, Tensor, optional): the relative step-size cap :math:`\gamma`; the step size is
            :math:`\min(\gamma, 1/\sqrt{t})` (default: 1e-2).
        beta2_decay (float, optional): :math:`\tau` of the second-moment coefficient
            :math:`\hat\beta_{2,t} = 1 - t^\tau` (default: -0.8).
        eps (Tuple[float or None, float], optional): :math:`\epsilon_1`, the floor of the
            second-moment estimate (None: the parameter dtype's machine epsilon), and
            :math:`\epsilon_2`, the floor of the parameter RMS that scales the step
            (default: (None, 1e-3)).
        d (float, optional): clipping threshold of the update's RMS (default: 1.0).
        weight_decay (float, optional): decoupled weight decay, scaled by ``lr`` (default: 0).
        maximize (bool, optional): maximize the objective (default: False).
        foreach: accepted for compatibility and stored in the parameter groups.

    .. _Adafactor\: Adaptive Learning Rates with Sublinear Memory Cost:
        https://arxiv.org/abs/1804.04235
    """

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                 weight_decay=0.0, *, foreach=None, maximize=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= scalar(lr):
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    def _update_group(self, group):
        params = self._params_with_grad(group)
        states = []
        for p in params:
            if p.is_complex():
                raise RuntimeError("Adafactor does not support complex parameters")
            state = self.state[p]
            if len(state) == 0:
                state["step"] = step_tensor()
                grad = p._grad._data
                if grad.ndim > 1:
                    xp = get_array_module(grad)
                    state["row_var"] = _new(xp.zeros(grad.shape[:-1] + (1,), grad.dtype))
                    state["col_var"] = _new(xp.zeros(grad.shape[:-2] + (1,) + grad.shape[-1:],
                                                     grad.dtype))
                else:
                    state["variance"] = zeros_like_param(p._grad)
            states.append(state)

        def arrays(key):
            return [s[key]._data if key in s else None for s in states]

        eps1, eps2 = group["eps"]
        adafactor([p._data for p in params], [p._grad._data for p in params], arrays("row_var"),
                  arrays("col_var"), arrays("variance"), arrays("step"), d=group["d"],
                  lr=scalar(group["lr"]), beta2_decay=group["beta2_decay"],
                  weight_decay=group["weight_decay"], eps1=eps1, eps2=eps2,
                  maximize=group["maximize"])
        self._bump_versions(params)


def _rms(xp, array):
    # as PyTorch: the 2-norm (in the array's dtype) over the square root of the element count,
    # divided in float64 (PyTorch divides the norm read back as a Python float)
    return xp.sqrt(xp.sum(xp.square(array))).astype(np.float64) / math.sqrt(array.size)


def adafactor(params, grads, row_vars, col_vars, variances, steps, *, d, lr, beta2_decay,
              weight_decay, eps1, eps2, maximize):
    r"""Apply one Adafactor update in place to the arrays ``params`` and their state arrays
    (``row_vars``/``col_vars`` for matrices, ``variances`` for vectors; None elsewhere).

    The parameter RMS and the update's clipping factor stay on the parameter's device (PyTorch
    reads both back to the host).
    """
    for i, param in enumerate(params):
        xp = get_array_module(param)
        grad = -grads[i] if maximize else grads[i]
        eps1_i = float(np.finfo(param.dtype).eps) if eps1 is None else eps1
        step_t = steps[i]
        step_t += 1
        step = float(step_t)
        one_minus_beta2 = step ** beta2_decay
        rho = min(lr, 1 / math.sqrt(step))
        alpha = xp.maximum(_rms(xp, param), eps2) * rho
        if weight_decay != 0:
            param *= 1 - lr * weight_decay
        if grad.ndim > 1:
            square = xp.square(grad)
            lerp_(row_vars[i], xp.sum(square, axis=-1, keepdims=True) / grad.shape[-1],
                  one_minus_beta2)
            lerp_(col_vars[i], xp.sum(square, axis=-2, keepdims=True) / grad.shape[-2],
                  one_minus_beta2)
            estimate = xp.matmul(row_vars[i], col_vars[i])
            estimate /= xp.maximum(xp.mean(row_vars[i], axis=-2, keepdims=True), eps1_i)
        else:
            lerp_(variances[i], grad * grad, one_minus_beta2)
            estimate = variances[i].copy()
        update = xp.maximum(estimate, eps1_i * eps1_i, out=estimate)
        # rsqrt, then times the gradient: PyTorch's order of roundings
        update = xp.sqrt(update, out=update)
        update = xp.reciprocal(update, out=update)
        update *= grad
        denom = xp.maximum(_rms(xp, update) / d, 1.0)
        update *= (-alpha / denom).astype(update.dtype)
        param += update
