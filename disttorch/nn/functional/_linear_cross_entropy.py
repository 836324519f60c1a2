"""``F.linear_cross_entropy``: a linear layer followed by cross entropy, either as the two ops
(``options=None``) or chunked over the batch so that the ``(N, C)`` logits never exist at once.

The chunked path is one node per call. For ``'mean'``/``'sum'`` its forward walks the chunks
once and leaves the input, weight and bias gradients ready, so backward only scales them; for
``'none'`` the upstream gradient differs per row, so backward walks the chunks again.
"""
import math
import warnings

import numpy as np

from ..._dtype import C_TYPE_NAMES
from ..._backend import get_array_module
from ..._gemm import matmul as _gemm
from ...autograd import grad_mode
from ...autograd.function import Node
from ...cuda.kernels import bounds
from ...ops.indexing import scalar_type_name
from ...tensor import Tensor
from ._linear import linear
from ._loss import cross_entropy

__all__ = ["linear_cross_entropy"]

_CHUNKED_REDUCTIONS = ("mean", "sum", "none")
_TWICE = ("linear_cross_entropy chunked backward called twice; retain_graph=True / double "
          "backward are not supported.")
_HIGHER_ORDER = ("linear_cross_entropy: the chunked path (options != None) does not support "
                 "higher-order gradients (create_graph=True); use options=None")


def _c_name(dtype):
    return C_TYPE_NAMES.get(dtype.name, dtype.name)


class _Chunks:
    """The per-call constants of the chunked loop, and the loop itself."""

    def __init__(self, x, w, b, target, class_weight, ignore_index, chunk, acc_dtype,
                 weight_grad_dtype):
        xp = get_array_module(x)
        self.xp, self.dtype, self.acc = xp, x.dtype, np.dtype(acc_dtype)
        self.x, self.chunk = x, chunk
        # a mixed-precision call multiplies in the accumulation dtype, as torch's policies do
        self.w = w if w.dtype == self.acc else w.astype(self.acc)
        self.b = None if b is None else (b if b.dtype == self.acc else b.astype(self.acc))
        self.weight_grad_dtype = weight_grad_dtype
        classes = w.shape[0]
        valid = target != ignore_index
        bad = valid & ((target < 0) | (target >= classes))
        if xp is np and bad.any():
            raise RuntimeError(f"index {int(target[bad][0])} is out of bounds for dimension 1 "
                               f"with size {classes}")
        # on a GPU a host check would stall every step: a bad target gives a NaN loss, and the
        # device-side check raises at the next host read
        bounds.check(target, classes, "linear_cross_entropy", "index {index} is out of bounds "
                     "for dimension 1 with size {size}", ignore=ignore_index)
        self.bad = None if xp is np else bad
        self.target = xp.where(valid & ~bad, target, 0)
        self.row_weight = (valid.astype(self.acc) if class_weight is None
                           else class_weight.astype(self.acc)[self.target] * valid)

    def logits(self, start, stop):
        """The shifted logits ``z - max(z)`` of rows ``start:stop``, their softmax
        denominators and the shifted target logits; ``z`` is the chunk's only (B, C) array."""
        xp = self.xp
        rows = self.x[start:stop]
        rows = rows if rows.dtype == self.acc else rows.astype(self.acc)
        z = _gemm(rows, self.w.T)
        if z.dtype != self.acc:
            z = z.astype(self.acc)
        if self.b is not None:
            z += self.b
        z -= z.max(axis=1, keepdims=True)
        picked = xp.take_along_axis(z, self.target[start:stop, None], axis=1)[:, 0]
        xp.exp(z, out=z)
        denominator = z.sum(axis=1)
        return rows, z, denominator, picked

    def losses(self, start, stop, denominator=None, picked=None):
        """Weighted per-row losses of rows ``start:stop`` (from their ``logits`` if given)."""
        if denominator is None:
            _, _, denominator, picked = self.logits(start, stop)
        loss = (self.xp.log(denominator) - picked) * self.row_weight[start:stop]
        if self.bad is not None:
            loss = self.xp.where(self.bad[start:stop], np.nan, loss).astype(self.acc)
        return loss

    def walk(self, coefficient, need_input, need_weight, need_bias):
        """One pass over the chunks: the gradients of ``sum(coefficient * loss_row)`` (None
        where not needed) and ``sum(row_weight * loss_row)``.

        ``d loss_n / d z_n = softmax(z_n) - onehot(t_n)``: the chunk's exponentials become that
        gradient in place, and three GEMMs take it to the input, weight and bias.
        """
        xp = self.xp
        n = self.x.shape[0]
        total = xp.zeros((), self.acc)
        grad_input = xp.empty(self.x.shape, self.dtype) if need_input else None
        grad_weight = xp.zeros(self.w.shape, self.weight_grad_dtype) if need_weight else None
        grad_bias = xp.zeros(self.w.shape[0], self.acc) if need_bias else None
        for start in range(0, n, self.chunk):
            stop = min(start + self.chunk, n)
            rows, z, denominator, picked = self.logits(start, stop)
            total = total + self.losses(start, stop, denominator, picked).sum()
            if not (need_input or need_weight or need_bias):
                continue
            scale = coefficient[start:stop]
            z *= (scale / denominator)[:, None]
            width = stop - start
            z[xp.arange(width), self.target[start:stop]] -= scale
            if need_bias:
                grad_bias += z.sum(axis=0)
            if need_input:
                grad_input[start:stop] = _gemm(z, self.w)
            if need_weight:
                part = _gemm(z.T, rows)
                grad_weight += part if part.dtype == grad_weight.dtype else \
                    part.astype(grad_weight.dtype)
        return total, grad_input, grad_weight, grad_bias


