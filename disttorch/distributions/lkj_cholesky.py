"""``LKJCholesky(dim, concentration=1.0)``."""
import math

from .. import ops
from .._dtype import finfo
from ..autograd import grad_mode
from ..tensor import Size
from . import constraints
from .beta import Beta
from .distribution import Distribution
from .utils import _standard_normal, broadcast_all

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    r"""The LKJ distribution of the lower Cholesky factors ``L`` of ``dim x dim`` correlation
    matrices: ``L L^T`` has density proportional to ``det(L L^T)^(concentration - 1)``
    (uniform over correlation matrices at ``concentration = 1``). Sampled by the onion method
    (Lewandowski, Kurowicka and Joe, 2009, section 3).

    Example::

        >>> l = LKJCholesky(3, 0.5)
        >>> l.sample()  # a Cholesky factor of a 3x3 correlation matrix
    """

    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. "
                             f"Found dim={dim}.")
        self.dim = dim
        self.concentration, = broadcast_all(concentration)
        batch_shape = self.concentration.shape
        # the onion method: row i >= 1 of the factor has squared off-diagonal length
        # y_i ~ Beta(i/2, beta - (i-1)/2), beta = eta + (dim - 2)/2, and a direction uniform on
        # the sphere (row 0's entry is unused). (PyTorch draws y_i ~ Beta(i - 1/2, ...):
        # beyond row 1 its correlations are too spread for the density it evaluates.)
        marginal = self.concentration + 0.5 * (self.dim - 2)
        offset = ops.arange(self.dim - 1, dtype=self.concentration.dtype,
                            device=self.concentration.device)
        offset = ops.cat([ops.zeros((1,), dtype=offset.dtype, device=offset.device), offset])
        self._beta = Beta(0.5 * offset + 0.5, marginal.unsqueeze(-1) - 0.5 * offset)
        super().__init__(batch_shape, Size((dim, dim)), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        batch_shape = Size(batch_shape)
        new = object.__new__(type(self))
        new.dim = self.dim
        new.concentration = self.concentration.expand(tuple(batch_shape))
        new._beta = self._beta.expand(tuple(batch_shape) + (self.dim,))
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=Size()):
        with grad_mode.no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            # each row's direction uniform on the sphere of its first i coordinates
            u = _standard_normal(self._extended_shape(sample_shape), y).tril(-1)
            norm = u.norm(dim=-1, keepdim=True).clamp(min=finfo(y.dtype).tiny)  # (row 0: 0)
            w = y.sqrt() * (u / norm)
            diag = (1 - w.pow(2).sum(-1)).clamp(min=finfo(w.dtype).tiny).sqrt()
            return w + ops.diag_embed(diag)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        # the density of L is prod_{i>=1} L_ii^(2 (eta - 1) + dim - 1 - i)
        diag = value.diagonal(dim1=-2, dim2=-1)[..., 1:]
        order = ops.arange(2, self.dim + 1, device=self.concentration.device)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized = (order * diag.log()).sum(-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        normalizer = (0.5 * dm1 * math.log(math.pi) + ops.mvlgamma(alpha - 0.5, dm1)
                      - ops.lgamma(alpha) * dm1)
        return unnormalized - normalizer
