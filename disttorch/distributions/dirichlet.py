"""``Dirichlet(concentration)``."""
from .. import ops
from .._dtype import finfo
from ..nn.functional import one_hot
from ..tensor import Size
from . import constraints
from ._sampling import standard_gamma
from .exp_family import ExponentialFamily

__all__ = ["Dirichlet"]


def _sample_dirichlet(concentration):
    """Normalized gamma draws: differentiable in ``concentration`` through the gamma draws'
    implicit gradients."""
    x = standard_gamma(concentration)
    x = x / x.sum(-1, keepdim=True)
    info = finfo(x.dtype)
    x.detach().clamp_(min=info.tiny, max=1 - info.eps)
    return x


class Dirichlet(ExponentialFamily):
    r"""The Dirichlet distribution over the simplex of the last dimension, with
    concentrations ``concentration`` (the other dims batch)."""

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:],
                         validate_args=validate_args)

    def _param_event_shape(self):
        return tuple(self._event_shape)

    def rsample(self, sample_shape=Size()):
        shape = tuple(self._extended_shape(sample_shape))
        return _sample_dirichlet(self.concentration.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return ops.xlogy(c - 1.0, value).sum(-1) + ops.lgamma(c.sum(-1)) - ops.lgamma(c).sum(-1)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        c = self.concentration
        excess = (c - 1).clamp(min=0.0)
        mode = excess / excess.sum(-1, keepdim=True)
        # with every concentration below 1 the density is unbounded at every vertex: PyTorch
        # picks the argmax of the (0/0) row, the first vertex
        vertex = one_hot(mode.argmax(-1), c.shape[-1]).to(mode.dtype)
        return ops.where((c < 1).all(-1, keepdim=True), vertex, mode)

    @property
    def variance(self):
        c = self.concentration
        total = c.sum(-1, keepdim=True)
        return c * (total - c) / (total.pow(2) * (total + 1))

    def entropy(self):
        c = self.concentration
        k = c.shape[-1]
        total = c.sum(-1)
        return (ops.lgamma(c).sum(-1) - ops.lgamma(total) - (k - total) * ops.digamma(total)
                - ((c - 1.0) * ops.digamma(c)).sum(-1))

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return ops.lgamma(x).sum(-1) - ops.lgamma(x.sum(-1))
