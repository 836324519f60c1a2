"""Numerical differentiation (``gradient``), the ``mode`` along a dimension, and the matrix
exponential (``matrix_exp``, also ``torch.linalg.matrix_exp``)."""
import math

import numpy as np

from .._backend import get_array_module, to_numpy
from ..autograd.function import Node
from ..return_types import _structseq
from ..tensor import Tensor, _new
from ._util import register_methods, wrap_dim, default_float, cast
from .indexing import scalar_type_name

__all__ = ["gradient", "mode", "matrix_exp"]

mode_result = _structseq("mode", ["values", "indices"])


def _ops():
    from .. import ops
    return ops


def _edge_slices(f, dim, edge_order, h):
    """The one-sided differences at both ends of ``f`` along ``dim`` (uniform spacing ``h``)."""
    n = f.shape[dim]
    take = lambda i: f.narrow(dim, i % n, 1)  # noqa: E731 - tiny local accessor
    if edge_order == 1:
        return (take(1) - take(0)) / h, (take(n - 1) - take(n - 2)) / h
    first = (take(0) * -1.5 + take(1) * 2.0 - take(2) * 0.5) / h
    last = (take(n - 3) * 0.5 - take(n - 2) * 2.0 + take(n - 1) * 1.5) / h
    return first, last


def _uniform_gradient(f, dim, h, edge_order):
    n = f.shape[dim]
    interior = (f.narrow(dim, 2, n - 2) - f.narrow(dim, 0, n - 2)) / (2.0 * h)
    first, last = _edge_slices(f, dim, edge_order, h)
    return _ops().cat([first, interior, last], dim)


