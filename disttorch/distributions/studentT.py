"""``StudentT(df, loc=0.0, scale=1.0)``."""
import math

from .. import ops
from ..tensor import Size
from . import constraints
from ._sampling import standard_gamma
from .chi2 import Chi2
from .distribution import Distribution
from .utils import _standard_normal, broadcast_all

__all__ = ["StudentT"]


class StudentT(Distribution):
    r"""Student's t-distribution with ``df`` degrees of freedom, location ``loc`` and scale
    ``scale``."""

    arg_constraints = {"df": constraints.positive, "loc": constraints.real,
                       "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df)  # (validates df first, with Chi2's message, as PyTorch)
        super().__init__(self.df.shape, validate_args=validate_args)

    @property
    def mean(self):
        return ops.where(self.df > 1, self.loc, ops.full_like(self.loc, math.nan))

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        df = self.df
        finite = self.scale.pow(2) * df / (df - 2)
        return ops.where(df > 2, finite, ops.where(df > 1, ops.full_like(df, math.inf),
                                                   ops.full_like(df, math.nan)))

    def rsample(self, sample_shape=Size()):
        # X / sqrt(V / df) with X standard normal and V ~ Chi2(df) = 2 Gamma(df / 2)
        shape = tuple(self._extended_shape(sample_shape))
        x = _standard_normal(shape, self.df)
        v = 2 * standard_gamma(0.5 * self.df.expand(shape))
        return self.loc + self.scale * x * ops.rsqrt(v / self.df)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        norm = (self.scale.log() + 0.5 * self.df.log() + 0.5 * math.log(math.pi)
                + ops.lgamma(0.5 * self.df) - ops.lgamma(0.5 * (self.df + 1.0)))
        return -0.5 * (self.df + 1.0) * ops.log1p(y ** 2.0 / self.df) - norm

    def entropy(self):
        df = self.df
        log_beta = ops.lgamma(0.5 * df) + math.lgamma(0.5) - ops.lgamma(0.5 * (df + 1))
        return (self.scale.log() + 0.5 * (df + 1) * (ops.digamma(0.5 * (df + 1))
                                                     - ops.digamma(0.5 * df))
                + 0.5 * df.log() + log_beta)
