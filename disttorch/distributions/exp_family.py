"""``ExponentialFamily``: the base of the distributions with densities
``exp(<t(x), theta> - F(theta) + k(x))``, with entropy and KL from the log-normalizer ``F``."""
from .. import autograd
from ..autograd import grad_mode
from .distribution import Distribution
from .utils import _sum_rightmost

__all__ = ["ExponentialFamily"]


def _grad_of_log_normalizer(dist, params):
    """``F(theta)`` and its gradient, differentiable (``create_graph``) in ``theta`` and, through
    it, in the distribution's own parameters."""
    params = [p if p.requires_grad else p.detach().requires_grad_() for p in params]
    with grad_mode.enable_grad():
        value = dist._log_normalizer(*params)
        grads = autograd.grad(value.sum(), params, create_graph=True)
    return params, value, grads


class ExponentialFamily(Distribution):
    r"""The abstract base of the exponential families
    :math:`p_F(x; \theta) = \exp(\langle t(x), \theta\rangle - F(\theta) + k(x))`: a subclass
    gives its natural parameters :math:`\theta` (``_natural_params``), the log-normalizer
    :math:`F` (``_log_normalizer``) and :math:`E[k(x)]` (``_mean_carrier_measure``), and gets
    the entropy and the KL divergence within the family as Bregman divergences of :math:`F`
    (Nielsen and Nock, "Entropies and cross-entropies of exponential families")."""

    @property
    def _natural_params(self):
        """The natural parameters: a tuple of tensors."""
        raise NotImplementedError

    def _log_normalizer(self, *natural_params):
        """The log-normalizer :math:`F` at ``natural_params``."""
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self):
        """:math:`E[k(x)]`, needed by the entropy."""
        raise NotImplementedError

    def entropy(self):
        r""":math:`F(\theta) - \langle\theta, \nabla F(\theta)\rangle - E[k(x)]`."""
        result = -self._mean_carrier_measure
        params, value, grads = _grad_of_log_normalizer(self, self._natural_params)
        result = value + result
        for theta, g in zip(params, grads):
            result = result - (theta * g).reshape(tuple(self._batch_shape) + (-1,)).sum(-1)
        return result


def _kl_expfamily_expfamily(p, q):
    r""":math:`F(\theta_q) - F(\theta_p) - \langle\theta_q - \theta_p, \nabla F(\theta_p)\rangle`
    (the Bregman divergence of :math:`F`), for ``p`` and ``q`` of one family."""
    if type(p) is not type(q):
        # (PyTorch's text, with the run of spaces its line continuation leaves)
        raise NotImplementedError("The cross KL-divergence between different exponential "
                                  "families cannot" + " " * 29 + "be computed using Bregman "
                                  "divergences")
    p_params, p_value, grads = _grad_of_log_normalizer(p, p._natural_params)
    q_params = q._natural_params
    result = q._log_normalizer(*q_params) - p_value
    for tp, tq, g in zip(p_params, q_params, grads):
        result = result - _sum_rightmost((tq - tp) * g, len(q.event_shape))
    return result
