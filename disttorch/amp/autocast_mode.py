"""Autocast: regions where chosen ops run in float16/bfloat16 and precision-sensitive ops in
float32, PyTorch's mixed-precision policy.

Ops consult this module through one call at their top, ``autocast_args("exp", input)``, which
casts the arguments as PyTorch's autocast casts those of the op of that name on each device (the
tables below), or through the older :func:`cast_lower` and :func:`cast_float32`. All of them
return their arguments untouched (one dictionary test) when no autocast region is active.

As in PyTorch, where an autocast kernel runs its op with autocast excluded, the ops that an op
which consulted this module calls on its own behalf are not cast again: ``tensordot`` promoting
float32 inputs stays float32 although it is computed with ``einsum``, which casts to float16 on
CUDA. Such nested calls are recognised by the call stack (the code of every consulting op is
remembered), so an op needs no code at its exit.
"""
import functools
import sys
import threading

import warnings

import numpy as np

from .. import _dtype
from ..autograd import grad_mode as _grad_mode

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype", "set_autocast_enabled",
           "set_autocast_dtype", "is_autocast_cache_enabled", "set_autocast_cache_enabled",
           "clear_autocast_cache", "autocast_increment_nesting", "autocast_decrement_nesting",
           "is_autocast_cpu_enabled", "set_autocast_cpu_enabled", "get_autocast_cpu_dtype",
           "set_autocast_cpu_dtype", "get_autocast_gpu_dtype", "set_autocast_gpu_dtype",
           "autocast_args", "cast_lower", "cast_linear", "cast_float32", "cast_float32_cuda"]

_DEFAULT_DTYPE = {"cuda": "float16", "cpu": "bfloat16"}
_SUPPORTED = {"cuda": ("float16", "bfloat16"), "cpu": ("bfloat16", "float16")}


class _Regions(threading.local):
    """Per thread, like PyTorch's autocast state.

    ``dtypes`` maps each device type with autocast enabled to its numpy dtype: the ops test it
    (empty outside every region). ``fast`` holds the dtype set for each device, enabled or not;
    ``cache`` the low-precision copies of leaf parameters made in the current outermost region.
    """

    def __init__(self):
        self.dtypes = {}
        self.fast = {}
        self.cache = {}
        self.cache_enabled = True
        self.nesting = 0


_regions = _Regions()


def _check_device_type(device_type):
    if device_type not in _SUPPORTED:
        raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")


def _fast_dtype(device_type):
    """The dtype set for ``device_type`` (disttorch.dtype, None where bfloat16 is unavailable)."""
    dtype = _regions.fast.get(device_type)
    return dtype if dtype is not None else getattr(_dtype, _DEFAULT_DTYPE[device_type])


def _set_enabled(device_type, enabled):
    if enabled:
        fast = _fast_dtype(device_type)
        if fast is None:
            raise RuntimeError("autocast to bfloat16 needs the ml_dtypes package "
                               "(pip install ml_dtypes); numpy has no bfloat16 of its own")
        _regions.dtypes[device_type] = np.dtype(fast.np_dtype)
    else:
        _regions.dtypes.pop(device_type, None)


def set_autocast_enabled(device_type, enabled=None):
    """Turn autocast on or off for ``device_type`` outside any context manager.

    ``set_autocast_enabled(enabled)``, PyTorch's older form, means the CUDA device type.
    """
    if enabled is None:
        device_type, enabled = "cuda", device_type
    _check_device_type(device_type)
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be a bool (got {type(enabled).__name__})")
    _set_enabled(device_type, enabled)


def set_autocast_dtype(device_type, dtype):
    """Set the low-precision dtype autocast uses on ``device_type``."""
    _check_device_type(device_type)
    _regions.fast[device_type] = _dtype.as_dtype(dtype)
    if device_type in _regions.dtypes:
        _set_enabled(device_type, True)


def is_autocast_cache_enabled():
    """Whether autocast keeps the low-precision copies of leaf tensors it makes in a region."""
    return _regions.cache_enabled


def set_autocast_cache_enabled(enabled):
    """Turn autocast's cast cache on or off (see :class:`autocast`)."""
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be a bool (got {type(enabled).__name__})")
    _regions.cache_enabled = enabled


def clear_autocast_cache():
    """Drop the low-precision copies autocast cached in this thread."""
    _regions.cache.clear()


def autocast_increment_nesting():
    """Enter one level of autocast region; returns the new depth."""
    _regions.nesting += 1
    return _regions.nesting


