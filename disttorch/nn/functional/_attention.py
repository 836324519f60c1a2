"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``.

The core is one node: scores by a batched GEMM over every leading (batch, head) dim, masks,
an in-place softmax, dropout on the weights and the second batched GEMM; its backward is four
batched GEMMs and the fused softmax gradient. Heads are split from and merged into the
``(L, N, E)`` / ``(N, L, E)`` projections by two layout nodes, so multi-head attention is
linear -> split -> attention -> merge -> linear with no other copies.
"""
import collections
import math
import warnings

import numpy as np

from ..._gemm import in_dtype, matmul as _gemm
from ..._backend import get_array_module, device_constant
from ...amp.autocast_mode import autocast_args
from ...autograd.function import Node
from ...cuda.kernels.nn import attention_softmax_, attention_softmax_backward_
from ...ops import cat, zeros
from ...ops._util import sum_to
from ...ops.random import dropout_keep, dropout_scale
from ... import _dtype, _vmap_state
from ...tensor import Tensor
from ._composite import attention_composite, double_backward
from ._linear import linear
from ..attention import _select as _select_backend

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]

# fused: whether the fused softmax kernel may run (sdpa_kernel can rule it out)
AttentionSpec = collections.namedtuple("AttentionSpec",
                                       "scale dropout_p weights zero_masked_rows groups fused",
                                       defaults=(True,))


def _swap(x):
    return x.swapaxes(-1, -2)


class Attention(Node):
    r"""``softmax(q k^T \cdot scale + float\_mask, masked by bool\_mask) v`` over the two
    trailing dims, dropout on the weights.

    ``bool_mask`` is True where a query may attend. ``spec.weights`` None returns the output
    only; ``"all"`` also returns the (dropped-out) weights, ``"mean"`` their mean over dim -3
    (heads). With ``spec.zero_masked_rows`` a query that may attend to nothing gets zeros
    (``scaled_dot_product_attention``); otherwise NaN, as a plain softmax gives (multi-head
    attention with ``need_weights``). ``spec.groups > 1`` shares each key/value head among that
    many query heads (grouped-query attention).
    """

    def forward(self, q, k, v, float_mask, bool_mask, spec):
        xp = get_array_module(q)
        self.spec = spec
        self.shapes = (q.shape, k.shape, v.shape,
                       None if float_mask is None else float_mask.shape)
        self.allowed = bool_mask
        self.empty_rows = None
        inputs = (q, k, v, float_mask)
        if spec.groups > 1:
            k = xp.repeat(k, spec.groups, axis=-3)
            v = xp.repeat(v, spec.groups, axis=-3)
        p = _gemm(q, k.swapaxes(-1, -2))
        if bool_mask is None and spec.fused and attention_softmax_(
                p, spec.scale, float_mask, spec.zero_masked_rows and float_mask is not None):
            return self._weigh_values(xp, p, v, q, inputs, spec)
        p *= spec.scale
        if float_mask is not None:
            # a mask with more batch dims than q and k widens the scores
            if np.broadcast_shapes(p.shape, float_mask.shape) == p.shape:
                p += float_mask
            else:
                p = p + float_mask
        if bool_mask is not None:
            p = xp.where(bool_mask, p, -xp.inf)
        peak = p.max(axis=-1, keepdims=True)
        if spec.zero_masked_rows and (bool_mask is not None or float_mask is not None):
            # where, not a boolean-mask assignment: CuPy reads a mask's count back to the host
            # for that (the wait for the GPU in the H100 runs' masked transformer steps)
            self.empty_rows = ~xp.isfinite(peak)
            peak = xp.where(self.empty_rows, peak.dtype.type(0), peak)
        p -= peak
        xp.exp(p, out=p)
        total = p.sum(axis=-1, keepdims=True)
        if spec.zero_masked_rows:
            total = xp.where(total == 0, total.dtype.type(1), total)
        p /= total
        return self._weigh_values(xp, p, v, q, inputs, spec)

    def _weigh_values(self, xp, p, v, q, inputs, spec):
        """Dropout on the softmax weights ``p``, then their product with ``v``."""
        keep = None
        weights = p
        if spec.dropout_p > 0:
            if xp is np:
                keep = dropout_keep(p.shape, spec.dropout_p)
            else:
                # CuPy's generator, as PyTorch uses the CUDA one: no host copy per step
                _vmap_state.random_op("cuda")
                keep = xp.random.random(p.shape, dtype=np.float32) >= spec.dropout_p
            keep = dropout_scale(keep, spec.dropout_p, p.dtype) if xp is np else \
                keep.astype(p.dtype) * (1.0 / (1 - spec.dropout_p))
            weights = p * keep
        out = in_dtype(_gemm(weights, v), q.dtype)
        self.keep = keep
        self.save_for_backward(*inputs, p, keep)
        if spec.weights is None:
            return out
        weights = weights.mean(axis=-3) if spec.weights == "mean" else weights
        return out, weights.astype(q.dtype, copy=False)

    def backward(self, g, g_weights=None):
        q, k, v, float_mask, p, keep = self.saved_tensors
        if isinstance(g, Tensor):
            return double_backward(attention_composite(self), (q, k, v, float_mask, None, None),
                                   (g, g_weights))
        spec = self.spec
        if spec.groups > 1:
            k = k.repeat(spec.groups, axis=-3)
            v = v.repeat(spec.groups, axis=-3)
        q_shape, k_shape, v_shape, mask_shape = self.shapes
        edges = self.next_edges
        weights = p if keep is None else p * keep
        dv = _gemm(_swap(weights), g) if edges[2] is not None else None
        dw = _gemm(g, _swap(v))
        if g_weights is not None:
            if spec.weights == "mean":
                dw += g_weights[..., None, :, :] * (1.0 / p.shape[-3])
            else:
                dw += g_weights
        if keep is not None:
            dw *= keep
        ds = dw
        need_dmask = mask_shape is not None and edges[3] is not None
        # the mask's gradient is the unscaled one: then the scale is applied after it
        scaled = attention_softmax_backward_(ds, p, 1.0 if need_dmask else spec.scale)
        if not scaled:
            ds -= (dw * p).sum(axis=-1, keepdims=True)
            ds *= p
        dmask = None
        if need_dmask:
            dmask = sum_to(ds, mask_shape)
            dmask = dmask.copy() if dmask is ds else dmask
            scaled = False
        if not scaled:
            ds *= spec.scale
        dq = sum_to(_gemm(ds, k), q_shape) if edges[0] is not None else None
        dk = _gemm(_swap(ds), q) if edges[1] is not None else None
        if spec.groups > 1:
            dk = None if dk is None else _group_sum(dk, spec.groups)
            dv = None if dv is None else _group_sum(dv, spec.groups)
        dk = None if dk is None else sum_to(dk, k_shape)
        dv = None if dv is None else sum_to(dv, v_shape)
        return (_like(dq, q), _like(dk, k), _like(dv, v), _like(dmask, float_mask), None, None)

    @classmethod
    def name(cls):
        return "ScaledDotProductAttentionBackward0"


def _like(grad, x):
    """``grad`` in the dtype of ``x`` (bfloat16 products come back from numpy in float32)."""
    return grad if grad is None or grad.dtype == x.dtype else grad.astype(x.dtype)


def _group_sum(g, groups):
    shape = g.shape
    return g.reshape(shape[:-3] + (shape[-3] // groups, groups) + shape[-2:]).sum(axis=-3)


def _causal(xp, target, source):
    return xp.tril(xp.ones((target, source), dtype=bool))


_FUSED_DTYPES = (np.dtype(np.float32), np.dtype(np.float16))


def _causal_float(xp, target, source, dtype):
    """The causal mask as 0 / -inf of ``dtype``, built once per size, dtype and device."""
    return device_constant(xp, ("causal_float", target, source, dtype), lambda: np.where(
        np.tril(np.ones((target, source), dtype=bool)), 0.0, -np.inf).astype(dtype))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    r"""Attention of ``query`` over ``key``/``value``:
    ``softmax(query @ key.transpose(-2, -1) * scale + mask) @ value``.

    Args:
        query (Tensor): :math:`(N, ..., H_q, L, E)`
        key (Tensor): :math:`(N, ..., H, S, E)`
        value (Tensor): :math:`(N, ..., H, S, E_v)`
        attn_mask (Tensor, optional): broadcastable to :math:`(N, ..., L, S)`; a bool mask is
            True where attention is allowed, a float mask is added to the scores.
        dropout_p (float): dropout probability on the attention weights. Default: 0.0
        is_causal (bool): attend only to keys at or before each query's position (an
            :math:`L \times S` lower-triangular mask). Default: ``False``
        scale (float, optional): defaults to :math:`1/\sqrt{E}`
        enable_gqa (bool): allow :math:`H_q` to be a multiple of :math:`H` (grouped-query
            attention): each key/value head serves :math:`H_q / H` query heads.

    Shape:
        - Output: :math:`(N, ..., H_q, L, E_v)`. A query that may attend to no key gets zeros.

    Examples::

        >>> q, k, v = disttorch.randn(2, 4, 8, 16), disttorch.randn(2, 4, 10, 16), \
        ...     disttorch.randn(2, 4, 10, 16)
        >>> F.scaled_dot_product_attention(q, k, v, is_causal=True).shape
        disttorch.Size([2, 4, 8, 16])
    """
    query, key, value, attn_mask = autocast_args("scaled_dot_product_attention", query, key,
                                                 value, attn_mask)
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: query {list(query.shape)}, key "
                           f"{list(key.shape)} and value {list(value.shape)} do not fit: query "
                           f"and key need the same last dim, key and value the same "
                           f"sequence length")
    groups = 1
    if enable_gqa and query.ndim >= 3 and query.shape[-3] != key.shape[-3]:
        if query.shape[-3] % key.shape[-3] or key.shape[-3] != value.shape[-3]:
            raise RuntimeError(f"scaled_dot_product_attention: the number of query heads "
                               f"({query.shape[-3]}) must be a multiple of the number of "
                               f"key/value heads ({key.shape[-3]}, {value.shape[-3]})")
        groups = query.shape[-3] // key.shape[-3]
    xp = get_array_module(query._data)
    float_mask = bool_mask = None
    if is_causal and attn_mask is None and xp is not np and query._data.dtype in _FUSED_DTYPES:
        # on the GPU a float mask (0 / -inf, the same weights) takes the fused softmax kernel
        float_mask = _causal_float(xp, query.shape[-2], key.shape[-2], query._data.dtype)
    elif is_causal:
        bool_mask = _causal(xp, query.shape[-2], key.shape[-2])
    if attn_mask is not None:
        if attn_mask.dtype.is_floating_point:
            float_mask = attn_mask
        else:
            bool_mask = attn_mask._data if bool_mask is None else bool_mask & attn_mask._data
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    fused = _select_backend(query, key, value, attn_mask, float_mask, bool_mask, dropout_p,
                            enable_gqa)
    spec = AttentionSpec(scale, dropout_p, None, True, groups, fused)
    return Attention.apply(query, key, value, float_mask, bool_mask, spec)


# ---------------------------------------------------------------------- multi-head layout
def _split_heads(x, heads, chunks, batch_first):
    """``(L, N, chunks*E)`` (or ``(N, L, ...)``) -> ``chunks`` contiguous ``(N, H, L, E/H)``."""
    xp = get_array_module(x)
    a, b, width = x.shape
    head_dim = width // (chunks * heads)
    parts = x.reshape(a, b, chunks, heads, head_dim)
    parts = xp.ascontiguousarray(parts.transpose((2, 0, 3, 1, 4) if batch_first
                                                 else (2, 1, 3, 0, 4)))
    return tuple(parts)


def _merge_heads(parts, batch_first):
    """The inverse of :func:`_split_heads`."""
    xp = get_array_module(parts[0])
    stacked = xp.stack(parts)
    chunks, n, heads, length, head_dim = stacked.shape
    order = (1, 3, 0, 2, 4) if batch_first else (3, 1, 0, 2, 4)
    out = stacked.transpose(order)
    return out.reshape(out.shape[:2] + (chunks * heads * head_dim,))


class SplitHeads(Node):
    """Projections ``(L, N, chunks*E)`` -> ``chunks`` tensors ``(N, H, L, E/H)``."""

    def forward(self, x, heads, chunks, batch_first):
        self.batch_first, self.heads, self.chunks = batch_first, heads, chunks
        parts = _split_heads(x, heads, chunks, batch_first)
        return parts if chunks > 1 else parts[0]

    def backward(self, *grads):
        if isinstance(grads[0], Tensor):
            return MergeHeads.apply(self.batch_first, *grads), None, None, None
        return _merge_heads(grads, self.batch_first), None, None, None


class MergeHeads(Node):
    """``(N, H, L, E/H)`` tensors -> ``(L, N, chunks*E)`` (or batch-first)."""

    def forward(self, batch_first, *parts):
        self.batch_first, self.chunks, self.heads = batch_first, len(parts), parts[0].shape[1]
        return _merge_heads(parts, batch_first)

    def backward(self, g):
        if isinstance(g, Tensor):
            grads = SplitHeads.apply(g, self.heads, self.chunks, self.batch_first)
        else:
            grads = _split_heads(g, self.heads, self.chunks, self.batch_first)
        grads = grads if isinstance(grads, tuple) else (grads,)
        return (None,) + tuple(grads)


# ------------------------------------------------------------------- multi-head attention
def _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads):
    """PyTorch's shape rules; returns whether the input is batched."""
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError(f"For batched (3-D) `query`, expected `key` and `value` to be "
                                 f"3-D but found {key.dim()}-D and {value.dim()}-D tensors "
                                 f"respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError(f"For batched (3-D) `query`, expected `key_padding_mask` to be "
                                 f"`None` or 2-D but found {key_padding_mask.dim()}-D tensor "
                                 f"instead")
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError(f"For batched (3-D) `query`, expected `attn_mask` to be `None`, "
                                 f"2-D or 3-D but found {attn_mask.dim()}-D tensor instead")
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key` and `value` to be "
                                 f"2-D but found {key.dim()}-D and {value.dim()}-D tensors "
                                 f"respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key_padding_mask` to "
                                 f"be `None` or 1-D but found {key_padding_mask.dim()}-D tensor "
                                 f"instead")
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError(f"For unbatched (2-D) `query`, expected `attn_mask` to be `None`, "
                                 f"2-D or 3-D but found {attn_mask.dim()}-D tensor instead")
        if attn_mask is not None and attn_mask.dim() == 3:
            expected = (num_heads, query.shape[0], key.shape[0])
            if tuple(attn_mask.shape) != expected:
                raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                     f"{attn_mask.shape}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                         f"{query.dim()}-D query tensor")


