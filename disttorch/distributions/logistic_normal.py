"""``LogisticNormal(loc, scale)``."""
from . import constraints
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import StickBreakingTransform

__all__ = ["LogisticNormal"]


class LogisticNormal(TransformedDistribution):
    r"""The logistic-normal distribution on the simplex: ``Normal(loc, scale)`` vectors of
    length ``K - 1`` mapped by the ``StickBreakingTransform`` to ``K`` probabilities, so that
    ``log(X / (1 - X.cumsum(-1)))[..., :-1] ~ Normal(loc, scale)``.

    Example::

        >>> m = LogisticNormal(disttorch.tensor([0.0] * 3), disttorch.tensor([1.0] * 3))
        >>> m.sample()  # four probabilities
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        base = Normal(loc, scale, validate_args=validate_args)
        if not base.batch_shape:
            base = base.expand([1])
        super().__init__(base, StickBreakingTransform(), validate_args=validate_args)

    @property
    def loc(self):
        return self.base_dist.base_dist.loc

    @property
    def scale(self):
        return self.base_dist.base_dist.scale
