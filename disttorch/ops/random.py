"""Random numbers: ``Generator``, the global seed functions, ``rand``/``randn``/``randint``/... .

A CPU generator is PyTorch's: the same Mersenne Twister, seeded the same way, and the
samplers PyTorch's CPU kernels use (:mod:`._torch_stream`), so that after
``manual_seed(s)`` ``rand``, ``randn``, ``randint``, ``randperm``, ``normal_``, ``uniform_``,
``random_``, ``bernoulli``, dropout masks, ``nn.init`` and the shuffling samplers give
PyTorch's numbers. Samplers PyTorch computes differently (``multinomial``, ``poisson``, the
gamma family) draw from the same stream through numpy. A generator's state is a uint8 tensor
(as in PyTorch) so it can be checkpointed and restored exactly.
"""
import contextlib
import json
import os
import warnings

import numpy as np

from .. import _dtype
from .. import _vmap_state
from ..tensor import Tensor, _new
from . import _libstdcxx, _torch_stream as _stream
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
        self._reseed(_DEFAULT_SEED)

    def _reseed(self, seed):
        self._initial_seed = seed
        self._bitgen = _stream.seeded_bit_generator(seed)
        self._rng = np.random.Generator(self._bitgen)
        # the second value of the last float64 Box-Muller pair drawn one value at a time
        self._normal_cache = None

    def manual_seed(self, seed):
        """Reseed; returns this generator."""
        seed = int(seed)
        if seed < 0:
            seed = seed & 0xFFFFFFFFFFFFFFFF
        self._reseed(seed)
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
        state = dict(self._bitgen.state)
        inner = state.get("state")
        if isinstance(inner, dict) and isinstance(inner.get("key"), np.ndarray):
            state["state"] = dict(inner, key=inner["key"].tolist())
        blob = json.dumps({"initial_seed": self._initial_seed, "state": state,
                           "normal_cache": self._normal_cache}).encode()
        return _new(np.frombuffer(blob, dtype=np.uint8).copy())

    def set_state(self, new_state):
        if not isinstance(new_state, Tensor) or new_state._data.dtype != np.uint8:
            raise TypeError("expected a torch.ByteTensor, but got "
                            f"{type(new_state).__name__}")
        try:
            payload = json.loads(bytes(np.asarray(new_state._data)).decode())
            state = payload["state"]
            # (a PCG64 state: saved before disttorch drew PyTorch's stream; it resumes that)
            bit_gen = getattr(np.random, state["bit_generator"])()
            if isinstance(state.get("state"), dict) and "key" in state["state"]:
                state = dict(state, state=dict(state["state"], key=np.asarray(
                    state["state"]["key"], dtype=np.uint32)))
            bit_gen.state = state
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RuntimeError("Invalid generator state: it was not produced by "
                               "disttorch.Generator.get_state()") from exc
        self._bitgen = bit_gen
        self._rng = np.random.Generator(bit_gen)
        self._initial_seed = payload["initial_seed"]
        self._normal_cache = payload.get("normal_cache")
        return self

    def clone_state(self):
        return self.get_state()

    @property
    def numpy(self):
        """The numpy Generator drawing the bits."""
        return self._rng


default_generator = Generator()


def _generator(generator):
    """The :class:`Generator` to draw from (the default one when None)."""
    generator = generator or default_generator
    _vmap_state.random_op(generator)  # vmap's randomness flag ('error' raises, 'same' replays)
    return generator


def _gen(generator):
    """The numpy generator over the same stream, for samplers PyTorch computes otherwise."""
    return _generator(generator)._rng


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


def _part(dt):
    """The real dtype of a complex ``dt``'s parts."""
    return np.dtype(np.float32 if dt == np.complex64 else np.float64)


def _uniform_values(gen, n, dt, low=0.0, high=1.0):
    """``n`` U(low, high) values of dtype ``dt``; complex: both parts, as PyTorch draws a
    complex tensor's real view (real and imaginary parts interleaved)."""
    if dt.kind == "c":
        return _stream.uniform(gen, 2 * n, _part(dt), low, high).view(dt)
    return _stream.uniform(gen, n, dt, low, high)


def _normal_values(gen, n, dt, mean=0.0, std=1.0, contiguous=True):
    """``n`` N(mean, std^2) values of dtype ``dt``; complex: the real view with std/sqrt(2)."""
    if dt.kind == "c":
        return _stream.normal(gen, 2 * n, _part(dt), mean, std / np.sqrt(2.0),
                              contiguous).view(dt)
    return _stream.normal(gen, n, dt, mean, std, contiguous)


@with_out(factory=True)
def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None,
         requires_grad=False, pin_memory=False):
    """Uniform samples on ``[0, 1)`` (complex dtypes: both parts)."""
    shape = shape_from_args(size, "rand")
    dt = _float_dtype(dtype)
    array = _uniform_values(_generator(generator), _count(shape), dt).reshape(shape)
    return _finish(array, device, requires_grad)


