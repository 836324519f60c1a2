"""``disttorch.nn.attention``: choosing the implementation of ``scaled_dot_product_attention``.

disttorch has two: the math path (every device and dtype) and, on CUDA, a fused kernel for the
scaled, masked softmax (float32/float16 inputs, no boolean mask). ``MATH`` is the math path.
``FLASH_ATTENTION`` and ``EFFICIENT_ATTENTION`` (PyTorch's fused CUDA kernels) select the fused
kernel on CUDA; unlike PyTorch's, it still forms the ``(L, S)`` score matrix. On the CPU
PyTorch's only other implementation is its CPU flash kernel: ``FLASH_ATTENTION`` is accepted
under the same conditions (the math path computes it), so a selection succeeds or fails as it
does in PyTorch. ``CUDNN_ATTENTION`` and ``OVERRIDEABLE`` are never available.
"""
import contextlib
import enum
import warnings

from ...backends import cuda as _cuda_flags

__all__ = ["SDPBackend", "sdpa_kernel", "WARN_FOR_UNFUSED_KERNELS"]

WARN_FOR_UNFUSED_KERNELS = False


class SDPBackend(enum.Enum):
    """The implementations of scaled dot product attention, for :func:`sdpa_kernel`."""

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4

    def __int__(self):
        return self.value

    def __hash__(self):
        return hash(self.value)


# flag name in ``disttorch.backends.cuda`` (the switches ``enable_*_sdp`` set) per backend
_FLAGS = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION,
          "mem_efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH}
_state = {"overrideable": True,
          "priority": [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                       SDPBackend.MATH, SDPBackend.CUDNN_ATTENTION, SDPBackend.OVERRIDEABLE]}
_NO_KERNEL = "No available kernel.  Aborting execution."
_NO_BACKEND = ("No viable backend for scaled_dot_product_attention was found. This is likely "
               "due to turning off both the math kernel and the fused kernels.")


def _enabled(backend):
    if backend is SDPBackend.OVERRIDEABLE:
        return _state["overrideable"]
    for flag, member in _FLAGS.items():
        if member is backend:
            return _cuda_flags._sdp[flag]
    return False


def _cur_sdpa_kernel_backends(with_priority=False):
    order = _state["priority"] if with_priority else \
        [SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
         SDPBackend.MATH, SDPBackend.OVERRIDEABLE]
    return [b for b in order if _enabled(b)]


def _sdpa_kernel(backends, set_priority=False):
    for flag, member in _FLAGS.items():
        _cuda_flags._sdp[flag] = member in backends
    _state["overrideable"] = SDPBackend.OVERRIDEABLE in backends
    if set_priority:
        order = list(backends)
        order += [b for b in _state["priority"] if b not in order]
        _state["priority"] = order


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority=False):
    r"""Context manager restricting the backends ``scaled_dot_product_attention`` may use.

    Args:
        backends (SDPBackend or list of SDPBackend): the backends to enable.
        set_priority (bool): try the backends in the order given. Default: ``False``

    Examples::

        >>> from disttorch.nn.attention import SDPBackend, sdpa_kernel
        >>> with sdpa_kernel(SDPBackend.MATH):
        ...     out = F.scaled_dot_product_attention(q, k, v)

    On leaving the context the previous switches are restored.
    """
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError(f"Backend must be an instance of SDPBackend or a list of SDPBackend "
                             f"instances, got {type(backends).__name__}")
    if isinstance(backends, SDPBackend):
        backends = [backends]
    backends = list(dict.fromkeys(backends))
    previous = _cur_sdpa_kernel_backends(with_priority=set_priority)
    previous_priority = list(_state["priority"])
    try:
        _sdpa_kernel(backends, set_priority)
        yield {}
    finally:
        _sdpa_kernel(previous, False)
        _state["priority"] = previous_priority


