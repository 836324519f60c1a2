"""Activation layers; each ``forward`` calls its ``nn.functional`` form."""
from ...ops.creation import empty
from .. import init
from ..functional import _activation as F
from ..parameter import Parameter
from .module import Module

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid",
           "Tanh", "Softplus", "Softsign", "Hardtanh", "Hardsigmoid", "Hardswish", "LogSigmoid",
           "PReLU", "RReLU", "Threshold", "Softmax", "LogSoftmax", "Softmin", "Softmax2d", "GLU",
           "Tanhshrink", "Softshrink", "Hardshrink"]


class _Inplace(Module):
    """An activation with only an ``inplace`` option."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ReLU(_Inplace):
    r"""Apply :math:`\text{ReLU}(x) = \max(0, x)` elementwise.

    Args:
        inplace: can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.ReLU()
        >>> output = m(disttorch.randn(2))
    """

    def forward(self, input):
        return F.relu(input, inplace=self.inplace)


class SELU(_Inplace):
    r"""Apply :math:`\text{scale} \cdot (\max(0,x) + \min(0, \alpha (e^x - 1)))` elementwise with
    :math:`\alpha = 1.6733` and :math:`\text{scale} = 1.0507`.

    Args:
        inplace: can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.SELU()
        >>> output = m(disttorch.randn(2))
    """

    def forward(self, input):
        return F.selu(input, self.inplace)


class SiLU(_Inplace):
    r"""Apply :math:`x \sigma(x)` elementwise (the swish function).

    Args:
        inplace: can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.SiLU()
        >>> output = m(disttorch.randn(2))
    """

    def forward(self, input):
        return F.silu(input, inplace=self.inplace)


class Mish(_Inplace):
    r"""Apply :math:`x \tanh(\text{softplus}(x))` elementwise.

    Args:
        inplace: can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.Mish()
        >>> output = m(disttorch.randn(2))
    """

    def forward(self, input):
        return F.mish(input, inplace=self.inplace)


class Hardsigmoid(Module):
    r"""Apply :math:`\text{ReLU6}(x + 3) / 6` elementwise.

    Args:
        inplace: can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.Hardsigmoid()
        >>> output = m(disttorch.randn(2))
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.hardsigmoid(input, self.inplace)


class Hardswish(Hardsigmoid):
    r"""Apply :math:`x \cdot \text{ReLU6}(x + 3) / 6` elementwise.

    Args:
        inplace: can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.Hardswish()
        >>> output = m(disttorch.randn(2))
    """

    def forward(self, input):
        return F.hardswish(input, self.inplace)


class Hardtanh(Module):
    r"""Clamp elementwise into ``[min_val, max_val]``.

    Args:
        min_val: minimum value of the linear region range. Default: -1
        max_val: maximum value of the linear region range. Default: 1
        inplace: can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.Hardtanh()
        >>> output = m(disttorch.randn(2))
    """

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if max_val <= min_val:
            raise ValueError("max_val must be greater than min_val")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"min_val={self.min_val}, max_val={self.max_val}{inplace_str}"


