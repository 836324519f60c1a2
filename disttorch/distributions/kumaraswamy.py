"""``Kumaraswamy(concentration1, concentration0)``."""
import math

from .. import ops
from . import constraints
from .gumbel import _EULER_GAMMA
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, PowerTransform
from .uniform import Uniform
from .utils import broadcast_all

__all__ = ["Kumaraswamy"]


def _moment(a, b, n):
    """``E[X^n] = b B(1 + n/a, b)``."""
    arg = 1 + n / a
    return b * ops.exp(ops.lgamma(arg) + ops.lgamma(b) - ops.lgamma(arg + b))


class Kumaraswamy(TransformedDistribution):
    r"""The Kumaraswamy distribution on (0, 1), density
    ``a b x^(a-1) (1 - x^a)^(b-1)`` with ``a = concentration1``, ``b = concentration0``:
    ``(1 - U^(1/b))^(1/a)`` for uniform ``U``.

    Example::

        >>> m = Kumaraswamy(disttorch.tensor([1.0]), disttorch.tensor([1.0]))
        >>> m.sample()  # in (0, 1)
    """

    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1,
                                                                 concentration0)
        base = Uniform(ops.full_like(self.concentration0, 0),
                       ops.full_like(self.concentration0, 1), validate_args=validate_args)
        transforms = [PowerTransform(exponent=self.concentration0.reciprocal()),
                      AffineTransform(loc=1.0, scale=-1.0),
                      PowerTransform(exponent=self.concentration1.reciprocal())]
        super().__init__(base, transforms, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = super().expand(batch_shape, _instance)
        new.concentration1 = self.concentration1.expand(tuple(batch_shape))
        new.concentration0 = self.concentration0.expand(tuple(batch_shape))
        return new

    @property
    def mean(self):
        return _moment(self.concentration1, self.concentration0, 1)

    @property
    def mode(self):
        # ((a - 1) / (ab - 1))^(1/a), where the density vanishes at both ends; PyTorch's
        # expression is NaN everywhere
        a, b = self.concentration1, self.concentration0
        mode = ((a - 1) / (a * b - 1)).pow(a.reciprocal())
        return ops.where((b < 1) | (a < 1), ops.full_like(mode, math.nan), mode)

    @property
    def variance(self):
        return _moment(self.concentration1, self.concentration0, 2) - self.mean.pow(2)

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        t1, t0 = 1 - a.reciprocal(), 1 - b.reciprocal()
        harmonic = ops.digamma(b + 1) + _EULER_GAMMA
        return t0 + t1 * harmonic - ops.log(a) - ops.log(b)
