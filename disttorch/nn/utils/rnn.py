"""Variable-length batches for recurrent layers: ``PackedSequence`` and the pack/pad helpers."""
import collections
import collections.abc

import numpy as np

from ... import _dtype as dtypes
from ..._backend import get_array_module, to_numpy
from ...autograd.function import Node
from ...ops._util import sum_to
from ...tensor import Tensor, _new

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence",
           "pad_sequence", "unpad_sequence", "pack_sequence", "unpack_sequence"]


def _gather_rows(x, index, lead):
    return x.reshape((-1,) + x.shape[lead:])[index]


def _scatter_rows(data, index, shape, fill):
    lead = len(shape) - data.ndim + 1
    out = get_array_module(data).full((int(np.prod(shape[:lead])),) + data.shape[1:], fill,
                                      dtype=data.dtype)
    out[index] = data
    return out.reshape(shape)


class _Gather(Node):
    """Rows ``index`` of ``x`` with its first ``lead`` dims flattened into one."""

    def forward(self, x, index, lead):
        self.shape, self.index, self.lead = x.shape, index, lead
        return _gather_rows(x, index, lead)

    def backward(self, g):
        if isinstance(g, Tensor):
            return _Scatter.apply(g, self.index, self.shape, 0), None, None
        return _scatter_rows(g, self.index, self.shape, 0), None, None


class _Scatter(Node):
    """An array of ``shape`` filled with ``fill`` whose flattened leading rows ``index`` are the
    rows of ``data`` (the inverse of :class:`_Gather`; ``index`` has no repeats)."""

    def forward(self, data, index, shape, fill):
        self.index, self.lead = index, len(shape) - data.ndim + 1
        return _scatter_rows(data, index, shape, fill)

    def backward(self, g):
        if isinstance(g, Tensor):
            return _Gather.apply(g, self.index, self.lead), None, None, None
        return _gather_rows(g, self.index, self.lead), None, None, None


def _pad_arrays(seqs, batch_first, value, left, total):
    xp = get_array_module(seqs[0])
    total = max(s.shape[0] for s in seqs) if total is None else total
    out = xp.full((len(seqs), total) + seqs[0].shape[1:], value, dtype=seqs[0].dtype)
    for i, s in enumerate(seqs):
        if left:
            out[i, total - s.shape[0]:] = s
        else:
            out[i, :s.shape[0]] = s
    return out if batch_first else out.swapaxes(0, 1)


def _unpad_arrays(padded, lengths, batch_first, left):
    batch_major = padded if batch_first else padded.swapaxes(0, 1)
    total = batch_major.shape[1]
    return tuple((batch_major[i, total - n:] if left else batch_major[i, :n]).copy()
                 for i, n in enumerate(lengths))


class _PadSequence(Node):
    """Stack sequences ``(L_i, *)`` into ``(T, B, *)`` (or ``(B, T, *)``) filled with ``value``
    (``total`` steps, or the longest length when None)."""

    def forward(self, batch_first, value, left, total, *seqs):
        self.batch_first, self.left = batch_first, left
        self.lengths = [s.shape[0] for s in seqs]
        self.shapes = [s.shape for s in seqs]
        return _pad_arrays(seqs, batch_first, value, left, total)

    def backward(self, g):
        if isinstance(g, Tensor):
            grads = _Unpad.apply(g, self.lengths, self.batch_first, self.left)
        else:
            grads = _unpad_arrays(g, self.lengths, self.batch_first, self.left)
        grads = grads if isinstance(grads, tuple) else (grads,)
        # a sequence broadcast into its slot gets its gradient summed back
        return (None, None, None, None) + tuple(
            sum_to(grad, tuple(shape)) for grad, shape in zip(grads, self.shapes))


