"""Fused cross-entropy nodes: NLL over class indices (optionally after a fused log-softmax,
with label smoothing) and cross entropy against class probabilities."""
import numpy as np

from ..._backend import get_array_module
from ...autograd.function import Node
from ...tensor import Tensor, _new
from ...ops.pointwise import where
from ._activation import softmax, log_softmax


def _class_layout(shape):
    """(N, C, R) for inputs (C,), (N, C) and (N, C, d1, ...)."""
    if len(shape) == 1:
        return 1, shape[0], 1
    r = 1
    for s in shape[2:]:
        r *= s
    return shape[0], shape[1], r


class ClassIndexLoss(Node):
    """NLL over class indices, on log-probabilities (``nll_loss``) or on logits with a fused
    log-softmax (``cross_entropy``, with optional label smoothing)."""

    def forward(self, x, target, weight, ignore_index, smoothing, reduction, from_logits):
        xp = get_array_module(x)
        n, c, r = _class_layout(x.shape)
        x3 = x.reshape(n, c, r)
        t = target.reshape(n, r)
        valid = t != ignore_index
        bad = valid & ((t < 0) | (t >= c))
        safe = xp.where(valid, t, 0) if xp is np else xp.where(valid & ~bad, t, 0)
        if xp is np and bad.any():
            raise IndexError(f"Target {int(t[bad][0])} is out of bounds.")
        if from_logits:
            z = x3 - x3.max(axis=1, keepdims=True)
            e = xp.exp(z)
            s = e.sum(axis=1, keepdims=True)
            logp = z - xp.log(s)
            e /= s
            self.save_for_backward(x, e)
        else:
            logp = x3
            self.save_for_backward(x)
        w_t = valid.astype(x.dtype) if weight is None else weight[safe] * valid
        picked = xp.take_along_axis(logp, safe[:, None, :], axis=1)[:, 0, :]
        loss = -picked * w_t
        if xp is not np:
            # checking on the host would stall the GPU every step: an out-of-range target
            # gives a NaN loss instead of an IndexError (PyTorch raises a device-side assert)
            loss = xp.where(bad, np.nan, loss).astype(loss.dtype, copy=False)
        if smoothing:
            wb = 1 if weight is None else weight[None, :, None]
            smooth = -(logp * wb).sum(axis=1) * valid
            loss = loss * (1 - smoothing) + smooth * (smoothing / c)
        self.layout, self.shape = (n, c, r), x.shape
        self.target, self.valid, self.w_t, self.weight = safe, valid, w_t, weight
        self.smoothing, self.reduction, self.from_logits = smoothing, reduction, from_logits
        if reduction == "none":
            return loss.reshape(target.shape)
        total = loss.sum()
        if reduction == "sum":
            return total
        self.denom = w_t.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            # a zero total weight (every target ignored, or only zero-weight classes) gives
            # nan, as in PyTorch, whose smoothing term x / 0 = inf is added to its 0 / 0
            return xp.where(self.denom == 0, np.nan, total / self.denom).astype(
                loss.dtype, copy=False)

    def _grad_scale(self, g):
        n, c, r = self.layout
        if self.reduction == "none":
            return g.reshape(n, 1, r)
        if self.reduction != "mean":
            return g
        # a Tensor gradient (double backward) needs a Tensor denominator: CuPy arrays do not mix
        if isinstance(g, Tensor):
            return g / _new(get_array_module(self.denom).asarray(self.denom))
        return g / self.denom

    def _logit_terms(self, xp, dtype):
        """``(nll, w, ws)``: the gradient of the loss in the logits is
        ``(p - onehot) * nll * scale + (p * ws - w) * scale * eps / C`` on the rows of valid
        targets, with ``w`` the class weights and ``ws`` their sum (both None without label
        smoothing)."""
        n, c, r = self.layout
        eps = self.smoothing
        nll = (self.w_t[:, None, :] * (1 - eps)).astype(dtype, copy=False)
        if not eps:
            return nll, None, None
        wb = xp.ones(c, dtype) if self.weight is None else self.weight
        return nll, wb, wb.sum()

    def backward(self, g):
        # A zero total weight makes the mean's scale inf. PyTorch's kernels leave the rows of
        # ignored targets out (their gradient is 0, not 0 * inf); a valid row of a zero-weight
        # class still gets its 0 * inf = nan. The weights are multiplied into the scale before
        # anything else so that those two cases come out as in PyTorch.
        n, c, r = self.layout
        scale = self._grad_scale(g)
        eps = self.smoothing
        if isinstance(g, Tensor):
            saved = self.saved_tensors
            xp = get_array_module(saved[0]._data)
            dtype = saved[0]._data.dtype
            nll, wb, ws = self._logit_terms(xp, dtype)
            valid = _new(xp.asarray(self.valid[:, None, :]))
            hot = xp.arange(c)[None, :, None] == self.target[:, None, :]
            # masked before it multiplies anything, so that the ignored rows stay out of the
            # double backward too
            coef = where(valid, scale * _new(nll), 0.0)
            if not self.from_logits:
                return where(_new(hot), 0.0 - coef, 0.0).reshape(self.shape), None, None, None, \
                    None, None, None
            p = softmax(saved[0].reshape(n, c, r), 1)
            grad = (p - _new(hot.astype(dtype))) * coef
            if eps:
                smooth = where(valid, scale * (eps / c), 0.0)
                grad = grad + (p * _new(xp.asarray(ws)) - _new(wb[None, :, None])) * smooth
            # +0 rather than the -0 of (p - 1) * 0 on the ignored rows
            return where(valid, grad, 0.0).reshape(self.shape), None, None, None, None, None, \
                None
        saved = self.saved_tensors
        xp = get_array_module(saved[0])
        dtype = saved[0].dtype
        scale = xp.asarray(scale, dtype)
        nll, wb, ws = self._logit_terms(xp, dtype)
        valid = self.valid[:, None, :]
        with np.errstate(invalid="ignore"):
            coef = xp.where(valid, nll * scale, 0).astype(dtype, copy=False)
            rows = xp.arange(n)[:, None]
            cols = xp.arange(r)[None, :]
            if not self.from_logits:
                grad = xp.zeros((n, c, r), dtype)
                grad[rows, self.target, cols] = xp.where(valid[:, 0, :], -coef[:, 0, :], 0)
                return grad.reshape(self.shape), None, None, None, None, None, None
            p = saved[1]
            grad = p * coef
            grad[rows, self.target, cols] -= coef[:, 0, :]
            if eps:
                smooth = xp.where(valid, scale * dtype.type(eps / c), 0).astype(dtype,
                                                                                copy=False)
                grad += (p * ws - wb[None, :, None]) * smooth
        return grad.reshape(self.shape), None, None, None, None, None, None

    def name(self):
        return "NllLossBackward0" if not self.from_logits else "CrossEntropyLossBackward0"


