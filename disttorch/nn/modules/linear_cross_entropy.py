"""``LinearCrossEntropyLoss`` and the chunking options of ``F.linear_cross_entropy``."""
import dataclasses
import math
from typing import Literal, NamedTuple

from ... import _dtype
from ..functional import _linear_cross_entropy as F
from .linear import Linear
from .loss import _WeightedLoss

__all__ = ["LinearCrossEntropyOptions", "LinearCrossEntropyLoss"]


class _AutoDefault(NamedTuple):
    acc_policy: str
    chunking_method: str


# what "auto" resolves to per (device type, input dtype); other pairs take _AUTO_FALLBACK
_AUTO_DEFAULTS = {
    ("cuda", _dtype.bfloat16): _AutoDefault("compact", "aspect_ratio:2"),
    ("cuda", _dtype.float16): _AutoDefault("compact", "aspect_ratio:2"),
    ("cpu", _dtype.bfloat16): _AutoDefault("accurate", "aspect_ratio"),
    ("cpu", _dtype.float16): _AutoDefault("accurate", "aspect_ratio"),
}
_AUTO_FALLBACK = _AutoDefault("compact", "aspect_ratio:2")
_ACC_DTYPES = (_dtype.float16, _dtype.bfloat16, _dtype.float32, _dtype.float64)


