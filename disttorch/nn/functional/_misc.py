"""``pad``, ``normalize``, ``cosine_similarity``, ``pairwise_distance``, ``one_hot``."""
import numpy as np

from ..._gemm import tensordot as _tensordot
from ..._backend import get_array_module
from ...autograd.function import Node
from ...tensor import Tensor, _new
from ...ops._util import wrap_dim
from ...amp.autocast_mode import autocast_args
from ...ops.shape import broadcast_tensors

__all__ = ["pad", "normalize", "cosine_similarity", "pairwise_distance", "pdist", "one_hot"]

_NUMPY_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _crop_and_pad(x, widths, value):
    """Constant padding of an array where negative widths crop."""
    xp = get_array_module(x)
    crop = tuple(slice(-lo if lo < 0 else 0, x.shape[i] + hi if hi < 0 else None)
                 for i, (lo, hi) in enumerate(widths))
    x = x[crop]
    positive = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if any(lo or hi for lo, hi in positive):
        x = xp.pad(x, positive, mode="constant", constant_values=value)
    return x


class ConstantPad(Node):
    def forward(self, x, widths, value):
        self.widths = widths
        out = _crop_and_pad(x, widths, value)
        return out if out.base is None else out.copy()

    def backward(self, g):
        # The adjoint of padding by w is cropping by w: constant padding by -w with zeros.
        back = [(-lo, -hi) for lo, hi in self.widths]
        if isinstance(g, Tensor):
            return ConstantPad.apply(g, back, 0), None, None
        out = _crop_and_pad(g, back, 0)
        return out, None, None

    @classmethod
    def name(cls):
        return "ConstantPadNdBackward0"


def _gather(x, indices):
    for axis, idx in indices:
        x = x.take(idx, axis=axis)
    return x


def _scatter(g, indices, shape):
    """The adjoint of :func:`_gather`: sum ``g`` back onto ``shape``, one padded axis at a time."""
    xp = get_array_module(g)
    for axis, idx in reversed(indices):
        size = shape[axis]
        onehot = (idx[:, None] == xp.arange(size)[None, :]).astype(g.dtype)
        g = xp.moveaxis(_tensordot(g, onehot, axes=([axis], [0])), -1, axis)
    return g


class IndexPad(Node):
    """Reflect / replicate / circular padding as a gather along each padded axis."""

    def forward(self, x, indices):
        self.indices, self.shape = indices, x.shape
        return _gather(x, indices)

    def backward(self, g):
        if isinstance(g, Tensor):
            return IndexPadGrad.apply(g, self.indices, self.shape), None
        return _scatter(g, self.indices, self.shape), None


class IndexPadGrad(Node):
    def forward(self, g, indices, shape):
        self.indices = indices
        return _scatter(g, indices, shape)

    def backward(self, gg):
        if isinstance(gg, Tensor):
            return IndexPad.apply(gg, self.indices), None, None
        return _gather(gg, self.indices), None, None


def pad(input, pad, mode="constant", value=None):
    r"""Pad the last ``len(pad) // 2`` dims of ``input``.

    Args:
        input (Tensor): N-dimensional tensor.
        pad (tuple): ``(left, right)`` for the last dim, then ``(top, bottom)`` for the one
            before, and so on. Negative values crop (constant mode).
        mode: ``'constant'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
            Default: ``'constant'``
        value: fill value for ``'constant'`` padding. Default: ``0``

    Examples::

        >>> F.pad(disttorch.ones(1, 2, 3), (1, 1, 2, 0)).shape
        disttorch.Size([1, 4, 5])
    """
    input, = autocast_args("pad", input, variant=(mode, pad))
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{input.ndim}")
    n = len(pad) // 2
    widths = [(0, 0)] * (input.ndim - n) + [(pad[2 * k], pad[2 * k + 1]) for k in
                                            reversed(range(n))]
    if mode == "constant":
        for (lo, hi), size in zip(widths, input.shape):
            if size + lo + hi < 0:
                raise RuntimeError(f"The input size {size}, plus negative padding {lo} and {hi} "
                                   f"resulted in a negative output size, which is invalid. Check "
                                   f"dimension of your input.")
        return ConstantPad.apply(input, widths, 0 if value is None else value)
    if mode not in _NUMPY_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise ValueError(f"Padding mode \"{mode}\"\" doesn't take in value argument")
    if not (n in (1, 2, 3) and input.ndim in (n + 1, n + 2)):
        raise NotImplementedError("Only 2D, 3D, 4D, 5D padding with non-constant padding are "
                                  "supported for now")
    indices = []
    for axis in range(input.ndim - n, input.ndim):
        lo, hi = widths[axis]
        size = input.shape[axis]
        if mode == "reflect" and (lo >= size or hi >= size):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding "
                               f"input dimension, but got: padding ({lo}, {hi}) at dimension "
                               f"{axis} of input {list(input.shape)}")
        if mode == "circular" and (lo > size or hi > size):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if lo or hi:
            # A crop (negative width) keeps a slice of the index map.
            idx = np.pad(np.arange(size), (max(lo, 0), max(hi, 0)), mode=_NUMPY_MODES[mode])
            idx = idx[-lo if lo < 0 else 0: len(idx) + hi if hi < 0 else None]
            indices.append((axis, get_array_module(input._data).asarray(idx)))
    if not indices:
        return input.clone()
    return IndexPad.apply(input, indices)


