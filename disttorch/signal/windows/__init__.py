r"""``disttorch.signal.windows``: window functions, as ``torch.signal.windows``.

Every window takes the length ``M``, ``sym`` (True: symmetric, for filter design; False:
periodic, for spectral analysis: the first ``M`` points of the symmetric window of length
``M + 1``) and the factory keywords ``dtype`` (float32 or float64; default: the default
dtype), ``layout`` (strided only), ``device`` and ``requires_grad``. Windows are computed on
``device`` with tensor ops; only the sample grid's index range and a few scalars are created
there, as every creation function does.
"""
import contextlib
import functools
import math
from collections.abc import Iterable

from ... import _dtype
from ...ops.aliases import strided

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine",
           "general_hamming", "hamming", "hann", "kaiser", "nuttall"]


def _ops():
    import disttorch
    return disttorch


def _on_device(window):
    """Run ``window`` with its ``device`` current when that is a CUDA device with an index:
    element-wise ops place their results on the current device."""
    @functools.wraps(window)
    def wrapper(M, **kwargs):
        from ..._device import default_or, device as _device
        from ...tensor import Tensor
        if isinstance(M, Tensor):  # a one-element integer tensor, as PyTorch takes
            M = int(M.item())
        target = default_or(kwargs.get("device"))
        target = None if target is None else _device(target)
        if target is None or target.type != "cuda" or target.index is None:
            guard = contextlib.nullcontext()
        else:
            from ... import cuda
            guard = cuda.device(target.index)
        with guard:
            return window(M, **kwargs)
    return wrapper


def _check(name, M, dtype, layout):
    """Resolve ``dtype`` and raise PyTorch's errors for the arguments every window shares."""
    dtype = _dtype.get_default_dtype() if dtype is None else dtype
    if M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    if layout is not strided:
        raise ValueError(f"{name} is implemented for strided tensors only, got: {layout}")
    if dtype not in (_dtype.float32, _dtype.float64):
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {dtype}")
    return dtype


def _empty(dtype, device, requires_grad):
    return _ops().empty((0,), dtype=dtype, device=device, requires_grad=requires_grad)


def _ones(dtype, device, requires_grad):
    return _ops().ones((1,), dtype=dtype, device=device, requires_grad=requires_grad)


def _grid(start, end, M, dtype, device, requires_grad):
    """``M`` evenly spaced points from ``start`` to ``end``: ``linspace``'s values (PyTorch's,
    rounding included). As ``torch.linspace(..., requires_grad=True)``, the grid is the leaf the
    window derives from."""
    return _ops().linspace(start, end, M, dtype=dtype, device=device,
                           requires_grad=requires_grad)


@_on_device
def exponential(M, *, center=None, tau=1.0, sym=True, dtype=None, layout=strided, device=None,
                requires_grad=False):
    r"""The exponential (Poisson) window :math:`w_n = \exp(-|n - c| / \tau)`.

    Args:
        M (int): the length of the window.

    Keyword args:
        center (float, optional): where the window is centred, :math:`c`; only for
            ``sym=False``. Default: ``M / 2`` (periodic) or ``(M - 1) / 2`` (symmetric).
        tau (float, optional): the decay, > 0. Default: 1.0.
        sym (bool, optional): symmetric (True) or periodic (False) window. Default: True.
        dtype, layout, device, requires_grad: as for factory functions.
    """
    dtype = _check("exponential", M, dtype, layout)
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    if M == 0:
        return _empty(dtype, device, requires_grad)
    if center is None:
        center = (M if not sym and M > 1 else M - 1) / 2.0
    # the grid's ends are computed as PyTorch does, so that its values round alike
    scale = 1 / tau
    k = _grid(-center * scale, (-center + (M - 1)) * scale, M, dtype, device, requires_grad)
    return _ops().exp(-k.abs())


