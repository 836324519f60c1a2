"""Dropout layers: active in training mode, the identity in eval mode."""
from ..functional import _dropout as F
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout"]


class _DropoutNd(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    r"""During training, zero each element with probability ``p`` (drawn from the disttorch
    generator) and scale the output by :math:`\frac{1}{1-p}`; the identity in eval mode.

    Args:
        p: probability of an element to be zeroed. Default: 0.5
        inplace: if set to ``True``, will do this operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.Dropout(p=0.2)
        >>> output = m(disttorch.randn(20, 16))
    """

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    r"""Zero entire channels of a :math:`(N, C, L)` or :math:`(C, L)` input with probability
    ``p`` in training.

    Args:
        p: probability of a channel to be zeroed. Default: 0.5
        inplace: if set to ``True``, will do this operation in-place. Default: ``False``
    """

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    r"""Zero entire channels of a :math:`(N, C, H, W)` or :math:`(C, H, W)` input with
    probability ``p`` in training.

    Args:
        p: probability of a channel to be zeroed. Default: 0.5
        inplace: if set to ``True``, will do this operation in-place. Default: ``False``
    """

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    r"""Zero entire channels of a :math:`(N, C, D, H, W)` or :math:`(C, D, H, W)` input with
    probability ``p`` in training.

    Args:
        p: probability of a channel to be zeroed. Default: 0.5
        inplace: if set to ``True``, will do this operation in-place. Default: ``False``
    """

    def forward(self, input):
        return F.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    r"""Dropout that keeps zero mean and unit variance (for SELU networks) in training.

    Args:
        p: probability of an element to be dropped. Default: 0.5
        inplace: if set to ``True``, will do this operation in-place. Default: ``False``
    """

    def forward(self, input):
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    r""":class:`AlphaDropout` over entire channels.

    Args:
        p: probability of a channel to be dropped. Default: 0.5
        inplace: if set to ``True``, will do this operation in-place. Default: ``False``
    """

    def forward(self, input):
        return F.feature_alpha_dropout(input, self.p, self.training)
