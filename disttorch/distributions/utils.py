"""Helpers shared by the distributions: broadcasting parameters, probs <-> logits."""
import numbers

from .. import ops
from .._dtype import finfo, get_default_dtype, int64
from ..tensor import Size, Tensor

__all__ = ["broadcast_all", "logits_to_probs", "probs_to_logits", "clamp_probs",
           "lazy_property", "tril_matrix_to_vec", "vec_to_tril_matrix"]


def broadcast_all(*values):
    """The tensors and numbers in ``values`` as tensors of one shape (numbers take the dtype
    and device of the tensors, or the default dtype)."""
    if not all(isinstance(v, (Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number, "
                         "torch.Tensor or objects implementing __torch_function__.")
    if all(isinstance(v, Tensor) for v in values) and \
            len({tuple(v.shape) for v in values}) == 1:
        return tuple(values)  # already one shape: the tensors themselves, as in PyTorch
    like = next((v for v in values if isinstance(v, Tensor)), None)
    dtype = like.dtype if like is not None else get_default_dtype()
    device = like.device if like is not None else None
    tensors = [v if isinstance(v, Tensor) else ops.tensor(v, dtype=dtype, device=device)
               for v in values]
    return tuple(ops.broadcast_tensors(*tensors))


def _eps(t):
    return finfo(t.dtype).eps


def clamp_probs(probs):
    """``probs`` kept within [eps, 1 - eps] of their dtype."""
    eps = _eps(probs)
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits, is_binary=False):
    """Probabilities from logits: sigmoid (binary) or softmax over the last dim."""
    if is_binary:
        return ops.sigmoid(logits)
    return ops.softmax(logits, -1)


def probs_to_logits(probs, is_binary=False):
    """Logits from (clamped) probabilities: log-odds (binary) or log-probabilities."""
    p = clamp_probs(probs)
    if is_binary:
        return ops.log(p) - ops.log1p(-p)
    return ops.log(p)


class lazy_property:
    """A property computed on first access and then stored on the instance."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


def _sum_rightmost(value, dims):
    """``value`` summed over its ``dims`` rightmost dimensions."""
    return value.reshape(tuple(value.shape[:value.ndim - dims]) + (-1,)).sum(-1) if dims else value


def _batch_shape_of(params, given):
    """``Size()`` when every given parameter is a Python number (PyTorch's scalar batch), else
    the broadcast parameters' shape."""
    return Size() if all(isinstance(g, numbers.Number) for g in given) else params[0].shape


def _standard_uniform(shape, like):
    return ops.rand(tuple(shape), dtype=like.dtype, device=like.device)


def _standard_normal(shape, like):
    return ops.randn(tuple(shape), dtype=like.dtype, device=like.device)


def _tril_flat_index(n, diag):
    """The flat (row-major) positions of an ``n x n`` matrix's entries on or below diagonal
    ``diag``, in row order."""
    rows, cols = zip(*[(i, j) for i in range(n) for j in range(n) if j - i <= diag]) \
        if n else ((), ())
    return [i * n + j for i, j in zip(rows, cols)]


def tril_matrix_to_vec(mat, diag=0):
    """The entries of ``mat`` (a batch of ``n x n`` matrices) on or below diagonal ``diag``, in
    row order, as a batch of vectors."""
    n = mat.shape[-1]
    if not -n <= diag < n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    index = ops.tensor(_tril_flat_index(n, diag), dtype=int64, device=mat.device)
    return mat.reshape(tuple(mat.shape[:-2]) + (n * n,))[..., index]


def vec_to_tril_matrix(vec, diag=0):
    """The batch of ``D x D`` lower-triangular matrices (zero above diagonal ``diag``) whose
    entries on or below it are ``vec``'s, in row order."""
    # D solves D^2 + (1 + 2 diag) D - |diag| (diag + 1) - 2 len = 0
    m = vec.shape[-1]
    root = (-(1 + 2 * diag) + ((1 + 2 * diag) ** 2 + 8 * m
                                + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if abs(round(root) - root) > finfo(vec.dtype).eps:
        raise ValueError(f"The size of last dimension is {m} which cannot be expressed as the "
                         f"lower triangular part of a square D x D matrix.")
    n = round(root)
    # each entry of the matrix reads a position of [0, vec]: 0 above the diagonal
    source = [0] * (n * n)
    for k, flat in enumerate(_tril_flat_index(n, diag)):
        source[flat] = k + 1
    index = ops.tensor(source, dtype=int64, device=vec.device)
    padded = ops.cat([ops.zeros(tuple(vec.shape[:-1]) + (1,), dtype=vec.dtype,
                                device=vec.device), vec], -1)
    return padded[..., index].reshape(tuple(vec.shape[:-1]) + (n, n))
