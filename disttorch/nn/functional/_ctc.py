"""Connectionist temporal classification loss: the forward-backward recursions in log space,
vectorised over the batch and the extended label sequence, one step per time frame."""
import numpy as np

from ..._backend import get_array_module
from ...autograd.function import Node
from ...tensor import Tensor, _new


def _logaddexp(*terms):
    xp = get_array_module(terms[0])
    out = terms[0]
    for t in terms[1:]:
        out = xp.logaddexp(out, t)
    return out


def _shift(a, k, fill):
    """``a`` shifted right by ``k`` along the last axis (``out[..., s] = a[..., s - k]``)."""
    xp = get_array_module(a)
    out = xp.full_like(a, fill)
    out[..., k:] = a[..., :-k]
    return out


class CTCLoss(Node):
    def forward(self, log_probs, ext, can_skip, input_lengths, target_lengths, zero_infinity):
        xp = get_array_module(log_probs)
        steps, batch, _ = log_probs.shape
        width = ext.shape[1]
        neg_inf = -np.inf
        rows = xp.arange(batch)[:, None]
        emit = log_probs[:, rows, ext]  # (T, N, S'): log-prob of each extended label
        last = 2 * target_lengths  # index of the final blank
        alpha = xp.full((steps, batch, width), neg_inf, log_probs.dtype)
        alpha[0, :, 0] = emit[0, :, 0]
        alpha[0, :, 1] = xp.where(target_lengths > 0, emit[0, :, 1], neg_inf)
        for t in range(1, steps):
            prev = alpha[t - 1]
            skip = xp.where(can_skip, _shift(prev, 2, neg_inf), neg_inf)
            alpha[t] = _logaddexp(prev, _shift(prev, 1, neg_inf), skip) + emit[t]
        final = alpha[input_lengths - 1, xp.arange(batch)]
        tail = xp.where(target_lengths > 0, final[xp.arange(batch), xp.maximum(last - 1, 0)],
                        neg_inf)
        nll = -xp.logaddexp(final[xp.arange(batch), last], tail)
        self.saved = (log_probs, ext, can_skip, emit, alpha, nll, input_lengths, last)
        self.zero_infinity = zero_infinity
        if zero_infinity:
            nll = xp.where(xp.isinf(nll), 0, nll)
        return nll

    def backward(self, g):
        if isinstance(g, Tensor):
            raise RuntimeError("ctc_loss: double backward (create_graph=True) is not supported")
        log_probs, ext, can_skip, emit, alpha, nll, input_lengths, last = self.saved
        xp = get_array_module(log_probs)
        steps, batch, classes = log_probs.shape
        width = ext.shape[1]
        neg_inf = -np.inf
        positions = xp.arange(width)[None, :]
        beta = xp.full((steps, batch, width), neg_inf, log_probs.dtype)
        ends = (positions == last[:, None]) | (positions == last[:, None] - 1)
        for t in range(steps - 1, -1, -1):
            start = input_lengths - 1 == t
            if t + 1 < steps:
                nxt = beta[t + 1]
                skip = xp.where(_unshift(can_skip, 2, False), _unshift(nxt, 2, neg_inf), neg_inf)
                step = _logaddexp(nxt, _unshift(nxt, 1, neg_inf), skip) + emit[t]
            else:
                step = xp.full((batch, width), neg_inf, log_probs.dtype)
            beta[t] = xp.where(start[:, None], xp.where(ends, emit[t], neg_inf),
                               xp.where((t < input_lengths - 1)[:, None], step, neg_inf))
        ab = alpha + beta
        top = ab.max(axis=2, keepdims=True)
        top = xp.where(xp.isfinite(top), top, 0)
        onehot = (ext[:, :, None] == xp.arange(classes)[None, None, :]).astype(log_probs.dtype)
        summed = xp.einsum("tns,nsc->tnc", xp.exp(ab - top), onehot)
        with np.errstate(divide="ignore"):
            lcab = xp.log(summed) + top
        grad = xp.exp(log_probs) - xp.exp(lcab + nll[None, :, None] - log_probs)
        active = (xp.arange(steps)[:, None] < input_lengths[None, :])[:, :, None]
        grad = xp.where(active, grad, 0)
        if self.zero_infinity:
            grad = xp.where(xp.isinf(nll)[None, :, None], 0, grad)
        return (grad * g[None, :, None],) + (None,) * 5