class ReLU6(Hardtanh):
    r"""Apply :math:`\min(\max(0, x), 6)` elementwise.

    Args:
        inplace: can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.ReLU6()
        >>> output = m(disttorch.randn(2))
    """

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    r"""Apply :math:`\max(0, x) + \text{negative\_slope} \cdot \min(0, x)` elementwise.

    Args:
        negative_slope: the slope for negative inputs. Default: 1e-2
        inplace: can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.LeakyReLU()
        >>> output = m(disttorch.randn(2))
    """

    def __init__(self, negative_slope=1e-2, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"negative_slope={self.negative_slope}{inplace_str}"


class ELU(Module):
    r"""Apply :math:`x` if :math:`x > 0` else :math:`\alpha (e^x - 1)` elementwise.

    Args:
        alpha: the :math:`\alpha` value. Default: 1.0
        inplace: can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.ELU()
        >>> output = m(disttorch.randn(2))
    """

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"alpha={self.alpha}{inplace_str}"


class CELU(ELU):
    r"""Apply :math:`\max(0,x) + \min(0, \alpha (e^{x/\alpha} - 1))` elementwise.

    Args:
        alpha: the :math:`\alpha` value. Default: 1.0
        inplace: can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.CELU()
        >>> output = m(disttorch.randn(2))
    """

    def forward(self, input):
        return F.celu(input, self.alpha, self.inplace)


class GELU(Module):
    r"""Apply the Gaussian error linear unit :math:`x \Phi(x)` elementwise.

    Args:
        approximate: ``'none'`` (exact, with erf) or ``'tanh'`` (the tanh approximation).

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.GELU()
        >>> output = m(disttorch.randn(2))
    """

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    r"""Apply :math:`1 / (1 + e^{-x})` elementwise.

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.Sigmoid()
        >>> output = m(disttorch.randn(2))
    """

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    r"""Apply :math:`\tanh(x)` elementwise.

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.Tanh()
        >>> output = m(disttorch.randn(2))
    """

    def forward(self, input):
        return F.tanh(input)


class Softsign(Module):
    r"""Apply :math:`x / (1 + |x|)` elementwise.

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.Softsign()
        >>> output = m(disttorch.randn(2))
    """

    def forward(self, input):
        return F.softsign(input)


class LogSigmoid(Module):
    r"""Apply :math:`\log(1 / (1 + e^{-x}))` elementwise.

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.LogSigmoid()
        >>> output = m(disttorch.randn(2))
    """

    def forward(self, input):
        return F.logsigmoid(input)


class Tanhshrink(Module):
    r"""Apply :math:`x - \tanh(x)` elementwise.

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.Tanhshrink()
        >>> output = m(disttorch.randn(2))
    """

    def forward(self, input):
        return F.tanhshrink(input)


class Softplus(Module):
    r"""Apply :math:`\frac{1}{\beta} \log(1 + e^{\beta x})` elementwise; the identity where
    :math:`\beta x > \text{threshold}`.

    Args:
        beta: the :math:`\beta` value. Default: 1
        threshold: values above this revert to a linear function. Default: 20

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.Softplus()
        >>> output = m(disttorch.randn(2))
    """

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softshrink(Module):
    r"""Apply soft shrinkage: :math:`x \mp \lambda` outside :math:`[-\lambda, \lambda]`, else 0.

    Args:
        lambd: the :math:`\lambda` value (must be no less than zero). Default: 0.5

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.Softshrink()
        >>> output = m(disttorch.randn(2))
    """

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return F.softshrink(input, self.lambd)

    def extra_repr(self):
        return str(self.lambd)


class Hardshrink(Softshrink):
    r"""Apply hard shrinkage: :math:`x` outside :math:`[-\lambda, \lambda]`, else 0.

    Args:
        lambd: the :math:`\lambda` value. Default: 0.5

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.Hardshrink()
        >>> output = m(disttorch.randn(2))
    """

    def forward(self, input):
        return F.hardshrink(input, self.lambd)


class Threshold(Module):
    r"""Replace values not greater than ``threshold`` by ``value``.

    Args:
        threshold: the value to threshold at.
        value: the value to replace with.
        inplace: can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.Threshold(0.1, 20)
        >>> output = m(disttorch.randn(2))
    """

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"threshold={self.threshold}, value={self.value}{inplace_str}"


class PReLU(Module):
    r"""Apply :math:`\max(0,x) + a \min(0,x)` with a learnable :math:`a` (one, or one per
    channel).

    Args:
        num_parameters: number of :math:`a` to learn: 1, or the number of channels. Default: 1
        init: the initial value of :math:`a`. Default: 0.25

    Shape:
        - Input: :math:`( *)`; channels are dim 1 (dim 0 for 1-D inputs). Output: same shape.
    """

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class RReLU(Module):
    r"""Randomised leaky ReLU: negative slopes drawn from :math:`U(\text{lower}, \text{upper})`
    in training, :math:`(\text{lower} + \text{upper}) / 2` in eval.

    Args:
        lower: lower bound of the uniform distribution. Default: 1/8
        upper: upper bound of the uniform distribution. Default: 1/3
        inplace: can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, any number of dims. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.RReLU()
        >>> output = m(disttorch.randn(2))
    """

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"lower={self.lower}, upper={self.upper}{inplace_str}"


class _SoftmaxBase(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def __setstate__(self, state):
        super().__setstate__(state)
        self.__dict__.setdefault("dim", None)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    r"""Apply :math:`\exp(x_i) / \sum_j \exp(x_j)` along ``dim``.

    Args:
        dim (int): the dim along which Softmax is computed (each slice sums to 1).

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, same shape, values in [0, 1].

    Examples::

        >>> m = nn.Softmax(dim=1)
        >>> output = m(disttorch.randn(2, 3))
    """

    def forward(self, input):
        return F.softmax(input, self.dim, _stacklevel=5)


class LogSoftmax(_SoftmaxBase):
    r"""Apply :math:`\log(\exp(x_i) / \sum_j \exp(x_j))` along ``dim``.

    Args:
        dim (int): the dim along which LogSoftmax is computed.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.LogSoftmax(dim=1)
        >>> output = m(disttorch.randn(2, 3))
    """

    def forward(self, input):
        return F.log_softmax(input, self.dim, _stacklevel=5)


class Softmin(_SoftmaxBase):
    r"""Apply :math:`\exp(-x_i) / \sum_j \exp(-x_j)` along ``dim``.

    Args:
        dim (int): the dim along which Softmin is computed.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = nn.Softmin(dim=1)
        >>> output = m(disttorch.randn(2, 3))
    """

    def forward(self, input):
        return F.softmin(input, self.dim, _stacklevel=5)


class Softmax2d(Module):
    r"""Apply Softmax over the channels of each spatial location.

    Shape:
        - Input: :math:`(N, C, H, W)` or :math:`(C, H, W)`. Output: the same shape.
    """

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D instead")
        return F.softmax(input, -3, _stacklevel=5)


class GLU(Module):
    r"""Gated linear unit :math:`a \otimes \sigma(b)`, the input split in halves along ``dim``.

    Args:
        dim (int): the dim on which to split the input. Default: -1

    Shape:
        - Input: :math:`(\ast_1, N, \ast_2)`. Output: :math:`(\ast_1, M, \ast_2)` with
          :math:`M = N / 2`.

    Examples::

        >>> m = nn.GLU()
        >>> output = m(disttorch.randn(4, 2))
    """

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"