def _pad_masks(float_mask, bool_mask):
    """Let the queries attend to one more key (``bias_k`` or the zero attention column)."""
    if float_mask is not None:
        pad = zeros(tuple(float_mask.shape[:-1]) + (1,), dtype=float_mask.dtype,
                    device=float_mask.device)
        float_mask = cat([float_mask, pad], -1)
    if bool_mask is not None:
        xp = get_array_module(bool_mask)
        bool_mask = xp.concatenate(
            (bool_mask, xp.ones(bool_mask.shape[:-1] + (1,), dtype=bool)), axis=-1)
    return float_mask, bool_mask


def _mask_parts(mask, shape, allowed_if_true):
    """A user mask as (float mask Tensor or None, allowed-bool array or None)."""
    if mask is None:
        return None, None
    if mask.dtype.is_floating_point:
        return mask.reshape(shape), None
    allowed = mask._data.reshape(shape)
    return None, (allowed if allowed_if_true else ~allowed)


def _project(query, key, value, num_heads, in_proj_weight, in_proj_bias, separate, batch_first):
    embed_dim = query.shape[-1]
    if separate is None:
        if query is key and key is value:
            return SplitHeads.apply(linear(query, in_proj_weight, in_proj_bias), num_heads, 3,
                                    batch_first)
        weights = (in_proj_weight[:embed_dim], in_proj_weight[embed_dim:2 * embed_dim],
                   in_proj_weight[2 * embed_dim:])
    else:
        weights = separate
    biases = (None,) * 3 if in_proj_bias is None else (
        in_proj_bias[:embed_dim], in_proj_bias[embed_dim:2 * embed_dim],
        in_proj_bias[2 * embed_dim:])
    q = SplitHeads.apply(linear(query, weights[0], biases[0]), num_heads, 1, batch_first)
    if key is value and separate is None:
        k, v = SplitHeads.apply(linear(key, in_proj_weight[embed_dim:], None if in_proj_bias is
                                       None else in_proj_bias[embed_dim:]), num_heads, 2,
                                batch_first)
        return q, k, v
    k = SplitHeads.apply(linear(key, weights[1], biases[1]), num_heads, 1, batch_first)
    v = SplitHeads.apply(linear(value, weights[2], biases[2]), num_heads, 1, batch_first)
    return q, k, v


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
                                 in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p,
                                 out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    r"""The computation of :class:`~disttorch.nn.MultiheadAttention` on sequence-first inputs.

    Args:
        query, key, value: :math:`(L, N, E)`, :math:`(S, N, E_k)`, :math:`(S, N, E_v)`, or
            unbatched :math:`(L, E)`, :math:`(S, E_k)`, :math:`(S, E_v)`
        embed_dim_to_check, num_heads: the total embedding dim :math:`E` and the heads
        in_proj_weight, in_proj_bias: packed input projection :math:`(3E, E)`, :math:`(3E)`
        bias_k, bias_v: :math:`(1, 1, E)` biases appended to the keys and values, or None
        add_zero_attn: append a zero key and value
        dropout_p: dropout probability on the attention weights (in training)
        out_proj_weight, out_proj_bias: the output projection
        training: apply dropout
        key_padding_mask: :math:`(N, S)`; True (or the added float) marks keys to ignore
        need_weights: also return the attention weights
        attn_mask: :math:`(L, S)` or :math:`(N \cdot H, L, S)`; True marks positions that
            may not be attended, a float mask is added to the scores
        use_separate_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight: separate input
            projections (when key/value dims differ from :math:`E`)
        static_k, static_v: :math:`(N \cdot H, S, E/H)` keys/values used as they are
        average_attn_weights: average the returned weights over the heads
        is_causal: a hint that ``attn_mask`` is the causal mask (it is still required);
            without ``key_padding_mask`` and ``need_weights`` the causal mask is applied
            in its place, as in PyTorch

    Shape:
        - Outputs: attention output :math:`(L, N, E)`; weights :math:`(N, L, S)` averaged or
          :math:`(N, H, L, S)`, or None without ``need_weights``.
    """
    return _multi_head_attention(
        query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias, bias_k,
        bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training,
        key_padding_mask, need_weights, attn_mask,
        (q_proj_weight, k_proj_weight, v_proj_weight) if use_separate_proj_weight else None,
        static_k, static_v, average_attn_weights, is_causal, False)