# ---------------------------------------------------------------- selection (used by F.sdpa)
def _cpu_flash_problem(query, key, value, attn_mask, dropout_p, enable_gqa):
    """Why PyTorch's CPU flash kernel would refuse these inputs (its checks, in its order), or
    None."""
    if dropout_p > 0.0:
        return "Both fused kernels do not support non-zero dropout."
    if not query.ndim == key.ndim == value.ndim == 4:
        return (f"All fused kernels requires query, key and value to be 4 dimensional, but got "
                f"Query dim: {query.ndim}, Key dim: {key.ndim}, Value dim: {value.ndim} "
                f"instead.")
    q, k, v = list(query.shape), list(key.shape), list(value.shape)
    if not q[0] == k[0] == v[0]:
        return (f"For dense inputs, both fused kernels require query, key and value to have the "
                f"same batch_size. Query.sizes(): {q}, Key.sizes(): {k}, Value.sizes(): {v} "
                f"instead. To broadcast dense inputs, try using unsqueeze and expand_to before "
                f"passing them into the kernel.")
    if enable_gqa and not (k[1] == v[1] and q[1] % k[1] == 0):
        return (f"The number of heads in key/value must divide number of heads in query.Got "
                f"input Key sizes(): {k[1]}, Value sizes(): {v[1]}, Query sizes(): {q[1]} "
                f"instead.")
    if not enable_gqa and not q[1] == k[1] == v[1]:
        return (f"For dense input, both fused kernels require query, key and value to have the "
                f"same num_heads. Query.sizes(): {q}, Key sizes(): {k}, Value sizes(): {v} "
                f"instead. To broadcast dense inputs, try using unsqueeze and expand_to before "
                f"passing them into the kernel.")
    if not q[-1] == k[-1] == v[-1]:
        return (f"Flash attention requires q,k,v to have the same last dimension. Got "
                f"Query.size(-1): {q[-1]}, Key.size(-1): {k[-1]}, Value.size(-1): {v[-1]} "
                f"instead.")
    strides = [t.stride(-1) for t in (query, key, value)]
    if any(s != 1 for s in strides):
        return (f"All fused kernels require the last dimension of the input to have stride 1. "
                f"Got Query.stride(-1): {strides[0]}, Key.stride(-1): {strides[1]}, "
                f"Value.stride(-1): {strides[2]}")
    return None


def _fused_problem(query, key, float_mask, bool_mask):
    """Why disttorch's fused CUDA attention kernel cannot run on these inputs, or None."""
    from ...cuda.kernels import fusable
    data = query._data
    if not fusable(data):
        return "disttorch's fused attention kernel runs on CUDA arrays only."
    if data.dtype.name not in ("float32", "float16"):
        return (f"disttorch's fused attention kernel needs float32 or float16 inputs, got "
                f"{query.dtype}.")
    if bool_mask is not None:
        return "disttorch's fused attention kernel does not take a boolean attn_mask."
    if float_mask is not None:
        mask = getattr(float_mask, "_data", float_mask)
        if (mask.dtype != data.dtype or tuple(mask.shape) != (query.shape[-2], key.shape[-2])
                or not mask.flags.c_contiguous):
            return ("disttorch's fused attention kernel needs a float attn_mask of shape "
                    "(L, S), contiguous and of the inputs' dtype.")
    return None


def _select(query, key, value, attn_mask, float_mask, bool_mask, dropout_p, enable_gqa):
    """Whether ``scaled_dot_product_attention`` may take the fused CUDA kernel under the
    current switches; raises PyTorch's errors when no enabled backend can run."""
    on_cpu = query.device.type == "cpu"
    if on_cpu:
        choices = [b for b in (SDPBackend.FLASH_ATTENTION, SDPBackend.MATH) if _enabled(b)]
    else:
        choices = [b for b in _state["priority"] if _enabled(b)]
    if not choices:
        raise RuntimeError(_NO_BACKEND)
    problems = []
    for backend in choices:
        if backend is SDPBackend.MATH:
            return False
        if on_cpu:
            problem = _cpu_flash_problem(query, key, value, attn_mask, dropout_p, enable_gqa)
        elif backend in (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION):
            problem = _fused_problem(query, key, float_mask, bool_mask)
        else:
            problem = "disttorch has no such kernel."
        if problem is None:
            return True
        problems.append((backend, problem))
    titles = {SDPBackend.FLASH_ATTENTION: "Flash attention kernel not used because:",
              SDPBackend.EFFICIENT_ATTENTION: "Memory efficient kernel not used because:",
              SDPBackend.CUDNN_ATTENTION: "CuDNN attention kernel not used because:",
              SDPBackend.OVERRIDEABLE: "Overrideable attention kernel not used because:"}
    for backend, problem in problems:
        warnings.warn(titles[backend], stacklevel=3)
        warnings.warn(problem, stacklevel=3)
    raise RuntimeError(_NO_KERNEL)