def _as(grad, like):
    """``grad`` in the dtype of ``like`` (a mixed-precision call accumulates wider)."""
    return grad if grad is None or grad.dtype == like.dtype else grad.astype(like.dtype)


class ChunkedLinearCrossEntropy(Node):
    """``cross_entropy(linear(x, w, b), target)`` reduced by ``'mean'`` or ``'sum'``, chunked;
    the gradients are computed in forward and scaled by the upstream gradient in backward."""

    def forward(self, x, w, b, target, class_weight, reduction, ignore_index, chunk,
                acc_dtype, weight_grad_dtype, allow_retain_graph, needs):
        xp = get_array_module(x)
        chunks = _Chunks(x, w, b, target, class_weight, ignore_index, chunk, acc_dtype,
                         weight_grad_dtype)
        coefficient = chunks.row_weight
        if reduction == "mean":
            denominator = chunks.row_weight.sum()
            # every row ignored: 0 / 0 = nan, as cross_entropy gives
            with np.errstate(invalid="ignore", divide="ignore"):
                coefficient = coefficient / denominator
        total, gi, gw, gb = chunks.walk(coefficient, *needs)
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                total = total / denominator
        self.grads = [_as(gi, x), _as(gw, w), _as(gb, b)]
        self.allow_retain_graph = allow_retain_graph
        return xp.asarray(total.astype(x.dtype))

    def backward(self, g):
        if isinstance(g, Tensor):
            raise RuntimeError(_HIGHER_ORDER)
        grads = self.grads
        if grads is None:
            raise RuntimeError(_TWICE)
        if not self.allow_retain_graph:
            self.grads = None
        e = self.next_edges
        gi, gw, gb = ((None if grad is None or edge is None else grad * g.astype(grad.dtype))
                      for grad, edge in zip(grads, (e[0], e[1], e[2])))
        return gi, gw, gb, None, None, None, None, None, None, None, None, None

    @classmethod
    def name(cls):
        return "LinearCrossEntropyChunkedBackward0"