def _coordinate_gradient(f, dim, x, edge_order):
    """numpy's second-order accurate differences for sample coordinates ``x`` (1-D)."""
    ops = _ops()
    n = f.shape[dim]
    shape = [1] * f.dim()
    shape[dim] = -1
    dx = (x[1:] - x[:-1]).to(f.dtype)
    h1, h2 = dx[:-1].reshape(shape), dx[1:].reshape(shape)
    a = -h2 / (h1 * (h1 + h2))
    b = (h2 - h1) / (h1 * h2)
    c = h1 / (h2 * (h1 + h2))
    interior = (a * f.narrow(dim, 0, n - 2) + b * f.narrow(dim, 1, n - 2)
                + c * f.narrow(dim, 2, n - 2))
    take = lambda i: f.narrow(dim, i % n, 1)  # noqa: E731
    if edge_order == 1:
        first = (take(1) - take(0)) / dx[0]
        last = (take(n - 1) - take(n - 2)) / dx[-1]
    else:
        d1, d2 = dx[0], dx[1]
        first = (take(0) * (-(2 * d1 + d2) / (d1 * (d1 + d2))) + take(1) * ((d1 + d2) / (d1 * d2))
                 - take(2) * (d1 / (d2 * (d1 + d2))))
        e1, e2 = dx[-2], dx[-1]
        last = (take(n - 3) * (e2 / (e1 * (e1 + e2))) - take(n - 2) * ((e2 + e1) / (e1 * e2))
                + take(n - 1) * ((2 * e2 + e1) / (e2 * (e1 + e2))))
    return ops.cat([first, interior, last], dim)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """Estimate the gradient of a function sampled in ``input`` by central differences in the
    interior and one-sided differences (first or second order) at the boundaries.

    Args:
        input (Tensor): the samples.
        spacing (number, list of numbers or list of 1-D tensors): the step per dimension, or the
            sample coordinates per dimension. Default: 1.
        dim (int or list of int): the dimensions to differentiate along. Default: all.
        edge_order (int): 1 or 2, the accuracy order at the boundaries.

    Returns:
        A tuple with one tensor per differentiated dimension.

    Example::

        >>> torch.gradient(torch.tensor([1.0, 4.0, 9.0, 16.0]), spacing=2.0)
        (tensor([1.5000, 2.0000, 3.0000, 3.5000]),)
    """
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    if dim is None:
        dims = list(range(input.dim()))
    elif isinstance(dim, int):
        dims = [wrap_dim(dim, input.dim())]
    else:
        dims = [wrap_dim(d, input.dim()) for d in dim]
    if isinstance(spacing, (list, tuple)):
        if len(spacing) != len(dims):
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or "
                               f"it's spacing and dim arguments to have the same length, but got "
                               f"a spacing argument of length {len(spacing)} and a dim argument "
                               f"of length {len(dims)}.")
        steps = list(spacing)
    else:
        steps = [spacing] * len(dims)
    f = input if input._data.dtype.kind in "fcV" else cast(input, default_float())
    results = []
    for d, step in zip(dims, steps):
        if f.shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least "
                               "edge_order+1")
        if isinstance(step, Tensor) and step.dim() == 1:
            results.append(_coordinate_gradient(f, d, step, edge_order))
        else:
            h = step.item() if isinstance(step, Tensor) else step
            results.append(_uniform_gradient(f, d, h, edge_order))
    return tuple(results)


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along ``dim`` (the smallest one among ties) and the index of its
    last occurrence, as ``(values, indices)``; the gradient flows to that index."""
    dim = wrap_dim(dim, input.dim())
    data = to_numpy(input._data)
    moved = np.moveaxis(data, dim, -1) if data.ndim else data.reshape(1)
    flat = moved.reshape(-1, moved.shape[-1])
    if flat.shape[1] == 0:
        raise IndexError("mode(): Expected reduction dim 0 to have non-zero size.")
    picks = np.empty(flat.shape[0], np.int64)
    for row, values in enumerate(flat):
        uniques, counts = np.unique(values, return_counts=True)
        best = uniques[np.argmax(counts)]
        picks[row] = np.flatnonzero(values == best)[-1]
    index_shape = moved.shape[:-1] + (1,)
    index = np.moveaxis(picks.reshape(index_shape), -1, dim) if data.ndim else picks.reshape(())
    xp = get_array_module(input._data)
    index_t = _new(index if xp is np else xp.asarray(index))
    if input.dim() == 0:
        return mode_result(input.clone(), index_t)
    values = input.gather(dim, index_t)
    if not keepdim:
        values, index_t = values.squeeze(dim), index_t.squeeze(dim)
    return mode_result(values, index_t)


def _expm_array(a):
    """exp(A) for a stack of matrices: Taylor series of degree 18 after scaling by 2^-s so that
    the 1-norm is at most 1/2 (truncation error below 1e-22), then s squarings."""
    xp = get_array_module(a)
    work = a.astype(np.float64) if a.dtype != np.float64 else a
    norm = float(xp.abs(work).sum(axis=-2).max()) if work.size else 0.0
    squarings = max(0, int(math.ceil(math.log2(norm / 0.5)))) if norm > 0.5 else 0
    work = work / (2.0 ** squarings)
    eye = xp.broadcast_to(xp.eye(a.shape[-1]), work.shape)
    result = eye.copy()
    term = eye
    for k in range(1, 19):
        term = xp.matmul(term, work) / k
        result = result + term
    for _ in range(squarings):
        result = xp.matmul(result, result)
    return result.astype(a.dtype, copy=False)


class MatrixExp(Node):
    def forward(self, a):
        self.save_for_backward(a)
        return _expm_array(a)

    def backward(self, g):
        # The adjoint of exp at A applied to G is the upper-right block of
        # exp([[A^T, G], [0, A^T]]) (Najfeld & Havel).
        a, = self.saved_tensors
        n = a.shape[-1]
        if isinstance(g, Tensor):
            ops = _ops()
            at = a.transpose(-2, -1)
            top = ops.cat([at, g], -1)
            bottom = ops.cat([g * 0, at], -1)
            return matrix_exp(ops.cat([top, bottom], -2))[..., :n, n:]
        xp = get_array_module(g)
        at = xp.swapaxes(a, -2, -1)
        block = xp.concatenate([xp.concatenate([at, g], -1),
                                xp.concatenate([xp.zeros_like(g), at], -1)], -2)
        return _expm_array(block)[..., :n, n:]


def matrix_exp(A):
    r"""The matrix exponential :math:`e^A = \sum_k A^k / k!` of each square matrix in ``A``.

    Example::

        >>> torch.matrix_exp(torch.tensor([[0.0, 1.0], [-1.0, 0.0]]))  # a rotation by 1 rad
        tensor([[ 0.5403,  0.8415],
                [-0.8415,  0.5403]])
    """
    if A.dim() < 2 or A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.matrix_exp: A must be batches of square matrices, but they "
                           f"are {A.shape[-2] if A.dim() >= 2 else ''} by {A.shape[-1]} matrices")
    if A._data.dtype.kind not in "fc":
        raise RuntimeError(f"linalg.matrix_exp: Expected a floating point or complex tensor as "
                           f"input. Got {scalar_type_name(A)}")
    return MatrixExp.apply(A)


register_methods({"matrix_exp": matrix_exp, "mode": mode})
