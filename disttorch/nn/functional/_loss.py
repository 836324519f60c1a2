"""Loss functions. Cross entropy (class indices and probabilities), NLL, MSE and BCE are fused
nodes; the others are compositions of differentiable ops."""
import math
import warnings

import numpy as np

from ..._backend import get_array_module
from ...autograd.function import Node
from ...autograd.grad_mode import is_grad_enabled
from ...tensor import Tensor, _new
from ...ops import pointwise as P
from ...ops._util import promote, sum_to
from ...ops.arithmetic import sub, mul, add, neg
from ...ops.creation import full_like
from ...ops.indexing import scalar_type_name as _type_name
from ._activation import softplus, logsigmoid, _where
from ._classification import ClassIndexLoss, ClassProbabilityLoss
from ._ctc import ctc_loss
from ...amp.autocast_mode import autocast_args
from ...cuda.kernels import bounds
from ...cuda.kernels.nn import TARGET_OUT_OF_BOUNDS, cross_entropy_applies, FusedCrossEntropy

__all__ = ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
           "cosine_embedding_loss", "margin_ranking_loss", "hinge_embedding_loss",
           "soft_margin_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
           "poisson_nll_loss", "gaussian_nll_loss", "multilabel_soft_margin_loss",
           "multi_margin_loss", "multilabel_margin_loss", "ctc_loss"]

_REDUCTIONS = ("none", "mean", "sum")