def autocast_decrement_nesting():
    """Leave one level of autocast region; returns the new depth (the cache is cleared by
    :class:`autocast` when it reaches 0)."""
    _regions.nesting -= 1
    return _regions.nesting


def _eligible_dtypes():
    names = ["float16", "float32"] + (["bfloat16"] if _dtype.bfloat16 is not None else [])
    return frozenset(np.dtype(getattr(_dtype, name).np_dtype) for name in names)


# float64 is never cast, in either direction (PyTorch's is_eligible)
_ELIGIBLE = _eligible_dtypes()
_FLOAT32 = np.dtype(np.float32)


class autocast:
    r"""Context manager (and decorator) for a mixed-precision region.

    Inside the region the ops follow PyTorch's lists for the device (``CUDA_POLICY`` and
    ``CPU_POLICY`` in this module): matrix products and convolutions cast their floating inputs
    to ``dtype``; the losses, and on CUDA the precision-sensitive ops (``exp``, ``log``, ``sum``,
    ``cumsum``, ``softmax``, ``layer_norm``, the norms, ``interpolate``...), cast theirs to
    float32; a few (``addcmul``, ``dot``, ``tensordot``...) run in the widest input dtype; and
    ``binary_cross_entropy`` refuses CUDA autocast. Only tensors on ``device_type`` are cast,
    float64 tensors never. Gradients flow back through the casts, so parameters keep float32
    gradients.

    Args:
        device_type (str): ``"cuda"`` or ``"cpu"``.
        dtype (disttorch.dtype, optional): ``float16`` or ``bfloat16``; default float16 on cuda,
            bfloat16 on cpu (which needs the ``ml_dtypes`` package).
        enabled (bool): False makes a region where autocast is off (also inside another one).
        cache_enabled (bool, optional): keep, until the outermost region exits, the
            low-precision copy made of each float32 leaf tensor that requires grad (the
            parameters), so a weight used several times is cast once. Default: the current
            :func:`is_autocast_cache_enabled`.

    Example::

        >>> with disttorch.autocast("cuda"):
        ...     loss = loss_fn(model(x), y)
        >>> scaler.scale(loss).backward()
    """

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        _check_device_type(device_type)
        if dtype is None:
            dtype = _fast_dtype(device_type)
        if dtype is None and enabled:
            raise RuntimeError("autocast to bfloat16 needs the ml_dtypes package "
                               "(pip install ml_dtypes); numpy has no bfloat16 of its own")
        dtype = _dtype.as_dtype(dtype) if dtype is not None else _dtype.float32
        if enabled and dtype.name not in _SUPPORTED[device_type]:
            # PyTorch warns and turns autocast off for an unsupported target dtype
            supported = ", ".join(f"torch.{n}" for n in _SUPPORTED[device_type])
            warnings.warn(f"In {device_type} autocast, but the target dtype is not supported. "
                          f"Disabling autocast.\n{device_type} autocast only supports "
                          f"{supported}, got {dtype}.")
            enabled = False
        self.device = device_type
        self.fast_dtype = dtype
        self._enabled = bool(enabled)
        self._cache_enabled = (is_autocast_cache_enabled() if cache_enabled is None
                               else bool(cache_enabled))
        self._previous = None

    def __enter__(self):
        regions = _regions
        self._previous = (regions.dtypes.get(self.device), regions.fast.get(self.device),
                          regions.cache_enabled)
        regions.fast[self.device] = self.fast_dtype
        _set_enabled(self.device, self._enabled)
        regions.cache_enabled = self._cache_enabled
        autocast_increment_nesting()
        return self

    def __exit__(self, *exc):
        regions = _regions
        if autocast_decrement_nesting() == 0:
            regions.cache.clear()
        active, fast, regions.cache_enabled = self._previous
        if fast is None:
            regions.fast.pop(self.device, None)
        else:
            regions.fast[self.device] = fast
        if active is None:
            regions.dtypes.pop(self.device, None)
        else:
            regions.dtypes[self.device] = active
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def run_in_region(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled, self._cache_enabled):
                return func(*args, **kwargs)
        return run_in_region


def is_autocast_enabled(device_type="cuda"):
    """Return True where autocast is enabled for ``device_type`` (inside an enabled region)."""
    return device_type in _regions.dtypes


def get_autocast_dtype(device_type):
    """The low-precision dtype autocast uses on ``device_type``."""
    _check_device_type(device_type)
    return _fast_dtype(device_type)


def _device_type(array):
    return "cpu" if type(array) is np.ndarray else "cuda"