class _Unpad(Node):
    """The unpadded rows of each sequence of a padded batch, one output per sequence."""

    def forward(self, padded, lengths, batch_first, left):
        self.shape, self.batch_first, self.left = padded.shape, batch_first, left
        return _unpad_arrays(padded, lengths, batch_first, left)

    def backward(self, *grads):
        total = self.shape[1 if self.batch_first else 0]
        if isinstance(grads[0], Tensor):
            padded = _PadSequence.apply(self.batch_first, 0, self.left, total, *grads)
        else:
            padded = _pad_arrays(grads, self.batch_first, 0, self.left, total)
        return padded, None, None, None


_PackedSequenceBase = collections.namedtuple(
    "PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


class PackedSequence(_PackedSequenceBase):
    r"""Holds the data and the list of ``batch_sizes`` of a packed sequence.

    Every recurrent module accepts a :class:`PackedSequence` as its input. Instances are made
    by :func:`pack_padded_sequence` or :func:`pack_sequence`, never constructed by hand.

    ``data`` holds the rows of every time step one after another: for sequences sorted by
    decreasing length, the first ``batch_sizes[0]`` rows are the first step of every
    sequence, the next ``batch_sizes[1]`` rows the second step of those that are long enough,
    and so on.

    Args:
        data (Tensor): tensor of packed sequences, shape ``(sum(batch_sizes), *)``
        batch_sizes (Tensor): int64 CPU tensor of the batch size at each time step
        sorted_indices (Tensor, optional): the permutation that sorted the batch by length
        unsorted_indices (Tensor, optional): its inverse (computed when omitted)

    Examples::

        >>> from disttorch.nn.utils.rnn import pack_sequence
        >>> packed = pack_sequence([disttorch.tensor([1., 2., 3.]), disttorch.tensor([4., 5.])])
        >>> packed.data, packed.batch_sizes
        (tensor([1., 4., 2., 5., 3.]), tensor([2, 2, 1]))
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not isinstance(data, (list, tuple)) or len(data) != 2:
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        if batch_sizes.device.type != "cpu":
            raise ValueError("batch_sizes should always be on CPU. Instances of PackedSequence "
                             "should never be created manually. They should be instantiated by "
                             "functions like pack_sequence and pack_padded_sequences in "
                             "nn.utils.rnn.")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """Move or cast ``data`` like ``Tensor.to``; the indices follow its device."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        indices = [None if i is None else i.to(data.device)
                   for i in (self.sorted_indices, self.unsorted_indices)]
        return type(self)(data, self.batch_sizes, *indices)

    def cuda(self, *args, **kwargs):
        return self.to(*args, device="cuda", **kwargs)

    def cpu(self, *args, **kwargs):
        return self.to(*args, device="cpu", **kwargs)

    def double(self):
        return self.to(dtype=dtypes.float64)

    def float(self):
        return self.to(dtype=dtypes.float32)

    def half(self):
        return self.to(dtype=dtypes.float16)

    def long(self):
        return self.to(dtype=dtypes.int64)

    def int(self):
        return self.to(dtype=dtypes.int32)

    def pin_memory(self):
        """The sequence with its data (and indices) in page-locked memory (see
        ``Tensor.pin_memory``)."""
        data = self.data.pin_memory()
        if data is self.data:
            return self
        indices = [None if i is None else i.pin_memory()
                   for i in (self.sorted_indices, self.unsorted_indices)]
        return type(self)(data, self.batch_sizes, *indices)

    def is_pinned(self):
        return self.data.is_pinned()

    @property
    def is_cuda(self):
        return self.data.is_cuda


def invert_permutation(permutation):
    """The inverse of an index permutation (None stays None)."""
    if permutation is None:
        return None
    p = permutation._data
    xp = get_array_module(p)
    inverse = xp.empty_like(p)
    inverse[p] = xp.arange(p.shape[0], dtype=p.dtype)
    return _new(inverse)