def _reduction(size_average, reduce, reduction):
    """The reduction string, honouring the deprecated ``size_average``/``reduce`` arguments."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = ("mean" if size_average else "sum") if reduce else "none"
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _warn_size(input, target):
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size "
                      f"({input.shape}). This will likely lead to incorrect results due to "
                      f"broadcasting. Please ensure they have the same size.", stacklevel=3)
        ndim = max(len(input.shape), len(target.shape))
        a = (1,) * (ndim - len(input.shape)) + tuple(input.shape)
        b = (1,) * (ndim - len(target.shape)) + tuple(target.shape)
        for dim in range(ndim - 1, -1, -1):
            if a[dim] != b[dim] and a[dim] != 1 and b[dim] != 1:
                raise RuntimeError(f"The size of tensor a ({a[dim]}) must match the size of "
                                   f"tensor b ({b[dim]}) at non-singleton dimension {dim}")


def _weighted(loss, weight, reduction, input, mean_by_weight=True):
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = mul(loss, weight)
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


# ------------------------------------------------------------------ regression
class SquaredError(Node):
    """``(x - t)^2`` reduced; one pass forward, one multiply backward."""

    def forward(self, x, t, reduction):
        xp = get_array_module(x)
        d = x - t
        self.save_for_backward(x, t, d)
        self.reduction = reduction
        self.shapes = (x.shape, t.shape)
        if reduction == "none":
            return d * d
        if d.size == 0:
            return xp.asarray(float("nan") if reduction == "mean" else 0.0, d.dtype)
        flat = d.ravel()
        total = xp.dot(flat, flat)
        return total / d.size if reduction == "mean" else total

    def backward(self, g):
        x, t, d = self.saved_tensors
        if isinstance(g, Tensor):
            d = x - t  # differentiable again: the saved difference is a constant
        n = 1
        for s in d.shape:
            n *= s
        grad = g * d * (2.0 / n if self.reduction == "mean" else 2.0)
        e = self.next_edges
        return (sum_to(grad, self.shapes[0]) if e[0] is not None else None,
                sum_to(-grad, self.shapes[1]) if e[1] is not None else None, None)

    @classmethod
    def name(cls):
        return "MseLossBackward0"


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error ``(input - target)^2``, reduced by ``reduction``."""
    input, target = autocast_args("mse_loss", input, target)
    reduction = _reduction(size_average, reduce, reduction)
    _warn_size(input, target)
    if weight is not None:
        return _weighted(sub(input, target) ** 2, weight, reduction, input)
    input, target = promote(input, target)
    return SquaredError.apply(input, target, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error ``|input - target|``, reduced by ``reduction``."""
    input, target = autocast_args("l1_loss", input, target)
    reduction = _reduction(size_average, reduce, reduction)
    _warn_size(input, target)
    loss = P.abs(sub(input, target))
    if weight is not None:
        return _weighted(loss, weight, reduction, input)
    return _reduce(loss, reduction)


class Huber(Node):
    """The unreduced Huber / smooth L1 loss of ``d = x - t``: ``0.5 d^2 / div`` where
    ``|d| < delta``, else ``delta / div (|d| - 0.5 delta)`` (smooth L1: ``div = beta = delta``,
    Huber: ``div = 1``). Its gradient is PyTorch's piecewise ``d / div`` clipped to
    ``+-delta / div``: also for an infinite ``d``, where the product rule through ``|d|`` would
    give NaN."""

    def forward(self, x, t, delta, div):
        xp = get_array_module(x)
        self.shapes = (x.shape, t.shape)
        self.delta, self.div = delta, div
        d = x - t
        self.save_for_backward(d)
        ad = xp.abs(d)
        with np.errstate(invalid="ignore"):
            return xp.where(ad < delta, (0.5 / div) * d * d, (delta / div) * (ad - 0.5 * delta)
                            ).astype(d.dtype, copy=False)

    def backward(self, g):
        d, = self.saved_tensors
        bound = self.delta / self.div
        scaled = d / self.div if self.div != 1 else d
        slope = P.clamp(scaled, -bound, bound) if isinstance(d, Tensor) else \
            get_array_module(d).clip(scaled, -bound, bound)
        grad = g * slope
        e = self.next_edges
        return (sum_to(grad, self.shapes[0]) if e[0] is not None else None,
                sum_to(-grad, self.shapes[1]) if e[1] is not None else None, None, None)


def _huber(input, target, delta, div):
    input, target = promote(input, target)
    return Huber.apply(input, target, delta, div)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (``d = input - target``)."""
    input, target = autocast_args("smooth_l1_loss", input, target)
    reduction = _reduction(size_average, reduce, reduction)
    _warn_size(input, target)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return _reduce(P.abs(sub(input, target)), reduction)
    return _reduce(_huber(input, target, beta, beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``."""
    input, target, weight = autocast_args("huber_loss", input, target, weight)
    reduction = _reduction(None, None, reduction)
    _warn_size(input, target)
    loss = _huber(input, target, delta, 1.0)
    if weight is not None:
        return _weighted(loss, weight, reduction, input, mean_by_weight=False)
    return _reduce(loss, reduction)


# ------------------------------------------------------------ classification
def _check_index_target(input, target, weight, ignore_index, op, on_device=True):
    # PyTorch's order: the dimensions, then the dtype, then the sizes
    if input.ndim == 0:
        raise ValueError("Expected 1 or more dimensions (got 0)")
    if input.ndim == 1:
        if target.ndim != 0:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    elif input.ndim == 2:
        if target.ndim != 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if target._data.dtype.kind not in "iu" or target.dtype.name not in ("int64", "uint8"):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{_type_name(target)}")
    if input.ndim >= 2 and target.ndim >= 1 and input.shape[0] != target.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0]}).")
    if input.ndim > 2:
        expected = [input.shape[0]] + list(input.shape[2:])
        if list(target.shape) != expected:
            raise RuntimeError(f"Expected target size {expected}, got {list(target.shape)}")
    classes = input.shape[1] if input.ndim > 1 else input.shape[0]
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != classes):
        raise RuntimeError(f"weight tensor should be defined either for all {classes} classes or "
                           f"no classes but got weight tensor of shape: {list(weight.shape)}")
    if on_device and type(target._data) is not np.ndarray:
        # CPU targets are checked by the loss itself; device ones on the device, the violation
        # raised at the next host read (the loss is NaN for them meanwhile; the fused kernel
        # checks its targets itself)
        bounds.check(target._data, classes, op, TARGET_OUT_OF_BOUNDS, ignore=ignore_index)


def _weight_array(weight, input):
    if weight is None:
        return None
    if weight.dtype != input.dtype:
        raise RuntimeError(f"expected scalar type {_type_name(input)} but found "
                           f"{_type_name(weight)}")
    return weight._data


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    r"""Negative log likelihood of class indices given log-probabilities.

    Args:
        input: :math:`(N, C)`, :math:`(C)` or :math:`(N, C, d_1, ..., d_K)` log-probabilities.
        target: class indices (int64) of shape :math:`(N)`, :math:`()` or :math:`(N, d_1, ...)`.
        weight: a manual rescaling weight per class, shape :math:`(C)`.
        ignore_index: a target value that contributes nothing (and is left out of the mean).
        reduction: ``'none'`` | ``'mean'`` (weighted mean) | ``'sum'``.
    """
    input, = autocast_args("nll_loss", input)
    reduction = _reduction(size_average, reduce, reduction)
    _check_index_target(input, target, weight, ignore_index, "nll_loss")
    return ClassIndexLoss.apply(input, target, _weight_array(weight, input), ignore_index, 0.0,
                                reduction, False)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    r"""Cross entropy between logits and class indices or class probabilities.

    Args:
        input: logits :math:`(N, C)`, :math:`(C)` or :math:`(N, C, d_1, ..., d_K)`.
        target: class indices (int64, shape without the class dim) or class probabilities
            (float, same shape as ``input``).
        weight: a manual rescaling weight per class, shape :math:`(C)`.
        ignore_index: a class index that contributes nothing (index targets only).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        label_smoothing: in ``[0, 1]``; mixes the target with the uniform distribution.

    Examples::

        >>> logits = disttorch.randn(3, 5, requires_grad=True)
        >>> loss = F.cross_entropy(logits, disttorch.tensor([1, 0, 4]))
        >>> loss.backward()
    """
    input, target = autocast_args("cross_entropy", input, target)
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input._data.dtype.kind not in "f":
        raise NotImplementedError(f"\"log_softmax_lastdim_kernel_impl\" not implemented for "
                                  f"'{_type_name(input)}'")
    if target.shape == input.shape and input.ndim >= 1 and target._data.dtype.kind != "f":
        raise RuntimeError(f"Expected floating point type for target with class probabilities, "
                           f"got {_type_name(target)}")
    if target._data.dtype.kind == "f" and target.shape == input.shape:
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        classes = input.shape[1] if input.ndim > 1 else input.shape[0]
        if weight is not None and (weight.ndim != 1 or weight.shape[0] != classes):
            raise RuntimeError(f"weight tensor should be defined either for all {classes} classes "
                               f"or no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")
        input, target = promote(input, target)
        return ClassProbabilityLoss.apply(input, target, _weight_array(weight, input),
                                          label_smoothing, reduction)
    fused = cross_entropy_applies(input, target, weight, reduction)
    _check_index_target(input, target, weight, ignore_index, "cross_entropy", on_device=not fused)
    if fused:
        return FusedCrossEntropy.apply(input, target, ignore_index, label_smoothing, reduction)
    return ClassIndexLoss.apply(input, target, _weight_array(weight, input), ignore_index,
                                label_smoothing, reduction, True)


_BCE_RANGE = "all elements of input should be between 0 and 1"


class BinaryCrossEntropy(Node):
    def forward(self, x, t, w, reduction):
        xp = get_array_module(x)
        # a NaN is outside too, as PyTorch's check has it; on a GPU the check runs there and is
        # raised at the next host synchronisation (a device-side assert in PyTorch)
        if not bounds.check_values(x, 0.0, 1.0, "binary_cross_entropy", _BCE_RANGE) and \
                not ((x >= 0) & (x <= 1)).all():
            raise RuntimeError(_BCE_RANGE)
        # PyTorch clamps the logs at -100 so that a saturated prediction gives a finite loss.
        log_x = xp.maximum(xp.log(x), -100)
        log_1mx = xp.maximum(xp.log1p(-x), -100)
        loss = -(t * log_x + (1 - t) * log_1mx)
        if w is not None:
            loss = loss * w
        self.save_for_backward(x, t, w)
        self.reduction = reduction
        if reduction == "none":
            return loss
        return loss.mean() if reduction == "mean" else loss.sum()

    def backward(self, g):
        x, t, w = self.saved_tensors
        if self.reduction == "mean":
            n = 1
            for s in x.shape:
                n *= s
            g = g / n
        e = self.next_edges
        gx = gt = None
        if e[0] is not None:
            denom = x * (1 - x)
            denom = P.clamp(denom, min=1e-12) if isinstance(denom, Tensor) else \
                get_array_module(denom).maximum(denom, 1e-12)
            gx = g * (x - t) / denom
            if w is not None:
                gx = gx * w
        if e[1] is not None:
            # PyTorch's -logit(x), its logs unclamped: -inf at x = 1, inf at x = 0
            if isinstance(x, Tensor):
                lx, l1x = P.log(x), P.log1p(-x)
            else:
                xp = get_array_module(x)
                with np.errstate(divide="ignore"):
                    lx, l1x = xp.log(x), xp.log1p(-x)
            gt = g * (l1x - lx)
            if w is not None:
                gt = gt * w
        return gx, gt, None, None

    @classmethod
    def name(cls):
        return "BinaryCrossEntropyBackward0"


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    r"""Binary cross entropy between probabilities ``input`` and ``target``:
    :math:`-w (t \log x + (1 - t) \log(1 - x))`, the logs clamped at -100."""
    input, target, weight = autocast_args("binary_cross_entropy", input, target, weight)
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the same "
                         f"size.")
    if target.dtype != input.dtype:
        raise RuntimeError(f"Found dtype {_type_name(target)} but expected {_type_name(input)}")
    if weight is not None:
        from ...ops.shape import broadcast_to
        weight = broadcast_to(weight.to(input.dtype), input.shape)
    return BinaryCrossEntropy.apply(input, target, weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    r"""Sigmoid + binary cross entropy in one stable expression:
    :math:`(1 - t) x + (1 + (p_w - 1) t) \log(1 + e^{-x})`, times ``weight``."""
    input, target = autocast_args("binary_cross_entropy_with_logits", input, target)
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    if target._data.dtype.kind in "biu":
        raise RuntimeError(f"result type {_type_name(input)} can't be cast to the desired output "
                           f"type {_type_name(target)}")
    soft = softplus(neg(input))
    if pos_weight is not None:
        soft = mul(add(mul(sub(pos_weight, 1), target), 1), soft)
    loss = add(mul(sub(1, target), input), soft)
    if weight is not None:
        loss = mul(loss, weight)
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    r"""Kullback-Leibler divergence :math:`t (\log t - x)` with ``input`` in log space
    (``target`` too when ``log_target``)."""
    input, target = autocast_args("kl_div", input, target)
    if size_average is not None or reduce is not None:
        reduction = _reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.")
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_target:
        loss = mul(P.exp(target), sub(target, input))
    else:
        loss = sub(P.xlogy(target, target), mul(target, input))
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)


# ---------------------------------------------------------- margins, ranking
def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    r""":math:`1 - \cos(x_1, x_2)` for ``target == 1``, :math:`\max(0, \cos - \text{margin})`
    for ``target == -1``."""
    input1, input2, target = autocast_args("cosine_embedding_loss", input1, input2, target)
    reduction = _reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.shape != input2.shape:
        raise RuntimeError(f"cosine_embedding_loss: Input1 and Input2 must have the same size, "
                           f"but got {list(input1.shape)} and {list(input2.shape)}")
    dim = input1.ndim - 1
    eps = 1e-12
    prod = (input1 * input2).sum(dim)
    mag = ((input1 * input1).sum(dim) + eps) * ((input2 * input2).sum(dim) + eps)
    cos = prod / P.sqrt(mag)
    zeros = cos * 0
    pos = _where(target == 1, 1 - cos, zeros)
    neg_part = _where(target == -1, P.clamp(cos - margin, min=0), zeros)
    return _reduce(pos + neg_part, reduction)


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    r""":math:`\max(0, -y (x_1 - x_2) + \text{margin})`."""
    input1, input2, target = autocast_args("margin_ranking_loss", input1, input2, target)
    reduction = _reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {input1.shape}, input2: {input2.shape}, "
                           f"target: {target.shape} ")
    return _reduce(P.clamp(neg(target) * (input1 - input2) + margin, min=0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    r""":math:`x` for ``target == 1``, :math:`\max(0, \text{margin} - x)` for ``target == -1``."""
    input, target = autocast_args("hinge_embedding_loss", input, target)
    reduction = _reduction(size_average, reduce, reduction)
    zeros = input * 0
    if input._data.dtype.kind in "iu":
        # PyTorch fills a tensor like the input with the margin (truncating it) and subtracts
        # in the input's integer dtype, wrapping as that dtype does
        from ...ops.creation import full_like
        margin_part = P.clamp(full_like(input, margin) - input, min=0)
    else:
        margin_part = P.clamp(margin - input, min=0)
    margin_part = _where(target != 1, margin_part, zeros)
    self_part = _where(target != -1, input, zeros)
    return _reduce(margin_part + self_part, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    r""":math:`\log(1 + e^{-y x})`, the two-class logistic loss."""
    input, target = autocast_args("soft_margin_loss", input, target)
    reduction = _reduction(size_average, reduce, reduction)
    if isinstance(target, Tensor) and target.requires_grad and is_grad_enabled():
        raise RuntimeError("The function 'soft_margin_loss' is not differentiable with respect "
                           "to argument 'target'. This input cannot have requires_grad True.")
    return _reduce(softplus(neg(mul(input, target))), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    r"""One-versus-all logistic loss averaged over the classes (dim -1)."""
    reduction = _reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(neg(input)))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(input.ndim - 1) / input.shape[-1]
    return _reduce(loss, reduction)


def _as_batch(input, target):
    """(N, C) input and (N, ...) target views of possibly unbatched arguments."""
    if input.ndim == 1:
        return input.unsqueeze(0), target.reshape(1, -1) if target.ndim else target.reshape(1)
    return input, target


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    r"""Multi-class hinge loss: :math:`\sum_{j \ne y} \max(0, \text{margin} - x_y + x_j)^p / C`."""
    input, weight = autocast_args("multi_margin_loss", input, weight)
    reduction = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    unbatched = input.ndim == 1
    x, t = _as_batch(input, target)
    classes = x.shape[1]
    t_data = t._data.reshape(-1)
    if t_data.size and (int(t_data.min()) < 0 or int(t_data.max()) >= classes):
        raise RuntimeError("target out of range")
    xp = get_array_module(x._data)
    rows = xp.arange(x.shape[0])
    picked = x[_new(rows), _new(t_data)].unsqueeze(1)
    hinge = P.clamp(margin - picked + x, min=0)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * _new(weight._data[t_data][:, None])
    others = _new((xp.arange(classes)[None, :] != t_data[:, None]).astype(x._data.dtype))
    loss = (hinge * others).sum(1) / classes
    if unbatched:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    r"""Multi-label hinge loss: for each target class :math:`j` (the leading entries of
    ``target`` before the first -1) and each non-target class :math:`k`,
    :math:`\max(0, 1 - (x_j - x_k))`, summed and divided by :math:`C`."""
    input, = autocast_args("multilabel_margin_loss", input)
    reduction = _reduction(size_average, reduce, reduction)
    unbatched = input.ndim == 1
    x, t = _as_batch(input, target)
    if tuple(t.shape) != tuple(x.shape):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    xp = get_array_module(x._data)
    n, classes = x.shape
    labels = t._data
    listed = xp.cumprod(labels >= 0, axis=1).astype(bool)
    if bool((labels[listed] >= classes).any()):
        raise RuntimeError("target out of range")
    row_idx = xp.broadcast_to(xp.arange(n)[:, None], labels.shape)[listed]
    counts = xp.bincount(row_idx * classes + labels[listed], minlength=n * classes)
    counts = counts.reshape(n, classes).astype(x._data.dtype)
    is_target = counts > 0
    pair_weight = counts[:, :, None] * (~is_target)[:, None, :]
    hinge = P.clamp(1 - x.unsqueeze(2) + x.unsqueeze(1), min=0)
    loss = (hinge * _new(pair_weight.astype(x._data.dtype))).sum((1, 2)) / classes
    if unbatched:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    r""":math:`\max(d(a, p) - d(a, n) + \text{margin}, 0)` with the p-norm distance."""
    anchor, positive, negative = autocast_args("triplet_margin_loss", anchor, positive, negative)
    from ._misc import pairwise_distance
    reduction = _reduction(size_average, reduce, reduction)
    dims = (anchor.ndim, positive.ndim, negative.ndim)
    if len(set(dims)) != 1:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {dims[0]}D, positive "
                           f"{dims[1]}D, and negative {dims[2]}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        from ...ops.arithmetic import minimum
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(P.clamp(margin + d_pos - d_neg, min=0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    r""":func:`triplet_margin_loss` with any ``distance_function`` (pairwise L2 by default)."""
    from ._misc import pairwise_distance
    reduction = _reduction(None, None, reduction)
    if margin <= 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, "
                         f"got {margin} instead")
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        from ...ops.arithmetic import minimum
        d_neg = minimum(d_neg, dist(positive, negative))
    return _reduce(P.clamp(margin + d_pos - d_neg, min=0), reduction)


# ------------------------------------------------------------ likelihoods
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    r"""Poisson negative log likelihood: :math:`e^x - t x` (``log_input``) or
    :math:`x - t \log(x + \epsilon)`; ``full`` adds the Stirling term."""
    input, target = autocast_args("poisson_nll_loss", input, target)
    reduction = _reduction(size_average, reduce, reduction)
    if log_input:
        loss = sub(P.exp(input), mul(target, input))
    else:
        loss = sub(input, mul(target, P.log(input + eps)))
    if full:
        # differentiable in the target too, as PyTorch's
        stirling = target * P.log(target) - target + 0.5 * P.log(2 * math.pi * target)
        loss = loss + _where(target > 1, stirling, stirling * 0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    r"""Gaussian negative log likelihood :math:`\frac{1}{2}(\log \sigma^2 +
    (x - t)^2 / \sigma^2)`; ``var`` may have one dim less or a broadcast dim."""
    if not isinstance(var, Tensor):
        var = full_like(input, var)
    if var.shape != input.shape:
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input.ndim == var.ndim and sum(v for i, v in zip(input.shape, var.shape)
                                            if i != v) == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    if bool((var._data < 0).any()):
        raise ValueError("var has negative entry/entries")
    # The clamp keeps the log finite but, as in PyTorch, lets the gradient through unchanged.
    xp = get_array_module(var._data)
    var = var + _new(xp.maximum(var._data, eps) - var._data)
    loss = 0.5 * (P.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