@dataclasses.dataclass(slots=True, frozen=True)
class LinearCrossEntropyOptions:
    """Configuration for the chunked implementation of :func:`linear_cross_entropy`.

    The chunked implementation processes the batch in pieces of ``batch_chunk_size`` rows, so
    the full ``(num_batches, num_classes)`` logits are never materialized: useful when
    ``num_classes`` is much larger than ``in_features`` (vocabulary heads). Configurations it
    does not support fall back to the reference path with a warning.

    Args:
        allow_retain_graph (bool): for ``'mean'``/``'sum'``, keep the precomputed gradients
            so that ``backward`` may run more than once. Default: ``False``
        batch_chunk_size (int, optional): rows per chunk; ``None``: one chunk, or the size
            ``chunking_method`` picks. Default: ``None``
        chunking_method (str, optional): ``"auto"``, ``"aspect_ratio"`` (chunk logits about
            the size of the input: ``next_pow2(ceil(N / ceil(C / in_features)))`` rows) or
            ``"aspect_ratio:K"`` (that divided by ``K``); ``None`` uses
            ``batch_chunk_size``. Default: ``"auto"``
        acc_policy (str): ``"accurate"`` and ``"balanced"`` accumulate the weight gradient in
            ``acc_dtype``, ``"compact"`` in the input dtype; ``"auto"`` picks per device and
            dtype. Default: ``"auto"``
        acc_dtype (dtype, optional): the dtype logits and softmax are computed in; float32
            is allowed for float16/bfloat16 inputs, otherwise the input dtype. ``None``:
            float32 for float16/bfloat16 inputs under ``acc_policy="auto"``, else the input
            dtype. Default: ``None``
    """

    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: Literal["accurate", "balanced", "compact", "auto"] = "auto"
    acc_dtype: object = None

    def __post_init__(self):
        if self.acc_policy not in {"auto", "accurate", "balanced", "compact"}:
            raise ValueError(f"invalid acc_policy: {self.acc_policy!r}")
        if self.chunking_method is not None and self.chunking_method != "auto":
            name, sep, factor = self.chunking_method.partition(":")
            factor = factor if sep else "1"
            if not (name == "aspect_ratio" and factor.isdigit() and int(factor) > 0):
                raise ValueError(f"invalid chunking_method: {self.chunking_method!r}")
        if not (self.batch_chunk_size is None or (isinstance(self.batch_chunk_size, int)
                                                  and self.batch_chunk_size > 0)):
            raise ValueError(f"batch_chunk_size must be positive int or None, got "
                             f"{self.batch_chunk_size!r}")
        if self.acc_dtype is not None and self.acc_dtype not in _ACC_DTYPES:
            raise ValueError(f"acc_dtype must be one of {{None, {_dtype.float16}, "
                             f"{_dtype.bfloat16}, {_dtype.float32}, {_dtype.float64}}}, got "
                             f"{self.acc_dtype!r}. Pass acc_dtype=None to let the op pick "
                             f"automatically.")

    @staticmethod
    def _chunk_rows(num_batches, in_features, num_classes, method):
        factor = int(method.split(":", 1)[1]) if ":" in method else 1
        target = -(-num_batches // -(-num_classes // in_features))
        return min((1 << (target - 1).bit_length()) // factor, num_batches)

    def _adjust(self, num_batches, in_features, num_classes, dtype, device=None):
        """A concrete copy for one call: "auto" and ``None`` resolved against its shapes,
        dtype and device."""
        acc_policy, method = self.acc_policy, self.chunking_method
        if method == "auto" and self.batch_chunk_size is not None:
            method = None
        if acc_policy == "auto" or method == "auto":
            picked = _AUTO_FALLBACK if device is None else \
                _AUTO_DEFAULTS.get((device.type, dtype), _AUTO_FALLBACK)
            acc_policy = picked.acc_policy if acc_policy == "auto" else acc_policy
            method = picked.chunking_method if method == "auto" else method
        rows = num_batches if self.batch_chunk_size is None else \
            min(self.batch_chunk_size, num_batches)
        if method is not None:
            rows = self._chunk_rows(num_batches, in_features, num_classes, method)
            if self.batch_chunk_size is not None and self.batch_chunk_size != rows:
                raise ValueError(f"batch_chunk_size (={self.batch_chunk_size}) and "
                                 f"chunking_method ('{method}') give different chunk sizes "
                                 f"({self.batch_chunk_size} vs {rows}); pass only one.")
        acc_dtype = self.acc_dtype
        if acc_dtype is None:
            low = dtype in (_dtype.float16, _dtype.bfloat16)
            acc_dtype = _dtype.float32 if self.acc_policy == "auto" and low and \
                device is not None else dtype
        return dataclasses.replace(self, acc_policy=acc_policy, chunking_method=method,
                                   batch_chunk_size=max(1, rows), acc_dtype=acc_dtype)


class LinearCrossEntropyLoss(_WeightedLoss):
    r"""Cross entropy between ``input``, linearly transformed to logits, and ``target``:
    :func:`~disttorch.nn.functional.linear_cross_entropy` with its own linear weight.

    Args:
        in_features (int): size of each input sample.
        num_classes (int): number of classes :math:`C`.
        out_features (tuple of int, optional): :math:`(d_1, ..., d_K)` for a K-dimensional
            loss. Default: ``()``
        bias (bool, optional): learn a bias of logical shape ``(C, *out_features)`` (stored
            flat in ``self.linear.bias``). Default: ``False``
        weight (Tensor, optional): a manual rescaling weight per class, of size :math:`C`.
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``
        ignore_index (int, optional): a class index that contributes nothing (class-index
            targets only; ``None`` means -100). Default: ``None``
        label_smoothing (float, optional): in ``[0, 1]``. Default: 0.0
        options (LinearCrossEntropyOptions, optional): chunking options; ``None`` runs the
            reference implementation. Default: ``None``

    Shape:
        - Input: :math:`(in\_features)` or :math:`(N, in\_features)`.
        - Target: class indices :math:`()`, :math:`(N)` or :math:`(N, *out\_features)`, or
          class probabilities :math:`(C)` or :math:`(N, C, *out\_features)`.
        - Output: scalar, or the target's batch shape with ``reduction='none'``.

    Examples::

        >>> loss = nn.LinearCrossEntropyLoss(5, 10, out_features=(4, 3))
        >>> output = loss(disttorch.randn(2, 5, requires_grad=True),
        ...               disttorch.randint(0, 10, (2, 4, 3)))
        >>> output.backward()
    """

    def __init__(self, in_features, num_classes, *, out_features=(), bias=False, device=None,
                 dtype=None, reduction="mean", weight=None, ignore_index=None,
                 label_smoothing=0.0, options=None):
        if weight is not None and tuple(weight.shape) != (num_classes,):
            raise RuntimeError(f"expected weight shape to be {(num_classes,)}, got "
                               f"{tuple(weight.shape)}")
        if label_smoothing < 0 or label_smoothing > 1.0:
            raise RuntimeError(f"expected label_smoothing to be in range [0, 1], got "
                               f"{label_smoothing}")
        super().__init__(weight=weight, reduction=reduction)
        self.num_classes = num_classes
        self.out_features = out_features
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        # Linear keeps 2-D weights: forward views them as (C, *out_features, in_features)
        self.linear = Linear(in_features, math.prod(out_features, start=num_classes), bias=bias,
                             device=device, dtype=dtype)
        self.options = options

    def forward(self, input, target):
        weight = self.linear.weight.reshape(
            (self.num_classes, *self.out_features, self.linear.in_features))
        bias = None if self.linear.bias is None else \
            self.linear.bias.reshape((self.num_classes, *self.out_features))
        return F.linear_cross_entropy(input, weight, target, linear_bias=bias,
                                      weight=self.weight, reduction=self.reduction,
                                      ignore_index=self.ignore_index,
                                      label_smoothing=self.label_smoothing,
                                      options=self.options)

    def extra_repr(self):
        return (f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
                f"out_features={self.out_features}, bias={self.linear.bias is not None}, "
                f"reduction={self.reduction}, ignore_index={self.ignore_index}, "
                f"label_smoothing={self.label_smoothing}, options={self.options}")
