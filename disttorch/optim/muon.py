"""Muon: momentum SGD whose update is orthogonalized by a Newton-Schulz iteration."""
import math

from .. import _dtype
from ..tensor import Tensor, _new
from .optimizer import Optimizer, lerp_, scalar, zeros_like_param

__all__ = ["Muon", "muon"]

_DEFAULT_NS_COEFFICIENTS = (3.4445, -4.775, 2.0315)


class Muon(Optimizer):
    r"""Muon, like ``torch.optim.Muon`` (`Muon: An optimizer for hidden layers`_), for 2-D
    parameters only.

    The Nesterov (or plain) momentum update is replaced by the nearest semi-orthogonal matrix,
    approximated in bfloat16 by ``ns_steps`` quintic Newton-Schulz iterations, and scaled by an
    adjusted learning rate.

    Args:
        params (iterable): 2-D parameters to optimize, or dicts defining parameter groups.
        lr (float, Tensor, optional): learning rate (default: 1e-3).
        weight_decay (float, optional): decoupled weight decay, scaled by ``lr`` (default: 0.1).
        momentum (float, optional): momentum factor (default: 0.95).
        nesterov (bool, optional): use Nesterov momentum (default: True).
        ns_coefficients (Tuple[float, float, float], optional): the quintic's coefficients
            ``(a, b, c)`` (default: (3.4445, -4.775, 2.0315)).
        eps (float, optional): floor of the norm the update is divided by before the
            iteration (default: 1e-7).
        ns_steps (int, optional): Newton-Schulz iterations, fewer than 100 (default: 5).
        adjust_lr_fn (str, optional): ``"original"`` (the default, None) scales the learning
            rate by :math:`\sqrt{\max(1, A/B)}` for an :math:`A \times B` parameter;
            ``"match_rms_adamw"`` by :math:`0.2\sqrt{\max(A, B)}`.

    bfloat16 needs the ``ml_dtypes`` package (``pip install ml_dtypes``).

    .. _Muon\: An optimizer for hidden layers: https://kellerjordan.github.io/posts/muon/
    """

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=_DEFAULT_NS_COEFFICIENTS, eps=1e-7, ns_steps=5,
                 adjust_lr_fn=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= scalar(lr):
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                        adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(f"Muon only supports 2D parameters whereas we found a "
                                     f"parameter with size: {p.size()}")

    def _update_group(self, group):
        params = self._params_with_grad(group)
        buffers = []
        for p in params:
            if p.is_complex():
                raise RuntimeError("Muon does not support complex parameters")
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = zeros_like_param(p._grad)
            buffers.append(state["momentum_buffer"]._data)
        muon([p._data for p in params], [p._grad._data for p in params], buffers,
             lr=scalar(group["lr"]), weight_decay=group["weight_decay"],
             momentum=group["momentum"], nesterov=group["nesterov"],
             ns_coefficients=group["ns_coefficients"], eps=group["eps"],
             ns_steps=group["ns_steps"], adjust_lr_fn=group["adjust_lr_fn"])
        self._bump_versions(params)


def _orthogonalize(update, ns_coefficients, ns_steps, eps):
    """The Newton-Schulz approximation of ``U V^T`` for ``update = U S V^T``, in bfloat16."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if update.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    if _dtype.bfloat16 is None:
        raise RuntimeError("Muon's Newton-Schulz iteration runs in bfloat16, which needs the "
                           "ml_dtypes package (pip install ml_dtypes)")
    from ..ops.linalg import addmm
    a, b, c = ns_coefficients
    x = _new(update).bfloat16()
    tall = update.shape[0] > update.shape[1]
    if tall:
        x = x.T
    x = x / x.norm().clamp(min=eps)
    for _ in range(ns_steps):
        gram = x @ x.T
        gram_update = addmm(gram, gram, gram, beta=b, alpha=c)
        x = addmm(x, gram_update, x, beta=a)
    return (x.T if tall else x)._data


def _adjusted_lr(lr, adjust_lr_fn, shape):
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(rows, cols))
    return lr


def muon(params, grads, momentum_buffers, *, lr, weight_decay, momentum, nesterov,
         ns_coefficients, eps, ns_steps, adjust_lr_fn):
    r"""Apply one Muon update in place to the 2-D arrays ``params`` and their momentum
    buffers."""
    for param, grad, buf in zip(params, grads, momentum_buffers):
        if grad.ndim != 2:
            raise ValueError("Param gradient must be a 2D matrix")
        lerp_(buf, grad, 1 - momentum)
        if nesterov:
            update = grad.copy()
            lerp_(update, buf, momentum)
        else:
            update = buf
        update = _orthogonalize(update, ns_coefficients, ns_steps, eps)
        param *= 1 - lr * weight_decay
        param -= _adjusted_lr(lr, adjust_lr_fn, param.shape) * update.astype(param.dtype)
