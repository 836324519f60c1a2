"""``FisherSnedecor(df1, df2)``."""
import math

from .. import ops
from .._dtype import finfo
from ..tensor import Size
from . import constraints
from .distribution import Distribution
from .gamma import Gamma
from .utils import _batch_shape_of, broadcast_all

__all__ = ["FisherSnedecor"]


class FisherSnedecor(Distribution):
    r"""The Fisher-Snedecor (F) distribution with ``df1`` and ``df2`` degrees of freedom: the
    ratio ``(X1 / df1) / (X2 / df2)`` of chi-squared variables, reparameterized through their
    gamma draws.

    Example::

        >>> m = FisherSnedecor(disttorch.tensor([1.0]), disttorch.tensor([2.0]))
        >>> m.sample()  # Fisher-Snedecor distributed with df1=1 and df2=2
    """

    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1, df2, validate_args=None):
        self.df1, self.df2 = broadcast_all(df1, df2)
        self._gamma1 = Gamma(self.df1 * 0.5, self.df1)
        self._gamma2 = Gamma(self.df2 * 0.5, self.df2)
        super().__init__(_batch_shape_of([self.df1], [df1, df2]), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        batch_shape = Size(batch_shape)
        new = object.__new__(type(self))
        new.df1 = self.df1.expand(tuple(batch_shape))
        new.df2 = self.df2.expand(tuple(batch_shape))
        new._gamma1 = self._gamma1.expand(batch_shape)
        new._gamma2 = self._gamma2.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        df2 = ops.where(self.df2 > 2, self.df2, ops.full_like(self.df2, math.nan))
        return df2 / (df2 - 2)

    @property
    def mode(self):
        mode = (self.df1 - 2) / self.df1 * self.df2 / (self.df2 + 2)
        return ops.where(self.df1 > 2, mode, ops.full_like(mode, math.nan))

    @property
    def variance(self):
        df1 = self.df1
        df2 = ops.where(self.df2 > 4, self.df2, ops.full_like(self.df2, math.nan))
        return 2 * df2.pow(2) * (df1 + df2 - 2) / (df1 * (df2 - 2).pow(2) * (df2 - 4))

    def rsample(self, sample_shape=Size()):
        shape = tuple(self._extended_shape(sample_shape))
        # X_i ~ Gamma(df_i / 2, df_i) is chi-squared(df_i) / df_i
        x1 = self._gamma1.rsample(sample_shape).reshape(shape)
        x2 = self._gamma2.rsample(sample_shape).reshape(shape)
        tiny = finfo(x2.dtype).tiny
        y = x1 / x2.clamp(min=tiny)
        return y.clamp(min=tiny)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        h1, h2 = self.df1 * 0.5, self.df2 * 0.5
        ratio = self.df1 / self.df2
        log_beta = ops.lgamma(h1) + ops.lgamma(h2) - ops.lgamma(h1 + h2)
        return (h1 * ratio.log() + (h1 - 1) * ops.log(value)
                - (h1 + h2) * ops.log1p(ratio * value) - log_beta)
