"""``weight_norm`` and ``spectral_norm`` as parametrizations (``torch.nn.utils.parametrizations``)."""
from ...autograd.grad_mode import no_grad
from ..modules.module import Module
from . import parametrize

__all__ = ["weight_norm", "spectral_norm"]


def _norm_except_dim(v, dim):
    """The 2-norm of ``v`` over every dimension but ``dim`` (all of them for ``dim=None``),
    keeping dimensions so that it broadcasts against ``v``."""
    if dim is None:
        return v.norm()
    dims = [d for d in range(v.dim()) if d != dim % v.dim()]
    return (v * v).sum(dim=dims, keepdim=True).sqrt() if dims else v.abs()


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        dim = None if self.dim == -1 else self.dim
        return weight_v * (weight_g / _norm_except_dim(weight_v, dim))

    def right_inverse(self, weight):
        dim = None if self.dim == -1 else self.dim
        return _norm_except_dim(weight, dim), weight


def weight_norm(module, name="weight", dim=0):
    r"""Reparametrize ``module.<name>`` as :math:`w = g \frac{v}{\|v\|}`, the norm taken over
    every dimension but ``dim``: the magnitude ``g`` (``parametrizations.<name>.original0``) and
    the direction ``v`` (``original1``) are learned separately.

    Args:
        module (nn.Module): the module.
        name (str): the parameter. Default: ``"weight"``.
        dim (int or None): the dimension kept by the norm; None normalizes the whole tensor.

    Example::

        >>> m = weight_norm(nn.Linear(20, 40))
        >>> m.parametrizations.weight.original0.shape
        torch.Size([40, 1])
    """
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.dim()
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            matrix = self._reshape_weight_to_matrix(weight)
            h, w = matrix.shape
            u = matrix.new_empty(h).normal_(0, 1)
            v = matrix.new_empty(w).normal_(0, 1)
            self.register_buffer("_u", u / u.norm().clamp(min=eps))
            self.register_buffer("_v", v / v.norm().clamp(min=eps))
            # start from well-converged singular vectors, as PyTorch does
            self._power_method(matrix, 15)

    def _reshape_weight_to_matrix(self, weight):
        if self.dim != 0:
            order = [self.dim] + [d for d in range(weight.dim()) if d != self.dim]
            weight = weight.permute(*order)
        return weight.flatten(1)

    def _power_method(self, matrix, n_power_iterations):
        with no_grad():
            for _ in range(n_power_iterations):
                u = matrix.mv(self._v)
                self._u.copy_(u / u.norm().clamp(min=self.eps))
                v = matrix.transpose(0, 1).mv(self._u)
                self._v.copy_(v / v.norm().clamp(min=self.eps))

    def forward(self, weight):
        if weight.dim() == 1:
            return weight / weight.norm().clamp(min=self.eps)
        matrix = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(matrix, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = u.dot(matrix.mv(v))
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    r"""Divide ``module.<name>`` by its spectral norm :math:`\sigma(W)`, estimated by power
    iteration (``n_power_iterations`` steps per forward pass in training mode; the singular
    vectors are kept in the buffers ``parametrizations.<name>.0._u`` and ``_v``).

    Args:
        module (nn.Module): the module.
        name (str): the parameter. Default: ``"weight"``.
        n_power_iterations (int): power-iteration steps per forward pass. Default: 1.
        eps (float): added for numerical stability in the norms. Default: 1e-12.
        dim (int): the output dimension (1 for ``ConvTranspose*``, 0 otherwise, by default).
    """
    weight = getattr(module, name, None)
    if weight is None:
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        from ..modules.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0
    parametrize.register_parametrization(module, name,
                                         _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