class ChunkedLinearCrossEntropyNoReduction(Node):
    """Per-row ``cross_entropy(linear(x, w, b), target)``, chunked; backward walks the chunks
    again with the upstream gradient of each row."""

    def forward(self, x, w, b, target, class_weight, ignore_index, chunk, acc_dtype,
                weight_grad_dtype):
        xp = get_array_module(x)
        chunks = _Chunks(x, w, b, target, class_weight, ignore_index, chunk, acc_dtype,
                         weight_grad_dtype)
        loss = xp.empty(x.shape[0], x.dtype)
        for start in range(0, x.shape[0], chunk):
            stop = min(start + chunk, x.shape[0])
            loss[start:stop] = chunks.losses(start, stop)
        self.save_for_backward(x, w, b, target, class_weight)
        self.config = (ignore_index, chunk, acc_dtype, weight_grad_dtype)
        return loss

    def backward(self, g):
        if isinstance(g, Tensor):
            raise RuntimeError(_HIGHER_ORDER)
        x, w, b, target, class_weight = self.saved_tensors
        chunks = _Chunks(x, w, b, target, class_weight, *self.config)
        e = self.next_edges
        coefficient = chunks.row_weight * g.astype(chunks.acc)
        _, gi, gw, gb = chunks.walk(coefficient, e[0] is not None, e[1] is not None,
                                    b is not None and e[2] is not None)
        return _as(gi, x), _as(gw, w), _as(gb, b), None, None, None, None, None, None

    @classmethod
    def name(cls):
        return "LinearCrossEntropyChunkedBackward0"


def _weight_grad_dtype(policy, dtype, acc_dtype):
    # "compact" drops the (C, in_features) accumulation scratch: the weight gradient
    # accumulates in the input dtype; the other policies accumulate in acc_dtype
    return np.dtype(dtype) if policy == "compact" else np.dtype(acc_dtype)


