"""Pooling layers: max, average, adaptive, power-average and max unpooling."""
from ..functional import _pool as F
from ..functional._windows import ntuple
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
           "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d",
           "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "FractionalMaxPool2d",
           "FractionalMaxPool3d"]


class _MaxPoolNd(Module):
    _function = None

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return type(self)._function(input, self.kernel_size, self.stride, self.padding,
                                    self.dilation, ceil_mode=self.ceil_mode,
                                    return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Applies a 1D max pooling over an input signal composed of several input planes.

    Args:
        kernel_size: the size of the sliding window
        stride: the stride of the window. Default: ``kernel_size``
        padding: implicit negative-infinity padding on both sides. Default: 0
        dilation: the spacing between elements of the window. Default: 1
        return_indices: also return the argmax indices (for :class:`MaxUnpool1d`)
        ceil_mode: use ``ceil`` instead of ``floor`` for the output length

    Shape:
        - Input: :math:`(N, C, L_{in})` or :math:`(C, L_{in})`
        - Output: :math:`(N, C, L_{out})`,
          :math:`L_{out} = \\lfloor (L_{in} + 2p - d (k - 1) - 1) / s + 1 \\rfloor`
    """

    _function = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """Applies a 2D max pooling over an input signal composed of several input planes.

    Args:
        kernel_size, stride, padding, dilation: ints or pairs, as in :class:`MaxPool1d`
        return_indices: also return the argmax indices (for :class:`MaxUnpool2d`)
        ceil_mode: use ``ceil`` instead of ``floor`` for the output shape

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})` or :math:`(C, H_{in}, W_{in})`
        - Output: :math:`(N, C, H_{out}, W_{out})`
    """

    _function = staticmethod(F.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """Applies a 3D max pooling; arguments as in :class:`MaxPool2d` with triples.

    Shape:
        - Input: :math:`(N, C, D, H, W)`; Output: :math:`(N, C, D_{out}, H_{out}, W_{out})`
    """

    _function = staticmethod(F.max_pool3d)


class AvgPool1d(Module):
    """Applies a 1D average pooling over an input signal composed of several input planes.

    Args:
        kernel_size: the size of the window
        stride: the stride of the window. Default: ``kernel_size``
        padding: implicit zero padding on both sides. Default: 0
        ceil_mode: use ``ceil`` instead of ``floor`` for the output length
        count_include_pad: include the zero-padding in the averaging count. Default: ``True``

    Shape:
        - Input: :math:`(N, C, L_{in})` or :math:`(C, L_{in})`
        - Output: :math:`(N, C, L_{out})`
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = ntuple(kernel_size, 1)
        self.stride = ntuple(stride if stride is not None else kernel_size, 1)
        self.padding = ntuple(padding, 1)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPoolNd(Module):
    _function = None

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return type(self)._function(input, self.kernel_size, self.stride, self.padding,
                                    self.ceil_mode, self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """Applies a 2D average pooling over an input signal composed of several input planes.

    Args:
        kernel_size, stride, padding: ints or pairs, as in :class:`AvgPool1d`
        ceil_mode: use ``ceil`` instead of ``floor`` for the output shape
        count_include_pad: include the zero-padding in the averaging count. Default: ``True``
        divisor_override: if given, the divisor of every window

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})` or :math:`(C, H_{in}, W_{in})`
        - Output: :math:`(N, C, H_{out}, W_{out})`
    """

    _function = staticmethod(F.avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    """Applies a 3D average pooling; arguments as in :class:`AvgPool2d` with triples.

    Shape:
        - Input: :math:`(N, C, D, H, W)`; Output: :math:`(N, C, D_{out}, H_{out}, W_{out})`
    """

    _function = staticmethod(F.avg_pool3d)


class _AdaptiveAvgPoolNd(Module):
    _function = None

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return type(self)._function(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Applies a 1D adaptive average pooling over an input signal.

    Args:
        output_size: the target output length

    Shape:
        - Input: :math:`(N, C, L_{in})` or :math:`(C, L_{in})`
        - Output: :math:`(N, C, output\\_size)`
    """

    _function = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Applies a 2D adaptive average pooling over an input signal.

    Args:
        output_size: the target size ``(H, W)``, an int for a square; ``None`` keeps a size

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})` or :math:`(C, H_{in}, W_{in})`
        - Output: :math:`(N, C, H, W)`
    """

    _function = staticmethod(F.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Applies a 3D adaptive average pooling; ``output_size`` a triple or an int."""

    _function = staticmethod(F.adaptive_avg_pool3d)


class _AdaptiveMaxPoolNd(Module):
    _function = None

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input):
        return type(self)._function(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Applies a 1D adaptive max pooling over an input signal.

    Args:
        output_size: the target output length
        return_indices: also return the argmax indices. Default: ``False``

    Shape:
        - Input: :math:`(N, C, L_{in})` or :math:`(C, L_{in})`
        - Output: :math:`(N, C, output\\_size)`
    """

    _function = staticmethod(F.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Applies a 2D adaptive max pooling over an input signal.

    Args:
        output_size: the target size ``(H, W)``, an int for a square; ``None`` keeps a size
        return_indices: also return the argmax indices. Default: ``False``

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})` or :math:`(C, H_{in}, W_{in})`
        - Output: :math:`(N, C, H, W)`
    """

    _function = staticmethod(F.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Applies a 3D adaptive max pooling; ``output_size`` a triple or an int."""

    _function = staticmethod(F.adaptive_max_pool3d)