def _host_lengths(lengths):
    if isinstance(lengths, Tensor):
        lengths = to_numpy(lengths._data)
    return np.asarray(lengths, dtype=np.int64).reshape(-1)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    r"""Pack a padded batch of variable-length sequences.

    Args:
        input (Tensor): padded batch of shape ``(T, B, *)``, or ``(B, T, *)`` with
            ``batch_first``
        lengths (Tensor or list(int)): length of each sequence (on the CPU if a tensor)
        batch_first (bool, optional): whether ``input`` is batch-major. Default: ``False``
        enforce_sorted (bool, optional): if ``True``, ``lengths`` must be in decreasing order;
            if ``False`` the batch is sorted here and the permutation kept in the result, so
            that unpacking restores the original order. Default: ``True``

    Returns:
        a :class:`PackedSequence`.

    Examples::

        >>> padded = disttorch.tensor([[1., 4.], [2., 5.], [3., 0.]])
        >>> pack_padded_sequence(padded, [3, 2]).data
        tensor([1., 4., 2., 5., 3.])
    """
    lengths = _host_lengths(lengths)
    batch, steps = (input.shape[0], input.shape[1]) if batch_first else input.shape[1::-1]
    if lengths.shape[0] != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lengths.shape[0]} (batch_size={batch})")
    order = None
    if enforce_sorted:
        if (np.diff(lengths) > 0).any():
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                               "pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
    else:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
    if lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if lengths[0] > steps:
        raise RuntimeError(f"pack_padded_sequence: a sequence of length {lengths[0]} does not fit "
                           f"in the padded input's {steps} time steps")
    active = lengths[None, :] > np.arange(lengths[0])[:, None]
    t, j = np.nonzero(active)
    rows = j if order is None else order[j]
    flat = rows * steps + t if batch_first else t * batch + rows
    xp = get_array_module(input._data)
    data = _Gather.apply(input, xp.asarray(flat), 2)
    sorted_indices = None if order is None else _new(xp.asarray(order))
    return PackedSequence(data, _new(active.sum(1)), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    r"""Pad a packed batch of variable-length sequences (the inverse of
    :func:`pack_padded_sequence`).

    Args:
        sequence (PackedSequence): batch to pad
        batch_first (bool, optional): return ``(B, T, *)`` instead of ``(T, B, *)``.
            Default: ``False``
        padding_value (float, optional): value of the padded elements. Default: ``0.0``
        total_length (int, optional): pad to this many steps instead of the longest length

    Returns:
        a tuple of the padded tensor and the int64 tensor of lengths, in the batch order given
        to :func:`pack_padded_sequence`.

    Examples::

        >>> packed = pack_sequence([disttorch.tensor([1., 2., 3.]), disttorch.tensor([4., 5.])])
        >>> pad_packed_sequence(packed)
        (tensor([[1., 4.],
                [2., 5.],
                [3., 0.]]), tensor([3, 2]))
    """
    sizes = to_numpy(sequence.batch_sizes._data).astype(np.int64)
    steps, batch = sizes.shape[0], int(sizes[0])
    if total_length is not None:
        if total_length < steps:
            raise ValueError("Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {steps}")
        steps = total_length
    active = sizes[:, None] > np.arange(batch)[None, :]
    t, j = np.nonzero(active)
    lengths = active.sum(0)
    if sequence.sorted_indices is not None:
        order = to_numpy(sequence.sorted_indices._data)
        j = order[j]
        lengths = lengths[to_numpy(sequence.unsorted_indices._data)]
    flat = j * steps + t if batch_first else t * batch + j
    data = sequence.data
    shape = ((batch, steps) if batch_first else (steps, batch)) + tuple(data.shape[1:])
    xp = get_array_module(data._data)
    padded = _Scatter.apply(data, xp.asarray(flat), shape, padding_value)
    return padded, _new(lengths.astype(np.int64))


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    r"""Pad a list of variable-length tensors with ``padding_value`` into one tensor.

    Args:
        sequences (list[Tensor]): sequences of shape ``(L_i, *)``
        batch_first (bool, optional): return ``(B, T, *)`` instead of ``(T, B, *)``.
            Default: ``False``
        padding_value (float, optional): value of the padded elements. Default: ``0.0``
        padding_side (str, optional): ``'right'`` or ``'left'``. Default: ``'right'``

    Shape:
        - Output: ``(T, B, *)``, or ``(B, T, *)`` with ``batch_first``, where ``T`` is the
          longest length.

    Examples::

        >>> a, b = disttorch.ones(25, 300), disttorch.ones(22, 300)
        >>> pad_sequence([a, b]).size()
        disttorch.Size([25, 2, 300])
    """
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    if not isinstance(sequences, collections.abc.Iterable):
        raise RuntimeError("pad_sequence: Expected iterable for input sequences, but got arg of "
                           f"type: {type(sequences)}")
    sequences = tuple(sequences)
    _check_sequences(sequences, padding_side)
    return _PadSequence.apply(batch_first, padding_value, padding_side == "left", None,
                              *sequences)


def _check_sequences(sequences, padding_side):
    """PyTorch's checks, in its order: the argument's types, then the kernel's own."""
    for i, seq in enumerate(sequences):
        if not isinstance(seq, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{type(seq).__name__}")
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    if sequences[0].dim() == 0:
        raise RuntimeError("ArrayRef: invalid slice, N = 1; size = 0")
    if any(seq.dim() == 0 for seq in sequences):
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    trailing = tuple(sequences[0].shape[1:])
    for seq in sequences:
        # each sequence is copied into its (L_i, *trailing) slot, broadcasting as copy_ does
        _check_copy((seq.shape[0],) + trailing, tuple(seq.shape))


def _check_copy(dest, src):
    width = max(len(dest), len(src))
    dest_full = (1,) * (width - len(dest)) + dest
    src_full = (1,) * (width - len(src)) + src
    for dim in range(width - 1, -1, -1):
        a, b = dest_full[dim], src_full[dim]
        if a != b and a != 1 and b != 1:
            raise RuntimeError(f"The size of tensor a ({a}) must match the size of tensor b "
                               f"({b}) at non-singleton dimension {dim}")
    shape = [max(a, b) if a != 1 and b != 1 else a * b for a, b in zip(dest_full, src_full)]
    if tuple(shape) != dest:
        raise RuntimeError(f"output with shape {list(dest)} doesn't match the broadcast shape "
                           f"{shape}")


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    r"""Split a padded batch into a list of variable-length tensors (the inverse of
    :func:`pad_sequence`).

    Args:
        padded_sequences (Tensor): padded batch ``(T, B, *)`` or ``(B, T, *)``
        lengths (Tensor or list(int)): length of each sequence
        batch_first (bool, optional): whether the batch is batch-major. Default: ``False``

    Returns:
        a list of ``B`` tensors of shape ``(L_i, *)``.

    Examples::

        >>> padded = pad_sequence([disttorch.ones(3, 2), disttorch.ones(1, 2)])
        >>> [t.shape for t in unpad_sequence(padded, [3, 1])]
        [disttorch.Size([3, 2]), disttorch.Size([1, 2])]
    """
    lengths = [int(n) for n in _host_lengths(lengths)]
    return list(_Unpad.apply(padded_sequences, lengths, batch_first, False))


def pack_sequence(sequences, enforce_sorted=True):
    r"""Pack a list of variable-length tensors; ``pack_padded_sequence(pad_sequence(...))``.

    Args:
        sequences (list[Tensor]): sequences of shape ``(L_i, *)``
        enforce_sorted (bool, optional): if ``True``, the sequences must be in order of
            decreasing length. Default: ``True``

    Examples::

        >>> a, b, c = disttorch.tensor([1, 2, 3]), disttorch.tensor([4, 5]), disttorch.tensor([6])
        >>> packed = pack_sequence([a, b, c])
        >>> packed.data, packed.batch_sizes
        (tensor([1, 4, 6, 2, 5, 3]), tensor([3, 2, 1]))
    """
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    r"""Unpack a :class:`PackedSequence` into a list of variable-length tensors.

    Examples::

        >>> packed = pack_sequence([disttorch.tensor([1, 2, 3]), disttorch.tensor([4, 5])])
        >>> unpack_sequence(packed)
        [tensor([1, 2, 3]), tensor([4, 5])]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
