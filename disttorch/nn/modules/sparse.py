"""``Embedding`` and ``EmbeddingBag``."""
from ...autograd import grad_mode
from ...ops.creation import empty
from .. import init
from ..functional import _sparse as F
from ..parameter import Parameter
from .module import Module

__all__ = ["Embedding", "EmbeddingBag"]


def _make_weight(num_embeddings, embedding_dim, _weight, device, dtype):
    if _weight is None:
        return Parameter(empty((num_embeddings, embedding_dim), device=device, dtype=dtype)), True
    if list(_weight.shape) != [num_embeddings, embedding_dim]:
        raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
    return Parameter(_weight), False


class Embedding(Module):
    r"""A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``.

    Args:
        num_embeddings (int): size of the dictionary of embeddings.
        embedding_dim (int): the size of each embedding vector.
        padding_idx (int, optional): this entry gets no gradient (and starts at zero).
        max_norm (float, optional): embeddings looked up with a larger norm are renormalised
            in place to norm ``max_norm``.
        norm_type (float, optional): the p of the p-norm for ``max_norm``. Default: ``2``.
        scale_grad_by_freq (bool, optional): scale gradients by the inverse frequency of the
            words in the mini-batch. Default: ``False``.
        sparse (bool, optional): accepted; the gradient is always dense in disttorch.

    Attributes:
        weight (Tensor): :math:`(\text{num\_embeddings}, \text{embedding\_dim})`, initialised
            from :math:`\mathcal{N}(0, 1)`.

    Shape:
        - Input: :math:`(*)`, IntTensor or LongTensor. Output: :math:`(*, H)`.

    Examples::

        >>> embedding = nn.Embedding(10, 3)
        >>> embedding(disttorch.tensor([[1, 2, 4, 5], [4, 3, 2, 9]])).shape
        disttorch.Size([2, 4, 3])
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = F._padding_index(padding_idx, num_embeddings)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.weight, fresh = _make_weight(num_embeddings, embedding_dim, _weight, device, dtype)
        self.weight.requires_grad_(not _freeze)
        if fresh:
            self.reset_parameters()
        self.sparse = sparse

    def reset_parameters(self):
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self):
        if self.padding_idx is not None:
            with grad_mode.no_grad():
                self.weight._data[self.padding_idx] = 0
                self.weight._vc[0] += 1

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        s = "{num_embeddings}, {embedding_dim}"
        if self.padding_idx is not None:
            s += ", padding_idx={padding_idx}"
        if self.max_norm is not None:
            s += ", max_norm={max_norm}"
        if self.norm_type != 2:
            s += ", norm_type={norm_type}"
        if self.scale_grad_by_freq is not False:
            s += ", scale_grad_by_freq={scale_grad_by_freq}"
        if self.sparse is not False:
            s += ", sparse=True"
        return s.format(**self.__dict__)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        """An Embedding whose weight is ``embeddings`` (trainable unless ``freeze``)."""
        if embeddings.ndim != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        return cls(rows, cols, _weight=embeddings, _freeze=freeze, padding_idx=padding_idx,
                   max_norm=max_norm, norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq,
                   sparse=sparse)


class EmbeddingBag(Module):
    r"""Sums or means of bags of embeddings, without the intermediate per-index rows.

    Args:
        num_embeddings (int): size of the dictionary of embeddings.
        embedding_dim (int): the size of each embedding vector.
        max_norm (float, optional): renormalise looked-up rows to at most this norm.
        norm_type (float, optional): the p of the p-norm for ``max_norm``. Default: ``2``.
        mode (str, optional): ``"sum"``, ``"mean"`` or ``"max"``. Default: ``"mean"``.
        include_last_offset (bool, optional): ``offsets`` has one extra entry.
        padding_idx (int, optional): entries equal to it are left out of the bags.

    Shape:
        - ``input`` :math:`(B, N)` with ``offsets`` None, or 1-D with 1-D ``offsets``.
        - Output: :math:`(B, \text{embedding\_dim})`.

    Examples::

        >>> bag = nn.EmbeddingBag(10, 3, mode="sum")
        >>> bag(disttorch.tensor([1, 2, 4, 5, 4, 3, 2, 9]), disttorch.tensor([0, 4])).shape
        disttorch.Size([2, 3])
    """

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, mode="mean", sparse=False, _weight=None,
                 include_last_offset=False, padding_idx=None, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.padding_idx = F._padding_index(padding_idx, num_embeddings)
        self.weight, fresh = _make_weight(num_embeddings, embedding_dim, _weight, device, dtype)
        self.mode = mode
        self.sparse = sparse
        self.include_last_offset = include_last_offset
        if fresh:
            self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with grad_mode.no_grad():
                self.weight._data[self.padding_idx] = 0
                self.weight._vc[0] += 1

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                               self.scale_grad_by_freq, self.mode, self.sparse,
                               per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self):
        s = "{num_embeddings}, {embedding_dim}"
        if self.max_norm is not None:
            s += ", max_norm={max_norm}"
        if self.norm_type != 2:
            s += ", norm_type={norm_type}"
        if self.scale_grad_by_freq is not False:
            s += ", scale_grad_by_freq={scale_grad_by_freq}"
        s += ", mode={mode}"
        if self.padding_idx is not None:
            s += ", padding_idx={padding_idx}"
        return s.format(**{k: repr(v) if k == "mode" else v for k, v in self.__dict__.items()})