class _LPPoolNd(Module):
    _function = None

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return type(self)._function(input, float(self.norm_type), self.kernel_size, self.stride,
                                    self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """Applies a 1D power-average pooling :math:`f(X) = (\\sum_{x \\in X} x^p)^{1/p}`.

    Args:
        norm_type: the power :math:`p`
        kernel_size: the size of the window
        stride: the stride of the window. Default: ``kernel_size``
        ceil_mode: use ``ceil`` instead of ``floor`` for the output length

    Shape:
        - Input: :math:`(N, C, L_{in})` or :math:`(C, L_{in})`
        - Output: :math:`(N, C, L_{out})`
    """

    _function = staticmethod(F.lp_pool1d)


class LPPool2d(_LPPoolNd):
    """Applies a 2D power-average pooling; arguments as in :class:`LPPool1d` with pairs.

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})`; Output: :math:`(N, C, H_{out}, W_{out})`
    """

    _function = staticmethod(F.lp_pool2d)


class LPPool3d(_LPPoolNd):
    """Applies a 3D power-average pooling; arguments as in :class:`LPPool1d` with triples.

    Shape:
        - Input: :math:`(N, C, D, H, W)`; Output: :math:`(N, C, D_{out}, H_{out}, W_{out})`
    """

    _function = staticmethod(F.lp_pool3d)


class _MaxUnpoolNd(Module):
    _function = None
    _dims = 0

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        d = self._dims
        self.kernel_size = ntuple(kernel_size, d)
        self.stride = ntuple(stride if stride is not None else kernel_size, d)
        self.padding = ntuple(padding, d)

    def forward(self, input, indices, output_size=None):
        return type(self)._function(input, indices, self.kernel_size, self.stride, self.padding,
                                    output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Computes a partial inverse of :class:`MaxPool1d`: the maxima go back to their
    indices, every other position is zero.

    Args:
        kernel_size, stride, padding: those of the pooling. ``stride`` defaults to the kernel

    Shape:
        - Input: :math:`(N, C, L_{in})`, with ``indices`` of the same shape
        - Output: :math:`(N, C, L_{out})`, :math:`L_{out} = (L_{in} - 1) s - 2p + k` or
          ``output_size`` given to ``forward``
    """

    _function = staticmethod(F.max_unpool1d)
    _dims = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """Computes a partial inverse of :class:`MaxPool2d`; arguments as in
    :class:`MaxUnpool1d` with pairs.

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})`; Output: :math:`(N, C, H_{out}, W_{out})`
    """

    _function = staticmethod(F.max_unpool2d)
    _dims = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """Computes a partial inverse of :class:`MaxPool3d`; arguments as in
    :class:`MaxUnpool1d` with triples."""

    _function = staticmethod(F.max_unpool3d)
    _dims = 3


def _ratio_tuple(value, n):
    return tuple(float(v) for v in (value if isinstance(value, (tuple, list)) else (value,) * n))


class _FractionalMaxPoolNd(Module):
    _function = None
    _dims = 0

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        d = self._dims
        self.kernel_size = ntuple(kernel_size, d)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = ntuple(output_size, d) if output_size is not None else None
        self.output_ratio = _ratio_tuple(output_ratio, d) if output_ratio is not None else None
        if output_size is None and output_ratio is None:
            raise ValueError(f"{type(self).__name__} requires specifying either an output size, "
                             f"or a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):
        return type(self)._function(input, self.kernel_size, self.output_size, self.output_ratio,
                                    self.return_indices, _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """Applies 2D fractional max pooling: ``kernel_size`` windows at pseudo-random offsets,
    drawn per plane, so that the output has ``output_size`` or ``output_ratio`` of the input.

    Args:
        kernel_size: the size of the window
        output_size: the target output size ``(oH, oW)``
        output_ratio: the output size as a fraction of the input size, in (0, 1)
        return_indices: also return the flat indices of the maxima. Default: ``False``

    Shape:
        - Input: :math:`(N, C, H_{in}, W_{in})` or :math:`(C, H_{in}, W_{in})`
        - Output: :math:`(N, C, oH, oW)`
    """

    _function = staticmethod(F.fractional_max_pool2d)
    _dims = 2


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """Applies 3D fractional max pooling; arguments as in :class:`FractionalMaxPool2d` with
    triples.

    Shape:
        - Input: :math:`(N, C, T, H, W)`; Output: :math:`(N, C, oT, oH, oW)`
    """

    _function = staticmethod(F.fractional_max_pool3d)
    _dims = 3
