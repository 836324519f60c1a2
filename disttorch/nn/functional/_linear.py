"""``F.linear`` and ``F.bilinear``: fused nodes whose backward is a few GEMMs."""
import numpy as np

from ..._dtype import C_TYPE_NAMES
from ..._gemm import in_dtype, matmul as _gemm
from ..._backend import get_array_module
from ...autograd.function import Node
from ...tensor import Tensor
from ...ops._util import cast, device_mismatch, masked_grad
from ...ops.indexing import scalar_type_name
from ...amp.autocast_mode import cast_linear, is_autocast_enabled
from ...cuda.kernels.nn import (activation_backward, bias_activation, bias_activation_applies,
                                bias_add_half, column_sum, half_bias_applies)
from ._activation import gelu, relu

__all__ = ["linear", "bilinear"]

def _c_name(t):
    return C_TYPE_NAMES.get(t.dtype.name, t.dtype.name)


class Linear(Node):
    """``y = x @ W.T + b`` for any number of leading dims of ``x``."""

    def forward(self, x, w, b):
        out_features, in_features = w.shape
        lead = x.shape[:-1]
        x2d = _rows(x, in_features)
        y = in_dtype(_gemm(x2d, w.T), x.dtype)
        if b is not None:
            if b.dtype == y.dtype:
                y += b
            else:   # a float32 bias beside float16 operands: only where half_bias_applies
                bias_add_half(y, b)
            self.bias_dtype = b.dtype
        self.save_for_backward(x, w)
        self.has_bias = b is not None
        return y if len(lead) == 1 else y.reshape(lead + (out_features,))

    def backward(self, g):
        x, w = self.saved_tensors
        e = self.next_edges
        out_features, in_features = w.shape
        g2d = _rows(g, out_features)
        gx = gw = gb = None
        if e[0] is not None:
            gx = _keep_dtype(_gemm(g2d, w), x)
            gx = gx if x.ndim == 2 else gx.reshape(x.shape)
        if e[1] is not None:
            gw = _keep_dtype(_gemm(g2d.transpose(1, 0), _rows(x, in_features)), w)
        if self.has_bias and e[2] is not None:
            gb = None if type(g2d) is np.ndarray or isinstance(g2d, Tensor) else column_sum(
                g2d, self.bias_dtype)
            if gb is None:
                gb = _bias_grad(g2d, self.bias_dtype)
        return gx, gw, gb


def _rows(a, width):
    """``a`` as a matrix of rows of ``width`` (2-D arrays as they are: a CuPy reshape costs
    host time even when it changes nothing)."""
    return a if a.ndim == 2 else a.reshape(-1, width)


def _keep_dtype(result, like):
    if isinstance(result, Tensor) or result.dtype == like.dtype:
        return result
    return result.astype(like.dtype)


def _bias_grad(g2d, dtype):
    """The column sums of ``g2d`` (array or Tensor) in the bias's ``dtype``: a float32 bias
    beside float16 operands gets its float16 sums cast, as the cast bias's gradient would be."""
    gb = g2d.sum(0)
    if isinstance(gb, Tensor):
        return gb if gb._data.dtype == dtype else cast(gb, dtype)
    return gb if gb.dtype == dtype else gb.astype(dtype)


def linear(input, weight, bias=None):
    r"""Apply the affine map :math:`y = xA^T + b`.

    Args:
        input: :math:`(*, in\_features)`.
        weight: :math:`(out\_features, in\_features)`.
        bias: :math:`(out\_features)` or None.

    Shape:
        Output: :math:`(*, out\_features)`.
    """
    input, weight, bias, kept = cast_linear(input, weight, bias, half_bias_applies)
    # the checks read the arrays: Tensor.shape and .dtype build new objects on every access,
    # a measurable share of a small layer's time
    x, w = input._data, weight._data
    if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
        if weight.ndim == 1 and input.ndim >= 1 and input.shape[-1] == weight.shape[0]:
            out = input @ weight
            return out if bias is None else out + bias
        rows = 1
        for s in input.shape[:-1]:
            rows *= s
        a = f"{rows}x{input.shape[-1]}" if input.ndim else "1x1"
        wt = "x".join(str(s) for s in reversed(weight.shape))
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a} and {wt})")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"linear(): argument 'bias' must be Tensor, not {type(bias).__name__}")
    if x.dtype != w.dtype:
        if bias is None:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                               f"{_c_name(input)} != {_c_name(weight)}")
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {scalar_type_name(input)} "
                           f"and {scalar_type_name(weight)}")
    if type(x) is not type(w):
        raise device_mismatch(input, weight)
    if bias is not None:
        b = bias._data
        if b.dtype != w.dtype and not kept:
            raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                               f"{scalar_type_name(bias)} and {scalar_type_name(weight)}")
        if b.ndim > 1 or (b.ndim == 1 and b.shape[0] not in (1, w.shape[0])):
            rows = input.numel() // input.shape[-1] if input.shape[-1] else 0
            raise RuntimeError(f"The expanded size of the tensor ({weight.shape[0]}) must match the "
                               f"existing size ({bias.shape[-1]}) at non-singleton dimension 1.  "
                               f"Target sizes: [{rows}, {weight.shape[0]}].  Tensor sizes: "
                               f"{list(bias.shape)}")
    return Linear.apply(input, weight, bias)


