"""PyTorch's ATen-level top-level spellings of ``nn.functional`` ops (``torch.batch_norm``,
``torch.embedding``, ``torch.kl_div``...), whose argument order, integer enums (``reduction``,
``mode``, ``interpolation_mode``) and checks differ from ``nn.functional``'s; plus
``torch.binomial``, ``torch.histogramdd``, ``as_strided_``, ``feature_dropout_`` and the
deprecated ``Tensor.resize``/``resize_as``.

``nn.functional`` is imported on first call, so ``import disttorch`` does not load ``nn``.
"""
import builtins
import math
import warnings

import numpy as np

from .._backend import get_array_module, to_numpy
from ..autograd import grad_mode
from ..autograd.function import Node
from ..return_types import _structseq
from ..tensor import Tensor, _new
from ._util import register_methods, with_out

__all__ = ["batch_norm", "instance_norm", "rms_norm", "bilinear", "embedding", "embedding_bag",
           "channel_shuffle", "cosine_embedding_loss", "hinge_embedding_loss",
           "margin_ranking_loss", "poisson_nll_loss", "triplet_margin_loss", "kl_div",
           "max_pool3d", "max_pool1d_with_indices", "binomial", "grid_sampler",
           "grid_sampler_2d", "grid_sampler_3d", "feature_dropout", "feature_dropout_",
           "feature_alpha_dropout", "feature_alpha_dropout_",
           "as_strided_", "histogramdd"]

histogramdd_result = _structseq("histogramdd", ["hist", "bin_edges"])

# ATen's enums: Reduction::{None, Mean, Sum}, GridSamplerInterpolation, GridSamplerPadding
_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}
_INTERPOLATIONS = {0: "bilinear", 1: "nearest", 2: "bicubic"}
_PADDINGS = {0: "zeros", 1: "border", 2: "reflection"}
_BAG_MODES = {0: "sum", 1: "mean", 2: "max"}


def _functional():
    from ..nn import functional
    return functional


def _reduction(reduction, name, position):
    """ATen's integer reduction as ``nn.functional``'s string; ATen leaves the loss unreduced
    for any value other than 1 (mean) and 2 (sum).

    The losses default to 0 (no reduction): their schemas say 1, but PyTorch's Python binding
    calls them unreduced when ``reduction`` is left out, and disttorch follows the behaviour."""
    if isinstance(reduction, bool) or not isinstance(reduction, (int, np.integer)):
        raise TypeError(f"{name}(): argument 'reduction' (position {position}) must be int, not "
                        f"{type(reduction).__name__}")
    return _REDUCTIONS.get(int(reduction), "none")


# ----------------------------------------------------------------------------- normalization
def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
               cudnn_enabled):
    """``torch.batch_norm``: :func:`torch.nn.functional.batch_norm` with ATen's argument order.

    Unlike the functional form it accepts a single value per channel in training (the
    normalized value is then 0 and the running variance becomes ``nan``, as in PyTorch).
    ``cudnn_enabled`` is accepted and ignored.
    """
    F = _functional()
    count = input.numel() // input.shape[1] if input.ndim >= 2 and input.shape[1] else 0
    if not training or count > 1 or input.ndim < 2:
        return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
                            eps)
    from ..nn.functional._norm import Normalize, _check_param, _update_running, require_float
    require_float(input, "batch_norm")
    channels = input.shape[1]
    for param, name in ((weight, "weight"), (bias, "bias"), (running_mean, "running_mean"),
                        (running_var, "running_var")):
        _check_param(param, name, channels)
    spec = ((input.shape[0], channels, math.prod(input.shape[2:])), (0, 2), (1, channels, 1),
            eps, True)
    out, mean, var = Normalize.apply(input, weight, bias, None, spec)
    with grad_mode.no_grad():
        if running_mean is not None:
            _update_running(running_mean, mean._data, momentum)
        if running_var is not None:
            # the unbiased variance of one value is 0/0
            _update_running(running_var, var._data * math.nan, momentum)
    return out


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum,
                  eps, cudnn_enabled):
    """``torch.instance_norm``: batch normalization of each (sample, channel) plane, with
    ATen's argument order. As in PyTorch it is :func:`batch_norm` over the input viewed as
    ``(1, N * C, *)``; the running estimates are updated with the mean over the batch.
    ``cudnn_enabled`` is accepted and ignored.
    """
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when "
                           "use_input_stats is false")
    if input.ndim < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[-{max(input.ndim, 1)}, {max(input.ndim, 1) - 1}], but got 1)")
    n, c = input.shape[:2]
    flat = input.reshape((1, n * c) + tuple(input.shape[2:]))

    def repeat(t):
        return None if t is None else t.repeat(n)
    mean_rep, var_rep = repeat(running_mean), repeat(running_var)
    out = batch_norm(flat, repeat(weight), repeat(bias), mean_rep, var_rep, use_input_stats,
                     momentum, eps, cudnn_enabled)
    if use_input_stats:
        with grad_mode.no_grad():
            for running, rep in ((running_mean, mean_rep), (running_var, var_rep)):
                if running is not None:
                    running.copy_(rep.reshape(n, c).mean(0))
    return out.reshape(input.shape)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """See :func:`torch.nn.functional.rms_norm`."""
    return _functional().rms_norm(input, normalized_shape, weight, eps)


