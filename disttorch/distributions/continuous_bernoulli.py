"""``ContinuousBernoulli(probs=None, logits=None, lims=(0.499, 0.501))``."""
import math
import numbers

from .. import ops
from ..autograd import grad_mode
from ..nn.functional import binary_cross_entropy_with_logits
from ..tensor import Size
from . import constraints
from .bernoulli import _one_of
from .exp_family import ExponentialFamily
from .utils import (_standard_uniform, broadcast_all, clamp_probs, lazy_property,
                    logits_to_probs, probs_to_logits)

__all__ = ["ContinuousBernoulli"]


class ContinuousBernoulli(ExponentialFamily):
    r"""The continuous Bernoulli distribution on [0, 1] (Loaiza-Ganem and Cunningham, 2019):
    density ``C(probs) probs^x (1 - probs)^(1 - x)``, given by ``probs`` in (0, 1) or
    ``logits`` (not both; they are not a probability and log-odds here). Within ``lims`` of
    ``probs = 0.5``, where the closed forms cancel catastrophically, Taylor expansions are
    used.

    Example::

        >>> m = ContinuousBernoulli(disttorch.tensor([0.3]))
        >>> m.sample()  # in [0, 1]
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    _mean_carrier_measure = 0
    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        _one_of(probs, logits)
        if probs is not None:
            is_scalar = isinstance(probs, numbers.Number)
            self.probs, = broadcast_all(probs)
            # (checked before the clamp, which would hide invalid values)
            if validate_args is not None and \
                    not bool(self.arg_constraints["probs"].check(self.probs).all()):
                raise ValueError("The parameter probs has invalid values")
            self.probs = clamp_probs(self.probs)
        else:
            is_scalar = isinstance(logits, numbers.Number)
            self.logits, = broadcast_all(logits)
        self._param = self.probs if probs is not None else self.logits
        self._lims = lims
        super().__init__(Size() if is_scalar else self._param.shape,
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        batch_shape = Size(batch_shape)
        new = object.__new__(type(self))
        new._lims = self._lims
        for name in ("probs", "logits"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(tuple(batch_shape)))
                new._param = new.__dict__[name]
        ExponentialFamily.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return clamp_probs(logits_to_probs(self.logits, is_binary=True))

    @property
    def param_shape(self):
        return self._param.shape

    def _outside_unstable_region(self):
        return (self.probs <= self._lims[0]) | (self.probs > self._lims[1])

    def _cut_probs(self):
        # inside the unstable region the closed forms are evaluated at a harmless point (their
        # value is replaced, but a NaN there would still poison the gradient)
        return ops.where(self._outside_unstable_region(), self.probs,
                         ops.full_like(self.probs, self._lims[0]))

    def _cont_bern_log_norm(self):
        """``log C(probs)``, ``C = 2 atanh(1 - 2 probs) / (1 - 2 probs)``."""
        p = self._cut_probs()
        below = ops.where(p <= 0.5, p, ops.zeros_like(p))
        above = ops.where(p >= 0.5, p, ops.ones_like(p))
        log_norm = ops.log(ops.abs(ops.log1p(-p) - ops.log(p))) - ops.where(
            p <= 0.5, ops.log1p(-2.0 * below), ops.log(2.0 * above - 1.0))
        x = (self.probs - 0.5).pow(2)
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return ops.where(self._outside_unstable_region(), log_norm, taylor)

    @property
    def mean(self):
        p = self._cut_probs()
        mus = p / (2.0 * p - 1.0) + 1.0 / (ops.log1p(-p) - ops.log(p))
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x.pow(2)) * x
        return ops.where(self._outside_unstable_region(), mus, taylor)

    @property
    def stddev(self):
        return self.variance.sqrt()

    @property
    def variance(self):
        p = self._cut_probs()
        var = p * (p - 1.0) / (1.0 - 2.0 * p).pow(2) \
            + 1.0 / (ops.log1p(-p) - ops.log(p)).pow(2)
        x = (self.probs - 0.5).pow(2)
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x
        return ops.where(self._outside_unstable_region(), var, taylor)

    def sample(self, sample_shape=Size()):
        u = _standard_uniform(self._extended_shape(sample_shape), self.probs)
        with grad_mode.no_grad():
            return self.icdf(u)

    def rsample(self, sample_shape=Size()):
        return self.icdf(_standard_uniform(self._extended_shape(sample_shape), self.probs))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return (-binary_cross_entropy_with_logits(logits, value, reduction="none")
                + self._cont_bern_log_norm())

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        p = self._cut_probs()
        cdfs = (p.pow(value) * (1.0 - p).pow(1.0 - value) + p - 1.0) / (2.0 * p - 1.0)
        inside = ops.where(self._outside_unstable_region(), cdfs, value)
        return ops.where(value <= 0.0, ops.zeros_like(value),
                         ops.where(value >= 1.0, ops.ones_like(value), inside))

    def icdf(self, value):
        p = self._cut_probs()
        return ops.where(self._outside_unstable_region(),
                         (ops.log1p(-p + value * (2.0 * p - 1.0)) - ops.log1p(-p))
                         / (ops.log(p) - ops.log1p(-p)), value)

    def entropy(self):
        log_q, log_p = ops.log1p(-self.probs), ops.log(self.probs)
        return self.mean * (log_q - log_p) - self._cont_bern_log_norm() - log_q

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        """``log((e^x - 1) / x)``, by its Taylor series near 0."""
        outside = (x <= self._lims[0] - 0.5) | (x > self._lims[1] - 0.5)
        cut = ops.where(outside, x, ops.full_like(x, self._lims[0] - 0.5))
        log_norm = ops.log(ops.abs(ops.expm1(cut))) - ops.log(ops.abs(cut))
        taylor = 0.5 * x + x.pow(2) / 24.0 - x.pow(4) / 2880.0
        return ops.where(outside, log_norm, taylor)