class ClassProbabilityLoss(Node):
    """Cross entropy against class probabilities (soft labels), with label smoothing."""

    def forward(self, x, y, weight, smoothing, reduction):
        xp = get_array_module(x)
        n, c, r = _class_layout(x.shape)
        x3, y3 = x.reshape(n, c, r), y.reshape(n, c, r)
        z = x3 - x3.max(axis=1, keepdims=True)
        e = xp.exp(z)
        s = e.sum(axis=1, keepdims=True)
        logp = z - xp.log(s)
        wb = xp.ones((1, c, 1), x.dtype) if weight is None else weight.reshape(1, c, 1)
        ys = y3 * (1 - smoothing) + smoothing / c if smoothing else y3
        loss = -(logp * ys * wb).sum(axis=1)
        self.save_for_backward(x, y, wb)
        self.layout, self.shapes, self.smoothing, self.reduction = (n, c, r), (x.shape, y.shape), \
            smoothing, reduction
        if reduction == "none":
            return loss.reshape((n,) + x.shape[2:] if x.ndim > 1 else ())
        total = loss.sum()
        return total / (n * r) if reduction == "mean" else total

    def backward(self, g):
        x, y, wb = self.saved_tensors
        n, c, r = self.layout
        eps = self.smoothing
        if self.reduction == "none":
            scale = g.reshape(n, 1, r)
        else:
            scale = g / (n * r) if self.reduction == "mean" else g
        x3, y3 = x.reshape(n, c, r), y.reshape(n, c, r)
        ys = y3 * (1 - eps) + eps / c if eps else y3
        wy = ys * wb
        e = self.next_edges
        gx = gy = None
        if e[0] is not None:
            p = softmax(x3, 1) if isinstance(x3, Tensor) else _softmax_array(x3)
            gx = ((p * _sum_keep1(wy) - wy) * scale).reshape(self.shapes[0])
        if e[1] is not None:
            logp = log_softmax(x3, 1) if isinstance(x3, Tensor) else _log_softmax_array(x3)
            gy = (-(logp * wb) * scale * (1 - eps)).reshape(self.shapes[1])
        return gx, gy, None, None, None

    @classmethod
    def name(cls):
        return "CrossEntropyLossBackward0"


def _softmax_array(x3):
    e = get_array_module(x3).exp(x3 - x3.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _log_softmax_array(x3):
    z = x3 - x3.max(axis=1, keepdims=True)
    return z - get_array_module(x3).log(get_array_module(x3).exp(z).sum(axis=1, keepdims=True))


def _sum_keep1(x):
    return x.sum(1, keepdim=True) if isinstance(x, Tensor) else x.sum(axis=1, keepdims=True)