def bilinear(input1, input2, weight, bias=None):
    """See :func:`torch.nn.functional.bilinear`."""
    return _functional().bilinear(input1, input2, weight, bias)


def channel_shuffle(input, groups):
    """See :func:`torch.nn.functional.channel_shuffle`."""
    return _functional().channel_shuffle(input, groups)


# ----------------------------------------------------------------------------- embeddings
def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """``torch.embedding``: the rows of ``weight`` at ``indices`` (note the argument order).

    A negative ``padding_idx`` (the default -1) means no padding row: unlike
    :func:`torch.nn.functional.embedding`, it is not counted from the end.
    """
    return _functional().embedding(indices, weight,
                                   padding_idx=padding_idx if padding_idx >= 0 else None,
                                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """``torch.embedding_bag``: sums (``mode=0``), means (1) or maxima (2) of bags of
    ``weight`` rows, as ``(output, offset2bag, bag_size, max_indices)``.

    ``offset2bag`` maps each index to its bag, ``bag_size`` counts each bag's non-padding
    indices and ``max_indices`` holds the winning rows of ``mode=2``; these auxiliary outputs
    follow PyTorch's CPU kernel (empty ``offset2bag`` and zero ``bag_size`` for sums without
    ``padding_idx``, ``max_indices`` equal to ``bag_size`` for means). Only ``output`` is
    differentiable.
    """
    if not isinstance(offsets, Tensor):
        raise TypeError(f"embedding_bag(): argument 'offsets' (position 3) must be Tensor, not "
                        f"{type(offsets).__name__}")
    if mode not in _BAG_MODES:
        raise RuntimeError("`mode` must be sum, mean, or max.")
    if per_sample_weights is not None and mode != 0:
        raise RuntimeError("embedding_bag: per_sample_weights only supported with mode='sum'")
    flat = indices.reshape(-1) if indices.ndim == 2 else indices
    if indices.ndim == 2:
        offsets = _new(get_array_module(indices._data).arange(
            0, flat.numel(), indices.shape[1], dtype=np.int64))
    offsets_np = to_numpy(offsets._data).astype(np.int64)
    total = flat.numel()
    if offsets_np.size and offsets_np[0] != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch "
                           f"has to start from position 0. However, got {offsets_np[0]}")
    if offsets_np.size and offsets_np[-1] > total:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length {total} but got "
                           f"offsets[-1] of {offsets_np[-1]}")
    pad = padding_idx
    if pad is not None and pad < 0:
        pad += weight.shape[0]
    output = _functional().embedding_bag(
        flat, weight, offsets, scale_grad_by_freq=scale_grad_by_freq, mode=_BAG_MODES[mode],
        sparse=sparse, per_sample_weights=per_sample_weights,
        include_last_offset=include_last_offset, padding_idx=pad)
    num_bags = output.shape[0]
    starts = offsets_np[:num_bags]
    # as PyTorch's kernel: the last bag runs to the end of the indices (include_last_offset
    # too), and offset2bag numbers each index by the count of bag starts up to it, minus one
    ends = np.append(starts[1:], total)
    marks = np.zeros(total + 1, np.int64)
    np.add.at(marks, np.minimum(starts, total), 1)
    offset2bag = (np.cumsum(marks)[:total] - 1).clip(0)
    idx = to_numpy(flat._data).astype(np.int64)
    keep = np.ones(total, bool) if pad is None else idx != pad
    lengths = np.maximum(ends - starts, 0)
    padded = np.zeros(num_bags, np.int64)
    if pad is not None and total:
        np.add.at(padded, offset2bag[~keep], 1)
    counts = lengths - padded
    dim = weight.shape[1]
    if mode == 0:
        # PyTorch's fast path for float32/16/bf16 sums without padding leaves it empty
        if pad is None and weight._data.dtype != np.float64:
            offset2bag = np.zeros(0, np.int64)
        # (sized by the offsets, include_last_offset's extra one included, as PyTorch's)
        bag_size = np.zeros(offsets_np.size, np.int64)
        max_indices = np.zeros(offsets_np.size, np.int64)
    elif mode == 1:
        bag_size = max_indices = counts
    else:
        bag_size = counts
        max_indices = np.zeros((num_bags, dim), np.int64)
        rows = to_numpy(weight._data)
        for b in range(num_bags):
            members = idx[starts[b]:ends[b]][keep[starts[b]:ends[b]]]
            if members.size:
                max_indices[b] = members[np.argmax(rows[members], axis=0)]
    xp = get_array_module(weight._data)
    aux = [_new(xp.asarray(a)) for a in (offset2bag, bag_size, max_indices)]
    return (output, *aux)


