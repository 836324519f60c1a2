"""Triangles and diagonals of matrices: tril, triu, diag, diagonal, diag_embed, trace."""
import numpy as np

from .._backend import get_array_module
from ..amp.autocast_mode import autocast_args
from ..autograd.function import Node
from ..tensor import Tensor
from ._util import register_methods, wrap_dim, make_view, int_arg
from .linalg import _out
from .pointwise import _inplace_unary
from .reduction import _method, sum as _reduce_sum

__all__ = ["tril", "triu", "diag", "diagonal", "diag_embed", "trace"]


class Triangle(Node):
    def forward(self, x, k, upper):
        self.k, self.upper = k, upper
        xp = get_array_module(x)
        return xp.triu(x, k) if upper else xp.tril(x, k)

    def backward(self, g):
        if isinstance(g, Tensor):
            return Triangle.apply(g, self.k, self.upper), None, None
        xp = get_array_module(g)
        return (xp.triu(g, self.k) if self.upper else xp.tril(g, self.k)), None, None


def tril(input, diagonal=0, *, out=None):
    """The lower triangle (on and below ``diagonal``) of the last two dims; the rest zero."""
    if input._data.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    diagonal = int_arg(diagonal, "tril", "diagonal", 2)
    return _out(Triangle.apply(input, diagonal, False), out)


def triu(input, diagonal=0, *, out=None):
    """The upper triangle (on and above ``diagonal``) of the last two dims; the rest zero."""
    if input._data.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    diagonal = int_arg(diagonal, "triu", "diagonal", 2)
    return _out(Triangle.apply(input, diagonal, True), out)


def _diag_view(a, offset, d1, d2):
    view = get_array_module(a).diagonal(a, offset, d1, d2)
    if isinstance(view, np.ndarray) and a.flags.writeable:
        view.flags.writeable = True  # numpy marks diagonal views read-only by default
    return view


class Diagonal(Node):
    """The diagonal of ``x``: a view of it, or a new array with ``copy``."""

    def forward(self, x, offset, d1, d2, copy):
        self.in_shape, self.offset, self.d1, self.d2 = x.shape, offset, d1, d2
        view = _diag_view(x, offset, d1, d2)
        return view.copy() if copy else view

    def backward(self, g):
        return _diagonal_scatter(g, self.in_shape, self.offset, self.d1, self.d2), None, None, \
            None, None


class DiagonalScatter(Node):
    """Zeros of ``shape`` with ``g`` on a diagonal: the adjoint of ``Diagonal``."""

    def forward(self, g, shape, offset, d1, d2):
        self.offset, self.d1, self.d2 = offset, d1, d2
        return _diagonal_scatter_array(g, shape, offset, d1, d2)

    def backward(self, gg):
        if isinstance(gg, Tensor):
            return Diagonal.apply(gg, self.offset, self.d1, self.d2, True), None, None, None, None
        return get_array_module(gg).diagonal(gg, self.offset, self.d1, self.d2), None, None, None, \
            None


def _diagonal_scatter_array(g, shape, offset, d1, d2):
    out = get_array_module(g).zeros(shape, g.dtype)
    _diag_view(out, offset, d1, d2)[...] = g
    return out


def _diagonal_scatter(g, shape, offset, d1, d2):
    if isinstance(g, Tensor):
        return DiagonalScatter.apply(g, shape, offset, d1, d2)
    return _diagonal_scatter_array(g, shape, offset, d1, d2)


def _diag_dims(ndim, dim1, dim2):
    d1, d2 = wrap_dim(dim1, ndim), wrap_dim(dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def diagonal(input, offset=0, dim1=0, dim2=1):
    """A view of the diagonal ``offset`` of the 2-D slices over ``dim1`` and ``dim2``, placed
    as the last dim."""
    d1, d2 = _diag_dims(input._data.ndim, dim1, dim2)
    out = Diagonal.apply(input, offset, d1, d2, False)
    return make_view(out, input, lambda a: _diag_view(a, offset, d1, d2))


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Put the last dim of ``input`` on the diagonal ``offset`` of new 2-D slices over
    ``dim1`` and ``dim2`` of the result (which has one more dim)."""
    shape = input._data.shape
    d1, d2 = _diag_dims(len(shape) + 1, dim1, dim2)
    size = (shape[-1] if shape else 1) + abs(offset)
    rest = iter(shape[:-1])
    out_shape = tuple(size if i in (d1, d2) else next(rest) for i in range(len(shape) + 1))
    return DiagonalScatter.apply(input, out_shape, offset, d1, d2)


def diag(input, diagonal=0, *, out=None):
    """A 1-D input becomes a 2-D matrix with it on the diagonal ``diagonal``; a 2-D input
    gives its diagonal ``diagonal`` as a new 1-D tensor."""
    ndim = input._data.ndim
    if ndim == 1:
        return _out(diag_embed(input, diagonal, 0, 1), out)
    if ndim != 2:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {ndim}D")
    return _out(Diagonal.apply(input, diagonal, 0, 1, True), out)


def trace(input):
    """Sum of the main diagonal of a 2-D tensor."""
    input, = autocast_args("trace", input)
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input._data.ndim}")
    if input._data.dtype.kind == "b":
        raise NotImplementedError("\"trace\" not implemented for 'Bool'")
    return _reduce_sum(Diagonal.apply(input, 0, 0, 1, False))


_methods = {name: _method(globals()[name]) for name in __all__}
_methods.update({"tril_": _inplace_unary(tril), "triu_": _inplace_unary(triu)})
register_methods(_methods)
