"""Helpers shared by the distributions: broadcasting parameters, probs <-> logits."""
import numbers

from .. import ops
from .._dtype import finfo, get_default_dtype
from ..tensor import Size, Tensor

__all__ = ["broadcast_all", "logits_to_probs", "probs_to_logits", "clamp_probs",
           "lazy_property"]


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