def _check_mask_type(mask, name, other=None, other_name="", stacklevel=2):
    """PyTorch's ``_canonical_mask`` checks: bool or floating masks only, and a deprecation
    warning when the key padding mask's type differs from the attention mask's. Returns
    whether it warned."""
    if mask is None:
        return False
    if mask.dtype != _dtype.bool and not mask.dtype.is_floating_point:
        raise AssertionError(f"only bool and floating types of {name} are supported")
    if other is not None and mask.dtype != other.dtype:
        warnings.warn(f"Support for mismatched {name} and {other_name} is deprecated. Use same "
                      f"type for both instead.", stacklevel=stacklevel + 1)
        return True
    return False


def _as_float_mask(mask, dtype):
    if mask is None or mask.dtype.is_floating_point:
        return mask
    return zeros(tuple(mask.shape), dtype=dtype, device=mask.device).masked_fill(
        mask, float("-inf"))


def check_mask_types(key_padding_mask, attn_mask, dtype, padding_name="key_padding_mask",
                     attn_name="attn_mask"):
    """The mask checks that ``MultiheadAttention`` and the encoder layers run first of all,
    under their own argument names; returns the two masks. PyTorch turns every bool mask into
    an additive one of ``dtype`` there; so do we where the two types differ, so that the layers
    below see them alike (and warn once, as PyTorch does), and keep bool masks otherwise."""
    mixed = _check_mask_type(key_padding_mask, padding_name, attn_mask, attn_name, 3)
    _check_mask_type(attn_mask, attn_name)
    if mixed:
        return _as_float_mask(key_padding_mask, dtype), _as_float_mask(attn_mask, dtype)
    return key_padding_mask, attn_mask


