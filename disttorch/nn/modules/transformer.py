"""The Transformer of "Attention Is All You Need": encoder/decoder layers and stacks."""
import copy
import warnings

import numpy as np

from ... import _dtype, backends
from ..._backend import to_numpy
from ..._device_guard import unguarded
from ...amp.autocast_mode import is_autocast_enabled
from ...autograd.grad_mode import is_grad_enabled
from ...ops.creation import full
from ...ops import triu
from .. import functional as F
from .. import init
from ..functional._attention import check_mask_types
from ._fusion import linear_then_activation
from .attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm

__all__ = ["Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
           "TransformerDecoderLayer"]


def _activation_fn(activation):
    if callable(activation):
        return activation
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _why_no_nested_tensor(layer):
    """PyTorch's reason (its wording) why ``layer`` rules out the nested-tensor path, or ''."""
    name = "encoder_layer"
    if not isinstance(layer, TransformerEncoderLayer):
        return f"{name} was not TransformerEncoderLayer"
    if layer.norm_first:
        return f"{name}.norm_first was True"
    if not layer.self_attn.batch_first:
        return (f"{name}.self_attn.batch_first was not True(use batch_first for better "
                "inference performance)")
    if not layer.self_attn._qkv_same_embed_dim:
        return f"{name}.self_attn._qkv_same_embed_dim was not True"
    if layer.self_attn.in_proj_bias is None:
        return f"{name}.self_attn was passed bias=False"
    if not layer.activation_relu_or_gelu:
        return f"{name}.activation_relu_or_gelu was not True"
    if layer.norm1.eps != layer.norm2.eps:
        return f"{name}.norm1.eps was not equal to {name}.norm2.eps"
    if layer.self_attn.num_heads % 2 == 1:
        return f"{name}.self_attn.num_heads is odd"
    return ""


def _generate_square_subsequent_mask(sz, device=None, dtype=None):
    return triu(full((sz, sz), float("-inf"), dtype=dtype, device=device), diagonal=1)


def _detect_is_causal_mask(mask, is_causal=None, size=None):
    """``is_causal`` if given, else whether ``mask`` is the float causal mask (a hint only:
    the mask itself is always applied)."""
    if is_causal is not None or mask is None:
        return bool(is_causal)
    size = mask.shape[-2] if size is None else size
    if tuple(mask.shape) != (size, size):
        return False
    data = to_numpy(mask._data)
    causal = np.triu(np.ones((size, size), dtype=bool), 1)
    if data.dtype == bool:
        return bool((data == causal).all())
    return bool((np.where(causal, -np.inf, 0.0) == data).all())


def _clones(module, n):
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


