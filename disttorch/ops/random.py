"""Random numbers: ``Generator``, the global seed functions, ``rand``/``randn``/``randint``/... .

The bits come from numpy's PCG64. A generator's state is a uint8 tensor (as in
PyTorch) so it can be checkpointed and restored exactly; it does not reproduce
PyTorch's own random streams.
"""
import contextlib
import json
import os
import warnings

import numpy as np

from .. import _dtype
from .. import _vmap_state
from ..tensor import Tensor, _new
from ._util import register_methods, with_out
from .creation import shape_from_args, _finish, _np_dtype

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state", "rand", "randn", "randint", "randperm", "normal",
           "rand_like", "randn_like", "randint_like", "bernoulli", "multinomial", "poisson",
           "fork_rng"]

_DEFAULT_SEED = 67280421310721  # PyTorch's default initial seed


class Generator:
    """A source of random numbers with its own state (``manual_seed``, ``get_state``...)."""

    def __init__(self, device="cpu"):
        self.device = device
        self._initial_seed = _DEFAULT_SEED
        self._rng = np.random.Generator(np.random.PCG64(_DEFAULT_SEED))

    def manual_seed(self, seed):
        """Reseed; returns this generator."""
        seed = int(seed)
        if seed < 0:
            seed = seed & 0xFFFFFFFFFFFFFFFF
        self._initial_seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self):
        """Reseed from a non-deterministic source; returns the new seed."""
        s = int.from_bytes(os.urandom(8), "little") & 0x7FFFFFFFFFFFFFFF
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._initial_seed

    def get_offset(self):
        """Philox offsets exist for counter-based generators only; a CPU generator has none."""
        raise RuntimeError("CPU Generator does not use offset")

    def set_offset(self, offset):
        raise RuntimeError("CPU Generator does not use offset")

    def get_state(self):
        """The full state as a uint8 tensor (restore it with ``set_state``)."""
        state = self._rng.bit_generator.state
        blob = json.dumps({"initial_seed": self._initial_seed, "state": state}).encode()
        return _new(np.frombuffer(blob, dtype=np.uint8).copy())

    def set_state(self, new_state):
        if not isinstance(new_state, Tensor) or new_state._data.dtype != np.uint8:
            raise TypeError("expected a torch.ByteTensor, but got "
                            f"{type(new_state).__name__}")
        try:
            payload = json.loads(bytes(np.asarray(new_state._data)).decode())
            bit_gen = np.random.PCG64()
            bit_gen.state = payload["state"]
        except (ValueError, KeyError, TypeError) as exc:
            raise RuntimeError("Invalid generator state: it was not produced by "
                               "disttorch.Generator.get_state()") from exc
        self._rng = np.random.Generator(bit_gen)
        self._initial_seed = payload["initial_seed"]
        return self

    def clone_state(self):
        return self.get_state()

    @property
    def numpy(self):
        """The numpy Generator drawing the bits."""
        return self._rng


default_generator = Generator()


def _gen(generator):
    generator = generator or default_generator
    _vmap_state.random_op(generator)  # vmap's randomness flag ('error' raises, 'same' replays)
    return generator._rng


def manual_seed(seed):
    """Seed the default generator (and CUDA's when present); returns the generator."""
    default_generator.manual_seed(seed)
    from .. import cuda
    cuda.manual_seed_all(seed)  # lazy: applied at the first CUDA use
    return default_generator


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(new_state):
    default_generator.set_state(new_state)


_fork_rng_warned = [False]


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices",
             device_type="cuda"):
    """Fork the random-number generators: on exit the CPU generator and the generators of the
    CUDA ``devices`` are back in the state they had on entry.

    Args:
        devices (iterable of int, optional): CUDA devices to fork. Default: all of them (with a
            warning when there are several, as in PyTorch).
        enabled (bool): ``False`` makes this a no-op.
        device_type (str): the accelerator whose generators fork (``"cuda"``).
    """
    if not enabled:
        yield
        return
    from .. import cuda
    if device_type != "cuda":
        raise RuntimeError(f"fork_rng: device_type {device_type!r} is not supported; "
                           "disttorch forks the CPU and CUDA generators")
    if devices is None:
        count = cuda.device_count()
        if count > 1 and not _fork_rng_warned[0]:
            warnings.warn(
                f"CUDA reports that you have {count} available devices, and you have used "
                f"{_caller} without explicitly specifying which devices are being used. For "
                f"safety, we initialize *every* CUDA device by default, which can be quite slow "
                f"if you have a lot of CUDAs. If you know that you are only making use of a few "
                f"CUDA devices, set the environment variable CUDA_VISIBLE_DEVICES or the "
                f"'{_devices_kw}' keyword argument of {_caller} with the set of devices you are "
                f"actually using.", stacklevel=3)
            _fork_rng_warned[0] = True
        devices = list(range(count))
    else:
        devices = list(devices)
    cpu_state = get_rng_state()
    device_states = [cuda.get_rng_state(d) for d in devices]
    try:
        yield
    finally:
        set_rng_state(cpu_state)
        for device, state in zip(devices, device_states):
            cuda.set_rng_state(state, device)


