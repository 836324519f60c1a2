"""Convolution layers: ``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d``, and the im2col layers
``Unfold`` and ``Fold``."""
import math

from ...ops.creation import empty
from .. import init
from ..functional import _conv as F
from ..functional._misc import pad
from ..functional._windows import ntuple
from ..parameter import Parameter
from .module import Module

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
           "Unfold", "Fold"]

_PADDING_MODES = ["zeros", "reflect", "replicate", "circular"]


class _ConvNd(Module):
    _dims = 0

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 transposed, output_padding, groups, bias, padding_mode, device=None,
                 dtype=None):
        super().__init__()
        d = self._dims
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        kernel_size = ntuple(kernel_size, d, "kernel_size")
        stride = ntuple(stride, d, "stride")
        dilation = ntuple(dilation, d, "dilation")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 "{'valid', 'same'}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        else:
            padding = ntuple(padding, d, "padding")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {_PADDING_MODES}, but got "
                             f"padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = ntuple(output_padding, d, "output_padding")
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad's argument (last dimension first) for the non-zero padding modes
        if padding == "same":
            amounts = []
            for k, dl in zip(reversed(kernel_size), reversed(dilation)):
                total = dl * (k - 1)
                amounts += [total // 2, total - total // 2]
        elif padding == "valid":
            amounts = [0, 0] * d
        else:
            amounts = [p for p in reversed(padding) for _ in range(2)]
        self._reversed_padding_repeated_twice = tuple(amounts)
        shape = ((in_channels, out_channels // groups) if transposed else
                 (out_channels, in_channels // groups)) + kernel_size
        self.weight = Parameter(empty(shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # kaiming_uniform with a=sqrt(5) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as PyTorch
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    _function = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, False,
                         0, groups, bias, padding_mode, device, dtype)

    def _conv_forward(self, input, weight, bias):
        conv = type(self)._function
        if self.padding_mode != "zeros":
            padded = pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """Applies a 1D convolution over an input signal composed of several input planes.

    Args:
        in_channels: number of channels in the input
        out_channels: number of channels produced by the convolution
        kernel_size: size of the convolving kernel
        stride: stride of the convolution. Default: 1
        padding: padding added to both sides of the input: an int, a tuple, ``'valid'`` or
            ``'same'``. Default: 0
        dilation: spacing between kernel elements. Default: 1
        groups: number of blocked connections from input to output channels. Default: 1
        bias: if ``True``, adds a learnable bias to the output. Default: ``True``
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
            Default: ``'zeros'``

    Shape:
        - Input: :math:`(N, C_{in}, L_{in})` or :math:`(C_{in}, L_{in})`
        - Output: :math:`(N, C_{out}, L_{out})` or :math:`(C_{out}, L_{out})`

    Attributes:
        weight: :math:`(C_{out}, C_{in} / groups, k)`, from :math:`\\mathcal{U}(-\\sqrt{k'},
            \\sqrt{k'})`, :math:`k' = groups / (C_{in} k)`
        bias: :math:`(C_{out})`, initialised the same way
    """

    _dims = 1
    _function = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """Applies a 2D convolution over an input signal composed of several input planes.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
        padding_mode: as in :class:`Conv1d`, each size an int or a pair

    Shape:
        - Input: :math:`(N, C_{in}, H_{in}, W_{in})` or :math:`(C_{in}, H_{in}, W_{in})`
        - Output: :math:`(N, C_{out}, H_{out}, W_{out})`, each
          :math:`\\lfloor (S + 2 p - d (k - 1) - 1) / s + 1 \\rfloor`

    Attributes:
        weight: :math:`(C_{out}, C_{in} / groups, kH, kW)`
        bias: :math:`(C_{out})`
    """

    _dims = 2
    _function = staticmethod(F.conv2d)


class Conv3d(_Conv):
    """Applies a 3D convolution over an input signal composed of several input planes.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
        padding_mode: as in :class:`Conv1d`, each size an int or a triple

    Shape:
        - Input: :math:`(N, C_{in}, D, H, W)` or :math:`(C_{in}, D, H, W)`
        - Output: :math:`(N, C_{out}, D_{out}, H_{out}, W_{out})`
    """

    _dims = 3
    _function = staticmethod(F.conv3d)


class _ConvTranspose(_ConvNd):
    _function = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, True,
                         output_padding, groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size):
        if output_size is None:
            return self.output_padding
        d = self._dims
        non_spatial = 2 if input.ndim == d + 2 else 1
        output_size = list(output_size)
        if len(output_size) == non_spatial + d:
            output_size = output_size[non_spatial:]
        if len(output_size) != d:
            raise ValueError(f"ConvTranspose{d}D: for {input.ndim}D input, output_size must have "
                             f"{d} or {non_spatial + d} elements (got {len(output_size)})")
        spatial = input.shape[non_spatial:]
        min_sizes = [(s - 1) * st - 2 * p + dl * (k - 1) + 1 for s, st, p, dl, k in
                     zip(spatial, self.stride, self.padding, self.dilation, self.kernel_size)]
        max_sizes = [m + st - 1 for m, st in zip(min_sizes, self.stride)]
        for size, lo, hi in zip(output_size, min_sizes, max_sizes):
            if not lo <= size <= hi:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes "
                                 f"range from {min_sizes} to {max_sizes} (for an input of "
                                 f"{list(spatial)})")
        return tuple(int(size) - lo for size, lo in zip(output_size, min_sizes))

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return type(self)._function(input, self.weight, self.bias, self.stride, self.padding,
                                    output_padding, self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """Applies a 1D transposed convolution operator over an input signal.

    The gradient of :class:`Conv1d` with respect to its input ("deconvolution").

    Args:
        in_channels: number of channels in the input
        out_channels: number of channels produced by the convolution
        kernel_size: size of the convolving kernel
        stride: stride of the convolution. Default: 1
        padding: ``dilation * (kernel_size - 1) - padding`` zero-padding is added to both sides
            of the input. Default: 0
        output_padding: additional size added to one side of the output. Default: 0
        groups: number of blocked connections from input to output channels. Default: 1
        bias: if ``True``, adds a learnable bias to the output. Default: ``True``
        dilation: spacing between kernel elements. Default: 1

    Shape:
        - Input: :math:`(N, C_{in}, L_{in})` or :math:`(C_{in}, L_{in})`
        - Output: :math:`(N, C_{out}, L_{out})`,
          :math:`L_{out} = (L_{in} - 1) s - 2 p + d (k - 1) + output\\_padding + 1`

    Attributes:
        weight: :math:`(C_{in}, C_{out} / groups, k)`
        bias: :math:`(C_{out})`
    """

    _dims = 1
    _function = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """Applies a 2D transposed convolution operator over an input image.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, output_padding, groups,
        bias, dilation: as in :class:`ConvTranspose1d`, each size an int or a pair

    Shape:
        - Input: :math:`(N, C_{in}, H_{in}, W_{in})` or :math:`(C_{in}, H_{in}, W_{in})`
        - Output: :math:`(N, C_{out}, H_{out}, W_{out})`; ``forward(input, output_size)``
          picks the output padding that gives ``output_size``
    """

    _dims = 2
    _function = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTranspose):
    """Applies a 3D transposed convolution operator over an input volume; arguments as in
    :class:`ConvTranspose1d`, each size an int or a triple.

    Shape:
        - Input: :math:`(N, C_{in}, D, H, W)`; Output: :math:`(N, C_{out}, D_{out}, H_{out}, W_{out})`
    """

    _dims = 3
    _function = staticmethod(F.conv_transpose3d)


class Unfold(Module):
    """Extracts sliding local blocks from a batched input tensor (im2col).

    Args:
        kernel_size: the size of the sliding blocks
        dilation: the stride of elements within a block. Default: 1
        padding: implicit zero padding on both sides of the input. Default: 0
        stride: the stride of the blocks. Default: 1

    Shape:
        - Input: :math:`(N, C, H, W)` or :math:`(C, H, W)`
        - Output: :math:`(N, C \\times \\prod(kernel\\_size), L)`, :math:`L` the number of blocks
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input):
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Combines an array of sliding local blocks into a large containing tensor (col2im);
    overlapping values are summed.

    Args:
        output_size: the spatial shape ``(H, W)`` of the output
        kernel_size, dilation, padding, stride: as in :class:`Unfold`

    Shape:
        - Input: :math:`(N, C \\times \\prod(kernel\\_size), L)` or unbatched
        - Output: :math:`(N, C, H, W)`
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input):
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")
