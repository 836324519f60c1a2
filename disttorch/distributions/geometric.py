"""``Geometric(probs=None, logits=None)``."""
from .. import ops
from .._dtype import finfo
from ..autograd import grad_mode
from ..nn.functional import binary_cross_entropy_with_logits
from ..tensor import Size
from . import constraints
from .bernoulli import _one_of
from .distribution import Distribution
from .utils import (_batch_shape_of, _standard_uniform, broadcast_all, lazy_property,
                    logits_to_probs, probs_to_logits)

__all__ = ["Geometric"]


class Geometric(Distribution):
    r"""The number of failures before the first success in Bernoulli trials of success
    probability ``probs`` (or log-odds ``logits``)."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        _one_of(probs, logits)
        if probs is not None:
            self.probs, = broadcast_all(probs)
            param, given = self.probs, probs
        else:
            self.logits, = broadcast_all(logits)
            param, given = self.logits, logits
        super().__init__(_batch_shape_of([param], [given]), validate_args=validate_args)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return ops.zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=Size()):
        # inversion: floor(log U / log(1 - p))
        shape = self._extended_shape(sample_shape)
        with grad_mode.no_grad():
            u = _standard_uniform(shape, self.probs).clamp(min=finfo(self.probs.dtype).tiny)
            return (u.log() / ops.log1p(-self.probs)).floor()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        # p = 1 and k = 0: 0 * log(0) is 0
        safe = ops.where((probs == 1) & (value == 0), ops.zeros_like(probs), probs)
        return value * ops.log1p(-safe) + self.probs.log()

    def entropy(self):
        return binary_cross_entropy_with_logits(self.logits, self.probs,
                                                reduction="none") / self.probs
