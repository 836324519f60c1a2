"""Short-time Fourier transforms: ``torch.stft`` and ``torch.istft`` (also Tensor methods).

Both are forward-only, like ``disttorch.fft``: their results are complex (or come from complex
inputs) and disttorch has no complex autograd, so calling either on a tensor that requires
grad raises an error that says so (and ``backward`` would too) instead of giving a wrong
gradient.
"""
import warnings

import numpy as np

from .._backend import get_array_module
from ..autograd.function import Node
from ._util import register_methods

__all__ = ["stft", "istft"]

_WINDOW_WARNING = ("A window was not provided. A rectangular window will be applied,which is "
                   "known to cause spectral leakage. Other windows such as torch.hann_window or "
                   "torch.hamming_window are recommended to reduce spectral leakage.To suppress "
                   "this warning and obtain the same results as before, please use "
                   "torch.ones(win_length) as the window parameter.")


class _Spectral(Node):
    """One STFT or inverse STFT on arrays; backward raises (no complex autograd)."""

    def forward(self, x, window, name, compute):
        self.op_name = name
        return compute(x, window)

    def backward(self, g):
        raise RuntimeError(f"torch.{self.op_name}: the gradient is not implemented in disttorch "
                           f"(there is no complex autograd); detach the input or run the "
                           f"transform under torch.no_grad()")


def _complex_of(dtype):
    return np.dtype(np.complex128) if dtype in (np.float64, np.complex128) else \
        np.dtype(np.complex64)


def _check_lengths(name, n_fft, hop_length, win_length, length=None):
    if n_fft <= 0:
        raise RuntimeError(f"{name}: expected 0 < n_fft, but got n_fft={n_fft}")
    if hop_length <= 0:
        raise RuntimeError(f"{name}: expected hop_length > 0, but got hop_length={hop_length}")
    if not 0 < win_length <= n_fft:
        raise RuntimeError(f"{name}: expected 0 < win_length <= n_fft, but got "
                           f"win_length={win_length}")


