"""``disttorch.distributions``: probability distributions with PyTorch's API.

Continuous (``Normal``, ``Uniform``, ``Exponential``, ``Laplace``, ``Cauchy``, ``HalfNormal``,
``HalfCauchy``, ``LogNormal``, ``Gumbel``, ``StudentT``, ``Gamma``, ``Chi2``, ``Beta``,
``Dirichlet``, ``MultivariateNormal``, ``LowRankMultivariateNormal``, ``ContinuousBernoulli``,
``Pareto``, ``Weibull``, ``Kumaraswamy``, ``VonMises``, ``Wishart``, ``LKJCholesky``,
``FisherSnedecor``, ``InverseGamma``, ``GeneralizedPareto``, ``LogisticNormal``, the relaxed
Bernoulli/one-hot categoricals), discrete
(``Bernoulli``, ``Categorical``, ``OneHotCategorical``, ``Binomial``, ``Multinomial``,
``Geometric``, ``NegativeBinomial``, ``Poisson``) and composite (``Independent``,
``MixtureSameFamily``, ``TransformedDistribution``) distributions: sampling (``rsample``
where reparameterizable, the gamma family through implicit gradients), ``log_prob``,
``entropy`` (an ``ExponentialFamily``'s generic one and its KL are Bregman divergences of the
log-normalizer), moments, ``cdf``/``icdf`` where PyTorch has them, validation with PyTorch's
errors, ``kl_divergence`` (``register_kl`` adds more), ``transforms`` and the
``biject_to``/``transform_to`` registries.

Example::

    >>> from disttorch.distributions import Categorical
    >>> policy = Categorical(logits=net(obs))
    >>> action = policy.sample()
    >>> loss = -(policy.log_prob(action) * advantage).mean()
"""
from . import constraints, transforms
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .categorical import Categorical
from .cauchy import Cauchy
from .chi2 import Chi2
from .constraint_registry import biject_to, transform_to
from .continuous_bernoulli import ContinuousBernoulli
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .exponential import Exponential
from .fishersnedecor import FisherSnedecor
from .gamma import Gamma
from .generalized_pareto import GeneralizedPareto
from .geometric import Geometric
from .gumbel import Gumbel
from .half_cauchy import HalfCauchy
from .half_normal import HalfNormal
from .independent import Independent
from .inverse_gamma import InverseGamma
from .kl import kl_divergence, register_kl
from .kumaraswamy import Kumaraswamy
from .laplace import Laplace
from .lkj_cholesky import LKJCholesky
from .log_normal import LogNormal
from .logistic_normal import LogisticNormal
from .lowrank_multivariate_normal import LowRankMultivariateNormal
from .mixture_same_family import MixtureSameFamily
from .multinomial import Multinomial
from .multivariate_normal import MultivariateNormal
from .negative_binomial import NegativeBinomial
from .normal import Normal
from .one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from .pareto import Pareto
from .poisson import Poisson
from .relaxed_bernoulli import LogitRelaxedBernoulli, RelaxedBernoulli
from .relaxed_categorical import ExpRelaxedCategorical, RelaxedOneHotCategorical
from .studentT import StudentT
from .transformed_distribution import TransformedDistribution
from .transforms import *  # noqa: F401,F403
from .uniform import Uniform
from .von_mises import VonMises
from .weibull import Weibull
from .wishart import Wishart

__all__ = ["Distribution", "Bernoulli", "Beta", "Binomial", "Categorical", "Cauchy", "Chi2",
           "Dirichlet", "Exponential", "Gamma", "Geometric", "Gumbel", "HalfCauchy",
           "HalfNormal", "Independent", "Laplace", "LogNormal", "LogitRelaxedBernoulli",
           "ExpRelaxedCategorical", "MixtureSameFamily", "Multinomial", "MultivariateNormal",
           "NegativeBinomial", "Normal", "OneHotCategorical",
           "OneHotCategoricalStraightThrough", "Poisson", "RelaxedBernoulli",
           "RelaxedOneHotCategorical", "StudentT", "TransformedDistribution", "Uniform",
           "ContinuousBernoulli", "ExponentialFamily", "FisherSnedecor", "GeneralizedPareto",
           "InverseGamma", "Kumaraswamy", "LKJCholesky", "LogisticNormal",
           "LowRankMultivariateNormal", "Pareto", "VonMises", "Weibull", "Wishart",
           "biject_to", "transform_to", "kl_divergence", "register_kl", "constraints",
           "transforms"] + transforms.__all__
