"""``disttorch.fft``: discrete Fourier transforms with PyTorch's signatures and dtype rules
(float32 in, complex64 out), computed by numpy's or CuPy's FFT.

The transforms are not differentiable yet (disttorch has no complex autograd): ``backward``
through one raises an error that says so, rather than giving a wrong gradient. ``fftshift``,
``ifftshift``, ``fftfreq`` and ``rfftfreq`` are ordinary (differentiable) ops.
"""
import numpy as np

from .. import _dtype
from .._backend import get_array_module
from ..autograd.function import Node
from ..tensor import Tensor
from ..ops._util import with_out

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
           "rfftn", "irfftn", "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq",
           "rfftfreq", "fftshift", "ifftshift"]

_SWAP = {None: "forward", "backward": "forward", "forward": "backward", "ortho": "ortho"}


class _Transform(Node):
    """One FFT call; backward raises (no complex autograd yet)."""

    def forward(self, x, name, call, out_dtype):
        self.name = name
        return call(get_array_module(x).fft, x).astype(out_dtype, copy=False)

    def backward(self, g):
        raise RuntimeError(f"torch.fft.{self.name}: the gradient of FFTs is not implemented in "
                           f"disttorch yet (there is no complex autograd); detach the input or "
                           f"run the transform under torch.no_grad()")


def _check_norm(norm):
    if norm not in (None, "backward", "forward", "ortho"):
        raise ValueError(f'Invalid normalization mode: "{norm}"')


def _complex_of(dtype):
    return np.dtype(np.complex128) if dtype in (np.float64, np.complex128) else \
        np.dtype(np.complex64)


def _real_of(dtype):
    return np.dtype(np.float64) if dtype in (np.float64, np.complex128) else np.dtype(np.float32)


def _float_input(input, name, real_only=False):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    dt = input._data.dtype
    if real_only and dt.kind == "c":
        raise RuntimeError(f"{name} expects a real input tensor, but got {input.dtype}")
    if dt.kind in "biu":
        return input.to(_dtype.get_default_dtype())
    return input


def _apply(name, input, call, out_dtype):
    return _Transform.apply(input, name, call, out_dtype)


def _axes(dim, s, ndim):
    if dim is None:
        return None if s is None else tuple(range(ndim - len(s), ndim))
    return (dim,) if isinstance(dim, int) else tuple(dim)


def _c2c(name, numpy_name):
    @with_out
    def op(input, n=None, dim=-1, norm=None, *, out=None):
        _check_norm(norm)
        x = _float_input(input, name)
        return _apply(name, x, lambda f, a: getattr(f, numpy_name)(a, n, dim, norm),
                      _complex_of(x._data.dtype))
    op.__name__ = name
    op.__doc__ = (f"The one-dimensional {'inverse ' if name.startswith('i') else ''}discrete "
                  f"Fourier transform of ``input`` along ``dim`` (padded or trimmed to ``n``); "
                  f"``norm`` is ``\"backward\"`` (default), ``\"forward\"`` or ``\"ortho\"``.")
    return op


def _c2c_nd(name, numpy_name, default_dim):
    @with_out
    def op(input, s=None, dim=default_dim, norm=None, *, out=None):
        _check_norm(norm)
        x = _float_input(input, name)
        axes = _axes(dim, s, x.dim())
        return _apply(name, x, lambda f, a: getattr(f, numpy_name)(a, s, axes, norm),
                      _complex_of(x._data.dtype))
    op.__name__ = name
    op.__doc__ = (f"The {'2-' if default_dim else 'N-'}dimensional "
                  f"{'inverse ' if name.startswith('i') else ''}discrete Fourier transform of "
                  f"``input`` over ``dim`` (sizes ``s``).")
    return op


fft = _c2c("fft", "fft")
ifft = _c2c("ifft", "ifft")
fft2 = _c2c_nd("fft2", "fftn", (-2, -1))
ifft2 = _c2c_nd("ifft2", "ifftn", (-2, -1))
fftn = _c2c_nd("fftn", "fftn", None)
ifftn = _c2c_nd("ifftn", "ifftn", None)


@with_out
def rfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The one-sided Fourier transform of a real ``input``: ``n // 2 + 1`` frequencies."""
    _check_norm(norm)
    x = _float_input(input, "rfft", real_only=True)
    return _apply("rfft", x, lambda f, a: f.rfft(a, n, dim, norm), _complex_of(x._data.dtype))


