"""``embedding`` and ``embedding_bag``: row gathers whose backward scatter-adds into the
weight (dense gradients; ``sparse=True`` is accepted and gives the same dense gradient)."""
import numpy as np

from ...ops._ufunc_compat import bincount as _bincount
from ..._backend import get_array_module
from ...autograd import grad_mode
from ...autograd.function import Node
from ...tensor import Tensor, _new
from ...ops._util import masked_grad
from ...cuda.kernels import bounds

__all__ = ["embedding", "embedding_bag"]


def _row_scatter(g2d, rows, num_rows):
    """Sum the rows of ``g2d`` (N, D) into a (num_rows, D) array at ``rows`` (N,)."""
    xp = get_array_module(g2d)
    dim = g2d.shape[1]
    positions = (rows[:, None] * dim + xp.arange(dim)[None, :]).reshape(-1)
    summed = _bincount(xp, positions, g2d.reshape(-1), num_rows * dim)
    return summed.astype(g2d.dtype, copy=False).reshape(num_rows, dim)


class Embedding(Node):
    def forward(self, weight, indices, padding_idx, scale_grad_by_freq):
        self.indices = indices.reshape(-1)
        self.num_rows = weight.shape[0]
        self.padding_idx = padding_idx
        self.scale_grad_by_freq = scale_grad_by_freq
        # device indices are range-checked on the device by _check_indices, which raises at
        # the next host read (CuPy wraps an out-of-range index around meanwhile)
        return weight[indices]

    def _rows_kept(self, g2d, xp, dtype):
        """``g2d`` divided by each index's count (``scale_grad_by_freq``) and zero at
        ``padding_idx`` (exact zeros, as PyTorch skips those rows: even an inf or NaN gradient
        leaves no trace there)."""
        idx = self.indices
        if self.scale_grad_by_freq:
            counts = _bincount(xp, idx, length=self.num_rows)
            inverse = (1 / counts[idx]).astype(dtype)[:, None]
            g2d = g2d * (_new(inverse) if isinstance(g2d, Tensor) else inverse)
        if self.padding_idx is not None:
            g2d = masked_grad(g2d, (idx != self.padding_idx)[:, None])
        return g2d

    def backward(self, g):
        dim = g.shape[-1]
        g2d = g.reshape(-1, dim)
        if isinstance(g, Tensor):
            xp = get_array_module(g._data)
            g2d = self._rows_kept(g2d, xp, g._data.dtype)
            return EmbeddingGrad.apply(g2d, self.indices, self.num_rows), None, None, None
        xp = get_array_module(g)
        if self.padding_idx is not None or self.scale_grad_by_freq:
            g2d = self._rows_kept(g2d, xp, g.dtype)
        return _row_scatter(g2d, self.indices, self.num_rows), None, None, None


class EmbeddingGrad(Node):
    """The weight gradient as a function of the output gradient (for double backward)."""

    def forward(self, g2d, indices, num_rows):
        self.indices = indices
        return _row_scatter(g2d, indices, num_rows)

    def backward(self, gg):
        return gg[_new(self.indices) if isinstance(gg, Tensor) else self.indices], None, None


def _check_indices(input, num_rows, name="embedding"):
    if not isinstance(input, Tensor) or input._data.dtype.kind not in "iu" or \
            input.dtype.name not in ("int64", "int32"):
        kind = input.type() if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {kind} instead (while "
                           f"checking arguments for {name})")
    data = input._data
    if type(data) is not np.ndarray:   # checked on the device, raised at the next host read
        bounds.check(data, num_rows, name, "index {index} is out of range for size {size} in "
                     "self")
    elif data.size and (int(data.min()) < 0 or int(data.max()) >= num_rows):
        raise IndexError("index out of range in self")