def _full_window(xp, window, n_fft, win_length, dtype):
    """The window zero-padded (centred) to ``n_fft`` samples."""
    if window is None:
        win = xp.ones(win_length, dtype)
    else:
        win = window
    left = (n_fft - win_length) // 2
    full = xp.zeros(n_fft, win.dtype)
    full[left:left + win_length] = win
    return full


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
         pad_mode="reflect", normalized=False, onesided=None, return_complex=None,
         align_to_window=None):
    """Short-time Fourier transform: the FFTs of windowed frames of ``input``.

    Args:
        input (Tensor): a signal of shape ``(L)`` or ``(B, L)``, real or complex.
        n_fft (int): the frame (FFT) size.
        hop_length (int, optional): the distance between frames. Default: ``n_fft // 4``.
        win_length (int, optional): the window size, at most ``n_fft`` (the window is
            zero-padded in the middle of the frame). Default: ``n_fft``.
        window (Tensor, optional): a 1-D window of ``win_length`` samples. Default: all ones
            (with PyTorch's warning).
        center (bool): pad ``input`` by ``n_fft // 2`` on both sides (``pad_mode``) so frame
            ``t`` is centred at ``t * hop_length``. Default: ``True``.
        pad_mode (str): the padding for ``center``. Default: ``"reflect"``.
        normalized (bool): scale by ``n_fft ** -0.5``. Default: ``False``.
        onesided (bool, optional): keep only the ``n_fft // 2 + 1`` non-negative frequencies;
            the default for real input and window.
        return_complex (bool): required for real inputs; ``False`` (deprecated) gives the real
            and imaginary parts in a last dimension of size 2.
        align_to_window (bool, optional): with ``center=False``, start each frame at the
            window rather than at the zero-padded ``n_fft`` frame.

    Returns:
        Tensor of shape ``(B?, N, T)``: ``N`` frequencies, ``T = 1 + (L' - n_fft) //
        hop_length`` frames (``L'`` the padded length).

    Forward only: disttorch has no complex autograd, so an input that requires grad raises
    (detach it, or run under ``torch.no_grad()``).
    """
    from .. import nn
    if center and align_to_window is not None:
        raise RuntimeError("stft align_to_window should only be set when center = false")
    if window is None:
        warnings.warn(_WINDOW_WARNING, stacklevel=2)
    is_complex = input.is_complex() or (window is not None and window.is_complex())
    if return_complex is None:
        if not is_complex:
            raise RuntimeError("stft requires the return_complex parameter be given for real "
                               "inputs, and will further require that return_complex=True in "
                               "a future PyTorch release.")
        return_complex = True
    if not return_complex:
        warnings.warn("stft with return_complex=False is deprecated. In a future pytorch "
                      "release, stft will return complex tensors for all inputs, and "
                      "return_complex=False will raise an error.\nNote: you can still call "
                      "torch.view_as_real on the complex output to recover the old return "
                      "format.", stacklevel=2)
    if input.ndim not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, but got {input.ndim}D tensor")
    if input._data.dtype.kind not in "fc":
        from .indexing import scalar_type_name
        raise RuntimeError(f"stft: expected a tensor of floating point or complex values, got "
                           f"{scalar_type_name(input)}")
    if center:
        pad = n_fft // 2
        signal_dim = input.ndim
        extended = input.reshape((1,) * (3 - signal_dim) + tuple(input.shape))
        input = nn.functional.pad(extended, [pad, pad], pad_mode)
        input = input.reshape(input.shape[-signal_dim:])
    hop_length = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    _check_lengths("stft", n_fft, hop_length, win_length)
    length = input.shape[-1]
    if not 0 < n_fft <= length:
        raise RuntimeError(f"stft: expected 0 < n_fft <= {length}, but got n_fft={n_fft}")
    if window is not None and (window.ndim != 1 or window.shape[0] != win_length):
        raise RuntimeError(f"stft: expected a 1D window tensor of size equal to win_length="
                           f"{win_length}, but got window with size {list(window.shape)}")
    if onesided is None:
        onesided = not is_complex
    elif onesided and is_complex:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    aligned = bool(align_to_window) and win_length < n_fft
    left = (n_fft - win_length) // 2
    frames = 1 + (length - (win_length if aligned else n_fft)) // hop_length

    def compute(x, win):
        xp = get_array_module(x)
        real_dtype = x.real.dtype if x.dtype.kind == "c" else x.dtype
        full = _full_window(xp, win, n_fft, win_length, real_dtype)
        if aligned:
            # frames begin at the window's first sample: shift the signal by the left padding
            pad_width = [(0, 0)] * (x.ndim - 1) + [(left, max(0, n_fft - win_length - left))]
            x = xp.pad(x, pad_width)
        starts = xp.arange(frames) * hop_length
        taps = starts[:, None] + xp.arange(n_fft)[None, :]
        segments = x[..., taps] * full
        fft = xp.fft.rfft if onesided else xp.fft.fft
        spectrum = fft(segments, axis=-1, norm="ortho" if normalized else "backward")
        spectrum = xp.swapaxes(spectrum, -1, -2).astype(_complex_of(real_dtype), copy=False)
        if not return_complex:
            spectrum = xp.stack([spectrum.real, spectrum.imag], axis=-1)
        return xp.ascontiguousarray(spectrum)
    return _Spectral.apply(input, window, "stft", compute)


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
          normalized=False, onesided=None, length=None, return_complex=False):
    """Inverse short-time Fourier transform: the least-squares signal whose :func:`stft` is
    ``input``, by overlap-adding the inverse FFTs of the frames and dividing by the summed
    squared window.

    Args:
        input (Tensor): a complex spectrogram of shape ``(B?, N, T)``.
        n_fft, hop_length, win_length, window, center, normalized: as given to :func:`stft`.
        onesided (bool, optional): ``input`` holds only the non-negative frequencies. Default:
            ``N != n_fft``.
        length (int, optional): the length of the output (trimmed or zero-padded).
        return_complex (bool): return a complex signal (requires a two-sided ``input``).

    Forward only: disttorch has no complex autograd, so an input that requires grad raises
    (detach it, or run under ``torch.no_grad()``).
    """
    if not input.is_complex():
        raise RuntimeError("istft requires a complex-valued input tensor matching the output "
                           "from stft with return_complex=True.")
    hop_length = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    _check_lengths("istft", n_fft, hop_length, win_length)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"istft: expected a tensor with 2 or 3 dimensions of complex dtype, "
                           f"but got {input.ndim}")
    n_freq, frames = input.shape[-2], input.shape[-1]
    if onesided is None:
        onesided = n_freq != n_fft
    if onesided:
        if n_fft // 2 + 1 != n_freq:
            raise RuntimeError(f"istft: expected the frequency dimension (3rd to the last) of "
                               f"the input tensor to match n_fft / 2 + 1 when onesided=True, "
                               f"but got {n_freq}")
        if return_complex:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
    elif n_fft != n_freq:
        raise RuntimeError(f"istft: expected the frequency dimension (3rd to the last) of the "
                           f"input tensor to match n_fft when onesided=False, but got {n_freq}")
    if window is not None and (window.ndim != 1 or window.shape[0] != win_length):
        raise RuntimeError("Invalid window shape. window has to be 1D and length of "
                           "`win_length`")
    if frames == 0:
        raise RuntimeError("istft: input tensor cannot be empty.")
    expected = n_fft + hop_length * (frames - 1)
    start = n_fft // 2 if center else 0
    if length is not None:
        end = start + length
    elif center:
        end = expected - n_fft // 2
    else:
        end = expected

    def compute(x, win):
        xp = get_array_module(x)
        real_dtype = x.real.dtype
        full = _full_window(xp, win, n_fft, win_length, real_dtype)
        spectrum = xp.swapaxes(x, -1, -2)
        norm = "ortho" if normalized else "backward"
        if onesided:
            segments = xp.fft.irfft(spectrum, n=n_fft, axis=-1, norm=norm)
        else:
            segments = xp.fft.ifft(spectrum, n=n_fft, axis=-1, norm=norm)
            if not return_complex:
                segments = segments.real
        segments = segments * full
        positions = (xp.arange(frames) * hop_length)[:, None] + xp.arange(n_fft)[None, :]
        signal = xp.zeros(segments.shape[:-2] + (expected,), segments.dtype)
        envelope = xp.zeros(expected, full.dtype)
        # frames ``stride`` apart do not overlap: add each such set with one indexed update
        stride = -(-n_fft // hop_length)
        for first in range(min(stride, frames)):
            taps = positions[first::stride].reshape(-1)
            chunk = segments[..., first::stride, :]
            signal[..., taps] += chunk.reshape(chunk.shape[:-2] + (-1,))
            envelope[taps] += xp.tile(full * full, chunk.shape[-2])
        signal = signal[..., start:min(end, expected)]
        envelope = envelope[start:min(end, expected)]
        if bool((xp.abs(envelope) < 1e-11).any()):
            raise RuntimeError("istft(...): window overlap add min: "
                               f"{float(xp.abs(envelope).min())}")
        signal = signal / envelope
        if end > expected:
            pad_width = [(0, 0)] * (signal.ndim - 1) + [(0, end - expected)]
            signal = xp.pad(signal, pad_width)
        out_dtype = _complex_of(real_dtype) if return_complex else real_dtype
        return xp.ascontiguousarray(signal.astype(out_dtype, copy=False))
    return _Spectral.apply(input, window, "istft", compute)


register_methods({"stft": stft, "istft": istft})