def _chunked(input, linear_weight, target, linear_bias, weight, reduction, ignore_index,
             options):
    batched = input.ndim == 2
    if not batched:
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    n, in_features = input.shape
    classes = linear_weight.shape[0]
    if target.ndim != 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if target.shape[0] != n:
        raise ValueError(f"Expected input batch_size ({n}) to match target batch_size "
                         f"({target.shape[0]}).")
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != classes):
        raise RuntimeError(f"weight tensor should be defined either for all {classes} classes or "
                           f"no classes but got weight tensor of shape: {list(weight.shape)}")
    if weight is not None and weight.dtype != input.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(input)} but found "
                           f"{scalar_type_name(weight)}")
    options = options._adjust(num_batches=n, in_features=in_features, num_classes=classes,
                              dtype=input.dtype, device=input.device)
    dtype, acc_dtype = input._data.dtype, np.dtype(options.acc_dtype.np_dtype)
    if dtype != acc_dtype and not (dtype.name in ("float16", "bfloat16")
                                   and acc_dtype == np.float32):
        raise RuntimeError(f"linear_cross_entropy supports float32 acc_dtype with "
                           f"float16/bfloat16 inputs, but got {options.acc_dtype} acc_dtype and "
                           f"{input.dtype} inputs.")
    if linear_weight.dtype != input.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_c_name(dtype)} != {_c_name(linear_weight._data.dtype)}")
    chunk = options.batch_chunk_size
    weight_grad_dtype = _weight_grad_dtype(options.acc_policy, dtype, acc_dtype)
    class_weight = None if weight is None else weight._data
    if reduction == "none":
        result = ChunkedLinearCrossEntropyNoReduction.apply(
            input, linear_weight, linear_bias, target, class_weight, ignore_index, chunk,
            acc_dtype, weight_grad_dtype)
    else:
        enabled = grad_mode.is_grad_enabled()
        needs = (enabled and input.requires_grad, enabled and linear_weight.requires_grad,
                 enabled and linear_bias is not None and linear_bias.requires_grad)
        result = ChunkedLinearCrossEntropy.apply(
            input, linear_weight, linear_bias, target, class_weight, reduction, ignore_index,
            chunk, acc_dtype, weight_grad_dtype, options.allow_retain_graph, needs)
    return result if batched else result.squeeze(0)


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None,
                         reduction="mean", ignore_index=None, label_smoothing=0.0,
                         options=None):
    r"""Cross entropy between ``linear(input, linear_weight, linear_bias)`` and ``target``.

    ``options=None`` runs the reference implementation::

        logits = linear(input, linear_weight, linear_bias)
        loss = cross_entropy(logits, target, weight=weight, reduction=reduction,
                             ignore_index=ignore_index, label_smoothing=label_smoothing)

    A :class:`~disttorch.nn.LinearCrossEntropyOptions` instance processes the batch in chunks
    of ``batch_chunk_size`` rows, so the full ``(N, C)`` logits are never materialized; it
    supports ``reduction`` in ``{'mean', 'sum', 'none'}``, ``label_smoothing == 0``, int64
    class-index targets and ``out_features == ()``, and falls back to the reference path with a
    warning otherwise. Its backward does not support ``create_graph=True``; for ``'mean'`` and
    ``'sum'`` a second backward needs ``allow_retain_graph=True``.

    Args:
        input (Tensor): :math:`(in\_features)` or :math:`(N, in\_features)`.
        linear_weight (Tensor): :math:`(C, in\_features)` or
            :math:`(C, d_1, ..., d_K, in\_features)` (K-dimensional loss, batched input only).
        target (Tensor): class indices :math:`()`, :math:`(N)` or :math:`(N, d_1, ..., d_K)`,
            or class probabilities with the logits' shape.
        linear_bias (Tensor, optional): :math:`(C)` or :math:`(C, d_1, ..., d_K)`.
        weight (Tensor, optional): a manual rescaling weight per class, :math:`(C)`.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``
        ignore_index (int, optional): a class index that contributes nothing; only for
            class-index targets, where ``None`` means -100. Default: ``None``
        label_smoothing (float, optional): in ``[0, 1]``. Default: 0.0
        options (LinearCrossEntropyOptions, optional): chunking options; ``None`` runs the
            reference implementation. Default: ``None``

    Examples::

        >>> x = disttorch.randn(64, 16, requires_grad=True)
        >>> w = disttorch.randn(1000, 16, requires_grad=True)
        >>> t = disttorch.randint(0, 1000, (64,))
        >>> loss = F.linear_cross_entropy(x, w, t, options=nn.LinearCrossEntropyOptions())
        >>> loss.backward()
    """
    if input.ndim < 1 or input.ndim > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.ndim}")
    if linear_weight.ndim < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got "
                           f"{linear_weight.ndim}")
    batch = tuple(input.shape[:-1])
    in_features = input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError(f"expected equal input and linear_weight last dimensions "
                           f"(in_features), got {input.shape[-1]} and "
                           f"{linear_weight.shape[-1]}, respectively")
    classes = linear_weight.shape[0]
    out_features = tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (classes, *out_features):
        raise RuntimeError(f"expected linear_bias shape {(classes, *out_features)}, got "
                           f"{tuple(linear_bias.shape)}")
    if out_features and not batch:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape "
                           f"{tuple(linear_weight.shape)} requires batched input, "
                           f"(N, {in_features}), got unbatched input with shape "
                           f"{tuple(input.shape)}")
    logits_shape = (*batch, classes, *out_features)
    if tuple(target.shape) == logits_shape and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    ignore_index = -100 if ignore_index is None else ignore_index
    if options is not None:
        if (out_features or reduction not in _CHUNKED_REDUCTIONS or label_smoothing != 0.0
                or target.dtype.name != "int64"):
            bias_shape = None if linear_bias is None else tuple(linear_bias.shape)
            warnings.warn(f"linear_cross_entropy: ``options`` ignored; chunked path needs "
                          f"reduction in {{'mean','sum','none'}}, label_smoothing == 0, "
                          f"target.dtype == int64, out_features == (). Got "
                          f"reduction={reduction!r}, label_smoothing={label_smoothing}, "
                          f"target.dtype={target.dtype}, out_features={out_features}, "
                          f"tracing=False, linear_bias.shape={bias_shape}.", stacklevel=2)
        else:
            return _chunked(input, linear_weight, target, linear_bias, weight, reduction,
                            ignore_index, options)
    if out_features:
        flat = math.prod(out_features, start=classes)
        linear_weight = linear_weight.reshape(flat, in_features)
        if linear_bias is not None:
            linear_bias = linear_bias.reshape(flat)
    logits = linear(input, linear_weight, linear_bias).reshape(logits_shape)
    return cross_entropy(logits, target, weight=weight, reduction=reduction,
                         ignore_index=ignore_index, label_smoothing=label_smoothing)