@_on_device
def cosine(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    r"""The cosine (sine) window :math:`w_n = \sin(\pi (n + 0.5) / M)`, as SciPy's.

    Args:
        M (int): the length of the window.

    Keyword args:
        sym (bool, optional): symmetric (True) or periodic (False) window. Default: True.
        dtype, layout, device, requires_grad: as for factory functions.
    """
    dtype = _check("cosine", M, dtype, layout)
    if M == 0:
        return _empty(dtype, device, requires_grad)
    scale = math.pi / (M + 1 if not sym and M > 1 else M)
    k = _grid(0.5 * scale, (0.5 + (M - 1)) * scale, M, dtype, device, requires_grad)
    return _ops().sin(k)


@_on_device
def gaussian(M, *, std=1.0, sym=True, dtype=None, layout=strided, device=None,
             requires_grad=False):
    r"""The Gaussian window :math:`w_n = \exp(-(n - c)^2 / (2 \sigma^2))`, centred.

    Args:
        M (int): the length of the window.

    Keyword args:
        std (float, optional): the standard deviation :math:`\sigma`, > 0. Default: 1.0.
        sym (bool, optional): symmetric (True) or periodic (False) window. Default: True.
        dtype, layout, device, requires_grad: as for factory functions.
    """
    dtype = _check("gaussian", M, dtype, layout)
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    if M == 0:
        return _empty(dtype, device, requires_grad)
    first = -(M if not sym and M > 1 else M - 1) / 2.0
    scale = 1 / (std * math.sqrt(2))
    k = _grid(first * scale, (first + (M - 1)) * scale, M, dtype, device, requires_grad)
    return _ops().exp(-(k * k))


@_on_device
def kaiser(M, *, beta=12.0, sym=True, dtype=None, layout=strided, device=None,
           requires_grad=False):
    r"""The Kaiser window
    :math:`w_n = I_0(\beta \sqrt{1 - ((n - N/2) / (N/2))^2}) / I_0(\beta)`, with
    :math:`N = M - 1` (symmetric) or :math:`M` (periodic) and :math:`I_0` the modified Bessel
    function of order 0 (:func:`disttorch.i0`).

    Args:
        M (int): the length of the window.

    Keyword args:
        beta (float, optional): the shape parameter, >= 0. Default: 12.0.
        sym (bool, optional): symmetric (True) or periodic (False) window. Default: True.
        dtype, layout, device, requires_grad: as for factory functions.
    """
    dtype = _check("kaiser", M, dtype, layout)
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    if M == 0:
        return _empty(dtype, device, requires_grad)
    if M == 1:
        return _ones(dtype, device, requires_grad)
    torch = _ops()
    # The grid runs over [-beta, beta] (the argument scaled by beta), in the window's dtype so
    # that beta**2 - k**2 cannot go negative; its end is clipped to beta for the same reason.
    scalar = dtype.np_dtype.type
    b = scalar(beta)
    step = scalar(2.0) * b / scalar(M - 1 if sym else M)
    end = min(b, -b + scalar(M - 1) * step)
    k = _grid(-b, end, M, dtype, device, requires_grad)
    i0_beta = torch.i0(torch.full((), float(b), dtype=dtype, device=device))
    return torch.i0(torch.sqrt(float(b * b) - k * k)) / i0_beta


@_on_device
def bartlett(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    r"""The Bartlett (triangular) window :math:`w_n = 1 - |2n / (M - 1) - 1|`.

    Args:
        M (int): the length of the window.

    Keyword args:
        sym (bool, optional): symmetric (True) or periodic (False) window. Default: True.
        dtype, layout, device, requires_grad: as for factory functions.
    """
    dtype = _check("bartlett", M, dtype, layout)
    if M == 0:
        return _empty(dtype, device, requires_grad)
    if M == 1:
        return _ones(dtype, device, requires_grad)
    step = 2 / (M - 1 if sym else M)
    k = _grid(-1, -1 + (M - 1) * step, M, dtype, device, requires_grad)
    return 1 - k.abs()


@_on_device
def general_cosine(M, *, a, sym=True, dtype=None, layout=strided, device=None,
                   requires_grad=False):
    r"""The general cosine window
    :math:`w_n = \sum_i (-1)^i a_i \cos(2 \pi i n / (M - 1))`.

    Args:
        M (int): the length of the window.

    Keyword args:
        a (iterable of float): the coefficients :math:`a_i`.
        sym (bool, optional): symmetric (True) or periodic (False) window. Default: True.
        dtype, layout, device, requires_grad: as for factory functions.
    """
    dtype = _check("general_cosine", M, dtype, layout)
    if M == 0:
        return _empty(dtype, device, requires_grad)
    if M == 1:
        return _ones(dtype, device, requires_grad)
    if not isinstance(a, Iterable):
        raise TypeError("Coefficients must be a list/tuple")
    if not a:
        raise ValueError("Coefficients cannot be empty")
    torch = _ops()
    signed = [(-1) ** i * float(w) for i, w in enumerate(a)]
    step = 2 * math.pi / (M - 1 if sym else M)
    k = _grid(0.0, (M - 1) * step, M, dtype, device, False)
    coefficients = torch.tensor(signed, dtype=dtype, device=device, requires_grad=requires_grad)
    order = torch.arange(len(signed), dtype=dtype, device=device)
    return (coefficients.unsqueeze(-1) * torch.cos(order.unsqueeze(-1) * k)).sum(0)


@_on_device
def general_hamming(M, *, alpha=0.54, sym=True, dtype=None, layout=strided, device=None,
                    requires_grad=False):
    r"""The general Hamming window :math:`w_n = \alpha - (1 - \alpha) \cos(2 \pi n / (M - 1))`.

    Args:
        M (int): the length of the window.

    Keyword args:
        alpha (float, optional): the window coefficient :math:`\alpha`. Default: 0.54.
        sym (bool, optional): symmetric (True) or periodic (False) window. Default: True.
        dtype, layout, device, requires_grad: as for factory functions.
    """
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, layout=layout,
                          device=device, requires_grad=requires_grad)


@_on_device
def hamming(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    r"""The Hamming window :math:`w_n = 0.54 - 0.46 \cos(2 \pi n / (M - 1))`.

    Args:
        M (int): the length of the window.

    Keyword args:
        sym (bool, optional): symmetric (True) or periodic (False) window. Default: True.
        dtype, layout, device, requires_grad: as for factory functions.
    """
    return general_hamming(M, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


@_on_device
def hann(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    r"""The Hann window :math:`w_n = \sin^2(\pi n / (M - 1))`.

    Args:
        M (int): the length of the window.

    Keyword args:
        sym (bool, optional): symmetric (True) or periodic (False) window. Default: True.
        dtype, layout, device, requires_grad: as for factory functions.
    """
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


@_on_device
def blackman(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    r"""The Blackman window
    :math:`w_n = 0.42 - 0.5 \cos(2 \pi n / (M - 1)) + 0.08 \cos(4 \pi n / (M - 1))`.

    Args:
        M (int): the length of the window.

    Keyword args:
        sym (bool, optional): symmetric (True) or periodic (False) window. Default: True.
        dtype, layout, device, requires_grad: as for factory functions.
    """
    dtype = _check("blackman", M, dtype, layout)
    return general_cosine(M, a=[0.42, 0.5, 0.08], sym=sym, dtype=dtype, layout=layout,
                          device=device, requires_grad=requires_grad)


@_on_device
def nuttall(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    r"""Nuttall's minimum 4-term Blackman-Harris window:
    :math:`w_n = 0.3635819 - 0.4891775 \cos(z_n) + 0.1365995 \cos(2 z_n)
    - 0.0106411 \cos(3 z_n)`, :math:`z_n = 2 \pi n / (M - 1)`.

    Args:
        M (int): the length of the window.

    Keyword args:
        sym (bool, optional): symmetric (True) or periodic (False) window. Default: True.
        dtype, layout, device, requires_grad: as for factory functions.
    """
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym,
                          dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)
