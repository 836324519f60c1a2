"""Fractional max pooling: windows of a fixed size at pseudo-random, increasing offsets.

Each plane draws one sample in [0, 1) per spatial dimension; the window starts follow
PyTorch's ``generate_intervals``, computed in the input's precision so the same samples pick
the same windows as PyTorch. The windows are gathered (their starts differ per plane) and
reduced by ``_pool.MaxPool``.
"""
import math

from ..._backend import get_array_module
from ...ops.random import rand
from ._windows import ntuple, shape_str

__all__ = ["fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d_with_indices"]

_AXIS_NAMES = {2: ("height", "width"), 3: ("time", "height", "width")}


def _window_starts(samples, size, out, pool):
    """``(N, C)`` samples -> ``(N, C, out)`` window starts along one axis."""
    xp = get_array_module(samples)
    dtype = samples.dtype.type
    starts = xp.empty(samples.shape + (out,), dtype=xp.int64)
    if out > 1:
        alpha = dtype(size - pool) / dtype(out - 1)
        steps = xp.arange(out - 1, dtype=samples.dtype)
        scaled = xp.trunc((steps + samples[..., None]) * alpha).astype(xp.int64)
        starts[..., :-1] = scaled - xp.trunc(samples * alpha).astype(xp.int64)[..., None]
    starts[..., -1] = size - pool
    return starts


def _fractional_max_pool(input, d, kernel_size, output_size, output_ratio, return_indices,
                         random_samples, name):
    from ._pool import MaxPool
    if input.ndim not in (d + 1, d + 2):
        raise RuntimeError(f"{name}(): Expected {d + 1}D or {d + 2}D tensor, but got: "
                           f"{shape_str(input.shape)}")
    kernel = ntuple(kernel_size, d, "kernel_size")
    spatial = tuple(input.shape[-d:])
    if output_size is None:
        if output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output_size or an "
                             f"output_ratio")
        ratios = output_ratio if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * d
        output_size = [int(s * r) for s, r in zip(spatial, ratios)]
    outs = ntuple(output_size, d, "output_size")
    for axis_name, size, o, k in zip(_AXIS_NAMES[d], spatial, outs, kernel):
        if o + k - 1 > size:
            label = name if d == 2 else f"{name}_out"
            raise RuntimeError(f"{label}(): pool {axis_name} {k} too large relative to input "
                               f"{axis_name} {size}")
    unbatched = input.ndim == d + 1
    if unbatched:
        input = input.unsqueeze(0)
    n, c = input.shape[:2]
    if random_samples is None:
        random_samples = rand(n, c, d, dtype=input.dtype, device=input.device)
    if tuple(random_samples.shape) != (n, c, d):
        raise RuntimeError(f"Expect _random_samples to be of shape [{n}, {c}, {d}]; got "
                           f"{shape_str(random_samples.shape)}.")
    samples = random_samples._data

    def gather(x):
        xp = get_array_module(x)
        # PyTorch's 2-D kernel takes the width sample first; the 3-D one goes in axis order
        order = (1, 0) if d == 2 else (0, 1, 2)
        starts = [_window_starts(samples[..., order[a]].astype(x.dtype, copy=False),
                                 spatial[a], outs[a], kernel[a]) for a in range(d)]
        index = [xp.arange(n).reshape((n,) + (1,) * (1 + 2 * d)),
                 xp.arange(c).reshape((1, c) + (1,) * (2 * d))]
        for a in range(d):
            shape = [n, c] + [1] * (2 * d)
            shape[2 + 2 * a], shape[3 + 2 * a] = outs[a], kernel[a]
            index.append((starts[a][..., None] + xp.arange(kernel[a])).reshape(shape))
        windows = x[tuple(index)]
        order_axes = (0, 1) + tuple(2 + 2 * a for a in range(d)) + tuple(3 + 2 * a
                                                                        for a in range(d))
        windows = windows.transpose(order_axes).reshape((n, c) + outs + (math.prod(kernel),))

        def to_input_index(arg):
            flat = xp.zeros(arg.shape, dtype=xp.int64)
            rest = arg.astype(xp.int64)
            mult = 1
            for a in reversed(range(d)):
                tap = rest % kernel[a]
                rest = rest // kernel[a]
                shape = [n, c] + [1] * d
                shape[2 + a] = outs[a]
                flat += (starts[a].reshape(shape) + tap) * mult
                mult *= spatial[a]
            return flat
        return windows, to_input_index

    out, index = MaxPool.apply(input, gather)
    if unbatched:
        out, index = out.squeeze(0), index.squeeze(0)
    return (out, index) if return_indices else out


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """Applies 2D fractional max pooling: ``kernel_size`` windows at pseudo-random offsets
    so that the output has ``output_size`` (or ``output_ratio`` of the input size).

    Args:
        input: tensor of shape :math:`(N, C, H, W)` or :math:`(C, H, W)`
        kernel_size: the size of the window
        output_size: the target output size ``(oH, oW)``
        output_ratio: the output size as a fraction of the input size, in (0, 1)
        return_indices: also return the flat indices of the maxima
        _random_samples: ``(N, C, 2)`` samples in [0, 1) fixing the offsets (random otherwise)

    Shape:
        - Output: :math:`(N, C, oH, oW)`
    """
    return _fractional_max_pool(input, 2, kernel_size, output_size, output_ratio,
                                return_indices, _random_samples, "fractional_max_pool2d")


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """Applies 3D fractional max pooling; arguments as in :func:`fractional_max_pool2d` with
    triples and ``(N, C, 3)`` samples.

    Shape:
        - Input: :math:`(N, C, T, H, W)`; Output: :math:`(N, C, oT, oH, oW)`
    """
    return _fractional_max_pool(input, 3, kernel_size, output_size, output_ratio,
                                return_indices, _random_samples, "fractional_max_pool3d")


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """:func:`fractional_max_pool2d` returning ``(output, indices)`` whatever
    ``return_indices`` says."""
    return _fractional_max_pool(input, 2, kernel_size, output_size, output_ratio, True,
                                _random_samples, "fractional_max_pool2d")


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """:func:`fractional_max_pool3d` returning ``(output, indices)`` whatever
    ``return_indices`` says."""
    return _fractional_max_pool(input, 3, kernel_size, output_size, output_ratio, True,
                                _random_samples, "fractional_max_pool3d")