@with_out
def irfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of :func:`rfft`: a real signal of length ``n`` (default
    ``2 * (input.size(dim) - 1)``)."""
    _check_norm(norm)
    x = _float_input(input, "irfft")
    return _apply("irfft", x, lambda f, a: f.irfft(a, n, dim, norm), _real_of(x._data.dtype))


def _r2c_nd(name, default_dim, inverse):
    @with_out
    def op(input, s=None, dim=default_dim, norm=None, *, out=None):
        _check_norm(norm)
        x = _float_input(input, name, real_only=not inverse)
        axes = _axes(dim, s, x.dim())
        if inverse:
            return _apply(name, x, lambda f, a: f.irfftn(a, s, axes, norm), _real_of(x._data.dtype))
        return _apply(name, x, lambda f, a: f.rfftn(a, s, axes, norm), _complex_of(x._data.dtype))
    op.__name__ = name
    op.__doc__ = (f"The {'inverse of the ' if inverse else ''}one-sided "
                  f"{'2-' if default_dim else 'N-'}dimensional Fourier transform of "
                  f"{'Hermitian-symmetric' if inverse else 'real'} input over ``dim``.")
    return op


rfft2 = _r2c_nd("rfft2", (-2, -1), False)
irfft2 = _r2c_nd("irfft2", (-2, -1), True)
rfftn = _r2c_nd("rfftn", None, False)
irfftn = _r2c_nd("irfftn", None, True)


@with_out
def hfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The transform of a Hermitian-symmetric signal given by its one-sided half: a real
    result of length ``n``."""
    _check_norm(norm)
    x = _float_input(input, "hfft")
    return _apply("hfft", x, lambda f, a: f.hfft(a, n, dim, norm), _real_of(x._data.dtype))


@with_out
def ihfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of :func:`hfft`: the one-sided half of the transform of a real signal."""
    _check_norm(norm)
    x = _float_input(input, "ihfft", real_only=True)
    return _apply("ihfft", x, lambda f, a: f.ihfft(a, n, dim, norm), _complex_of(x._data.dtype))


def _hermitian_nd(name, default_dim, inverse):
    # numpy has only 1-D hfft/ihfft: hfftn(x) = irfftn(conj(x)) and ihfftn(x) = conj(rfftn(x))
    # with the normalization direction swapped
    @with_out
    def op(input, s=None, dim=default_dim, norm=None, *, out=None):
        _check_norm(norm)
        x = _float_input(input, name, real_only=inverse)
        axes = _axes(dim, s, x.dim())
        swapped = _SWAP[norm]
        if inverse:
            return _apply(name, x, lambda f, a: f.rfftn(a, s, axes, swapped).conj(),
                          _complex_of(x._data.dtype))
        return _apply(name, x, lambda f, a: f.irfftn(a.conj(), s, axes, swapped),
                      _real_of(x._data.dtype))
    op.__name__ = name
    op.__doc__ = (f"The {'inverse ' if inverse else ''}{'2-' if default_dim else 'N-'}"
                  f"dimensional Hermitian FFT over ``dim`` (see :func:`hfft`).")
    return op


hfft2 = _hermitian_nd("hfft2", (-2, -1), False)
ihfft2 = _hermitian_nd("ihfft2", (-2, -1), True)
hfftn = _hermitian_nd("hfftn", None, False)
ihfftn = _hermitian_nd("ihfftn", None, True)


def _frequencies(values, dtype, device, requires_grad):
    import disttorch
    dtype = _dtype.get_default_dtype() if dtype is None else dtype
    return disttorch.tensor(values, dtype=dtype, device=device, requires_grad=requires_grad)


@with_out(factory=True)
def fftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of an ``n``-point FFT with sample spacing ``d``:
    ``[0, 1, ..., n//2 - 1, -(n//2), ..., -1] / (d * n)`` (for even ``n``)."""
    return _frequencies(np.fft.fftfreq(n, d), dtype, device, requires_grad)


@with_out(factory=True)
def rfftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """The non-negative sample frequencies of an ``n``-point :func:`rfft`."""
    return _frequencies(np.fft.rfftfreq(n, d), dtype, device, requires_grad)


def _shift(input, dim, sign):
    dims = list(range(input.dim())) if dim is None else \
        ([dim] if isinstance(dim, int) else list(dim))
    shifts = [sign * (input.shape[d] // 2) for d in dims]
    return input.roll(shifts, dims) if dims else input.clone()


def fftshift(input, dim=None):
    """Move the zero frequency to the centre (a roll by ``size // 2`` along ``dim``, all
    dimensions by default)."""
    return _shift(input, dim, 1)


def ifftshift(input, dim=None):
    """The inverse of :func:`fftshift`."""
    return _shift(input, dim, -1)