# ----------------------------------------------------------------------------- losses
def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=0):
    """See :func:`torch.nn.functional.cosine_embedding_loss`; ``reduction`` is ATen's enum
    (0 none, the default as in PyTorch's binding; 1 mean; 2 sum)."""
    return _functional().cosine_embedding_loss(
        input1, input2, target, margin, reduction=_reduction(reduction, "cosine_embedding_loss", 5))


def hinge_embedding_loss(input, target, margin=1.0, reduction=0):
    """See :func:`torch.nn.functional.hinge_embedding_loss`; ``reduction`` is ATen's enum."""
    return _functional().hinge_embedding_loss(
        input, target, margin, reduction=_reduction(reduction, "hinge_embedding_loss", 4))


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=0):
    """See :func:`torch.nn.functional.margin_ranking_loss`; ``reduction`` is ATen's enum."""
    return _functional().margin_ranking_loss(
        input1, input2, target, margin, reduction=_reduction(reduction, "margin_ranking_loss", 5))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    """See :func:`torch.nn.functional.poisson_nll_loss`; every argument is required and
    ``reduction`` is ATen's enum."""
    return _functional().poisson_nll_loss(
        input, target, log_input, full, eps=eps,
        reduction=_reduction(reduction, "poisson_nll_loss", 6))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-06, swap=False,
                        reduction=0):
    """See :func:`torch.nn.functional.triplet_margin_loss`; ``reduction`` is ATen's enum."""
    return _functional().triplet_margin_loss(
        anchor, positive, negative, margin, p, eps, swap,
        reduction=_reduction(reduction, "triplet_margin_loss", 8))


def kl_div(input, target, reduction=0, *, log_target=False):
    """``torch.kl_div``: the pointwise KL divergence ``target * (log target - input)``
    (``input`` holds log-probabilities). ``reduction`` is ATen's enum; its mean is over all
    elements (ATen has no ``'batchmean'``)."""
    loss = _functional().kl_div(input, target, reduction="none", log_target=log_target)
    mode = _reduction(reduction, "kl_div", 3)
    return loss.mean() if mode == "mean" else loss.sum() if mode == "sum" else loss


# ----------------------------------------------------------------------------- pooling, sampling
def max_pool3d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """See :func:`torch.nn.functional.max_pool3d` (no ``return_indices`` here, as in
    PyTorch)."""
    return _functional().max_pool3d(input, kernel_size, stride if stride else None, padding,
                                    dilation, ceil_mode)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode=False):
    """:func:`torch.nn.functional.max_pool1d` returning ``(output, indices)``."""
    return _functional().max_pool1d(input, kernel_size, stride if stride else None, padding,
                                    dilation, ceil_mode, return_indices=True)


