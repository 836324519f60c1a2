"""``PixelShuffle``, ``PixelUnshuffle`` and ``ChannelShuffle``."""
from ..functional import _upsample as F
from .module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle", "ChannelShuffle"]


class PixelShuffle(Module):
    """Rearranges :math:`(*, C r^2, H, W)` into :math:`(*, C, H r, W r)` (sub-pixel
    convolution).

    Args:
        upscale_factor: the factor :math:`r` to increase the spatial resolution by

    Shape:
        - Input: :math:`(*, C_{in}, H_{in}, W_{in})`, :math:`C_{in} = C r^2`
        - Output: :math:`(*, C, H_{in} r, W_{in} r)`
    """

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """Reverses :class:`PixelShuffle`: :math:`(*, C, H r, W r)` into :math:`(*, C r^2, H, W)`.

    Args:
        downscale_factor: the factor :math:`r` to decrease the spatial resolution by

    Shape:
        - Input: :math:`(*, C, H_{in}, W_{in})` with sizes divisible by :math:`r`
        - Output: :math:`(*, C r^2, H_{in} / r, W_{in} / r)`
    """

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """Divides the channels into ``groups`` groups and interleaves them (ShuffleNet).

    Args:
        groups: number of groups to divide the channels into

    Shape:
        - Input: :math:`(N, C, *)` with :math:`C` divisible by ``groups``
        - Output: same shape as the input
    """

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, input):
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"
