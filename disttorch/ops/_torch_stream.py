"""PyTorch's CPU random streams: the same numbers as ``torch`` after the same ``manual_seed``.

PyTorch's CPU generator is a 32-bit Mersenne Twister seeded with the low 32 bits of the seed
(``std::mt19937``'s seeding, which numpy's ``MT19937._legacy_seeding`` also performs), and each
sampler turns its words into values in a documented way:

* ``random()`` is one 32-bit word, ``random64()`` two words, the first one high;
* a uniform float takes the low 53 bits of ``random64()`` for float64, else the low 24 bits
  of ``random()``, scaled by ``2**-digits``, then ``x * (to - from) + from`` (a fused
  multiply-add in float32 for float32, float16 and bfloat16, rounded to the dtype last);
* integers in ``[from, from + range)`` are ``word % range + from``, with ``random64()`` once
  the range reaches ``2**28``;
* a normal tensor of at least 16 contiguous elements is filled with uniforms first, then each
  block of 16 becomes 8 Box-Muller pairs (``u1 = 1 - data[j]``, ``u2 = data[j + 8]``), the last
  block redrawn when the size is not a multiple of 16; smaller or strided tensors draw one
  float64 Box-Muller pair per two values, the second value kept in the generator for the next
  draw;
* ``randperm(n)`` is a Fisher-Yates pass with ``random() % (n - i)``;
* Bernoulli, exponential, Cauchy, log-normal and geometric samples transform one float64
  uniform (or normal) per element.

Elements are produced in memory order. Known differences: float32 normals of 16 or more
elements come from PyTorch's vectorised approximations of log/sin/cos there, so they agree to
about 1e-6 rather than bit for bit; float16/bfloat16 normals of 16 or more elements follow
another path in PyTorch that is not reproduced; and on Intel CPUs PyTorch draws
``bernoulli_(p)`` (hence dropout masks) from MKL's own stream, which is not reproduced.
"""
import math

import numpy as np

__all__ = ["seeded_bit_generator", "words32", "words64", "uniform", "normal", "integers",
           "random_full", "permutation", "bernoulli_scalar", "bernoulli_tensor",
           "uniform_float64", "fill_memory_order", "memory_axes", "in_memory_order"]

_MASK32 = np.uint64(0xFFFFFFFF)
# significand widths: ``random_()``'s range for floating dtypes
_DIGITS = {"float64": 53, "float32": 24, "float16": 11, "bfloat16": 8}


def seeded_bit_generator(seed):
    """An MT19937 seeded as PyTorch seeds its CPU generator."""
    bit_generator = np.random.MT19937()
    bit_generator._legacy_seeding(int(seed) & 0xFFFFFFFF)
    return bit_generator


def words32(gen, n):
    """``n`` draws of PyTorch's ``random()`` (uint64 array holding 32-bit words)."""
    return gen._bitgen.random_raw(n) & _MASK32


def words64(gen, n):
    """``n`` draws of PyTorch's ``random64()``."""
    words = words32(gen, 2 * n)
    return (words[0::2] << np.uint64(32)) | words[1::2]


def _digits(dtype):
    return _DIGITS[np.dtype(dtype).name]


def uniform_float64(gen, n):
    """``n`` float64 uniforms on [0, 1) as ``uniform_real_distribution<double>`` draws them."""
    return (words64(gen, n) & np.uint64((1 << 53) - 1)).astype(np.float64) * 2.0 ** -53


def uniform(gen, n, dtype, low=0.0, high=1.0):
    """``n`` samples of U(low, high) in ``dtype`` (a float dtype)."""
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        x = uniform_float64(gen, n)
        return x * (high - low) + low
    # float32, and float16/bfloat16 through float32 (24 random bits, rounded at the end)
    bits = (gen._bitgen.random_raw(n) & np.uint64((1 << 24) - 1)).astype(np.uint32)
    if low == 0 and high == 1:      # (exact in float32: no rounding to mimic)
        values = bits.astype(np.float32)
        values *= np.float32(2.0 ** -24)
        return values if dtype == np.float32 else values.astype(dtype)
    x = bits * 2.0 ** -24
    # from/to are first rounded to the tensor's dtype, as the kernel casts them; its
    # x * (to - from) + from is one fused multiply-add, exact here in float64 before the
    # single rounding to float32
    lo = np.float32(np.asarray(low).astype(dtype))
    hi = np.float32(np.asarray(high).astype(dtype))
    values = (x * np.float64(hi - lo) + np.float64(lo)).astype(np.float32)
    return values if dtype == np.float32 else values.astype(dtype)


def _serial_normals(gen, n):
    """``n`` standard normals from ``normal_distribution<double>`` (with the generator's
    cached second value of a pair)."""
    out = np.empty(n, np.float64)
    start = 0
    if n and gen._normal_cache is not None:
        out[0] = gen._normal_cache
        gen._normal_cache = None
        start = 1
    pairs = (n - start + 1) // 2
    if pairs:
        u = uniform_float64(gen, 2 * pairs)
        u1, u2 = u[0::2], u[1::2]
        radius = np.sqrt(-2.0 * np.log1p(-u2))
        theta = 2.0 * math.pi * u1
        values = np.empty(2 * pairs, np.float64)
        values[0::2] = radius * np.cos(theta)
        values[1::2] = radius * np.sin(theta)
        out[start:] = values[:n - start]
        if (n - start) % 2:
            gen._normal_cache = float(values[-1])
    return out