def _enum(value, table, what):
    if value not in table:
        # PyTorch reads an unknown enum as undefined behaviour; disttorch refuses it
        raise RuntimeError(f"grid_sampler(): expected {what} to be one of "
                           f"{', '.join(f'{k} ({v})' for k, v in table.items())}, but got {value}")
    return table[value]


def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    """``torch.grid_sampler``: :func:`torch.nn.functional.grid_sample` with ATen's enums:
    ``interpolation_mode`` 0 bilinear, 1 nearest, 2 bicubic; ``padding_mode`` 0 zeros,
    1 border, 2 reflection. ``align_corners`` is required."""
    return _functional().grid_sample(
        input, grid, _enum(interpolation_mode, _INTERPOLATIONS, "interpolation_mode"),
        _enum(padding_mode, _PADDINGS, "padding_mode"), bool(align_corners))


def _grid_sampler_nd(d):
    def op(input, grid, interpolation_mode, padding_mode, align_corners):
        if input.ndim != d + 2 or grid.ndim != d + 2:
            raise RuntimeError(f"grid_sampler(): expected {d + 2}D input and grid with same "
                               f"number of dimensions, but got input with sizes "
                               f"{list(input.shape)} and grid with sizes {list(grid.shape)}")
        return grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)
    op.__name__ = f"grid_sampler_{d}d"
    op.__doc__ = f":func:`grid_sampler` on {d + 2}-D inputs only."
    return op


grid_sampler_2d = _grid_sampler_nd(2)
grid_sampler_3d = _grid_sampler_nd(3)


# ----------------------------------------------------------------------------- random
class _NoGradient(Node):
    """Marks a sample as depending on its inputs while refusing to differentiate it (PyTorch's
    ``NotImplemented`` grad_fn)."""

    def forward(self, sample, count, prob, name):
        self.op_name = name
        return sample

    def backward(self, g):
        raise RuntimeError(f"derivative for aten::{self.op_name} is not implemented")


def binomial(count, prob, generator=None):
    """Draws from binomial distributions with ``count`` trials and success probability
    ``prob`` (broadcast together; floating dtypes, which must agree).

    A negative ``count`` gives 0 and ``prob`` is clamped to [0, 1]; ``nan`` in either gives
    ``nan`` (PyTorch's CPU kernel does not return there). The result is not differentiable:
    its ``backward`` raises, as in PyTorch.
    """
    from .random import _gen
    if count._data.dtype.kind != "f":
        from .indexing import scalar_type_name
        raise ValueError(f"binomial only supports floating-point dtypes for count, got: "
                         f"{scalar_type_name(count)}")
    if prob._data.dtype != count._data.dtype:
        from .indexing import scalar_type_name
        raise RuntimeError(f"Found dtype {scalar_type_name(prob)} but expected "
                           f"{scalar_type_name(count)}")
    if type(count._data) is not type(prob._data):
        from ._util import device_mismatch
        raise device_mismatch(count, prob)
    n = to_numpy(count._data).astype(np.float64)
    p = to_numpy(prob._data).astype(np.float64)
    n, p = np.broadcast_arrays(n, p)
    invalid = np.isnan(n) | np.isnan(p)
    trials = np.where(invalid, 0, np.maximum(np.floor(np.nan_to_num(n)), 0)).astype(np.int64)
    draws = np.asarray(_gen(generator).binomial(trials, np.clip(np.nan_to_num(p), 0, 1)),
                       np.float64)
    draws[invalid] = np.nan
    xp = get_array_module(count._data)
    sample = xp.asarray(draws.astype(count._data.dtype))
    if grad_mode.is_grad_enabled() and (count._requires_grad or prob._requires_grad):
        return _NoGradient.apply(_new(sample), count, prob, "binomial")
    return _new(sample)


