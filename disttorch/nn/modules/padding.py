"""Padding layers: constant (and zero), reflection, replication and circular, 1d to 3d."""
from ..functional._misc import pad
from ..functional._windows import ntuple
from .module import Module

__all__ = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d",
           "ZeroPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
           "CircularPad2d", "CircularPad3d"]


class _PadNd(Module):
    _mode = "constant"
    _dims = 0

    def __init__(self, padding):
        super().__init__()
        self.padding = ntuple(padding, 2 * self._dims, "padding")

    def forward(self, input):
        return pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dimension with a constant value.

    Args:
        padding: an int for both sides, or ``(left, right)``
        value: the fill value

    Shape:
        - Input: :math:`(C, W_{in})` or :math:`(N, C, W_{in})`
        - Output: :math:`W_{out} = W_{in} + left + right`
    """

    _dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two dimensions with a constant value.

    Args:
        padding: an int for all sides, or ``(left, right, top, bottom)``
        value: the fill value

    Shape:
        - Input: :math:`(C, H_{in}, W_{in})` or :math:`(N, C, H_{in}, W_{in})`
        - Output: :math:`H_{out} = H_{in} + top + bottom`, :math:`W_{out} = W_{in} + left + right`
    """

    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last three dimensions with a constant value; ``padding`` an int or
    ``(left, right, top, bottom, front, back)``."""

    _dims = 3


class ZeroPad1d(ConstantPad1d):
    """Pads the last dimension with zeros; ``padding`` an int or ``(left, right)``."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pads the last two dimensions with zeros.

    Args:
        padding: an int for all sides, or ``(left, right, top, bottom)``

    Shape:
        - Input: :math:`(C, H_{in}, W_{in})` or :math:`(N, C, H_{in}, W_{in})`
        - Output: :math:`H_{out} = H_{in} + top + bottom`, :math:`W_{out} = W_{in} + left + right`
    """

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Pads the last three dimensions with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Pads the last dimension with the reflection of the input (the edge not repeated).

    Args:
        padding: an int for both sides, or ``(left, right)``, each smaller than the input

    Shape:
        - Input: :math:`(C, W_{in})` or :math:`(N, C, W_{in})`
        - Output: :math:`W_{out} = W_{in} + left + right`
    """

    _mode = "reflect"
    _dims = 1


class ReflectionPad2d(_PadNd):
    """Pads the last two dimensions with the reflection of the input.

    Args:
        padding: an int for all sides, or ``(left, right, top, bottom)``

    Shape:
        - Input: :math:`(C, H_{in}, W_{in})` or :math:`(N, C, H_{in}, W_{in})`
        - Output: :math:`H_{out} = H_{in} + top + bottom`, :math:`W_{out} = W_{in} + left + right`
    """

    _mode = "reflect"
    _dims = 2


class ReflectionPad3d(_PadNd):
    """Pads the last three dimensions with the reflection of the input."""

    _mode = "reflect"
    _dims = 3


class ReplicationPad1d(_PadNd):
    """Pads the last dimension by repeating the edge value.

    Args:
        padding: an int for both sides, or ``(left, right)``

    Shape:
        - Input: :math:`(C, W_{in})` or :math:`(N, C, W_{in})`
        - Output: :math:`W_{out} = W_{in} + left + right`
    """

    _mode = "replicate"
    _dims = 1


class ReplicationPad2d(_PadNd):
    """Pads the last two dimensions by repeating the edge values.

    Args:
        padding: an int for all sides, or ``(left, right, top, bottom)``

    Shape:
        - Input: :math:`(C, H_{in}, W_{in})` or :math:`(N, C, H_{in}, W_{in})`
        - Output: :math:`H_{out} = H_{in} + top + bottom`, :math:`W_{out} = W_{in} + left + right`
    """

    _mode = "replicate"
    _dims = 2


class ReplicationPad3d(_PadNd):
    """Pads the last three dimensions by repeating the edge values."""

    _mode = "replicate"
    _dims = 3


class CircularPad1d(_PadNd):
    """Pads the last dimension circularly (wrapping around).

    Args:
        padding: an int for both sides, or ``(left, right)``

    Shape:
        - Input: :math:`(C, W_{in})` or :math:`(N, C, W_{in})`
        - Output: :math:`W_{out} = W_{in} + left + right`
    """

    _mode = "circular"
    _dims = 1


class CircularPad2d(_PadNd):
    """Pads the last two dimensions circularly; ``padding`` an int or
    ``(left, right, top, bottom)``."""

    _mode = "circular"
    _dims = 2


class CircularPad3d(_PadNd):
    """Pads the last three dimensions circularly."""

    _mode = "circular"
    _dims = 3