# PyTorch's older per-device spellings
def is_autocast_cpu_enabled():
    return is_autocast_enabled("cpu")


def set_autocast_cpu_enabled(enabled):
    set_autocast_enabled("cpu", enabled)


def get_autocast_cpu_dtype():
    return get_autocast_dtype("cpu")


def set_autocast_cpu_dtype(dtype):
    set_autocast_dtype("cpu", dtype)


def get_autocast_gpu_dtype():
    return get_autocast_dtype("cuda")


def set_autocast_gpu_dtype(dtype):
    set_autocast_dtype("cuda", dtype)


# ------------------------------------------------------------------ PyTorch's op lists
# What autocast does to the floating arguments of an op (float64 ones are never cast):
#   "lower":    cast to the region's dtype (float16/bfloat16)
#   "fp32":     cast to float32
#   "fp32_opt": cast to float32 unless the call passes ``dtype=`` (PyTorch's
#               fp32_set_opt_dtype: sum, prod, cumsum, softmax, the linalg norms...)
#   "promote":  cast to the widest floating dtype among them (float32 as soon as one is)
#   "banned":   raise (binary_cross_entropy on CUDA)
# An op absent from a device's table is not cast there. A value may also be a function of the
# ``variant`` the op passes (its mode, its equation) that returns one of these or None.
# The names are disttorch's; "linalg." names are disttorch.linalg's functions.
LOWER, FP32, FP32_OPT, PROMOTE, BANNED = "lower", "fp32", "fp32_opt", "promote", "banned"


def _policy_table(**groups):
    table = {}
    for policy, names in groups.items():
        for name in names.split():
            table[name] = policy
    return table


# torch 2.x aten/src/ATen/autocast_mode.cpp, AutocastCUDA (the "CUDA Ops that can autocast to
# ..." lists of the AMP docs)
_CUDA_INTERPOLATE_FP32 = frozenset(["nearest", "nearest-exact", "linear", "bilinear", "bicubic",
                                    "trilinear"])
CUDA_POLICY = _policy_table(
    lower="""conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d conv_tbc
        prelu addmm addmv addr matmul einsum mm mv linalg.vecdot linear addbmm baddbmm bmm
        chain_matmul linalg.multi_dot lstm_cell gru_cell rnn_tanh_cell rnn_relu_cell
        scaled_dot_product_attention""",
    fp32="""acos asin cosh erfinv exp expm1 log log10 log2 log1p reciprocal rsqrt sinh tan pow
        softplus layer_norm group_norm rms_norm frobenius_norm nuclear_norm cosine_similarity
        poisson_nll_loss cosine_embedding_loss nll_loss hinge_embedding_loss kl_div l1_loss
        smooth_l1_loss huber_loss mse_loss margin_ranking_loss multilabel_margin_loss
        soft_margin_loss triplet_margin_loss multi_margin_loss binary_cross_entropy_with_logits
        dist pdist cdist renorm logsumexp cross_entropy""",
    fp32_opt="""prod softmax log_softmax cumprod cumsum linalg.vector_norm linalg.matrix_norm sum
        norm""",
    promote="""addcdiv addcmul atan2 bilinear cross dot vdot inner grid_sample index_put
        scatter_add tensordot""",
    banned="binary_cross_entropy",
)
CUDA_POLICY["interpolate"] = lambda mode: FP32 if mode in _CUDA_INTERPOLATE_FP32 else None

_CPU_PAD_FP32 = frozenset([("reflect", 1), ("reflect", 2), ("replicate", 1), ("replicate", 2),
                          ("replicate", 3)])


def _einsum_contracts(equation):
    """Whether PyTorch's CPU einsum reaches ``bmm`` (so, under CPU autocast, its bfloat16):
    when an index is shared by two operands and summed out. Elementwise and outer products
    (``mul``) and one-operand sums are not cast."""
    if not isinstance(equation, str):
        return False
    eq = equation.replace(" ", "").replace("...", "")
    inputs, arrow, output = eq.partition("->")
    subs = inputs.split(",")
    if len(subs) < 2:
        return False
    if not arrow:
        letters = "".join(subs)
        output = "".join(c for c in letters if letters.count(c) == 1)
    return any(c not in output and sum(c in s for s in subs) > 1 for c in set("".join(subs)))