class TransformerEncoderLayer(Module):
    r"""Self-attention and a feedforward network, each with a residual connection and layer
    norm (after the residual sum, or before the block with ``norm_first``).

    Args:
        d_model: the number of expected features in the input
        nhead: the number of heads in the multi-head attention
        dim_feedforward: the dimension of the feedforward network. Default: 2048
        dropout: the dropout value. Default: 0.1
        activation: ``"relu"``, ``"gelu"`` or a unary callable. Default: relu
        layer_norm_eps: the eps of the layer norms. Default: 1e-5
        batch_first: inputs and outputs are ``(batch, seq, feature)``. Default: ``False``
        norm_first: apply the layer norms before attention and feedforward. Default: ``False``
        bias: use biases in the linear layers and layer norms. Default: ``True``

    Shape:
        - src: :math:`(S, E)`, :math:`(S, N, E)` or :math:`(N, S, E)` with ``batch_first``
        - src_mask: :math:`(S, S)` or :math:`(N \cdot H, S, S)`
        - src_key_padding_mask: :math:`(S)` or :math:`(N, S)`
        - output: as ``src``

    Examples::

        >>> layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, batch_first=True)
        >>> layer(disttorch.randn(8, 10, 32)).shape
        disttorch.Size([8, 10, 32])
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **factory)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation_fn(activation)
        # as torch: which activations its fused encoder path supports (1 relu, 2 gelu)
        act = unguarded(self.activation)
        self.activation_relu_or_gelu = (
            1 if act is unguarded(F.relu) or type(act).__name__ == "ReLU" else
            2 if act is unguarded(F.gelu) or type(act).__name__ == "GELU" else 0)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        src_key_padding_mask, src_mask = check_mask_types(
            src_key_padding_mask, src_mask, src.dtype, "src_key_padding_mask", "src_mask")
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(
            linear_then_activation(self.linear1, self.activation, x))))


class TransformerDecoderLayer(Module):
    r"""Self-attention, attention over the encoder output (``memory``) and a feedforward
    network, each with a residual connection and layer norm.

    Args:
        d_model: the number of expected features in the input
        nhead: the number of heads in the multi-head attentions
        dim_feedforward: the dimension of the feedforward network. Default: 2048
        dropout: the dropout value. Default: 0.1
        activation: ``"relu"``, ``"gelu"`` or a unary callable. Default: relu
        layer_norm_eps: the eps of the layer norms. Default: 1e-5
        batch_first: inputs and outputs are ``(batch, seq, feature)``. Default: ``False``
        norm_first: apply the layer norms before each block. Default: ``False``
        bias: use biases in the linear layers and layer norms. Default: ``True``

    Shape:
        - tgt: :math:`(T, E)`, :math:`(T, N, E)` or :math:`(N, T, E)` with ``batch_first``
        - memory: :math:`(S, E)`, :math:`(S, N, E)` or :math:`(N, S, E)`
        - tgt_mask: :math:`(T, T)`; memory_mask: :math:`(T, S)` (or per head, batch-major)
        - tgt_key_padding_mask: :math:`(N, T)`; memory_key_padding_mask: :math:`(N, S)`
        - output: as ``tgt``

    Examples::

        >>> layer = nn.TransformerDecoderLayer(d_model=32, nhead=4)
        >>> layer(disttorch.randn(20, 8, 32), disttorch.randn(10, 8, 32)).shape
        disttorch.Size([20, 8, 32])
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **factory)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, **factory)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation_fn(activation)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                           memory_is_causal))
        return self.norm3(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, memory, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, memory, memory, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(
            linear_then_activation(self.linear1, self.activation, x))))