def _float_dtype(dtype):
    dt = _np_dtype(dtype)
    if dt.kind not in "fcV":   # (bfloat16 is kind "V")
        raise NotImplementedError(f"\"check_uniform_bounds\" not implemented for "
                                  f"'{_dtype.SCALAR_TYPE_NAMES.get(dt.name, dt.name)}'")
    return dt


@with_out(factory=True)
def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None,
         requires_grad=False, pin_memory=False):
    """Uniform samples on ``[0, 1)`` (complex dtypes: both parts)."""
    shape = shape_from_args(size, "rand")
    dt = _float_dtype(dtype)
    array = _draw(_gen(generator).random, shape, dt)
    return _finish(array.astype(dt, copy=False), device, requires_grad)


def _draw(sample, shape, dt, complex_scale=1.0):
    """``sample(shape, dtype)`` for the float dtype ``dt`` (float64 draws for half precision);
    a complex ``dt`` gets independent real and imaginary parts, times ``complex_scale``."""
    if dt.kind == "c":
        part = np.float32 if dt == np.complex64 else np.float64
        array = sample(shape, dtype=part) + 1j * sample(shape, dtype=part)
        return array * complex_scale if complex_scale != 1.0 else array
    return sample(shape, dtype=np.float64 if dt.itemsize != 4 else np.float32)


@with_out(factory=True)
def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None,
          requires_grad=False, pin_memory=False):
    """Standard normal samples (complex dtypes: a complex normal, each part of variance 1/2)."""
    shape = shape_from_args(size, "randn")
    dt = _float_dtype(dtype)
    # complex: unit variance in all, half in each part (PyTorch's complex normal)
    array = _draw(_gen(generator).standard_normal, shape, dt, complex_scale=np.sqrt(0.5))
    return _finish(array.astype(dt, copy=False), device, requires_grad)


@with_out(factory=True)
def randint(low=0, high=None, size=None, *, generator=None, out=None, dtype=None, layout=None,
            device=None, requires_grad=False):
    """Integers uniformly drawn from ``[low, high)`` (int64 by default)."""
    if size is None:
        if high is None:
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    shape = shape_from_args((size,), "randint")
    dt = _dtype.to_numpy_dtype(dtype) if dtype is not None else np.dtype(np.int64)
    array = _gen(generator).integers(low, high, shape, dtype=np.int64).astype(dt)
    return _finish(array, device, requires_grad)


@with_out(factory=True)
def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None,
             requires_grad=False, pin_memory=False):
    """A random permutation of ``0 .. n-1``."""
    if isinstance(n, Tensor):  # (a one-element integer tensor, as PyTorch takes)
        n = int(n.item())
    dt = _dtype.to_numpy_dtype(dtype) if dtype is not None else np.dtype(np.int64)
    return _finish(_gen(generator).permutation(n).astype(dt), device, requires_grad)


def rand_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    return rand(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def randn_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None):
    return randn(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, layout=None, device=None,
                 requires_grad=False, memory_format=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, dtype=dtype or input.dtype,
                   device=device or input.device, requires_grad=requires_grad)


def _data_of(x):
    from .._backend import to_numpy
    return to_numpy(x._data) if isinstance(x, Tensor) else x


@with_out
def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None,
           device=None, requires_grad=False):
    """Normal samples; ``mean``/``std`` may be numbers or tensors (broadcast)."""
    if isinstance(std, (int, float)) and std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    like = mean if isinstance(mean, Tensor) else std if isinstance(std, Tensor) else None
    if like is not None:
        m, s = _data_of(mean), _data_of(std)
        if isinstance(std, Tensor) and not (s >= 0).all():   # (a NaN std fails, as there)
            raise RuntimeError("normal expects all elements of std >= 0.0")
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        dt = like._data.dtype
        z = _gen(generator).standard_normal(shape)
        return _finish((m + s * z).astype(dt), like.device if device is None else device,
                       requires_grad)
    if size is None:
        raise TypeError("normal() missing required argument 'size'")
    shape = shape_from_args((size,), "normal")
    dt = _float_dtype(dtype)
    z = _gen(generator).standard_normal(shape)
    return _finish((mean + std * z).astype(dt), device, requires_grad)


@with_out
def bernoulli(input, p=None, *, generator=None, out=None):
    """Draw 0/1 with probability ``input`` (or ``p``) per element."""
    probs = _data_of(input) if p is None else np.full(input.shape, p)
    if (probs < 0).any() or (probs > 1).any():
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    draws = (_gen(generator).random(np.shape(probs)) < probs).astype(input._data.dtype)
    return _finish(draws, input.device, False)