def _count(shape):
    return int(np.prod(shape, dtype=np.int64))


@with_out(factory=True)
def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None,
          requires_grad=False, pin_memory=False):
    """Standard normal samples (complex dtypes: a complex normal, each part of variance 1/2)."""
    shape = shape_from_args(size, "randn")
    dt = _float_dtype(dtype)
    array = _normal_values(_generator(generator), _count(shape), dt).reshape(shape)
    return _finish(array, device, requires_grad)


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
    array = _stream.integers(_generator(generator), _count(shape), low, high, dt)
    return _finish(array.reshape(shape), device, requires_grad)


@with_out(factory=True)
def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None,
             requires_grad=False, pin_memory=False):
    """A random permutation of ``0 .. n-1``."""
    if isinstance(n, Tensor):  # (a one-element integer tensor, as PyTorch takes)
        n = int(n.item())
    if n < 0:
        raise RuntimeError(f"n must be non-negative, got{n}")
    dt = _dtype.to_numpy_dtype(dtype) if dtype is not None else np.dtype(np.int64)
    return _finish(_stream.permutation(_generator(generator), n).astype(dt), device,
                   requires_grad)


def _filled_like(input, dtype, device, requires_grad, memory_format, fill):
    """PyTorch's ``empty_like(input).fill()``, whose draws follow the memory order of the
    input's layout, for a CPU input that is not row-major (None otherwise: drawn as a new
    tensor of the shape)."""
    from .creation import empty_like
    dt = _dtype.to_numpy_dtype(dtype or input.dtype)
    if type(input._data) is not np.ndarray or dt.kind == "c" \
            or _stream.memory_axes(input._data) is None:
        return None
    out = empty_like(input, dtype=dtype, device=device, memory_format=memory_format)
    if type(out._data) is not np.ndarray or _stream.memory_axes(out._data) is None:
        return None
    fill(out)
    return out.requires_grad_(requires_grad)


def rand_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    out = _filled_like(input, dtype, device, requires_grad, memory_format, uniform_)
    return out if out is not None else rand(input.shape, dtype=dtype or input.dtype,
                                            device=device or input.device,
                                            requires_grad=requires_grad)


def randn_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None):
    out = _filled_like(input, dtype, device, requires_grad, memory_format, normal_)
    return out if out is not None else randn(input.shape, dtype=dtype or input.dtype,
                                             device=device or input.device,
                                             requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, layout=None, device=None,
                 requires_grad=False, memory_format=None):
    if high is None:
        low, high = 0, low
    out = _filled_like(input, dtype, device, requires_grad, memory_format,
                       lambda t: random_(t, low, high))
    return out if out is not None else randint(low, high, input.shape,
                                               dtype=dtype or input.dtype,
                                               device=device or input.device,
                                               requires_grad=requires_grad)


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
        # PyTorch fills the output with N(0, 1), then scales and shifts it in its dtype
        z = _normal_values(_generator(generator), _count(shape), dt).reshape(shape)
        values = z * np.asarray(s).astype(dt) + np.asarray(m).astype(dt)
        return _finish(values.astype(dt, copy=False), like.device if device is None else device,
                       requires_grad)
    if size is None:
        raise TypeError("normal() missing required argument 'size'")
    shape = shape_from_args((size,), "normal")
    dt = _float_dtype(dtype)
    values = _normal_values(_generator(generator), _count(shape), dt, mean, std)
    return _finish(values.reshape(shape), device, requires_grad)


@with_out
def bernoulli(input, p=None, *, generator=None, out=None):
    """Draw 0/1 with probability ``input`` (or ``p``) per element."""
    gen = _generator(generator)
    if p is None:
        probs = np.asarray(_data_of(input))
        if (probs < 0).any() or (probs > 1).any():
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
        draws = _stream.bernoulli_tensor(gen, probs)
    else:
        _check_probability(p)
        draws = _stream.bernoulli_scalar(gen, _count(input.shape), p).reshape(input.shape)
    return _finish(draws.astype(input._data.dtype), input.device, False)


def _in_layout_of(flat, input):
    """Values drawn for ``empty_like(input)`` (flat, in its memory order), at their logical
    positions: the input's layout decides which element gets which draw."""
    data = input._data if isinstance(input, Tensor) else input
    if type(data) is not np.ndarray or _stream.memory_axes(data) is None:
        return flat.reshape(np.shape(data))
    return _stream.fill_memory_order(np.empty(data.shape, flat.dtype), flat, data)


