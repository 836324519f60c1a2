"""``CosineSimilarity`` and ``PairwiseDistance``."""
from ..functional import _misc as F
from .module import Module

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    r"""Cosine similarity between ``x1`` and ``x2`` along ``dim``:
    :math:`\frac{x_1 \cdot x_2}{\max(\Vert x_1 \Vert_2, \epsilon) \max(\Vert x_2 \Vert_2, \epsilon)}`.

    Args:
        dim (int, optional): dimension where cosine similarity is computed. Default: 1
        eps (float, optional): small value to avoid division by zero. Default: 1e-8

    Shape:
        - Input1: :math:`(\ast_1, D, \ast_2)`; Input2: broadcastable to Input1.
        - Output: :math:`(\ast_1, \ast_2)`.

    Examples::

        >>> cos = nn.CosineSimilarity(dim=1, eps=1e-6)
        >>> cos(disttorch.randn(100, 128), disttorch.randn(100, 128)).shape
        disttorch.Size([100])
    """

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    r"""The p-norm distance between rows: :math:`\Vert x_1 - x_2 + \epsilon \Vert_p`.

    Args:
        p (real, optional): the norm degree; can be negative. Default: 2
        eps (float, optional): small value to avoid division by zero. Default: 1e-6
        keepdim (bool, optional): keep the vector dimension. Default: False

    Shape:
        - Input1: :math:`(N, D)` or :math:`(D)`; Input2: same shape as Input1.
        - Output: :math:`(N)` or :math:`()` (with a trailing 1 when ``keepdim``).

    Examples::

        >>> pdist = nn.PairwiseDistance(p=2)
        >>> pdist(disttorch.randn(100, 128), disttorch.randn(100, 128)).shape
        disttorch.Size([100])
    """

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
