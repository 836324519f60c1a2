"""``Flatten`` and ``Unflatten``."""
from .module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    r"""Flatten a contiguous range of dims into one.

    Args:
        start_dim: first dim to flatten (default = 1).
        end_dim: last dim to flatten (default = -1).

    Shape:
        - Input: :math:`(*, S_{\text{start}},..., S_{i}, ..., S_{\text{end}}, *)`.
        - Output: :math:`(*, \prod_{i=\text{start}}^{\text{end}} S_{i}, *)`.

    Examples::

        >>> nn.Flatten()(disttorch.randn(32, 1, 5, 5)).shape
        disttorch.Size([32, 25])
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    r"""Expand a dim of the input into a shape.

    Args:
        dim: dimension to be unflattened (an int).
        unflattened_size: new shape of the unflattened dimension (a tuple, list or Size).

    Shape:
        - Input: :math:`(*, S_{\text{dim}}, *)`.
        - Output: :math:`(*, U_1, ..., U_n, *)` with :math:`\prod U_i = S_{\text{dim}}`.

    Examples::

        >>> nn.Unflatten(1, (2, 5, 5))(disttorch.randn(2, 50)).shape
        disttorch.Size([2, 2, 5, 5])
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(dim, int):
            raise TypeError(f"invalid argument 'dim': expected int, got {type(dim).__name__}")
        if not isinstance(unflattened_size, (tuple, list)) or \
                not all(isinstance(s, int) for s in unflattened_size):
            raise TypeError("unflattened_size must be tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input):
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