def dropout_keep(shape, p, like=None):
    """The keep mask (bools of ``shape``) dropout draws for drop probability ``p``: PyTorch's
    ``bernoulli_(1 - p)`` from the default generator, into ``empty_like(like)`` when the mask
    has the input's shape (so a transposed input gets its draws in memory order)."""
    gen = _generator(None)
    flat = _stream.bernoulli_scalar(gen, _count(shape), 1.0 - p)
    return flat.reshape(shape) if like is None else _in_layout_of(flat, like)


def dropout_scale(keep, p, dtype):
    """``keep`` as dropout's multiplier in ``dtype``: PyTorch divides the mask by ``1 - p``
    in the tensor's dtype."""
    dtype = np.dtype(dtype)
    return keep.astype(dtype) / dtype.type(1.0 - p)


def _check_probability(p):
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")


@with_out
def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Sample indices from the rows of ``input`` (non-negative weights)."""
    if isinstance(input, Tensor) and input._data.dtype.kind not in "fV":
        from .reduction import scalar_type_name
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{scalar_type_name(input)}")
    probs = np.asarray(_data_of(input), dtype=np.float64)
    if probs.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if (probs < 0).any() or not np.isfinite(probs).all():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > probs.shape[-1]:
        # (only the number of categories bounds it: once the categories of non-zero weight are
        # used up, PyTorch goes on with those of zero weight)
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    rows = probs.reshape(-1, probs.shape[-1])
    for row in rows:
        if row.sum() <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    dt = np.dtype(input._data.dtype) if input._data.dtype.kind == "f" else np.dtype(np.float32)
    weights = np.asarray(_data_of(input)).astype(dt).reshape(rows.shape)
    gen = _generator(generator)
    if not replacement or num_samples == 1:
        # PyTorch's draw: the top num_samples of p / q with q ~ Exp(1) (Gumbel top-k)
        q = (-np.log(1.0 - _stream.uniform_float64(gen, weights.size))).astype(dt)
        keys = weights / q.reshape(weights.shape)
        order = np.argsort(-keys, axis=-1, kind="stable")
        result = order[:, :num_samples]
        if num_samples > 1:
            # PyTorch takes the top keys with topk, whose std::nth_element / partial_sort leave
            # tied keys (those of zero weight, or equal after rounding) in an order of their
            # own: replayed for the rows where the top num_samples (or the next one) tie
            edge = min(num_samples + 1, keys.shape[-1])
            top = np.take_along_axis(keys, order[:, :edge], axis=-1)
            for i in np.nonzero((top[:, 1:] == top[:, :-1]).any(axis=1))[0]:
                result[i] = _torch_topk_indices(keys[i], num_samples)
    else:
        # PyTorch's draw: per row, a binary search of float64 uniforms in the normalised
        # cumulative sums (in the weights' dtype, the last bucket set to 1)
        result = np.empty((rows.shape[0], num_samples), dtype=np.int64)
        for i, row in enumerate(weights):
            cumulative = np.cumsum(row, dtype=dt)
            cumulative /= cumulative[-1]
            cumulative[-1] = 1
            u = _stream.uniform_float64(gen, num_samples)
            result[i] = np.searchsorted(cumulative.astype(np.float64), u, side="left")
    result = result.astype(np.int64)
    if probs.ndim == 1:
        result = result[0]
    return _finish(result, input.device, False)


def _torch_topk_indices(values, k):
    """The indices of ``topk(values, k)`` as PyTorch's CPU kernel orders them, ties included."""
    items = [(v, j) for j, v in enumerate(values.tolist())]
    if k * 64 <= len(items):
        _libstdcxx.partial_sort(items, k, _greater_key)
    else:
        _libstdcxx.nth_element(items, k - 1, _greater_key)
        _libstdcxx.sort_range(items, 0, k - 1, _greater_key)   # (the k-th is left in place)
    return [j for _, j in items[:k]]


def _greater_key(x, y):
    return x[0] > y[0]


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
def _write_values(data, values):
    """Store the flat ``values`` into ``data`` in its memory order (the order PyTorch's
    kernels fill a tensor in); returns ``data`` when written, else a host array to copy."""
    values = np.asarray(values)
    if type(data) is np.ndarray:
        _stream.fill_memory_order(data, values.astype(data.dtype, copy=False))
        return data
    return values.reshape(data.shape)


def _is_contiguous(data):
    return bool(data.flags.c_contiguous) if type(data) is np.ndarray else True


def _fill(self, draw, floating=False):
    """Fill ``self`` in place with ``draw(n, dtype, contiguous)`` (flat values)."""
    from .arithmetic import check_inplace
    check_inplace(self)
    data = self._data
    if floating and data.dtype.kind not in "fcV":   # (bfloat16 is kind "V")
        raise RuntimeError(f"expected a floating point tensor, got {self.dtype}")
    result = _write_values(data, draw(int(data.size), data.dtype, _is_contiguous(data)))
    if result is not data:
        from .._backend import get_array_module
        data[...] = get_array_module(data).asarray(result)
    self._vc[0] += 1
    return self