class LinearActivation(Node):
    """``activation(x @ W.T + b)`` for ReLU or (exact) GELU on CUDA float32: one GEMM, then bias
    and activation in one kernel; the backward starts with one kernel for the activation's
    derivative. Built by :func:`linear_activation` only where the fused kernels apply."""

    def forward(self, x, w, b, kind):
        out_features, in_features = w.shape
        lead = x.shape[:-1]
        y, kept = bias_activation(_gemm(_rows(x, in_features), w.T), b, kind)
        if len(lead) != 1:
            y = y.reshape(lead + (out_features,))
        # ReLU keeps its output, saved as the very array returned so that an in-place change of
        # it raises autograd's error instead of corrupting the gradient
        self.save_for_backward(x, w, b, y if kind == "relu" else kept)
        self.kind = kind
        return y

    def backward(self, g):
        x, w, b, kept = self.saved_tensors
        e = self.next_edges
        out_features, in_features = w.shape
        if isinstance(g, Tensor):
            dh = self._pre_activation_grad_graph(x, w, b, g)
            gb = None
        elif e[2] is not None:
            dh, gb = activation_backward(_rows(kept, out_features), _rows(g, out_features),
                                         self.kind, bias_grad=True)
        else:
            dh = activation_backward(_rows(kept, out_features), _rows(g, out_features),
                                     self.kind)
            gb = None
        dh2d = _rows(dh, out_features)
        gx = gw = None
        if e[0] is not None:
            gx = _gemm(dh2d, w)
            gx = gx if x.ndim == 2 else gx.reshape(x.shape)
        if e[1] is not None:
            gw = _gemm(dh2d.transpose(1, 0), _rows(x, in_features))
        if e[2] is not None and gb is None:
            gb = dh2d.sum(0)
        return gx, gw, gb, None

    def _pre_activation_grad_graph(self, x, w, b, g):
        # create_graph: the activation's derivative again in differentiable ops
        from ...ops import erf, exp
        pre = linear(x, w, b)
        if self.kind == "relu":
            return masked_grad(g, ~(pre <= 0))    # threshold_backward: NaN passes
        cdf = 0.5 * (1 + erf(pre * _INV_SQRT2))
        return g * (cdf + pre * exp(pre * pre * -0.5) * _INV_SQRT_2PI)


_INV_SQRT2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327


def linear_activation(input, weight, bias, activation):
    """``activation(linear(input, weight, bias))`` with ``activation`` ``"relu"`` or ``"gelu"``
    (exact): one fused node where the CUDA kernels apply (float32 CuPy arrays, a bias vector,
    no CUDA autocast region), else the two ops as they are."""
    # under CUDA autocast the GEMM runs in float16/bfloat16: the generic ops then
    if bias is not None and not is_autocast_enabled("cuda"):
        x, w, b = input._data, weight._data, bias._data
        if (x.ndim >= 1 and w.ndim == 2 and x.shape[-1] == w.shape[1]
                and bias_activation_applies(x, w, b)):
            return LinearActivation.apply(input, weight, bias, activation)
    return (relu if activation == "relu" else gelu)(linear(input, weight, bias))


def _einsum(spec, *operands):
    if isinstance(operands[0], Tensor):
        from ...ops import einsum
        return einsum(spec, *operands)
    return get_array_module(operands[0]).einsum(spec, *operands)


class Bilinear(Node):
    """``y_k = x1 @ W_k @ x2 + b_k`` over a flattened batch."""

    def forward(self, x1, x2, w, b):
        xp = get_array_module(x1)
        a = x1.reshape(-1, x1.shape[-1])
        c = x2.reshape(-1, x2.shape[-1])
        t = xp.einsum("ni,kij->nkj", a, w)  # (N, k, j), then contract j with x2
        y = xp.einsum("nkj,nj->nk", t, c)
        if b is not None:
            y += b
        self.save_for_backward(x1, x2, w, t)
        self.has_bias = b is not None
        return y.reshape(x1.shape[:-1] + (w.shape[0],))

    def backward(self, g):
        x1, x2, w, t = self.saved_tensors
        e = self.next_edges
        a = x1.reshape(-1, x1.shape[-1])
        c = x2.reshape(-1, x2.shape[-1])
        g2d = g.reshape(-1, w.shape[0])
        g1 = g2 = gw = gb = None
        if e[0] is not None:
            g1 = _einsum("nk,nki->ni", g2d, _einsum("kij,nj->nki", w, c)).reshape(x1.shape)
        if e[1] is not None:
            if isinstance(g, Tensor):
                t = _einsum("ni,kij->nkj", a, w)  # the saved product is a constant here
            g2 = _einsum("nk,nkj->nj", g2d, t).reshape(x2.shape)
        if e[2] is not None:
            gw = _einsum("nki,nj->kij", _einsum("nk,ni->nki", g2d, a), c)
        if self.has_bias and e[3] is not None:
            gb = g2d.sum(0)
        return g1, g2, gw, gb


def bilinear(input1, input2, weight, bias=None):
    r"""Apply the bilinear map :math:`y = x_1^T A x_2 + b`.

    Shape:
        - input1: :math:`(*, in1\_features)`, input2: :math:`(*, in2\_features)`
        - weight: :math:`(out\_features, in1\_features, in2\_features)`, bias: :math:`(out\_features)`
        - output: :math:`(*, out\_features)`
    """
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got "
                           f"{list(input1.shape[:-1])} and {list(input2.shape[:-1])}")
    if input1.shape[-1] != weight.shape[1]:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{input1.shape[-1]} but expected {weight.shape[1]}")
    if input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{input2.shape[-1]} but expected {weight.shape[2]}")
    return Bilinear.apply(input1, input2, weight, bias)
