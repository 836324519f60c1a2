"""Loss modules: thin wrappers over ``nn.functional`` that hold the options (and class weights
as buffers)."""
import warnings

from ..functional import _loss as F
from .module import Module

__all__ = ["L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss",
           "BCELoss", "BCEWithLogitsLoss", "KLDivLoss", "CosineEmbeddingLoss", "MarginRankingLoss",
           "HingeEmbeddingLoss", "SoftMarginLoss", "TripletMarginLoss",
           "TripletMarginWithDistanceLoss", "PoissonNLLLoss", "GaussianNLLLoss",
           "MultiLabelSoftMarginLoss", "MultiMarginLoss", "MultiLabelMarginLoss", "NLLLoss2d",
           "CTCLoss"]


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = F._reduction(size_average, reduce, reduction)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class L1Loss(_Loss):
    r"""Mean absolute error :math:`|x_n - y_n|`, reduced by ``reduction``.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``

    Shape:
        - Input: :math:`(*)`. Target: :math:`(*)`, same shape.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Examples::

        >>> loss = nn.L1Loss()
        >>> output = loss(disttorch.randn(3, 5, requires_grad=True), disttorch.randn(3, 5))
        >>> output.backward()
    """

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    r"""Mean squared error :math:`(x_n - y_n)^2`, reduced by ``reduction``.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``

    Shape:
        - Input: :math:`(*)`. Target: :math:`(*)`, same shape.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Examples::

        >>> loss = nn.MSELoss()
        >>> output = loss(disttorch.randn(3, 5, requires_grad=True), disttorch.randn(3, 5))
        >>> output.backward()
    """

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    r"""Squared term below ``beta``, L1 term above.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``
        beta: the threshold between the L1 and L2 loss (non-negative). Default: 1.0

    Shape:
        - Input: :math:`(*)`. Target: :math:`(*)`, same shape.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Examples::

        >>> loss = nn.SmoothL1Loss()
        >>> output = loss(disttorch.randn(3, 5, requires_grad=True), disttorch.randn(3, 5))
        >>> output.backward()
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    r"""Squared term below ``delta``, ``delta``-scaled L1 term above.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``
        delta: the threshold between the delta-scaled L1 and L2 loss (positive). Default: 1.0

    Shape:
        - Input: :math:`(*)`. Target: :math:`(*)`, same shape.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Examples::

        >>> loss = nn.HuberLoss()
        >>> output = loss(disttorch.randn(3, 5, requires_grad=True), disttorch.randn(3, 5))
        >>> output.backward()
    """

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class CrossEntropyLoss(_WeightedLoss):
    r"""Cross entropy between logits and class indices or class probabilities.

    Args:
        weight (Tensor, optional): a manual rescaling weight per class, shape :math:`(C)`.
        ignore_index (int, optional): a target value that is ignored (index targets only).
            Default: -100
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``
        label_smoothing (float, optional): in [0.0, 1.0]. Default: 0.0

    Shape:
        - Input: :math:`(C)`, :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)` logits.
        - Target: class indices :math:`()`, :math:`(N)` or :math:`(N, d_1, ..., d_K)` (int64),
          or class probabilities with the input's shape.
        - Output: scalar, or the target's shape (without C) with ``reduction='none'``.

    Examples::

        >>> loss = nn.CrossEntropyLoss()
        >>> output = loss(disttorch.randn(3, 5, requires_grad=True), disttorch.tensor([1, 0, 4]))
        >>> output.backward()
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    r"""Negative log likelihood of class indices given log-probabilities.

    Args:
        weight (Tensor, optional): a manual rescaling weight per class, shape :math:`(C)`.
        ignore_index (int, optional): a target value that is ignored. Default: -100
        reduction: ``'none'`` | ``'mean'`` (weighted mean) | ``'sum'``. Default: ``'mean'``

    Shape:
        - Input: :math:`(N, C)`, :math:`(C)` or :math:`(N, C, d_1, ..., d_K)`.
        - Target: :math:`(N)`, :math:`()` or :math:`(N, d_1, ..., d_K)`, int64 in [0, C-1].

    Examples::

        >>> loss = nn.NLLLoss()
        >>> output = loss(F.log_softmax(disttorch.randn(3, 5, requires_grad=True), dim=1),
        ...               disttorch.tensor([1, 0, 4]))
        >>> output.backward()
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class NLLLoss2d(NLLLoss):
    """Deprecated alias of :class:`NLLLoss` (which handles any number of spatial dims)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        warnings.warn("`NLLLoss2d` has been deprecated. Please use `NLLLoss` instead as a drop-in "
                      "replacement and see https://pytorch.org/docs/main/nn.html#torch.nn.NLLLoss "
                      "for more details.", FutureWarning, stacklevel=2)
        super().__init__(weight, size_average, ignore_index, reduce, reduction)


class BCELoss(_WeightedLoss):
    r"""Binary cross entropy between probabilities and targets (logs clamped at -100).

    Args:
        weight (Tensor, optional): a rescaling weight broadcast to the input.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``

    Shape:
        - Input: :math:`(*)` in [0, 1]. Target: :math:`(*)`, same shape.

    Examples::

        >>> loss = nn.BCELoss()
        >>> output = loss(disttorch.sigmoid(disttorch.randn(3, requires_grad=True)), disttorch.rand(3))
        >>> output.backward()
    """

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    r"""Sigmoid and binary cross entropy in one numerically stable expression.

    Args:
        weight (Tensor, optional): a rescaling weight broadcast to the input.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``
        pos_weight (Tensor, optional): a weight of positive examples, broadcast along the
            classes (last dim).

    Shape:
        - Input: :math:`(*)` logits. Target: :math:`(*)`, same shape.

    Examples::

        >>> loss = nn.BCEWithLogitsLoss()
        >>> output = loss(disttorch.randn(3, requires_grad=True), disttorch.rand(3))
        >>> output.backward()
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  pos_weight=self.pos_weight,
                                                  reduction=self.reduction)


class KLDivLoss(_Loss):
    r"""Kullback-Leibler divergence with the input in log space.

    Args:
        reduction: ``'none'`` | ``'batchmean'`` | ``'sum'`` | ``'mean'``. Default: ``'mean'``
        log_target (bool, optional): whether the target is in log space. Default: ``False``

    Shape:
        - Input: :math:`(*)` log-probabilities. Target: :math:`(*)`, same shape.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Examples::

        >>> loss = nn.KLDivLoss(reduction="batchmean")
        >>> output = loss(F.log_softmax(disttorch.randn(3, 5, requires_grad=True), dim=1),
        ...               F.softmax(disttorch.rand(3, 5), dim=1))
        >>> output.backward()
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class _MarginLoss(_Loss):
    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin


class CosineEmbeddingLoss(_MarginLoss):
    r"""``1 - cos(x1, x2)`` for ``y = 1`` and ``max(0, cos(x1, x2) - margin)`` for ``y = -1``.

    Args:
        margin (float, optional): in [-1, 1]; 0 to 0.5 is suggested. Default: 0
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``

    Shape:
        - Input1, Input2: :math:`(N, D)` or :math:`(D)`. Target: :math:`(N)` or :math:`()`
          of 1 and -1.
        - Output: scalar, or :math:`(N)` with ``reduction='none'``.

    Examples::

        >>> loss = nn.CosineEmbeddingLoss()
        >>> output = loss(disttorch.randn(3, 5, requires_grad=True), disttorch.randn(3, 5),
        ...               disttorch.tensor([1, -1, 1]))
        >>> output.backward()
    """

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                       reduction=self.reduction)


class MarginRankingLoss(_MarginLoss):
    r"""``max(0, -y (x1 - x2) + margin)``.

    Args:
        margin (float, optional): Default: 0
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``

    Shape:
        - Input1, Input2: :math:`(N)` or :math:`()`. Target: same shape, 1 or -1.
        - Output: scalar, or :math:`(N)` with ``reduction='none'``.

    Examples::

        >>> loss = nn.MarginRankingLoss()
        >>> output = loss(disttorch.randn(3, requires_grad=True), disttorch.randn(3),
        ...               disttorch.tensor([1.0, -1.0, 1.0]))
        >>> output.backward()
    """

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin,
                                     reduction=self.reduction)


class HingeEmbeddingLoss(_MarginLoss):
    r"""``x`` for ``y = 1`` and ``max(0, margin - x)`` for ``y = -1``.

    Args:
        margin (float, optional): Default: 1.0
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``

    Shape:
        - Input: :math:`(*)`. Target: :math:`(*)`, same shape, 1 or -1.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Examples::

        >>> loss = nn.HingeEmbeddingLoss()
        >>> output = loss(disttorch.randn(4, requires_grad=True), disttorch.tensor([1.0, -1.0, -1.0, 1.0]))
        >>> output.backward()
    """

    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(margin, size_average, reduce, reduction)

    def forward(self, input, target):
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    r"""Two-class logistic loss ``log(1 + exp(-y x))``.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``

    Shape:
        - Input: :math:`(*)`. Target: :math:`(*)`, same shape, 1 or -1.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Examples::

        >>> loss = nn.SoftMarginLoss()
        >>> output = loss(disttorch.randn(4, requires_grad=True), disttorch.tensor([1.0, -1.0, -1.0, 1.0]))
        >>> output.backward()
    """

    def forward(self, input, target):
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    r"""One-versus-all logistic loss, averaged over the classes.

    Args:
        weight (Tensor, optional): a manual rescaling weight per class, shape :math:`(C)`.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``

    Shape:
        - Input: :math:`(N, C)`. Target: :math:`(N, C)` of 0 and 1.
        - Output: scalar, or :math:`(N)` with ``reduction='none'``.

    Examples::

        >>> loss = nn.MultiLabelSoftMarginLoss()
        >>> output = loss(disttorch.randn(3, 4, requires_grad=True), disttorch.randint(0, 2, (3, 4)).float())
        >>> output.backward()
    """

    def forward(self, input, target):
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight,
                                             reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    r"""Multi-class hinge loss between scores :math:`x` and a class index :math:`y`:
    :math:`\sum_{j \ne y} \max(0, \text{margin} - x_y + x_j)^p / C`.

    Args:
        p (int, optional): 1 or 2. Default: 1
        margin (float, optional): Default: 1
        weight (Tensor, optional): a manual rescaling weight per class, shape :math:`(C)`.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``

    Shape:
        - Input: :math:`(N, C)` or :math:`(C)`. Target: :math:`(N)` or :math:`()`.

    Examples::

        >>> loss = nn.MultiMarginLoss()
        >>> output = loss(disttorch.randn(3, 4, requires_grad=True), disttorch.tensor([3, 0, 1]))
        >>> output.backward()
    """

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError("only p == 1 and p == 2 supported")
        if weight is not None and weight.ndim != 1:
            raise ValueError(f"MultiMarginLoss: expected weight to be None or 1D tensor, got "
                             f"{weight.ndim}D instead")
        self.p, self.margin = p, margin

    def forward(self, input, target):
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin,
                                   weight=self.weight, reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    r"""Multi-label hinge loss; ``target`` lists the target classes of each sample, padded with
    -1.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``

    Shape:
        - Input: :math:`(N, C)` or :math:`(C)`. Target: same shape, int64.

    Examples::

        >>> loss = nn.MultiLabelMarginLoss()
        >>> output = loss(disttorch.randn(1, 4, requires_grad=True), disttorch.tensor([[3, 0, -1, 1]]))
        >>> output.backward()
    """

    def forward(self, input, target):
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    r"""``max(d(a, p) - d(a, n) + margin, 0)`` with the p-norm pairwise distance.

    Args:
        margin (float, optional): Default: 1.0
        p (float, optional): the norm degree for pairwise distance. Default: 2.0
        eps (float, optional): a small constant for numerical stability. Default: 1e-6
        swap (bool, optional): use the distance swap of Balntas et al. Default: ``False``
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``

    Shape:
        - Anchor, Positive, Negative: :math:`(N, D)` or :math:`(D)`.
        - Output: scalar, or :math:`(N)` with ``reduction='none'``.

    Examples::

        >>> loss = nn.TripletMarginLoss()
        >>> output = loss(disttorch.randn(8, 16, requires_grad=True), disttorch.randn(8, 16),
        ...               disttorch.randn(8, 16))
        >>> output.backward()
    """

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None,
                 reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got "
                             f"{margin} instead")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                     eps=self.eps, swap=self.swap, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    r""":class:`TripletMarginLoss` with any distance function.

    Args:
        distance_function (Callable, optional): a distance between two tensors; pairwise L2 by
            default.
        margin (float, optional): Default: 1.0
        swap (bool, optional): use the distance swap. Default: ``False``
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``

    Shape:
        - Anchor, Positive, Negative: :math:`(N, *)`, as the distance function expects.
        - Output: scalar, or :math:`(N)` with ``reduction='none'``.

    Examples::

        >>> loss = nn.TripletMarginWithDistanceLoss()
        >>> output = loss(disttorch.randn(8, 16, requires_grad=True), disttorch.randn(8, 16),
        ...               disttorch.randn(8, 16))
        >>> output.backward()
    """

    def __init__(self, *, distance_function=None, margin=1.0, swap=False, reduction="mean"):
        super().__init__(reduction=reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than "
                             f"0, got {margin} instead")
        self.distance_function = distance_function
        self.margin, self.swap = margin, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_with_distance_loss(
            anchor, positive, negative, distance_function=self.distance_function,
            margin=self.margin, swap=self.swap, reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    r"""Poisson negative log likelihood.

    Args:
        log_input (bool, optional): the input is the log of the rate. Default: ``True``
        full (bool, optional): add the Stirling approximation term. Default: ``False``
        eps (float, optional): avoids ``log(0)`` when ``log_input=False``. Default: 1e-8
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``

    Shape:
        - Input: :math:`(*)`. Target: :math:`(*)`, same shape.
        - Output: scalar, or :math:`(*)` with ``reduction='none'``.

    Examples::

        >>> loss = nn.PoissonNLLLoss()
        >>> output = loss(disttorch.randn(5, 2, requires_grad=True), disttorch.randn(5, 2).exp())
        >>> output.backward()
    """

    def __init__(self, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                 reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input, target):
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full,
                                  eps=self.eps, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    r"""Gaussian negative log likelihood with a predicted variance.

    Args:
        full (bool, optional): include the constant term. Default: ``False``
        eps (float, optional): a lower bound on the variance. Default: 1e-6
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``

    Shape:
        - Input: :math:`(N, *)`. Target: :math:`(N, *)`. Var: like the input, or with one
          dim of size 1 (or missing).
        - Output: scalar, or :math:`(N, *)` with ``reduction='none'``.

    Examples::

        >>> loss = nn.GaussianNLLLoss()
        >>> output = loss(disttorch.randn(5, 2, requires_grad=True), disttorch.randn(5, 2),
        ...               disttorch.ones(5, 2))
        >>> output.backward()
    """

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps,
                                   reduction=self.reduction)


class CTCLoss(_Loss):
    r"""Connectionist temporal classification loss: the negative log likelihood of a target
    sequence summed over all its alignments with the (longer) input sequence.

    Args:
        blank (int, optional): blank label. Default :math:`0`.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``
        zero_infinity (bool, optional): zero infinite losses and their gradients.
            Default: ``False``

    Shape:
        - Log_probs: :math:`(T, N, C)` or :math:`(T, C)`, e.g. ``log_softmax`` outputs.
        - Targets: :math:`(N, S)` padded, or the concatenated targets (1-D).
        - Input_lengths, Target_lengths: :math:`(N)` (tensors or sequences of ints).
        - Output: scalar, or :math:`(N)` with ``reduction='none'``.

    Examples::

        >>> ctc = nn.CTCLoss()
        >>> log_probs = disttorch.randn(50, 16, 20).log_softmax(2).detach().requires_grad_()
        >>> targets = disttorch.randint(1, 20, (16, 30))
        >>> loss = ctc(log_probs, targets, [50] * 16, [30] * 16)
        >>> loss.backward()
    """

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                          self.reduction, self.zero_infinity)
