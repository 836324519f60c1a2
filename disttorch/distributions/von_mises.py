"""``VonMises(loc, concentration)``."""
import math

from .. import ops
from .._dtype import bool as _bool, float64
from ..autograd import grad_mode
from ..special import i0e, i1e
from ..tensor import Size
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["VonMises"]


def _log_i0(x):
    # I0(x) = i0e(x) e^x: no overflow for large concentrations
    return ops.log(i0e(x)) + x


def _proposal_r(kappa):
    """Best and Fisher's wrapped-Cauchy proposal parameter ``r = (1 + rho^2) / (2 rho)``."""
    tau = 1 + (1 + 4 * kappa.pow(2)).sqrt()
    rho = (tau - (2 * tau).sqrt()) / (2 * kappa)
    r = (1 + rho.pow(2)) / (2 * rho)
    # (rho underflows for tiny kappa, where r ~ 1/kappa + kappa)
    return ops.where(kappa < 1e-5, kappa.reciprocal() + kappa, r)


class VonMises(Distribution):
    r"""The circular von Mises distribution, density
    ``exp(concentration cos(x - loc)) / (2 pi I0(concentration))``. ``loc`` and values may be
    any real numbers: they are angles modulo 2 pi; samples lie in [-pi, pi).

    Example::

        >>> m = VonMises(disttorch.tensor([1.0]), disttorch.tensor([1.0]))
        >>> m.sample()  # von Mises distributed with loc=1 and concentration=1
    """

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, Size(), validate_args=validate_args)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (self.concentration * ops.cos(value - self.loc) - math.log(2 * math.pi)
                - _log_i0(self.concentration))

    def sample(self, sample_shape=Size()):
        """Best and Fisher's rejection sampler ("Efficient simulation of the von Mises
        distribution", 1979), run in float64: in float32 small concentrations make the
        acceptance test degenerate and the loop may never end."""
        shape = tuple(self._extended_shape(sample_shape))
        with grad_mode.no_grad():
            loc = self.loc.to(float64).expand(shape)
            kappa = self.concentration.to(float64).expand(shape)
            r = _proposal_r(kappa)
            x = ops.zeros(shape, dtype=float64, device=self.loc.device)
            done = ops.zeros(shape, dtype=_bool, device=self.loc.device)
            while not bool(done.all()):
                u1, u2, u3 = ops.rand((3,) + shape, dtype=float64,
                                      device=self.loc.device).unbind(0)
                z = ops.cos(math.pi * u1)
                f = (1 + r * z) / (r + z)
                c = kappa * (r - f)
                accept = ((c * (2 - c) - u2) > 0) | ((c / u2).log() + 1 - c >= 0)
                accept = accept & ~done
                x = ops.where(accept, (u3 - 0.5).sign() * f.acos(), x)
                done = done | accept
            return ((x + math.pi + loc) % (2 * math.pi) - math.pi).to(self.loc.dtype)

    @property
    def mean(self):
        """The circular mean."""
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        """The circular variance ``1 - I1(concentration) / I0(concentration)``."""
        return 1 - i1e(self.concentration) / i0e(self.concentration)
