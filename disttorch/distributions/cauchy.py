"""``Cauchy(loc, scale)``."""
import math

from .. import ops
from ..tensor import Size
from . import constraints
from .distribution import Distribution
from .utils import _batch_shape_of, _standard_uniform, broadcast_all

__all__ = ["Cauchy"]


class Cauchy(Distribution):
    r"""The Cauchy (Lorentz) distribution with median ``loc`` and half width ``scale``: the
    ratio of two independent standard normals. Its mean and variance do not exist."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(_batch_shape_of([self.loc], [loc, scale]), validate_args=validate_args)

    @property
    def mean(self):
        return ops.full(tuple(self._extended_shape()), math.nan, dtype=self.loc.dtype,
                        device=self.loc.device)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return ops.full(tuple(self._extended_shape()), math.inf, dtype=self.loc.dtype,
                        device=self.loc.device)

    def rsample(self, sample_shape=Size()):
        u = _standard_uniform(self._extended_shape(sample_shape), self.loc)
        return self.loc + self.scale * ops.tan(math.pi * (u - 0.5))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -math.log(math.pi) - self.scale.log() \
            - ops.log1p(((value - self.loc) / self.scale) ** 2)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ops.atan((value - self.loc) / self.scale) / math.pi + 0.5

    def icdf(self, value):
        return ops.tan(math.pi * (value - 0.5)) * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()
