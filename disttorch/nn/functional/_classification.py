"""Fused cross-entropy nodes: NLL over class indices (optionally after a fused log-softmax,
with label smoothing) and cross entropy against class probabilities."""
import numpy as np

from ..._backend import get_array_module
from ...autograd.function import Node
from ...tensor import Tensor, _new
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
            # every target ignored: 0 / 0 = nan, as in PyTorch
            return total / self.denom

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

    def _dense_terms(self, xp, dtype):
        """``A`` (N,1,R) and ``B`` (N,C,R) with ``d loss / d logits = A * softmax - B``."""
        n, c, r = self.layout
        eps = self.smoothing
        onehot = (xp.arange(c)[None, :, None] == self.target[:, None, :]).astype(dtype)
        b = onehot * (self.w_t[:, None, :] * (1 - eps))
        a = self.w_t[:, None, :] * (1 - eps)
        if eps:
            wb = xp.ones(c, dtype) if self.weight is None else self.weight
            a = a + self.valid[:, None, :] * (wb.sum() * (eps / c))
            b = b + self.valid[:, None, :] * wb[None, :, None] * (eps / c)
        return a.astype(dtype, copy=False), b

    def backward(self, g):
        n, c, r = self.layout
        scale = self._grad_scale(g)
        if isinstance(g, Tensor):
            saved = self.saved_tensors
            xp = get_array_module(saved[0]._data)
            a, b = self._dense_terms(xp, saved[0]._data.dtype)
            if not self.from_logits:
                return (scale * _new(-b)).reshape(self.shape), None, None, None, None, None, None
            p = softmax(saved[0].reshape(n, c, r), 1)
            return ((p * _new(a) - _new(b)) * scale).reshape(self.shape), None, None, None, None, \
                None, None
        saved = self.saved_tensors
        xp = get_array_module(saved[0])
        scale = xp.asarray(scale, saved[0].dtype)
        coef = self.w_t[:, None, :] * (1 - self.smoothing) * scale
        if self.from_logits:
            p = saved[1]
            if self.smoothing:
                a, b = self._dense_terms(xp, p.dtype)
                grad = (p * a - b) * scale
            else:
                grad = p * coef
                rows = xp.arange(n)[:, None]
                cols = xp.arange(r)[None, :]
                grad[rows, self.target, cols] -= coef[:, 0, :]
        else:
            grad = xp.zeros((n, c, r), saved[0].dtype)
            rows = xp.arange(n)[:, None]
            cols = xp.arange(r)[None, :]
            grad[rows, self.target, cols] = -coef[:, 0, :]
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
