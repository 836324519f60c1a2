"""``Multinomial(total_count=1, probs=None, logits=None)``."""
import math

from .. import ops
from ..nn.functional import one_hot
from ..tensor import Size
from . import constraints
from .binomial import Binomial
from .categorical import Categorical
from .distribution import Distribution

__all__ = ["Multinomial"]


class Multinomial(Distribution):
    r"""Counts of each of K categories (the last dim of ``probs`` or ``logits``) in
    ``total_count`` draws; ``log_prob`` does not need ``total_count``."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = object.__new__(type(self))
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def _binomial(self):
        return Binomial(total_count=self.total_count, probs=self.probs, validate_args=False)

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def param_shape(self):
        return self._categorical.param_shape

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=Size()):
        sample_shape = Size(sample_shape)
        draws = self._categorical.sample(Size((self.total_count,)) + sample_shape)
        counts = one_hot(draws, self._categorical._num_events).sum(0)
        return counts.to(self.probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = ops.broadcast_tensors(self.logits, value)
        # a zero count of an impossible category contributes nothing (not 0 * -inf)
        logits = ops.where((value == 0) & (logits == -math.inf), ops.zeros_like(logits), logits)
        return (ops.lgamma(value.sum(-1) + 1) - ops.lgamma(value + 1).sum(-1)
                + (logits * value).sum(-1))

    def entropy(self):
        n = ops.tensor(self.total_count, dtype=self.probs.dtype, device=self.probs.device)
        binomial = self._binomial
        support = binomial.enumerate_support(expand=False)[1:]
        binomial_probs = binomial.log_prob(support).exp()
        weights = ops.lgamma(support + 1)
        return (n * self._categorical.entropy() - ops.lgamma(n + 1)
                + (binomial_probs * weights).sum(0).sum(-1))