def _renorm_(weight, indices, max_norm, norm_type):
    """Rescale, in place, the rows used by ``indices`` whose norm exceeds ``max_norm``."""
    data = weight._data
    xp = get_array_module(data)
    rows = xp.unique(indices.reshape(-1))
    selected = data[rows]
    norms = (xp.abs(selected) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    over = norms > max_norm
    if bool(over.any()):
        scale = xp.where(over, max_norm / (norms + 1e-7), 1.0).astype(data.dtype)
        data[rows] = selected * scale[:, None]
        weight._vc[0] += 1


def _padding_index(padding_idx, num_rows):
    if padding_idx is None:
        return None
    if padding_idx > 0:
        if padding_idx >= num_rows:
            raise AssertionError("Padding_idx must be within num_embeddings")
    elif padding_idx < 0:
        if padding_idx < -num_rows:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx += num_rows
    return padding_idx


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    r"""Look up rows of ``weight`` by the indices in ``input``.

    Args:
        input (LongTensor): indices into the rows of ``weight``, any shape.
        weight (Tensor): :math:`(V, D)` embedding matrix.
        padding_idx (int, optional): this row gets no gradient.
        max_norm (float, optional): rows used here with a larger norm are rescaled in place.
        norm_type (float, optional): the p of the p-norm for ``max_norm``. Default: 2
        scale_grad_by_freq (bool, optional): divide gradients by the index frequency in the
            mini-batch. Default: ``False``

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*, D)`.
    """
    num_rows = weight.shape[0]
    _check_indices(input, num_rows)
    padding_idx = _padding_index(padding_idx, num_rows)
    if max_norm is not None:
        with grad_mode.no_grad():
            _renorm_(weight, input._data, max_norm, norm_type)
    return Embedding.apply(weight, input, padding_idx, scale_grad_by_freq)


class EmbeddingBag(Node):
    """Sum or mean of the (optionally weighted) rows of each bag."""

    def forward(self, weight, indices, bag_of, num_bags, mode, per_sample, padding_idx,
                scale_grad_by_freq=False):
        xp = get_array_module(weight)
        dim = weight.shape[1]
        # scale_grad_by_freq: each row's gradient over the index's count in the whole input (the
        # documented rule, and CUDA's; torch 2.13's CPU kernel reads the count of another index)
        self.freq = 1.0 / _bincount(xp, indices, length=weight.shape[0])[indices].astype(
            weight.dtype) if scale_grad_by_freq else None
        keep = xp.ones(indices.shape[0], weight.dtype) if padding_idx is None else \
            (indices != padding_idx).astype(weight.dtype)
        base = keep
        if mode == "mean":
            counts = _bincount(xp, bag_of, keep, num_bags)
            base = keep / xp.maximum(counts, 1)[bag_of]
        base = base.astype(weight.dtype, copy=False)
        factor = base if per_sample is None else base * per_sample
        out = _row_scatter(weight[indices] * factor[:, None], bag_of, num_bags)
        self.save_for_backward(weight, per_sample)
        self.indices, self.bag_of, self.base, self.num_rows = indices, bag_of, base, \
            weight.shape[0]
        return out.reshape(num_bags, dim)

    def backward(self, g):
        weight, per_sample = self.saved_tensors
        e = self.next_edges
        gw = gps = None
        if isinstance(g, Tensor):
            picked = g[_new(self.bag_of)]
            factor = _new(self.base) if per_sample is None else _new(self.base) * per_sample
            if e[0] is not None:
                row_factor = factor if self.freq is None else factor * _new(self.freq)
                gw = EmbeddingGrad.apply(picked * row_factor.unsqueeze(1), self.indices,
                                         self.num_rows)
            if per_sample is not None and e[5] is not None:
                gps = (picked * weight[_new(self.indices)]).sum(1) * _new(self.base)
            return gw, None, None, None, None, gps, None, None
        picked = g[self.bag_of]
        factor = self.base if per_sample is None else self.base * per_sample
        if e[0] is not None:
            row_factor = factor if self.freq is None else factor * self.freq
            gw = _row_scatter(picked * row_factor[:, None], self.indices, self.num_rows)
        if per_sample is not None and e[5] is not None:
            gps = (picked * weight[self.indices]).sum(axis=1) * self.base
        return gw, None, None, None, None, gps, None, None


class EmbeddingBagMax(Node):
    """Elementwise max over the rows of each bag (empty bags give zeros)."""

    def forward(self, weight, indices, bag_of, num_bags, padding_idx):
        xp = get_array_module(weight)
        dim = weight.shape[1]
        if padding_idx is not None:
            keep = indices != padding_idx
            indices, bag_of = indices[keep], bag_of[keep]
        starts = xp.searchsorted(bag_of, xp.arange(num_bags))
        slot = xp.arange(indices.shape[0]) - starts[bag_of]
        width = int(slot.max()) + 1 if slot.size else 1
        padded = xp.full((num_bags, width, dim), -xp.inf, weight.dtype)
        padded[bag_of, slot] = weight[indices]
        winner = padded.argmax(axis=1)
        out = xp.take_along_axis(padded, winner[:, None, :], axis=1)[:, 0, :]
        filled = _bincount(xp, bag_of, length=num_bags) > 0
        out[~filled] = 0
        # the weight row that supplied each output element (-1 for empty bags)
        if indices.size:
            source = xp.minimum(starts[:, None] + winner, indices.shape[0] - 1)
            self.rows = xp.where(filled[:, None], indices[source], -1)
        else:
            self.rows = xp.full(out.shape, -1)
        self.num_rows = weight.shape[0]
        return out

    def backward(self, g):
        if isinstance(g, Tensor):
            raise RuntimeError("embedding_bag: double backward (create_graph=True) is not "
                               "supported")
        xp = get_array_module(g)
        dim = g.shape[1]
        used = self.rows >= 0
        positions = (self.rows * dim + xp.arange(dim)[None, :])[used]
        gw = _bincount(xp, positions, g[used], self.num_rows * dim)
        return gw.astype(g.dtype, copy=False).reshape(self.num_rows, dim), None, None, None, None


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    r"""Sums or means of bags of embeddings, without building the intermediate rows tensor.

    Args:
        input (LongTensor): :math:`(B, L)` bags of fixed length, or a 1-D list of indices
            split into bags by ``offsets``.
        weight (Tensor): :math:`(V, D)` embedding matrix.
        offsets (LongTensor, optional): starting position of each bag in a 1-D ``input``.
        scale_grad_by_freq (bool): divide each row's gradient by how often its index occurs
            in ``input`` (``'sum'``/``'mean'``).
        mode (str): ``'sum'``, ``'mean'`` or ``'max'``.
        per_sample_weights (Tensor, optional): a weight per index (``mode='sum'`` only).
        include_last_offset (bool): ``offsets`` has one extra entry (the end of the last bag).
        padding_idx (int, optional): indices equal to it are left out of the bags.

    Shape:
        - Output: :math:`(B, D)`.
    """
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                  f"per_sample_weights is only supported for mode='sum' (got "
                                  f"mode='{mode}'). Please open a feature request on GitHub.")
    num_rows = weight.shape[0]
    _check_indices(input, num_rows, "embedding_bag")
    data = input._data
    xp = get_array_module(weight._data)
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is "
                             "a mini-batch of fixed length sequences. However, found offsets of "
                             f"type {type(offsets).__name__}")
        num_bags, length = data.shape
        bag_of = xp.repeat(xp.arange(num_bags), length)
        flat = data.reshape(-1)
        psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        starts = offsets._data.astype(np.int64)
        if include_last_offset:
            starts = starts[:-1]
        num_bags = starts.shape[0]
        bag_of = xp.searchsorted(xp.asarray(starts), xp.arange(data.shape[0]), side="right") - 1
        flat = data
        psw = per_sample_weights
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.ndim}")
    if max_norm is not None:
        with grad_mode.no_grad():
            _renorm_(weight, flat, max_norm, norm_type)
    padding_idx = _padding_index(padding_idx, num_rows)
    if mode == "max":
        if scale_grad_by_freq:
            raise RuntimeError("max mode does not support scaling the gradient by the frequency")
        return EmbeddingBagMax.apply(weight, _new(flat), bag_of, num_bags, padding_idx)
    return EmbeddingBag.apply(weight, _new(flat), bag_of, num_bags, mode, psw, padding_idx,
                              bool(scale_grad_by_freq))