def _feature(self, p, train, alpha, inplace):
    from ..nn.functional._dropout import _alpha_dropout, _dropout
    if self.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if not 0 <= p <= 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")
    feature_dims = self.ndim - 2
    if alpha:
        return _alpha_dropout(self, p, train, inplace, feature_dims)
    return _dropout(self, p, train, inplace, feature_dims)


def feature_dropout(input, p, train):
    """With probability ``p`` each channel (dim 1) of each sample is zeroed, the others scaled
    by ``1 / (1 - p)``; the input itself unless ``train``."""
    return _feature(input, p, train, alpha=False, inplace=False)


def feature_dropout_(input, p, train):
    """In-place :func:`feature_dropout`."""
    return _feature(input, p, train, alpha=False, inplace=True)


def feature_alpha_dropout(input, p, train):
    """:func:`torch.nn.functional.alpha_dropout` over whole channels (dim 1)."""
    return _feature(input, p, train, alpha=True, inplace=False)


def feature_alpha_dropout_(input, p, train):
    """In-place :func:`feature_alpha_dropout`."""
    return _feature(input, p, train, alpha=True, inplace=True)


# ----------------------------------------------------------------------------- views, histograms
def as_strided_(input, size, stride, storage_offset=None):
    """In-place :func:`torch.as_strided`: ``input`` becomes the strided view (strides and the
    offset count its own elements in row-major order, see :func:`as_strided`). A ``None``
    offset is 0."""
    from .shape import _inplace_view
    from .strided import as_strided
    return _inplace_view(as_strided)(input, size, stride, storage_offset or 0)


def _histogram_ranges(data, dims, range):
    if range is not None:
        if len(range) != 2 * dims:
            raise RuntimeError(f"torch.histogramdd: for a {dims}-dimensional histogram range "
                               f"should have {2 * dims} elements, but got {len(range)}")
        pairs = [(float(range[2 * i]), float(range[2 * i + 1])) for i in builtins.range(dims)]
    elif data.shape[0]:
        pairs = [(float(data[:, i].min()), float(data[:, i].max())) for i in builtins.range(dims)]
    else:
        pairs = [(0.0, 1.0)] * dims
    out = []
    for i, (lo, hi) in enumerate(pairs):
        if lo > hi:
            raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min "
                               f"{lo:g} max {hi:g} for dimension {i}")
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise RuntimeError(f"torch.histogramdd: dimension {i}'s range [{lo:g}, {hi:g}] is "
                               f"not finite")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        out.append((lo, hi))
    return out


@with_out
def histogramdd(input, bins, *, range=None, weight=None, density=False, out=None):
    """A multi-dimensional histogram of the points in the last dimension of ``input``.

    ``input`` of shape ``(..., D)`` holds points in D dimensions; ``bins`` is a bin count for
    every dimension, a sequence of D counts, or a sequence of D 1-D tensors of increasing
    edges (``range`` is then ignored); ``range`` gives ``[min_0, max_0, ..., min_{D-1},
    max_{D-1}]`` (the data's range by default); ``weight`` (shape ``input.shape[:-1]``) weighs
    each point; ``density`` normalizes to a density. Returns ``(hist, bin_edges)`` with
    ``bin_edges`` a tuple of D tensors. Not differentiable.
    """
    from .indexing import scalar_type_name
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f'"histogramdd" not implemented for '
                                  f"'{scalar_type_name(input)}'")
    if input.ndim < 2:
        raise RuntimeError("torch.histogramdd: input tensor should have at least 2 dimensions")
    dims = input.shape[-1]
    data = to_numpy(input._data).reshape(-1, dims)
    dt = input._data.dtype
    if isinstance(bins, (int, np.integer)):
        bins = [int(bins)] * dims
    bins = list(bins)
    if len(bins) != dims:
        raise RuntimeError("histogramdd: The size of bins must be equal to the innermost "
                           "dimension of the input.")
    w = None
    if weight is not None:
        if weight._data.dtype != dt:
            raise RuntimeError(f"torch.histogramdd: if weight tensor is provided, input tensor "
                               f"and weight tensor should have the same dtype, but got "
                               f"input({scalar_type_name(input).lower()}), and "
                               f"weight({scalar_type_name(weight).lower()})")
        if tuple(weight.shape) != tuple(input.shape[:-1]):
            raise RuntimeError(f"torch.histogramdd: if weight tensor is provided it should have "
                               f"the same shape as the input tensor excluding its innermost "
                               f"dimension, but got input with shape {list(input.shape)} and "
                               f"weight with shape {list(weight.shape)}")
        w = to_numpy(weight._data).reshape(-1)
    if bins and isinstance(bins[0], Tensor):
        for i, b in enumerate(bins):
            if b._data.dtype != dt:
                raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should "
                                   f"have the same dtype, but got input with dtype "
                                   f"{scalar_type_name(input).lower()} and bins for dimension "
                                   f"{i} with dtype {scalar_type_name(b).lower()}")
        edges = [to_numpy(b._data) for b in bins]
    else:
        for i, b in enumerate(bins):
            if b <= 0:
                raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {b} for "
                                   f"dimension {i}")
        ranges = _histogram_ranges(data, dims, range)
        edges = [np.linspace(lo, hi, int(b) + 1).astype(dt) for (lo, hi), b in zip(ranges, bins)]
    hist = _binned_counts(data, edges, w)
    if density:
        volume = np.ones(hist.shape)
        for i, e in enumerate(edges):
            width = np.diff(e.astype(np.float64))
            volume = volume * width.reshape([-1 if j == i else 1 for j in builtins.range(dims)])
        hist = hist / (hist.sum() * volume)
    xp = get_array_module(input._data)
    return histogramdd_result(_new(xp.asarray(hist.astype(dt))),
                              tuple(_new(xp.asarray(e)) for e in edges))


