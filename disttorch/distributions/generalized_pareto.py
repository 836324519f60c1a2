"""``GeneralizedPareto(loc, scale, concentration)``."""
import math

from .. import ops
from ..tensor import Size
from . import constraints
from .distribution import Distribution
from .utils import _batch_shape_of, _standard_uniform, broadcast_all

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(Distribution):
    r"""The generalized Pareto distribution with location ``loc``, scale ``scale`` and shape
    ``concentration`` (xi): survival function ``(1 + xi z)^(-1/xi)`` of
    ``z = (x - loc) / scale`` (``exp(-z)`` at ``xi = 0``). It is an exponential at
    ``loc = 0, xi = 0``, a Pareto at ``xi > 0, loc = scale / xi`` and a uniform at ``xi = -1``;
    for ``xi < 0`` the support ends at ``loc - scale / xi``.

    Example::

        >>> m = GeneralizedPareto(disttorch.tensor([0.1]), disttorch.tensor([2.0]),
        ...                       disttorch.tensor([0.4]))
        >>> m.sample()
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        super().__init__(_batch_shape_of([self.loc], [loc, scale, concentration]),
                         validate_args=validate_args)

    def _zero_and_safe(self):
        # xi ~ 0 takes the exponential limit; elsewhere xi itself (1 where the limit is taken,
        # so that neither branch divides by zero)
        xi = self.concentration
        zero = ops.isclose(xi, ops.zeros_like(xi))
        return zero, ops.where(zero, ops.ones_like(xi), xi)

    def rsample(self, sample_shape=Size()):
        return self.icdf(_standard_uniform(self._extended_shape(sample_shape), self.loc))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        zero, xi = self._zero_and_safe()
        y = 1 / xi + ops.ones_like(z)
        # (1/xi + 1) log1p(xi z), 0 at xi = -1 even at the end of the support
        nonzero = ops.where(y == 0, y, y * ops.log1p(xi * z))
        return -self.scale.log() - ops.where(zero, z, nonzero)

    def log_survival_function(self, value):
        """``log P(X > value)``."""
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        zero, xi = self._zero_and_safe()
        return ops.where(zero, -z, -ops.log1p(xi * z) / xi)

    def log_cdf(self, value):
        """``log P(X <= value)``."""
        return ops.log1p(-ops.exp(self.log_survival_function(value)))

    def cdf(self, value):
        return ops.exp(self.log_cdf(value))

    def icdf(self, value):
        zero, xi = self._zero_and_safe()
        log_u = ops.log1p(-value)
        return ops.where(zero, self.loc - self.scale * log_u,
                         self.loc + self.scale / xi * ops.expm1(-xi * log_u))

    @property
    def mean(self):
        xi = self.concentration
        valid = xi < 1
        safe = ops.where(valid, xi, ops.full_like(xi, 0.5))
        return ops.where(valid, self.loc + self.scale / (1 - safe),
                         ops.full_like(xi, math.nan))

    @property
    def variance(self):
        xi = self.concentration
        valid = xi < 0.5
        safe = ops.where(valid, xi, ops.full_like(xi, 0.25))
        return ops.where(valid, self.scale.pow(2) / ((1 - safe).pow(2) * (1 - 2 * safe)),
                         ops.full_like(xi, math.nan))

    def entropy(self):
        return (ops.log(self.scale) + self.concentration + 1).expand(tuple(self._batch_shape))

    @property
    def mode(self):
        return self.loc

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        lower = self.loc
        upper = ops.where(self.concentration < 0, lower - self.scale / self.concentration,
                          ops.full_like(lower, math.inf))
        return constraints.interval(lower, upper)