@with_out
def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Sample indices from the rows of ``input`` (non-negative weights)."""
    probs = np.asarray(_data_of(input), dtype=np.float64)
    if probs.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if (probs < 0).any() or not np.isfinite(probs).all():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    rows = probs.reshape(-1, probs.shape[-1])
    rng = _gen(generator)
    result = np.empty((rows.shape[0], num_samples), dtype=np.int64)
    for i, row in enumerate(rows):
        total = row.sum()
        if total <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if not replacement and num_samples > np.count_nonzero(row):
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        result[i] = rng.choice(row.shape[0], size=num_samples, replace=replacement, p=row / total)
    if probs.ndim == 1:
        result = result[0]
    return _finish(result, input.device, False)


def poisson(input, generator=None):
    """Poisson samples with rates ``input`` (its shape and dtype). CUDA rates draw on the
    device from its generator (``disttorch.cuda.manual_seed``), as PyTorch's CUDA kernel."""
    data = input._data
    if type(data) is not np.ndarray and generator is None:
        from .._backend import get_array_module
        _vmap_state.random_op("cuda")
        return _new(get_array_module(data).random.poisson(data).astype(data.dtype))
    # (np.asarray: numpy's generator answers a 0-d rate with a Python int)
    draws = np.asarray(_gen(generator).poisson(_data_of(input)))
    return _finish(draws.astype(input._data.dtype), input.device, False)


# ------------------------------------------------------------ in-place sampling
def _fill_random(self, array):
    from .arithmetic import check_inplace
    check_inplace(self)
    if type(self._data) is np.ndarray:
        self._data[...] = array
    else:
        self._data[...] = _to_backend(array, self._data)
    self._vc[0] += 1
    return self


def _to_backend(array, like):
    from .._backend import get_array_module
    return get_array_module(like).asarray(array)


def _draw_into(data, draw):
    """Fill a float array with ``draw(out, dtype)``: straight into it when it is a contiguous
    float32/float64 numpy array (no float64 temporary), else through one."""
    if type(data) is np.ndarray and data.dtype in (np.float32, np.float64) and \
            data.flags.c_contiguous:
        draw(data, data.dtype)
        return data
    dtype = np.float32 if data.dtype.itemsize <= 4 else np.float64
    tmp = np.empty(data.shape, dtype)
    draw(tmp, dtype)
    return tmp


def uniform_array(data, a, b, rng):
    """``data`` (or a host array shaped like it) filled with U(a, b) samples."""
    def draw(out, dtype):
        rng.random(out=out, dtype=dtype)
        out *= b - a
        out += a
    return _draw_into(data, draw)


def normal_array(data, mean, std, rng):
    """``data`` (or a host array shaped like it) filled with N(mean, std^2) samples."""
    def draw(out, dtype):
        rng.standard_normal(out=out, dtype=dtype)
        out *= std
        out += mean
    return _draw_into(data, draw)


def _fill_float(self, fill):
    from .arithmetic import check_inplace
    check_inplace(self)
    if self._data.dtype.kind not in "fV":   # (bfloat16 is kind "V")
        raise RuntimeError(f"expected a floating point tensor, got {self.dtype}")
    result = fill(self._data)
    if result is not self._data:
        self._data[...] = _to_backend(result, self._data) if type(self._data) is not np.ndarray \
            else result
    self._vc[0] += 1
    return self


def uniform_(self, a=0.0, b=1.0, *, generator=None):
    """Fill with samples from U(a, b)."""
    return _fill_float(self, lambda data: uniform_array(data, a, b, _gen(generator)))


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    """Fill with samples from N(mean, std^2)."""
    return _fill_float(self, lambda data: normal_array(data, mean, std, _gen(generator)))


def random_(self, from_=0, to=None, *, generator=None):
    if to is None:
        if self._data.dtype.kind in "fV":
            # PyTorch's [0, 2^digits]: every integer up to it is exact (digits = mantissa + 1)
            to = 2 ** (_dtype.finfo(_dtype.from_numpy_dtype(self._data.dtype)).nmant + 1) + 1
        else:
            to = np.iinfo(self._data.dtype).max
    return _fill_random(self, _gen(generator).integers(from_, to, self.shape))


def bernoulli_(self, p=0.5, *, generator=None):
    probs = _data_of(p) if isinstance(p, Tensor) else p
    return _fill_random(self, _gen(generator).random(self.shape) < probs)


def exponential_(self, lambd=1.0, *, generator=None):
    return _fill_random(self, _gen(generator).exponential(1.0 / lambd, self.shape))


def geometric_(self, p, *, generator=None):
    return _fill_random(self, _gen(generator).geometric(p, self.shape))


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    return _fill_random(self, _gen(generator).lognormal(mean, std, self.shape))


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    return _fill_random(self, median + sigma * _gen(generator).standard_cauchy(self.shape))


register_methods({
    "uniform_": uniform_, "normal_": normal_, "random_": random_, "bernoulli_": bernoulli_,
    "exponential_": exponential_, "geometric_": geometric_, "log_normal_": log_normal_,
    "cauchy_": cauchy_,
    "bernoulli": lambda self, p=None, *, generator=None: bernoulli(self, p, generator=generator),
    "multinomial": lambda self, num_samples, replacement=False, *, generator=None:
        multinomial(self, num_samples, replacement, generator=generator),
})
