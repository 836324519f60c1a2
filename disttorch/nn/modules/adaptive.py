"""``AdaptiveLogSoftmaxWithLoss``: the adaptive softmax of Grave et al. for large vocabularies."""
from collections import namedtuple

from ...ops import argmax, cat
from ..functional import _activation as A
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    r"""Efficient softmax approximation for large output spaces (`Grave et al., 2016
    <https://arxiv.org/abs/1609.04309>`__).

    Classes are split by frequency into a head (the ``cutoffs[0]`` most frequent classes plus
    one token per tail cluster) and tail clusters; cluster :math:`i` projects the input to
    ``in_features // div_value ** (i + 1)`` features before its own softmax, so rare classes
    cost less. Labels must be sorted by frequency: index 0 is the most frequent class.

    Args:
        in_features (int): number of features in the input tensor.
        n_classes (int): number of classes in the dataset.
        cutoffs (Sequence): increasing, unique, positive cutoffs, each below ``n_classes``.
        div_value (float, optional): exponent base of the cluster sizes. Default: 4.0
        head_bias (bool, optional): if ``True``, the head has a bias. Default: ``False``

    Returns:
        ``NamedTuple`` with fields ``output`` (the target log-probability of each example,
        shape :math:`(N)`) and ``loss`` (the mean negative log likelihood, a scalar).

    Shape:
        - input: :math:`(N, \texttt{in\_features})` or :math:`(\texttt{in\_features})`
        - target: :math:`(N)` or :math:`()` with values in :math:`[0, \texttt{n\_classes})`
        - output1: :math:`(N)` or :math:`()`
        - output2: ``Scalar``

    Examples::

        >>> asm = nn.AdaptiveLogSoftmaxWithLoss(16, 100, cutoffs=[10, 40])
        >>> out, loss = asm(disttorch.randn(8, 16), disttorch.randint(0, 100, (8,)))
    """

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False,
                 device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             "n_classes-1")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, device=device,
                           dtype=dtype)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(
                Linear(in_features, hidden, bias=False, device=device, dtype=dtype),
                Linear(hidden, size, bias=False, device=device, dtype=dtype)))

    def reset_parameters(self):
        """Re-initialise the head and every cluster projection as ``__init__`` does."""
        self.head.reset_parameters()
        for projection, output in self.tail:
            projection.reset_parameters()
            output.reset_parameters()

    def forward(self, input_, target_):
        if target_.ndim == 1:
            if input_.shape[0] != target_.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch "
                                   "dimension.")
            if input_.ndim != 2:
                raise RuntimeError(f"1D target tensor expects 2D input tensors, but found "
                                   f"inputs with size {input_.shape}")
        elif target_.ndim == 0:
            if input_.ndim != 1:
                raise RuntimeError(f"0D target tensor expects 1D input tensors, but found "
                                   f"inputs with size {input_.shape}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = target_.ndim > 0
        input = input_ if batched else input_.unsqueeze(0)
        target = target_ if batched else target_.unsqueeze(0)
        # one host read decides every row's cluster; checked before any module runs
        bounds = [0] + self.cutoffs
        clusters = [((target >= low) & (target < high)).nonzero()[:, 0]
                    for low, high in zip(bounds[:-1], bounds[1:])]
        if sum(rows.numel() for rows in clusters) != target.shape[0]:
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{target.min().item()}, "
                               f"{target.max().item()}] were found. ")
        # the head column each row reads: its own class in the shortlist, else its cluster's
        head_column = target.new_zeros(target.shape[0])
        output = input.new_zeros(target.shape[0])
        for i, rows in enumerate(clusters):
            if rows.numel() == 0:
                continue
            if i == 0:
                head_column = head_column.index_copy(0, rows, target.index_select(0, rows))
                continue
            head_column = head_column.index_fill(0, rows, self.shortlist_size + i - 1)
            relative = target.index_select(0, rows) - bounds[i]
            logprob = A.log_softmax(self.tail[i - 1](input.index_select(0, rows)), dim=1)
            output = output.index_copy(0, rows, logprob.gather(1, relative.unsqueeze(1))[:, 0])
        head_logprob = A.log_softmax(self.head(input), dim=1)
        output = output + head_logprob.gather(1, head_column.unsqueeze(1))[:, 0]
        loss = (-output).mean()
        if not batched:
            output = output.squeeze(0)
        return _ASMoutput(output, loss)

    def _get_full_log_prob(self, input, head_output):
        """The log-probabilities of all classes given ``input`` and the head's output."""
        head_logprob = A.log_softmax(head_output, dim=1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster_logprob = A.log_softmax(self.tail[i](input), dim=1)
            parts.append(cluster_logprob
                         + head_logprob[:, self.shortlist_size + i].unsqueeze(1))
        return cat(parts, dim=1)

    def log_prob(self, input):
        r"""Log-probabilities of all ``n_classes`` classes.

        Shape:
            - Input: :math:`(N, \texttt{in\_features})`
            - Output: :math:`(N, \texttt{n\_classes})`
        """
        return self._get_full_log_prob(input, self.head(input))

    def predict(self, input):
        r"""The most probable class of each example: ``log_prob(input).argmax(dim=1)``, with the
        tail clusters evaluated only for rows whose best head entry is a cluster.

        Shape:
            - Input: :math:`(N, \texttt{in\_features})`
            - Output: :math:`(N)`
        """
        head_output = self.head(input)
        output = argmax(head_output, dim=1)
        not_in_shortlist = output >= self.shortlist_size
        if not bool(not_in_shortlist.any()):
            return output
        if bool(not_in_shortlist.all()):
            return argmax(self._get_full_log_prob(input, head_output), dim=1)
        log_prob = self._get_full_log_prob(input[not_in_shortlist],
                                           head_output[not_in_shortlist])
        output[not_in_shortlist] = argmax(log_prob, dim=1)
        return output