def _binned_counts(data, edges, weights):
    """Counts (or summed weights) per bin; as PyTorch, values equal to an upper edge land in
    the last bin and values outside the edges are dropped."""
    shape = tuple(e.size - 1 for e in edges)
    index = np.zeros(data.shape[0], np.int64)
    inside = np.ones(data.shape[0], bool)
    for i, e in enumerate(edges):
        x = data[:, i]
        pos = np.searchsorted(e, x, side="right") - 1
        pos = np.where(x == e[-1], e.size - 2, pos)
        inside &= (pos >= 0) & (pos < e.size - 1) & ~np.isnan(x)
        index = index * shape[i] + np.clip(pos, 0, max(shape[i] - 1, 0))
    counts = np.bincount(index[inside], None if weights is None else
                         weights[inside].astype(np.float64), minlength=math.prod(shape))
    return counts.reshape(shape)


# ----------------------------------------------------------------------------- Tensor methods
def _resize_numel_error(self, sizes):
    def describe(shape):
        return "x".join(map(str, shape)) if shape else "[]"
    return RuntimeError(f"requested resize to {describe(sizes)} ({math.prod(sizes)} elements in "
                        f"total), but the given tensor has a size of {describe(self.shape)} "
                        f"({self.numel()} elements). autograd's resize can only change the "
                        f"shape of a given tensor, while preserving the number of elements. ")


def resize(self, *sizes):
    """Deprecated out-of-place resize: ``self`` reshaped to ``sizes``, which must keep the
    number of elements (differentiable). Use :meth:`reshape` or in-place :meth:`resize_`."""
    warnings.warn("non-inplace resize is deprecated", stacklevel=2)
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = sizes[0]
    sizes = tuple(int(s) for s in sizes)
    if math.prod(sizes) != self.numel():
        raise _resize_numel_error(self, sizes)
    return self.reshape(sizes)


def resize_as(self, tensor):
    """Deprecated out-of-place :meth:`resize_as_`: ``self`` reshaped to ``tensor``'s shape,
    which must have as many elements."""
    warnings.warn("non-inplace resize_as is deprecated", stacklevel=2)
    sizes = tuple(tensor.shape)
    if math.prod(sizes) != self.numel():
        raise _resize_numel_error(self, sizes)
    return self.reshape(sizes)


def _as_strided_method(self, size, stride, storage_offset=None):
    return as_strided_(self, size, stride, storage_offset)


_as_strided_method.__name__ = "as_strided_"
_as_strided_method.__doc__ = as_strided_.__doc__

register_methods({"as_strided_": _as_strided_method, "resize": resize, "resize_as": resize_as})