def _box_muller_16(data, dtype):
    """PyTorch's ``normal_fill_16`` over every 16-element block of ``data`` (in place): in
    float32 arithmetic for float32, as its vectorised version computes."""
    blocks = data.reshape(-1, 16)
    u1 = np.subtract(dtype.type(1), blocks[:, :8])
    radius = np.log(u1, out=u1)
    radius *= dtype.type(-2)
    np.sqrt(radius, out=radius)
    theta = blocks[:, 8:] * dtype.type(2.0 * math.pi)
    blocks[:, :8] = radius * np.cos(theta)
    np.sin(theta, out=theta)
    theta *= radius
    blocks[:, 8:] = theta


def normal(gen, n, dtype, mean=0.0, std=1.0, contiguous=True):
    """``n`` samples of N(mean, std^2) in ``dtype``, as ``Tensor.normal_`` fills a tensor of
    ``n`` elements (``contiguous``: whether that tensor is)."""
    dtype = np.dtype(dtype)
    if n < 16 or not contiguous:
        return (_serial_normals(gen, n) * std + mean).astype(dtype)
    work = np.dtype(np.float64 if dtype == np.float64 else np.float32)
    data = uniform(gen, n, dtype).astype(work, copy=False)
    whole = n - n % 16
    if whole:
        _box_muller_16(data[:whole], work)
    if n % 16:
        tail = uniform(gen, 16, dtype).astype(work, copy=False)
        _box_muller_16(tail, work)
        data[n - 16:] = tail
    if std != 1.0 or mean != 0.0:
        data = data * work.type(std) + work.type(mean)
    return data.astype(dtype, copy=False)


def integers(gen, n, low, high, dtype):
    """``n`` integers of ``[low, high)`` as ``random_(from, to)`` draws them for ``dtype``."""
    span = int(high) - int(low)
    dtype = np.dtype(dtype)
    # PyTorch takes random64() from a range of 2**28 up (less modulo bias), whatever the dtype
    words = words64(gen, n) if span >= 1 << 28 else words32(gen, n)
    values = (words % np.uint64(span)).astype(np.int64) + np.int64(low) if span < 1 << 63 else \
        ((words % np.uint64(span)) + np.uint64(int(low) & 0xFFFFFFFFFFFFFFFF)).view(np.int64)
    return values.astype(dtype)


def random_full(gen, n, dtype):
    """``random_()`` without bounds: ``[0, 2**digits]`` for floats, ``[0, max]`` for integers,
    ``{0, 1}`` for bool."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return (words32(gen, n) & np.uint64(1)).astype(np.bool_)
    if dtype.kind == "f" or dtype.name == "bfloat16":
        modulus = (1 << _digits(dtype)) + 1
        words = words64(gen, n) if dtype == np.float64 else words32(gen, n)
        return (words % np.uint64(modulus)).astype(np.float64).astype(dtype)
    modulus = int(np.iinfo(dtype).max) + 1
    words = words64(gen, n) if dtype == np.int64 else words32(gen, n)
    return (words % np.uint64(modulus)).astype(dtype)


def permutation(gen, n):
    """``randperm(n)``: a Fisher-Yates pass, position ``i`` swapped with ``i + random() %
    (n - i)`` (PyTorch's below ``2**32 / 20`` elements)."""
    if n >= (1 << 32) // 20:
        # PyTorch changes algorithm here; such permutations come from numpy on this stream
        return gen._rng.permutation(n).astype(np.int64)
    order = list(range(n))
    if n > 1:
        # the swap targets are known up front; only the swaps themselves are sequential
        offsets = words32(gen, n - 1) % np.arange(n, 1, -1, dtype=np.uint64)
        targets = (offsets.astype(np.int64) + np.arange(n - 1, dtype=np.int64)).tolist()
        for i, j in enumerate(targets):
            order[i], order[j] = order[j], order[i]
    return np.array(order, dtype=np.int64)


def bernoulli_scalar(gen, n, p):
    """``n`` draws of ``bernoulli_(p)`` (a float64 uniform below ``p``) as bools."""
    return uniform_float64(gen, n) < p


def bernoulli_tensor(gen, probs):
    """One draw per element of ``probs``: a float64 uniform for float64 probabilities, a
    float32 one (24 bits) for the other float dtypes."""
    flat = np.ascontiguousarray(probs).reshape(-1)
    if flat.dtype == np.float64:
        return (uniform_float64(gen, flat.size) < flat).reshape(np.shape(probs))
    u = uniform(gen, flat.size, np.float32)
    return (u < flat.astype(np.float32)).reshape(np.shape(probs))


def memory_axes(array):
    """The axes of ``array`` from the outermost in memory to the innermost (None when that is
    their logical order): the order in which PyTorch's kernels visit a tensor's elements, and
    the layout ``empty_like`` gives a new tensor."""
    if array.flags.c_contiguous or array.ndim < 2:
        return None
    sized = [(size, stride) for size, stride in zip(array.shape, array.strides) if size > 1]
    if any(stride <= 0 for _, stride in sized):
        # PyTorch has no negative strides (flip copies) and lays an expanded tensor's
        # empty_like out row-major
        return None
    axes = sorted(range(array.ndim), key=lambda axis: -array.strides[axis]
                  if array.shape[axis] > 1 else 0)
    kept = [a for a in axes if array.shape[a] > 1]
    return None if kept == sorted(kept) else axes


def fill_memory_order(array, values, layout=None):
    """Write the flat ``values`` into ``array`` in the order of its memory, or of the memory
    of ``layout`` (an array of the same shape whose ``empty_like`` PyTorch would fill)."""
    axes = memory_axes(array if layout is None else layout)
    if axes is None:
        array[...] = values.reshape(array.shape)
        return array
    view = array.transpose(axes)
    view[...] = values.reshape(view.shape)
    return array


def in_memory_order(array, layout):
    """``array``'s elements, flat, in the memory order of ``layout``."""
    axes = memory_axes(layout)
    return array.reshape(-1) if axes is None else array.transpose(axes).reshape(-1)