def uniform_array(data, a, b, generator):
    """``data`` filled in place with U(a, b) samples (or, for a device array, a host array
    shaped like it) from the :class:`Generator` ``generator``."""
    return _write_values(data, _uniform_values(generator, int(data.size), data.dtype, a, b))


def normal_array(data, mean, std, generator):
    """``data`` filled in place with N(mean, std^2) samples (or a host array shaped like it)."""
    return _write_values(data, _normal_values(generator, int(data.size), data.dtype, mean, std,
                                              _is_contiguous(data)))


def uniform_(self, a=0.0, b=1.0, *, generator=None):
    """Fill with samples from U(a, b)."""
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={a:g} > to={b:g}")
    gen = _generator(generator)
    return _fill(self, lambda n, dt, _: _uniform_values(gen, n, dt, a, b), floating=True)


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    """Fill with samples from N(mean, std^2)."""
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    gen = _generator(generator)
    return _fill(self, lambda n, dt, contiguous: _normal_values(gen, n, dt, mean, std,
                                                                contiguous), floating=True)


def _inclusive_max(dt):
    """The largest value ``random_`` reaches in ``dt``: ``2**digits`` for floats."""
    if dt.kind in "fV":
        return 2 ** (_dtype.finfo(_dtype.from_numpy_dtype(dt)).nmant + 1)
    return int(np.iinfo(dt).max)


def random_(self, *args, generator=None, **kwargs):
    """``random_()``: integers of ``[0, max]`` (``[0, 2**digits]`` for floating dtypes);
    ``random_(to)``: of ``[0, to)``; ``random_(from, to)``: of ``[from, to)``, ``to=None``
    meaning up to ``max``."""
    if len(args) > 2 or set(kwargs) - {"from", "to"}:
        raise TypeError("random_() takes (from, to), (to) or () and a keyword generator")
    if len(args) == 1 and not kwargs:
        from_, to = 0, args[0]
    else:
        bound = dict(zip(("from", "to"), args), **kwargs)
        from_, to = bound.get("from", 0), bound.get("to")
        if to is None and "from" not in bound:
            from_ = None
    gen = _generator(generator)
    if from_ is None:
        return _fill(self, lambda n, dt, _: _stream.random_full(gen, n, dt))
    high = _inclusive_max(self._data.dtype) + 1 if to is None else to
    if from_ >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got "
                           f"from={from_} >= to={high}")
    return _fill(self, lambda n, dt, _: _stream.integers(gen, n, from_, high, dt))


def bernoulli_(self, p=0.5, *, generator=None):
    """Fill with 0/1 draws, 1 with probability ``p`` (a number or a tensor broadcast to
    ``self``)."""
    gen = _generator(generator)
    if isinstance(p, Tensor):
        probs = np.broadcast_to(np.asarray(_data_of(p)), self.shape)
        return _fill(self, lambda n, dt, _: _stream.bernoulli_tensor(gen, probs).reshape(-1))
    _check_probability(p)
    return _fill(self, lambda n, dt, _: _stream.bernoulli_scalar(gen, n, p))


def exponential_(self, lambd=1.0, *, generator=None):
    """Fill with Exp(lambd) samples: ``-log(1 - u) / lambd``."""
    gen = _generator(generator)
    return _fill(self, lambda n, dt, _: -1.0 / lambd * np.log(1.0 - _stream.uniform_float64(gen, n)))


def geometric_(self, p, *, generator=None):
    """Fill with the trial of the first success: ``ceil(log(u) / log(1 - p))``."""
    gen = _generator(generator)
    with np.errstate(divide="ignore"):
        return _fill(self, lambda n, dt, _: np.ceil(
            np.log(_stream.uniform_float64(gen, n)) / np.log1p(-p)))


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    """Fill with ``exp`` of N(mean, std^2) samples."""
    gen = _generator(generator)
    return _fill(self, lambda n, dt, _: np.exp(_stream.normal(gen, n, np.float64, mean, std,
                                                                contiguous=False)))


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    """Fill with Cauchy(median, sigma) samples: ``median + sigma * tan(pi * (u - 1/2))``."""
    gen = _generator(generator)
    return _fill(self, lambda n, dt, _: median + sigma * np.tan(
        np.pi * (_stream.uniform_float64(gen, n) - 0.5)))


register_methods({
    "uniform_": uniform_, "normal_": normal_, "random_": random_, "bernoulli_": bernoulli_,
    "exponential_": exponential_, "geometric_": geometric_, "log_normal_": log_normal_,
    "cauchy_": cauchy_,
    "bernoulli": lambda self, p=None, *, generator=None: bernoulli(self, p, generator=generator),
    "multinomial": lambda self, num_samples, replacement=False, *, generator=None:
        multinomial(self, num_samples, replacement, generator=generator),
})
