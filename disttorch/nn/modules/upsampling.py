"""Upsampling layers: ``Upsample``, ``UpsamplingNearest2d``, ``UpsamplingBilinear2d``."""
from ..functional import _upsample as F
from .module import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]


class Upsample(Module):
    """Upsamples a 1D (temporal), 2D (spatial) or 3D (volumetric) input.

    Args:
        size: the output spatial size (an int or a tuple)
        scale_factor: multiplier for the spatial size (a float or a tuple)
        mode: ``'nearest'``, ``'nearest-exact'``, ``'linear'``, ``'bilinear'``,
            ``'bicubic'``, ``'trilinear'`` or ``'area'``. Default: ``'nearest'``
        align_corners: for the interpolating modes, align the corner pixels' centres.
            Default: ``None`` (``False``)
        recompute_scale_factor: compute the sampling ratio from the output size

    Shape:
        - Input: :math:`(N, C, W_{in})`, :math:`(N, C, H_{in}, W_{in})` or
          :math:`(N, C, D_{in}, H_{in}, W_{in})`
        - Output: the same with each spatial size ``size`` or
          :math:`\\lfloor S \\times scale\\_factor \\rfloor`
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Applies a 2D nearest neighbour upsampling (deprecated in PyTorch for
    :func:`~disttorch.nn.functional.interpolate`).

    Args:
        size: the output size ``(H, W)``
        scale_factor: multiplier for the spatial size

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})`
        - Output: :math:`(N, C, H_{out}, W_{out})`
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Applies a 2D bilinear upsampling with ``align_corners=True`` (deprecated in PyTorch
    for :func:`~disttorch.nn.functional.interpolate`).

    Args:
        size: the output size ``(H, W)``
        scale_factor: multiplier for the spatial size

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})`
        - Output: :math:`(N, C, H_{out}, W_{out})`
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