def _check_weight_shapes(q_width, k_width, v_width, separate, in_proj_bias):
    """``_in_projection``'s checks of separate projection weights against the inputs' widths
    (a key of the query's width given to a ``kdim`` layer fails here, not in the matmul)."""
    for name, weight, width in zip(("query", "key", "value"), separate,
                                   (q_width, k_width, v_width)):
        if tuple(weight.shape) != (q_width, width):
            raise AssertionError(f"expecting {name} weights shape of {(q_width, width)}, but got "
                                 f"{weight.shape}")
    if in_proj_bias is not None:
        # the sizes of in_proj_bias.chunk(3), without adding the chunks to the graph
        total = in_proj_bias.shape[0]
        step = -(-total // 3)
        for name, start in zip(("query", "key", "value"), (0, step, 2 * step)):
            size = max(min(step, total - start), 0)
            if size != q_width:
                raise AssertionError(f"expecting {name} bias shape of {(q_width,)}, but got "
                                     f"{in_proj_bias.shape[:0] + (size,)}")


def _multi_head_attention(query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
                          in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p,
                          out_proj_weight, out_proj_bias, training, key_padding_mask,
                          need_weights, attn_mask, separate, static_k, static_v,
                          average_attn_weights, is_causal, batch_first, masks_checked=False):
    batched = _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        batch_first = False
        query, key, value = (t.unsqueeze(1) for t in (query, key, value)) if not (
            query is key and key is value) else (query.unsqueeze(1),) * 3
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    if batch_first:
        bsz, tgt_len, embed_dim = query.shape
        src_len = key.shape[1]
    else:
        tgt_len, bsz, embed_dim = query.shape
        src_len = key.shape[0]
    if not masks_checked and _check_mask_type(key_padding_mask, "key_padding_mask", attn_mask,
                                              "attn_mask"):
        key_padding_mask = _as_float_mask(key_padding_mask, query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    # PyTorch hands a causal hint without padding mask or weights to its fused attention as
    # is_causal, dropping attn_mask unread: the causal mask is what is applied
    causal_only = is_causal and key_padding_mask is None and not need_weights
    if causal_only:
        attn_mask = None
    elif not masks_checked:
        _check_mask_type(attn_mask, "attn_mask")
        if key_padding_mask is not None and key_padding_mask.dtype != _dtype.bool:
            attn_mask = _as_float_mask(attn_mask, query.dtype)
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    key_dims = key.shape[:2] if not batch_first else key.shape[:2][::-1]
    value_dims = value.shape[:2] if not batch_first else value.shape[:2][::-1]
    if separate is not None and key_dims != value_dims:
        raise AssertionError(f"key's sequence and batch dims {key_dims} do not match value's "
                             f"{value_dims}")
    if separate is None and tuple(key.shape) != tuple(value.shape):
        raise AssertionError(f"key shape {_seq_first(key.shape, batch_first)} does not match "
                             f"value shape {_seq_first(value.shape, batch_first)}")
    if separate is not None:
        _check_weight_shapes(embed_dim, key.shape[-1], value.shape[-1], separate, in_proj_bias)
    if attn_mask is not None:
        if attn_mask.dim() == 2 and tuple(attn_mask.shape) != (tgt_len, src_len):
            raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should "
                               f"be {(tgt_len, src_len)}.")
        if attn_mask.dim() == 3 and tuple(attn_mask.shape) != (bsz * num_heads, tgt_len,
                                                               src_len):
            raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should "
                               f"be {(bsz * num_heads, tgt_len, src_len)}.")
        if attn_mask.dim() not in (2, 3):
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")
    # keys appended after the projection (bias_k, the zero attention), by which PyTorch has
    # padded the key padding mask when it checks that mask's shape
    appended = 0
    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        appended += 1
    elif bias_k is not None or bias_v is not None:
        raise AssertionError("bias_k is set but bias_v is None" if bias_k is not None
                             else "bias_v is set but bias_k is None")
    if static_k is not None:
        _check_static(static_k, "static_k", bsz, num_heads, head_dim)
        src_len = static_k.shape[1]
    if static_v is not None:
        _check_static(static_v, "static_v", bsz, num_heads, head_dim)
    appended += bool(add_zero_attn)
    if key_padding_mask is not None:
        _check_key_padding_mask(key_padding_mask, bsz, src_len, appended)
    q, k, v = _project(query, key, value, num_heads, in_proj_weight, in_proj_bias, separate,
                       batch_first)
    mask_shape = (bsz, num_heads, tgt_len, src_len) if attn_mask is not None and \
        attn_mask.dim() == 3 else (tgt_len, src_len)
    float_mask, bool_mask = _mask_parts(attn_mask, mask_shape, False)
    pad_float, pad_bool = _mask_parts(key_padding_mask, (bsz, 1, 1, src_len), False)
    if pad_float is not None:
        float_mask = pad_float if float_mask is None else float_mask + pad_float
    if pad_bool is not None:
        bool_mask = pad_bool if bool_mask is None else bool_mask & pad_bool
    if bias_k is not None:
        k = _append_key(k, bias_k.reshape(1, num_heads, 1, head_dim))
        v = _append_key(v, bias_v.reshape(1, num_heads, 1, head_dim))
        float_mask, bool_mask = _pad_masks(float_mask, bool_mask)
    if static_k is not None:
        k = static_k.reshape(bsz, num_heads, static_k.shape[1], head_dim)
    if static_v is not None:
        v = static_v.reshape(bsz, num_heads, static_v.shape[1], head_dim)
    if add_zero_attn:
        zero = zeros((1, num_heads, 1, head_dim), dtype=k.dtype, device=k.device)
        k, v = _append_key(k, zero), _append_key(v, zero)
        float_mask, bool_mask = _pad_masks(float_mask, bool_mask)
    if float_mask is not None and float_mask.dtype != q.dtype:
        float_mask = float_mask.to(q.dtype)
    if causal_only:
        # top-left aligned over every key, the appended ones included, as PyTorch's is_causal;
        # on the GPU as 0 / -inf (the same weights: no row is all masked), which takes the
        # fused softmax kernel as scaled_dot_product_attention's causal mask does
        xp = get_array_module(q._data)
        if xp is not np and q._data.dtype in _FUSED_DTYPES:
            float_mask = _causal_float(xp, tgt_len, k.shape[2], q._data.dtype)
        else:
            bool_mask = _causal(xp, tgt_len, k.shape[2])
    weights_mode = ("mean" if average_attn_weights else "all") if need_weights else None
    spec = AttentionSpec(1.0 / math.sqrt(head_dim), dropout_p if training else 0.0,
                         weights_mode, not need_weights, 1)
    result = Attention.apply(q, k, v, float_mask, bool_mask, spec)
    out, weights = result if need_weights else (result, None)
    out = linear(MergeHeads.apply(False, out), out_proj_weight, out_proj_bias)
    if batch_first:
        # PyTorch projects (L, N, E) and returns its transposed view: the layout decides where
        # a dropout on the output (a Transformer layer's) draws each element
        out = out.transpose(0, 1)
    if not batched:
        out = out.squeeze(1)
        weights = None if weights is None else weights.squeeze(0)
    return out, weights