# AutocastCPU: its lower_precision_fp list, plus the ops that PyTorch computes with one of them
# (einsum, tensordot, inner, chain_matmul, multi_dot reach mm/bmm); its fp32 and promote lists
CPU_POLICY = _policy_table(
    lower="""conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d conv_tbc bmm
        mm linalg.vecdot baddbmm addmm addbmm linear matmul prelu scaled_dot_product_attention
        tensordot inner chain_matmul linalg.multi_dot""",
    fp32="""avg_pool3d binary_cross_entropy grid_sample polar prod quantile nanquantile stft cdist
        trace view_as_complex cholesky cholesky_inverse cholesky_solve inverse lu_solve orgqr
        ormqr pinverse max_pool3d max_unpool2d max_unpool3d adaptive_avg_pool3d mse_loss
        cosine_embedding_loss nll_loss hinge_embedding_loss poisson_nll_loss smooth_l1_loss
        cross_entropy l1_loss huber_loss margin_ranking_loss soft_margin_loss triplet_margin_loss
        multi_margin_loss ctc_loss kl_div multilabel_margin_loss binary_cross_entropy_with_logits
        fft.fft fft.ifft fft.fft2 fft.ifft2 fft.fftn fft.ifftn fft.rfft fft.irfft fft.rfft2
        fft.irfft2 fft.rfftn fft.irfftn fft.hfft fft.ihfft linalg.cond linalg.matrix_rank
        linalg.solve linalg.cholesky linalg.svdvals linalg.eigvals linalg.eigvalsh linalg.inv
        linalg.householder_product linalg.tensorinv linalg.tensorsolve geqrf qr svd
        triangular_solve fractional_max_pool2d fractional_max_pool3d adaptive_max_pool3d
        linalg.qr linalg.cholesky_ex linalg.svd linalg.eig linalg.eigh linalg.lstsq
        linalg.inv_ex""",
    promote="stack cat index_copy",
)
CPU_POLICY["einsum"] = lambda equation: LOWER if _einsum_contracts(equation) else None