def _clamped_norm(x, p, dim, eps):
    """``x.norm(p, dim, keepdim=True)`` floored at ``eps``; like PyTorch, the floor does not
    change the gradient."""
    n = x.norm(p, dim, keepdim=True)
    data = n._data
    floor = get_array_module(data).maximum(data, eps) - data
    return n + _new(floor) if bool((floor != 0).any()) else n


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    r"""Divide ``input`` by its :math:`L_p` norm along ``dim``:
    :math:`v / \max(\lVert v \rVert_p, \epsilon)`."""
    n = input.norm(p, dim, keepdim=True)
    from ...ops.pointwise import clamp
    denom = clamp(n, min=eps).expand_as(input)
    result = input / denom
    if out is not None:
        out.copy_(result)
        return out
    return result


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    r""":math:`\frac{x_1 \cdot x_2}{\max(\lVert x_1 \rVert, \epsilon) \max(\lVert x_2 \rVert,
    \epsilon)}` along ``dim`` (inputs broadcast)."""
    x1, x2 = autocast_args("cosine_similarity", x1, x2)
    x1, x2 = broadcast_tensors(x1, x2)
    if not x1.is_floating_point():  # bfloat16 (numpy kind 'V') is floating
        x1, x2 = x1.float(), x2.float()
    d = wrap_dim(dim, x1.ndim)
    return ((x1 / _clamped_norm(x1, 2, d, eps)) * (x2 / _clamped_norm(x2, 2, d, eps))).sum(d)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    r""":math:`\lVert x_1 - x_2 + \epsilon \rVert_p` along the last dim."""
    out_dim = max(x1.ndim, x2.ndim)
    diff = x1 - x2 + eps
    if out_dim == 0:
        return diff.abs()
    return diff.norm(p, out_dim - 1, keepdim=keepdim)


def pdist(input, p=2):
    r"""The p-norm distance between every pair of rows of a 2-D input: the upper triangle
    (``i < j``, row-major) of the distance matrix, shape :math:`N (N - 1) / 2`."""
    input, = autocast_args("pdist", input)
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    xp = get_array_module(input._data)
    rows, cols = (xp.asarray(a) for a in np.triu_indices(input.shape[0], 1))
    return (input[_new(rows)] - input[_new(cols)]).norm(p, 1)


def one_hot(tensor, num_classes=-1):
    r"""Encode int64 class values as one-hot rows: a new last dim of size ``num_classes``
    (``-1``: one more than the largest value).

    Examples::

        >>> F.one_hot(disttorch.arange(0, 5) % 3)
        tensor([[1, 0, 0],
                [0, 1, 0],
                [0, 0, 1],
                [1, 0, 0],
                [0, 1, 0]])
    """
    if tensor.dtype.name != "int64":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    data = tensor._data
    xp = get_array_module(data)
    if num_classes == -1:
        if data.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(data.max()) + 1
    if data.size:
        if int(data.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(data.max()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    return _new((data[..., None] == xp.arange(num_classes)).astype(np.int64))
