"""``MultiheadAttention``."""
from ...ops.creation import empty
from .. import init
from ..functional._attention import _multi_head_attention, check_mask_types
from ..parameter import Parameter
from .linear import Linear
from .module import Module

__all__ = ["MultiheadAttention"]


class NonDynamicallyQuantizableLinear(Linear):
    """The output projection of :class:`MultiheadAttention` (named as in PyTorch)."""


class MultiheadAttention(Module):
    r"""Attention over ``num_heads`` parallel subspaces of the embedding:

    .. math::
        \text{MultiHead}(Q, K, V) = \text{Concat}(head_1, \dots, head_h) W^O,
        \quad head_i = \text{Attention}(Q W_i^Q, K W_i^K, V W_i^V)

    Args:
        embed_dim: total dimension of the model
        num_heads: number of parallel attention heads; ``embed_dim`` is split across them
        dropout: dropout probability on the attention weights (in training). Default: 0.0
        bias: add biases to the input and output projections. Default: ``True``
        add_bias_kv: append learned biases to the keys and values. Default: ``False``
        add_zero_attn: append a batch of zeros to the keys and values. Default: ``False``
        kdim: number of features of the keys. Default: ``embed_dim``
        vdim: number of features of the values. Default: ``embed_dim``
        batch_first: inputs and outputs are ``(batch, seq, feature)``. Default: ``False``

    Inputs:
        * **query**: :math:`(L, N, E)`, :math:`(N, L, E)` with ``batch_first``, or :math:`(L, E)`
        * **key**: :math:`(S, N, E_k)`, :math:`(N, S, E_k)` or :math:`(S, E_k)`
        * **value**: :math:`(S, N, E_v)`, :math:`(N, S, E_v)` or :math:`(S, E_v)`
        * **key_padding_mask**: :math:`(N, S)` or :math:`(S)`; True (bool) marks keys to
          ignore, a float mask is added to the scores
        * **need_weights**: also return the attention weights. Default: ``True``
        * **attn_mask**: :math:`(L, S)` or :math:`(N \cdot H, L, S)`; True (bool) marks
          positions that may not be attended, a float mask is added to the scores
        * **average_attn_weights**: average the returned weights over the heads.
          Default: ``True``
        * **is_causal**: a hint that ``attn_mask`` is the causal mask. Default: ``False``

    Outputs:
        * **attn_output**: :math:`(L, N, E)`, :math:`(N, L, E)` or :math:`(L, E)`
        * **attn_output_weights**: :math:`(N, L, S)` averaged, :math:`(N, H, L, S)` per head,
          or None without ``need_weights``

    Examples::

        >>> attn = nn.MultiheadAttention(16, 4, batch_first=True)
        >>> x = disttorch.randn(2, 5, 16)
        >>> out, weights = attn(x, x, x)
        >>> out.shape, weights.shape
        (disttorch.Size([2, 5, 16]), disttorch.Size([2, 5, 5]))
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty((3 * embed_dim, embed_dim), **factory))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(empty((embed_dim, embed_dim), **factory))
            self.k_proj_weight = Parameter(empty((embed_dim, self.kdim), **factory))
            self.v_proj_weight = Parameter(empty((embed_dim, self.vdim), **factory))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **factory))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias,
                                                        **factory)
        if add_bias_kv:
            self.bias_k = Parameter(empty((1, 1, embed_dim), **factory))
            self.bias_v = Parameter(empty((1, 1, embed_dim), **factory))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        key_padding_mask, attn_mask = check_mask_types(key_padding_mask, attn_mask,
                                                       query.dtype)
        separate = None if self._qkv_same_embed_dim else (
            self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        return _multi_head_attention(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, self.training, key_padding_mask,
            need_weights, attn_mask, separate, None, None, average_attn_weights, is_causal,
            self.batch_first, masks_checked=True)