def _seq_first(shape, batch_first):
    """A shape as PyTorch's multi-head attention sees it (it transposes batch-first input)."""
    return shape if not batch_first else shape[:2][::-1] + shape[2:]


def _check_key_padding_mask(mask, bsz, src_len, appended):
    """PyTorch checks the mask once it has padded it for the ``appended`` keys."""
    if mask.shape[0] != bsz:
        raise AssertionError(f"Expected key_padded_mask.shape[0] to be {bsz}, but got "
                             f"{mask.shape[0]}")
    if mask.shape[1] != src_len:
        raise AssertionError(f"Expected key_padded_mask.shape[1] to be {src_len + appended}, "
                             f"but got {mask.shape[1] + appended}")


def _append_key(t, row):
    """``t`` ``(N, H, S, D)`` with ``row`` (broadcast over the batch) as key ``S + 1``."""
    return cat([t, row.expand(t.shape[0], -1, -1, -1)], 2)


def _check_static(t, name, bsz, num_heads, head_dim):
    if t.shape[0] != bsz * num_heads:
        raise AssertionError(f"expecting {name}.size(0) of {bsz * num_heads}, but got "
                             f"{t.shape[0]}")
    if t.shape[2] != head_dim:
        raise AssertionError(f"expecting {name}.size(2) of {head_dim}, but got {t.shape[2]}")