def _unshift(a, k, fill):
    """``a`` shifted left by ``k`` along the last axis (``out[..., s] = a[..., s + k]``)."""
    xp = get_array_module(a)
    out = xp.full_like(a, fill)
    out[..., :-k] = a[..., k:]
    return out


def _lengths(value, xp):
    data = value._data if isinstance(value, Tensor) else value
    return xp.asarray(data).astype(np.int64).reshape(-1)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    r"""Connectionist temporal classification loss.

    Args:
        log_probs: :math:`(T, N, C)` or :math:`(T, C)` log-probabilities (``log_softmax``
            outputs).
        targets: :math:`(N, S)` padded target sequences, or the targets of all samples
            concatenated in one 1-D tensor; they must not contain ``blank``.
        input_lengths: :math:`(N)` lengths of the inputs (each :math:`\leq T`).
        target_lengths: :math:`(N)` lengths of the targets.
        blank (int, optional): the blank label. Default :math:`0`.
        reduction: ``'none'`` | ``'mean'`` (losses divided by the target lengths, then
            averaged) | ``'sum'``. Default: ``'mean'``
        zero_infinity (bool, optional): zero infinite losses (inputs too short for their
            targets) and their gradients. Default: ``False``

    The gradient with respect to ``log_probs`` is PyTorch's: that of the loss with respect to
    the logits of a ``log_softmax`` producing ``log_probs``.
    """
    from ._loss import _reduction
    reduction = _reduction(None, None, reduction)
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        targets = targets.unsqueeze(0) if targets.ndim == 1 else targets
    xp = get_array_module(log_probs._data)
    steps, batch, classes = log_probs.shape
    in_len = _lengths(input_lengths, xp)
    tg_len = _lengths(target_lengths, xp)
    if in_len.shape[0] != batch or tg_len.shape[0] != batch:
        raise RuntimeError(f"input_lengths and target_lengths must have size {batch} (the batch "
                           f"size of log_probs)")
    if bool((in_len > steps).any()) or bool((in_len < 1).any()):
        raise RuntimeError(f"Expected input_lengths to be in [1, {steps}]")
    labels = targets._data.astype(np.int64)
    longest = int(tg_len.max()) if batch else 0
    if labels.ndim == 1:
        offsets = xp.concatenate([xp.zeros(1, np.int64), xp.cumsum(tg_len)[:-1]])
        if int(tg_len.sum()) > labels.shape[0]:
            raise RuntimeError("targets is shorter than the sum of target_lengths")
        padded = xp.full((batch, max(longest, 1)), blank, np.int64)
        for n in range(batch):
            count = int(tg_len[n])
            padded[n, :count] = labels[int(offsets[n]):int(offsets[n]) + count]
        labels = padded
    elif labels.shape[1] < longest:
        raise RuntimeError(f"Expected tensor to have size at least {longest} at dimension 1, but "
                           f"got size {labels.shape[1]} for argument #2 'targets' (while "
                           f"checking arguments for ctc_loss_cpu)")
    span = max(longest, 1)
    label_part = xp.full((batch, span), blank, np.int64)
    copied = min(span, labels.shape[1])
    label_part[:, :copied] = labels[:, :copied]
    ext = xp.full((batch, 2 * span + 1), blank, np.int64)
    ext[:, 1::2] = xp.where(xp.arange(span)[None, :] < tg_len[:, None], label_part, blank)
    can_skip = (ext != blank) & (ext != _shift(ext, 2, blank))
    losses = CTCLoss.apply(log_probs, ext, can_skip, in_len, tg_len, zero_infinity)
    if reduction == "mean":
        scale = xp.maximum(tg_len, 1).astype(log_probs._data.dtype)
        return (losses / _new(scale)).mean()
    if reduction == "sum":
        return losses.sum()
    return losses.reshape(()) if unbatched else losses