class TransformerEncoder(Module):
    r"""A stack of ``num_layers`` copies of ``encoder_layer``, then ``norm`` if given.

    Args:
        encoder_layer: a :class:`TransformerEncoderLayer` (deep-copied ``num_layers`` times)
        num_layers: the number of layers
        norm: an optional final layer norm
        enable_nested_tensor: where PyTorch would run a padded batch as nested tensors
            (inference with ``batch_first`` layers and a left-aligned ``src_key_padding_mask``,
            no gradient), the outputs at padded positions are zeros (before ``norm``) as in
            PyTorch; the batch is still computed densely. Default: True
        mask_check: check that ``src_key_padding_mask`` is left-aligned before taking that
            path. Default: ``True``

    Shape:
        - src, mask, src_key_padding_mask, output: as for :class:`TransformerEncoderLayer`

    Examples::

        >>> layer = nn.TransformerEncoderLayer(d_model=32, nhead=4)
        >>> encoder = nn.TransformerEncoder(layer, num_layers=2)
        >>> encoder(disttorch.randn(10, 8, 32)).shape
        disttorch.Size([10, 8, 32])
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check
        why_not = _why_no_nested_tensor(encoder_layer)
        if enable_nested_tensor and why_not:
            warnings.warn(f"enable_nested_tensor is True, but self.use_nested_tensor is False "
                          f"because {why_not}", stacklevel=2)
            self.use_nested_tensor = False

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        src_key_padding_mask, mask = check_mask_types(src_key_padding_mask, mask, src.dtype,
                                                      "src_key_padding_mask", "mask")
        is_causal = _detect_is_causal_mask(mask, is_causal)
        padded = self._nested_padding(src, mask, src_key_padding_mask)
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, is_causal=is_causal,
                           src_key_padding_mask=src_key_padding_mask)
        if padded is not None:
            output = output.masked_fill(padded.unsqueeze(-1), 0.0)
        return output if self.norm is None else self.norm(output)

    def _nested_padding(self, src, mask, key_padding_mask):
        """The ``(N, S)`` padded positions when PyTorch would run this batch as nested tensors
        (and so return zeros there), else None: the conditions of its sparsity fast path."""
        if (not backends.mha.get_fastpath_enabled()
                or not getattr(self, "use_nested_tensor", False) or self.layers[0].training
                or src.dim() != 3 or key_padding_mask is None or mask is not None
                or is_autocast_enabled(src.device.type)):
            return None
        first = self.layers[0]
        if is_grad_enabled() and (src.requires_grad or any(
                p is not None and p.requires_grad for p in (
                    first.self_attn.in_proj_weight, first.self_attn.in_proj_bias,
                    first.self_attn.out_proj.weight, first.self_attn.out_proj.bias,
                    first.norm1.weight, first.norm1.bias, first.norm2.weight, first.norm2.bias,
                    first.linear1.weight, first.linear1.bias, first.linear2.weight,
                    first.linear2.bias))):
            return None
        padded = (key_padding_mask if key_padding_mask.dtype == _dtype.bool
                  else key_padding_mask != 0)
        if getattr(self, "mask_check", True):
            # left-aligned: every row is kept positions, then padding
            pad = to_numpy(padded).astype(bool)
            if pad.ndim != 2 or (pad[:, :-1] & ~pad[:, 1:]).any():
                return None
        return padded


class TransformerDecoder(Module):
    r"""A stack of ``num_layers`` copies of ``decoder_layer``, then ``norm`` if given.

    Args:
        decoder_layer: a :class:`TransformerDecoderLayer` (deep-copied ``num_layers`` times)
        num_layers: the number of layers
        norm: an optional final layer norm

    Shape:
        - tgt, memory, masks, output: as for :class:`TransformerDecoderLayer`

    Examples::

        >>> layer = nn.TransformerDecoderLayer(d_model=32, nhead=4)
        >>> decoder = nn.TransformerDecoder(layer, num_layers=2)
        >>> decoder(disttorch.randn(20, 8, 32), disttorch.randn(10, 8, 32)).shape
        disttorch.Size([20, 8, 32])
    """

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal)
        output = tgt
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask,
                           tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return output if self.norm is None else self.norm(output)


class Transformer(Module):
    r"""An encoder-decoder Transformer ("Attention Is All You Need", Vaswani et al., 2017).

    Args:
        d_model: the number of expected features in the inputs. Default: 512
        nhead: the number of heads in the multi-head attentions. Default: 8
        num_encoder_layers: the number of encoder layers. Default: 6
        num_decoder_layers: the number of decoder layers. Default: 6
        dim_feedforward: the dimension of the feedforward networks. Default: 2048
        dropout: the dropout value. Default: 0.1
        activation: ``"relu"``, ``"gelu"`` or a unary callable. Default: relu
        custom_encoder, custom_decoder: modules used instead of the default stacks
        layer_norm_eps: the eps of the layer norms. Default: 1e-5
        batch_first: inputs and outputs are ``(batch, seq, feature)``. Default: ``False``
        norm_first: apply the layer norms before each block. Default: ``False``
        bias: use biases in the linear layers and layer norms. Default: ``True``

    Shape:
        - src: :math:`(S, N, E)`; tgt: :math:`(T, N, E)` (batch-major with ``batch_first``,
          or unbatched :math:`(S, E)`, :math:`(T, E)`)
        - src_mask :math:`(S, S)`, tgt_mask :math:`(T, T)`, memory_mask :math:`(T, S)`
        - src/tgt/memory_key_padding_mask: :math:`(N, S)`, :math:`(N, T)`, :math:`(N, S)`
        - output: :math:`(T, N, E)`

    Examples::

        >>> model = nn.Transformer(d_model=32, nhead=4, num_encoder_layers=2,
        ...                        num_decoder_layers=2)
        >>> model(disttorch.randn(10, 8, 32), disttorch.randn(20, 8, 32)).shape
        disttorch.Size([20, 8, 32])
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                      batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*layer_args, **factory), num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*layer_args, **factory), num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        batched = src.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if batched and src.shape[batch_dim] != tgt.shape[batch_dim]:
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        r"""The causal mask for a sequence of length ``sz``: a float ``(sz, sz)`` tensor with
        ``-inf`` above the diagonal and ``0.0`` elsewhere."""
        return _generate_square_subsequent_mask(sz, device, dtype)

    def _reset_parameters(self):
        for p in self.parameters():
            if p.dim() > 1:
                init.xavier_uniform_(p)
