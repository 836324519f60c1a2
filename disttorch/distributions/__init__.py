"""``disttorch.distributions``: probability distributions with PyTorch's API.

``Normal``, ``Uniform``, ``Bernoulli``, ``Categorical`` and ``Independent``: sampling
(``rsample`` where reparameterizable), ``log_prob``, ``entropy``, moments, ``cdf``/``icdf``
where PyTorch has them, parameter and value validation with PyTorch's errors, and
``kl_divergence`` between pairs of them (``register_kl`` adds more).

Example::

    >>> from disttorch.distributions import Categorical
    >>> policy = Categorical(logits=net(obs))
    >>> action = policy.sample()
    >>> loss = -(policy.log_prob(action) * advantage).mean()
"""
from . import constraints
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .independent import Independent
from .kl import kl_divergence, register_kl
from .normal import Normal
from .uniform import Uniform

__all__ = ["Distribution", "Normal", "Uniform", "Bernoulli", "Categorical", "Independent",
           "kl_divergence", "register_kl", "constraints"]
