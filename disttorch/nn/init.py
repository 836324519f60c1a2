"""Parameter initialisation (``nn.init``): every function fills a tensor in place, without
recording autograd history, and returns it."""
import math
import warnings

import numpy as np

from .._backend import get_array_module, to_numpy
from ..autograd._saved_hooks import note_mutation
from ..ops._torch_stream import permutation
from ..ops.random import (_generator, _is_contiguous, _normal_values, _uniform_values,
                          _write_values, default_generator, normal_array, uniform_array)

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_",
           "zeros_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "orthogonal_", "sparse_"]


def _write(tensor, array):
    note_mutation(tensor)
    data = tensor._data
    xp = get_array_module(data)
    data[...] = xp.asarray(array).astype(data.dtype, copy=False)
    tensor._vc[0] += 1
    return tensor


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (``tanh``: 5/3, ``relu``: sqrt(2), ...).

    Args:
        nonlinearity: the non-linear function (`nn.functional` name).
        param: optional parameter for the non-linear function (``leaky_relu``'s slope).

    Examples::

        >>> gain = nn.init.calculate_gain("leaky_relu", 0.2)
    """
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill ``tensor`` with samples from U(a, b)."""
    return _write_drawn(tensor, uniform_array(_target(tensor), a, b, _generator(generator)))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill ``tensor`` with samples from N(mean, std^2)."""
    return _write_drawn(tensor, normal_array(_target(tensor), mean, std, _generator(generator)))


def _target(tensor):
    """``tensor``'s array, about to be filled in place."""
    note_mutation(tensor)
    return tensor._data


def _write_drawn(tensor, array):
    # the samplers fill float32/float64 parameters in place; other dtypes/devices get a copy
    if array is tensor._data:
        tensor._vc[0] += 1
        return tensor
    return _write(tensor, array)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill ``tensor`` with samples of N(mean, std^2) truncated to ``[a, b]``.

    As PyTorch: where ``[a, b]`` holds more than 30% of the mass, normal draws outside it are
    redrawn; elsewhere (a tail) uniform draws on ``[a, b]`` are accepted with probability
    ``pdf(x) / pdf(mode)``, which stays fast however far out the interval lies.
    """
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=2)
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={a:g} > to={b:g}")
    # PyTorch's steps, draw for draw, in the tensor's dtype (so a seed gives its numbers)
    gen = _generator(generator)
    data = _target(tensor)
    dt = np.dtype(np.float32) if data.dtype.kind not in "fV" else data.dtype
    n, contiguous = int(data.size), _is_contiguous(data)
    mass = _normal_cdf((b - mean) / std) - _normal_cdf((a - mean) / std)
    if mass > 0.3:
        lo, hi = np.asarray(a, dt), np.asarray(b, dt)
        result = _normal_values(gen, n, dt, mean, std, contiguous)
        while True:
            outside = (result < lo) | (result > hi)
            if not outside.any():
                break
            result = np.where(outside, _normal_values(gen, n, dt, mean, std, contiguous), result)
        return _write_drawn(tensor, _write_values(data, result))
    mode = max(a, min(mean, b))
    log_peak = dt.type(-0.5 * ((mode - mean) / std) ** 2)

    def log_density(x):
        return ((x - dt.type(mean)) / dt.type(std)) ** 2 * dt.type(-0.5) - log_peak

    result = _uniform_values(gen, n, dt, a, b)
    with np.errstate(divide="ignore"):
        pending = np.log(_uniform_values(gen, n, dt)) > log_density(result)
        while pending.any():
            candidates = _uniform_values(gen, n, dt, a, b)
            result = np.where(pending, candidates, result)
            pending = pending & (np.log(_uniform_values(gen, n, dt)) > log_density(candidates))
    return _write_drawn(tensor, _write_values(data, result))


def _normal_cdf(x):
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def constant_(tensor, val):
    """Fill ``tensor`` with ``val``."""
    return _write(tensor, np.full(tensor.shape, val))


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def eye_(tensor):
    """Fill a 2-D tensor with the identity matrix."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _write(tensor, np.eye(*tensor.shape))


def dirac_(tensor, groups=1):
    """Fill a 3, 4 or 5-D (convolution weight) tensor with the Dirac delta: the convolution
    keeps the identity of its input channels (per group)."""
    dims = tensor.ndim
    if dims not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor.shape
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = sizes[0] // groups
    values = np.zeros(sizes)
    centre = tuple(s // 2 for s in sizes[2:])
    for g in range(groups):
        for d in range(min(out_per_group, sizes[1])):
            values[(g * out_per_group + d, d) + centre] = 1
    return _write(tensor, values)


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         "dimensions")
    receptive_field = 1
    for s in tensor.shape[2:]:
        receptive_field *= s
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: U(-bound, bound) with ``bound = gain * sqrt(3 / fan_mode)``.

    Args:
        tensor: an n-dimensional tensor.
        a: the negative slope of the rectifier used after this layer (``leaky_relu`` only).
        mode: ``'fan_in'`` (default) keeps the forward variance, ``'fan_out'`` the backward's.
        nonlinearity: the non-linear function (`nn.functional` name).
        generator: the generator to sample from.
    """
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: N(0, std^2) with ``std = gain / sqrt(fan_mode)`` (see :func:`kaiming_uniform_`)."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor, gain=1, generator=None):
    """Fill with a (semi-)orthogonal matrix (trailing dims flattened), scaled by ``gain``."""
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    dt = tensor._data.dtype if tensor._data.dtype in (np.float32, np.float64) else \
        np.dtype(np.float32)
    flattened = _normal_values(_generator(generator), rows * cols, dt).reshape(rows, cols)
    if rows < cols:
        flattened = flattened.T
    q, r = np.linalg.qr(flattened)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, gain * q.reshape(tensor.shape))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """Fill a 2-D tensor with N(0, std^2) values and zero a ``sparsity`` fraction of each
    column."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    normal_(tensor, 0, std, generator)
    values = tensor._data if type(tensor._data) is np.ndarray else to_numpy(tensor._data)
    for col in range(cols):
        # (the zeroed rows come from the default generator, as in PyTorch)
        values[permutation(default_generator, rows)[:num_zeros], col] = 0
    return _write(tensor, values)


def _deprecated(fn):
    old_name = fn.__name__[:-1]

    def deprecated_init(*args, **kwargs):
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of `nn.init.{fn.__name__}`.",
                      FutureWarning, stacklevel=2)
        return fn(*args, **kwargs)
    deprecated_init.__name__ = old_name
    deprecated_init.__doc__ = f"Deprecated alias of :func:`{fn.__name__}`."
    return deprecated_init


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