def _cpu_pad(variant):
    """reflection_pad1d/2d and replication_pad1d/2d/3d: by mode and number of padded dims."""
    mode, pad = variant
    return FP32 if isinstance(pad, (list, tuple)) and (mode, len(pad) // 2) in _CPU_PAD_FP32 \
        else None


CPU_POLICY["pad"] = _cpu_pad

_POLICIES = {"cuda": CUDA_POLICY, "cpu": CPU_POLICY}

_BANNED_MESSAGE = {
    "binary_cross_entropy": (
        "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
        "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
        "In this case, combine the two layers using "
        "torch.nn.functional.binary_cross_entropy_with_logits\n"
        "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
        "safe to autocast."),
}


def policy(device_type, op, variant=None):
    """What autocast does to the arguments of ``op`` on ``device_type`` (see the tables above);
    None where it leaves them alone."""
    entry = _POLICIES[device_type].get(op)
    return entry(variant) if callable(entry) else entry


# ------------------------------------------------------------------ nested calls
# Code objects of the functions that consulted this module: the ops PyTorch runs as one
# autocast kernel. A call made while one of them is on the stack comes from inside that op.
_OP_CODES = set()
_NESTED_DEPTH = 16


def _nested(frame):
    """Remember ``frame`` (an op's own) as an op's, and say whether it runs inside another."""
    code = frame.f_code
    if code not in _OP_CODES:
        _OP_CODES.add(code)
    frame = frame.f_back
    for _ in range(_NESTED_DEPTH):
        if frame is None:
            return False
        if frame.f_code in _OP_CODES:
            return True
        frame = frame.f_back
    return False


# ------------------------------------------------------------------ casting
def _cast(value, target_of):
    from ..tensor import Tensor
    if not isinstance(value, Tensor) or value._data.dtype not in _ELIGIBLE:
        return value
    target = target_of(_device_type(value._data))
    if target is None or value._data.dtype == target:
        return value
    from ..ops._util import cast
    if not _cacheable(value, target):
        return cast(value, target)
    # PyTorch's cached_cast: one low-precision copy per parameter per outermost region. The
    # version is part of the entry so a weight changed in place within the region is cast anew.
    key = (id(value), target)
    entry = _regions.cache.get(key)
    if entry is not None and entry[0] is value and entry[1] == value._vc[0]:
        return entry[2]
    low = cast(value, target)
    _regions.cache[key] = (value, value._vc[0], low)
    return low


def _cacheable(value, target):
    """PyTorch caches casts of float32 leaves that require grad, to the region's dtype. Only
    with grad mode on here: a copy made under no_grad has no path back to the leaf."""
    return (_regions.cache_enabled and target != _FLOAT32 and value._data.dtype == _FLOAT32
            and value._requires_grad and value.grad_fn is None and value._base is None
            and _grad_mode.state.enabled)


def _map(values, fn):
    """``fn`` applied to every value, and to the items of list and tuple values (cat, stack)."""
    return tuple(type(v)(fn(x) for x in v) if isinstance(v, (list, tuple)) else fn(v)
                 for v in values)


def _tensors_on(values, device):
    from ..tensor import Tensor
    for v in values:
        for x in (v if isinstance(v, (list, tuple)) else (v,)):
            if isinstance(x, Tensor) and _device_type(x._data) == device:
                yield x


def _widest(values, device, low):
    """PyTorch's promote_type: float32 as soon as one eligible argument is, else ``low``."""
    for t in _tensors_on(values, device):
        dtype = t._data.dtype
        if dtype in _ELIGIBLE and dtype != low:
            return _FLOAT32
    return low


def _targets(op, values, dtype, variant):
    """device type -> target numpy dtype of ``op``'s floating arguments on that device."""
    targets = {}
    for device, low in _regions.dtypes.items():
        action = policy(device, op, variant)
        if action is None:
            continue
        if action == LOWER:
            targets[device] = low
        elif action == FP32 or (action == FP32_OPT and dtype is None):
            targets[device] = _FLOAT32
        elif action == PROMOTE:
            targets[device] = _widest(values, device, low)
        elif action == BANNED and any(True for _ in _tensors_on(values, device)):
            raise RuntimeError(_BANNED_MESSAGE[op])
    return targets


def autocast_args(op, *values, dtype=None, variant=None):
    """``values`` cast as PyTorch's autocast casts the arguments of ``op`` (``CUDA_POLICY``,
    ``CPU_POLICY``): each floating tensor by the policy of its own device, when that device
    has an active region. Other values, and lists or tuples of tensors, pass (or are cast
    item by item).

    Call it first thing in the op: ``input, other = autocast_args("atan2", input, other)``.
    ``dtype`` is the op's own ``dtype=`` argument (the "fp32_opt" ops then keep their input),
    ``variant`` what a table entry that depends on the call receives (interpolate's mode,
    einsum's equation). Inside another op that called it, it returns ``values`` untouched.
    """
    if not _regions.dtypes:
        return values
    if _nested(sys._getframe(1)):
        return values
    targets = _targets(op, values, dtype, variant)
    if not targets:
        return values
    return _map(values, lambda v: _cast(v, targets.get))


def cast_lower(*values):
    """``values`` with eligible tensors cast to the active region's low-precision dtype."""
    dtypes = _regions.dtypes
    if not dtypes or _nested(sys._getframe(1)):
        return values
    return tuple(_cast(v, dtypes.get) for v in values)


def cast_linear(input, weight, bias, keeps_bias):
    """:func:`cast_lower` for ``F.linear``'s arguments, except that a float32 bias stays as it is
    where ``keeps_bias(x, w, b)`` says the layer's kernels take it beside the low-precision
    operands (and round it as the cast would): one cast launch and its graph node fewer.
    Returns ``(input, weight, bias, kept)``, ``kept`` True when the bias was so left."""
    dtypes = _regions.dtypes
    if not dtypes or _nested(sys._getframe(1)):
        return input, weight, bias, False
    input, weight = _cast(input, dtypes.get), _cast(weight, dtypes.get)
    from ..tensor import Tensor
    if (isinstance(bias, Tensor) and isinstance(input, Tensor) and isinstance(weight, Tensor)
            and bias._data.dtype in _ELIGIBLE and dtypes.get(_device_type(bias._data))
            and keeps_bias(input._data, weight._data, bias._data)):
        return input, weight, bias, True
    return input, weight, _cast(bias, dtypes.get), False


def cast_float32(*values):
    """``values`` with eligible tensors cast to float32 inside an active region (the losses)."""
    dtypes = _regions.dtypes
    if not dtypes or _nested(sys._getframe(1)):
        return values
    return tuple(_cast(v, lambda device: _FLOAT32 if device in dtypes else None) for v in values)


def cast_float32_cuda(*values):
    """Like :func:`cast_float32` for CUDA regions only: softmax and the normalisations, which
    PyTorch's CPU autocast leaves in the low-precision dtype."""
    dtypes = _regions.dtypes
    if "cuda" not in dtypes or _nested(sys._getframe(1)):
        return values
    return tuple(_cast(v, lambda device: _FLOAT32 if device == "cuda" else None) for v in values)
