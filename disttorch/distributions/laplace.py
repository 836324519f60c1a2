"""``Laplace(loc, scale)``."""
import math

from .. import ops
from .._dtype import finfo
from ..tensor import Size
from . import constraints
from .distribution import Distribution
from .utils import _batch_shape_of, _standard_uniform, broadcast_all

__all__ = ["Laplace"]


class Laplace(Distribution):
    r"""The Laplace (double exponential) distribution with location ``loc`` and scale
    ``scale``."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(_batch_shape_of([self.loc], [loc, scale]), validate_args=validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return 2 * self.scale.pow(2)

    @property
    def stddev(self):
        return math.sqrt(2) * self.scale

    def rsample(self, sample_shape=Size()):
        # u uniform on (-1, 1): never -1 itself, whose log1p(-|u|) would be -inf
        eps = finfo(self.loc.dtype).eps
        u = _standard_uniform(self._extended_shape(sample_shape), self.loc) * (2 - eps) \
            + (eps - 1)
        return self.loc - self.scale * u.sign() * ops.log1p(-u.abs())

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return -ops.log(2 * self.scale) - (value - self.loc).abs() / self.scale

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 - 0.5 * (value - self.loc).sign() * ops.expm1(
            -(value - self.loc).abs() / self.scale)

    def icdf(self, value):
        term = value - 0.5
        return self.loc - self.scale * term.sign() * ops.log1p(-2 * term.abs())

    def entropy(self):
        return 1 + ops.log(2 * self.scale)
