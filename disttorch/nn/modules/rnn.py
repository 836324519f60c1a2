"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` (multi-layer, bidirectional, packed input) and
their single-step cells."""
import math
import numbers
import warnings

from ... import _dtype
from ...amp.autocast_mode import get_autocast_dtype, is_autocast_enabled
from ...autograd.grad_mode import no_grad
from ...ops.indexing import scalar_type_name
from ...ops.creation import empty
from ..functional._rnn import FusedCell, FusedRNN, RNNConfig
from ..parameter import Parameter
from ...tensor import Tensor
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATE_COUNT = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _check_dtype(input, weight):
    if input.dtype != weight.dtype:
        raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype "
                         f"({weight.dtype}). Convert input: input.to({weight.dtype}), or convert "
                         f"model: model.to({input.dtype})")


class RNNBase(Module):
    r"""Base class of :class:`RNN`, :class:`LSTM` and :class:`GRU`: the parameters of every
    layer and direction, their initialisation and the shared ``forward``.

    All weights and biases are initialised from :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})` with
    :math:`k = 1 / \text{hidden\_size}`. Parameters are named as in PyTorch
    (``weight_ih_l0``, ``weight_hh_l1_reverse``, ``bias_ih_l0``, ``weight_hr_l0``, ...).

    Args:
        mode (str): ``'LSTM'``, ``'GRU'``, ``'RNN_TANH'`` or ``'RNN_RELU'``
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
        proj_size: as for :class:`LSTM`
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if mode not in _GATE_COUNT:
            raise ValueError("Unrecognized RNN mode: " + mode)
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}")
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        gate_size = _GATE_COUNT[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        factory = {"device": device, "dtype": dtype}
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else real_hidden * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = [("weight_ih", (gate_size, layer_input)),
                          ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                names = []
                for stem, shape in shapes:
                    setattr(self, stem + suffix, Parameter(empty(shape, **factory)))
                    names.append(stem + suffix)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self):
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        """The parameters of each layer and direction, as lists in PyTorch's order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self):
        """Kept for PyTorch compatibility: the kernels use the weights as they are."""

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        with no_grad():
            for weight in self.parameters():
                weight.uniform_(-stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def _check_state(self, state, expected, message):
        if tuple(state.shape) != expected:
            raise RuntimeError(message.format(expected, list(state.shape)))

    def _run(self, input, states):
        """Shared forward: ``states`` is None, ``h0`` or ``(h0, c0)``; returns
        ``(output, (h_n, ...))`` with ``output`` packed again for packed input."""
        lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            batch, unbatched = int(batch_sizes._data[0]), False
        else:
            data, batch_sizes, sorted_indices, unsorted_indices = input, None, None, None
            if input.dim() not in (2, 3):
                raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                                 f"{input.dim()}D instead")
            unbatched = input.dim() == 2
            batch = 1 if unbatched else input.shape[0 if self.batch_first else 1]
            if states is not None:
                self._check_state_dims(states, unbatched)
        if data.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {data.shape[-1]}")
        weights = self._flat_weights
        autocast = _cpu_autocast_dtype(data)
        if autocast is None:
            _check_dtype(data, weights[0])
        hx = cx = None
        if states is not None:
            # PyTorch indexes the LSTM state (a tensor passed for it gives IndexError or its
            # first two rows) and rejects another count only in the kernel, after the checks
            hx, cx = (states[0], states[1]) if lstm else (states, None)
            layers = self.num_layers * (2 if self.bidirectional else 1)
            out_size = self.proj_size if self.proj_size > 0 else self.hidden_size
            lead = (layers,) if unbatched else (layers, batch)
            if lstm:
                self._check_state(hx, lead + (out_size,), "Expected hidden[0] size {}, got {}")
                self._check_state(cx, lead + (self.hidden_size,),
                                  "Expected hidden[1] size {}, got {}")
            else:
                self._check_state(hx, lead + (out_size,), "Expected hidden size {}, got {}")
            if lstm:
                _check_lstm_states(states, packed)
        out_dtypes = None
        if autocast is not None:
            data, hx, cx, weights, out_dtypes = self._autocast(autocast, data, hx, cx, weights,
                                                               packed)
        config = RNNConfig(self.mode, self.num_layers, self.bidirectional,
                           None if batch_sizes is None else batch_sizes._data, self.batch_first,
                           unbatched, self.dropout, self.training,
                           None if sorted_indices is None else sorted_indices._data,
                           None if unsorted_indices is None else unsorted_indices._data)
        results = FusedRNN.apply(data, hx, cx, config, *weights)
        if out_dtypes is not None:
            results = tuple(r if r.dtype == dt else r.to(dt) for r, dt in zip(results, out_dtypes))
        output = results[0]
        if packed:
            output = PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices)
        return output, results[1:]

    def _autocast(self, lower, data, hx, cx, weights, packed):
        """The layer under CPU autocast, as PyTorch runs it: every floating operand rounded to
        ``lower``, computed in float32 here; returns the operands and the output dtypes.

        An LSTM on its oneDNN path (not packed, no projections) is one autocast op whose
        outputs are all ``lower``. The other layers run PyTorch's cell loops, where only the
        matmuls are cast: an Elman RNN stays in ``lower`` throughout, while the GRU's hidden
        state and the LSTM's cell state keep the (promoted) dtype of the state they start from.
        """
        lstm = self.mode == "LSTM"
        onednn = (lstm and not packed and self.proj_size == 0 and data.numel() != 0
                  and data.dtype in _LOWERABLE)

        def low(t):
            return t if t is None or t.dtype not in _LOWERABLE else t.to(lower)

        state = (cx if lstm else hx)
        state_dtype = _dtype.promote_types(data.dtype if state is None else state.dtype, lower)
        data, hx, cx, weights = low(data), low(hx), low(cx), [low(w) for w in weights]
        # a float64 operand is left as it is, and cannot meet the lowered ones
        states = (hx, cx) if onednn else (hx,)
        for operand in (data,) + states:
            if operand is not None and operand.dtype != weights[0].dtype:
                if onednn:
                    raise RuntimeError("get_mkldnn_dtype: unsupported data type")
                raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                                   f"{scalar_type_name(operand)} and "
                                   f"{scalar_type_name(weights[0])}")
        if data.dtype not in _LOWERABLE:
            return data, hx, cx, weights, None

        def up(t):
            return None if t is None else t.to(_dtype.float32)

        if onednn or self.mode in ("RNN_TANH", "RNN_RELU"):
            outs = (lower,) * 3
        elif lstm:
            hidden = lower if self.proj_size > 0 else state_dtype
            outs = (hidden, hidden, state_dtype)
        else:
            outs = (state_dtype,) * 2
        return up(data), up(hx), up(cx), [up(w) for w in weights], outs

    def _check_state_dims(self, states, unbatched):
        want = 2 if unbatched else 3
        kind = "unbatched 2-D" if unbatched else "batched 3-D"
        if self.mode == "LSTM":
            h, c = states[0], states[1]
            if h.dim() != want or c.dim() != want:
                raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got "
                                   f"({h.dim()}-D, {c.dim()}-D) tensors")
        elif states.dim() != want:
            raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got "
                               f"{states.dim()}-D tensor")


_LOWERABLE = (_dtype.float32, _dtype.float16, _dtype.bfloat16)


def _cpu_autocast_dtype(data):
    """The low-precision dtype of an active CPU autocast region for a layer on the CPU."""
    if data.device.type == "cpu" and is_autocast_enabled("cpu"):
        return get_autocast_dtype("cpu")
    return None


def _check_lstm_states(states, packed):
    """What PyTorch's ``lstm`` op makes of a state that passed the module's checks: a tensor is
    not a tuple of tensors, and it takes exactly two."""
    if isinstance(states, Tensor):
        got = "(Tensor, Tensor, Tensor, list, bool, int, float, bool, bool)" if packed else \
            "(Tensor, Tensor, list, bool, int, float, bool, bool, bool)"
        raise TypeError(
            f"lstm() received an invalid combination of arguments - got {got}, but expected one "
            f"of:\n * (Tensor data, Tensor batch_sizes, tuple of Tensors hx, tuple of Tensors "
            f"params, bool has_biases, int num_layers, float dropout, bool train, bool "
            f"bidirectional)\n * (Tensor input, tuple of Tensors hx, tuple of Tensors params, "
            f"bool has_biases, int num_layers, float dropout, bool train, bool bidirectional, "
            f"bool batch_first)\n")
    if len(states) != 2:
        raise RuntimeError("lstm expects two hidden states")


_RNN_SHAPES = r"""
    Inputs: input, h_0
        * **input**: tensor of shape :math:`(L, H_{in})` for unbatched input,
          :math:`(L, N, H_{in})` when ``batch_first=False`` or :math:`(N, L, H_{in})` when
          ``batch_first=True``, or a :class:`~disttorch.nn.utils.rnn.PackedSequence`.
        * **h_0**: tensor of shape :math:`(D * \text{num\_layers}, H_{out})` or
          :math:`(D * \text{num\_layers}, N, H_{out})`; zeros when not provided.

    Outputs: output, h_n
        * **output**: :math:`(L, D * H_{out})`, :math:`(L, N, D * H_{out})` or
          :math:`(N, L, D * H_{out})`: the last layer's features at every step (a
          PackedSequence for packed input).
        * **h_n**: :math:`(D * \text{num\_layers}, N, H_{out})`: the final hidden state of
          every layer and direction.

    where :math:`N` is the batch size, :math:`L` the sequence length and :math:`D` is 2 for a
    bidirectional layer, 1 otherwise.
"""


class RNN(RNNBase):
    __doc__ = r"""Multi-layer Elman RNN with :math:`\tanh` or ReLU non-linearity:

    .. math::
        h_t = \tanh(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})

    Args:
        input_size: the number of expected features in the input ``x``
        hidden_size: the number of features in the hidden state ``h``
        num_layers: number of stacked recurrent layers. Default: 1
        nonlinearity: ``'tanh'`` or ``'relu'``. Default: ``'tanh'``
        bias: if ``False``, the layers use no biases. Default: ``True``
        batch_first: if ``True``, input and output are ``(batch, seq, feature)``.
            Default: ``False``
        dropout: dropout probability on the outputs of every layer but the last (in
            training mode). Default: 0
        bidirectional: if ``True``, a bidirectional RNN. Default: ``False``
    """ + _RNN_SHAPES + r"""
    Examples::

        >>> rnn = nn.RNN(10, 20, 2)
        >>> output, hn = rnn(disttorch.randn(5, 3, 10), disttorch.randn(2, 3, 20))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             f"'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def forward(self, input, hx=None):
        output, (h_n,) = self._run(input, hx)
        return output, h_n


class LSTM(RNNBase):
    r"""Multi-layer long short-term memory (LSTM) RNN. For each element of the sequence:

    .. math::
        \begin{array}{ll}
        i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
        f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t = f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t = o_t \odot \tanh(c_t)
        \end{array}

    With ``proj_size > 0``, :math:`h_t` is further multiplied by :math:`W_{hr}` (of shape
    ``(proj_size, hidden_size)``) and the hidden state has ``proj_size`` features.

    Args:
        input_size: the number of expected features in the input ``x``
        hidden_size: the number of features in the hidden state ``h``
        num_layers: number of stacked recurrent layers. Default: 1
        bias: if ``False``, the layers use no biases. Default: ``True``
        batch_first: if ``True``, input and output are ``(batch, seq, feature)``.
            Default: ``False``
        dropout: dropout probability on the outputs of every layer but the last (in
            training mode). Default: 0
        bidirectional: if ``True``, a bidirectional LSTM. Default: ``False``
        proj_size: if ``> 0``, an LSTM with projections of that size. Default: 0

    Inputs: input, (h_0, c_0)
        * **input**: :math:`(L, H_{in})`, :math:`(L, N, H_{in})` or :math:`(N, L, H_{in})`
          (``batch_first``), or a :class:`~disttorch.nn.utils.rnn.PackedSequence`.
        * **h_0**: :math:`(D * \text{num\_layers}, N, H_{out})`, **c_0**:
          :math:`(D * \text{num\_layers}, N, H_{cell})`; zeros when not provided.

    Outputs: output, (h_n, c_n)
        * **output**: :math:`(L, N, D * H_{out})` (or batch-first, unbatched, packed as the
          input): the last layer's :math:`h_t` at every step.
        * **h_n**, **c_n**: the final hidden and cell states of every layer and direction.

    where :math:`H_{out}` is ``proj_size`` if set, else ``hidden_size``, and :math:`D` is 2
    for a bidirectional LSTM, 1 otherwise.

    Examples::

        >>> rnn = nn.LSTM(10, 20, 2)
        >>> h0, c0 = disttorch.randn(2, 3, 20), disttorch.randn(2, 3, 20)
        >>> output, (hn, cn) = rnn(disttorch.randn(5, 3, 10), (h0, c0))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)

    def forward(self, input, hx=None):
        output, (h_n, c_n) = self._run(input, hx)
        return output, (h_n, c_n)


class GRU(RNNBase):
    __doc__ = r"""Multi-layer gated recurrent unit (GRU) RNN. For each element of the sequence:

    .. math::
        \begin{array}{ll}
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        \end{array}

    Args:
        input_size: the number of expected features in the input ``x``
        hidden_size: the number of features in the hidden state ``h``
        num_layers: number of stacked recurrent layers. Default: 1
        bias: if ``False``, the layers use no biases. Default: ``True``
        batch_first: if ``True``, input and output are ``(batch, seq, feature)``.
            Default: ``False``
        dropout: dropout probability on the outputs of every layer but the last (in
            training mode). Default: 0
        bidirectional: if ``True``, a bidirectional GRU. Default: ``False``
    """ + _RNN_SHAPES + r"""
    Examples::

        >>> rnn = nn.GRU(10, 20, 2)
        >>> output, hn = rnn(disttorch.randn(5, 3, 10), disttorch.randn(2, 3, 20))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        output, (h_n,) = self._run(input, hx)
        return output, h_n


class RNNCellBase(Module):
    r"""Base class of the cells: ``weight_ih`` ``(chunks * hidden_size, input_size)``,
    ``weight_hh`` ``(chunks * hidden_size, hidden_size)`` and the two biases, initialised from
    :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})` with :math:`k = 1 / \text{hidden\_size}`."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        factory = {"device": device, "dtype": dtype}
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), **factory))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size), **factory))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, **factory))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        with no_grad():
            for weight in self.parameters():
                weight.uniform_(-stdv, stdv)

    def _check_input_dim(self, input):
        if input.dim() not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got "
                             f"{input.dim()}D instead")

    def _step(self, mode, input, hx, cx):
        # PyTorch's cell ops see the unbatched input and states with a batch dim put in front,
        # and check those shapes, the input's first
        batched = input.dim() == 2
        x_shape = tuple(input.shape) if batched else (1,) + tuple(input.shape)
        if x_shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {x_shape[1]} "
                               f"expected {self.input_size}")
        for k, state in enumerate((hx, cx)):
            if state is None:
                continue
            shape = tuple(state.shape) if batched else (1,) + tuple(state.shape)
            if shape[0] != x_shape[0]:
                raise RuntimeError(f"Input batch size {x_shape[0]} doesn't match hidden{k} "
                                   f"batch size {shape[0]}")
            if len(shape) < 2:
                raise IndexError("Dimension out of range (expected to be in range of [-1, 0], "
                                 "but got 1)")
            if shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {shape[1]}, "
                                   f"expected {self.hidden_size}")
        _check_dtype(input, self.weight_ih)
        return FusedCell.apply(input, hx, cx, mode, self.weight_ih, self.weight_hh, self.bias_ih,
                               self.bias_hh)

    def _single_state(self, input, hx):
        """RNNCell's and GRUCell's checks of their input and state."""
        self._check_input_dim(input)
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected hidden to be 1D or 2D, got "
                             f"{hx.dim()}D instead")


_CELL_SHAPES = r"""
    Inputs: input, hidden
        * **input**: :math:`(N, H_{in})` or :math:`(H_{in})`
        * **hidden**: :math:`(N, H_{out})` or :math:`(H_{out})`; zeros when not provided.

    Outputs: h'
        * **h'**: :math:`(N, H_{out})` or :math:`(H_{out})`: the next hidden state.
"""


class RNNCell(RNNCellBase):
    __doc__ = r"""An Elman RNN cell with tanh or ReLU non-linearity:
    :math:`h' = \tanh(x W_{ih}^T + b_{ih} + h W_{hh}^T + b_{hh})`.

    Args:
        input_size: the number of expected features in the input ``x``
        hidden_size: the number of features in the hidden state ``h``
        bias: if ``False``, the cell uses no biases. Default: ``True``
        nonlinearity: ``'tanh'`` or ``'relu'``. Default: ``'tanh'``
    """ + _CELL_SHAPES + r"""
    Examples::

        >>> cell = nn.RNNCell(10, 20)
        >>> hx = disttorch.randn(3, 20)
        >>> for x in disttorch.randn(6, 3, 10).unbind(0):
        ...     hx = cell(x, hx)
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)

    def forward(self, input, hx=None):
        self._single_state(input, hx)
        mode = "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"
        return self._step(mode, input, hx, None)


class LSTMCell(RNNCellBase):
    r"""A long short-term memory (LSTM) cell: one step of :class:`LSTM`.

    Args:
        input_size: the number of expected features in the input ``x``
        hidden_size: the number of features in the hidden state ``h``
        bias: if ``False``, the cell uses no biases. Default: ``True``

    Inputs: input, (h_0, c_0)
        * **input**: :math:`(N, H_{in})` or :math:`(H_{in})`
        * **h_0**, **c_0**: :math:`(N, H_{out})` or :math:`(H_{out})`; zeros when not given.

    Outputs: (h_1, c_1)
        * the next hidden and cell states, shaped like ``h_0``.

    Examples::

        >>> cell = nn.LSTMCell(10, 20)
        >>> hx, cx = disttorch.randn(3, 20), disttorch.randn(3, 20)
        >>> for x in disttorch.randn(6, 3, 10).unbind(0):
        ...     hx, cx = cell(x, (hx, cx))
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        self._check_input_dim(input)
        if hx is not None:
            for index, value in enumerate(hx):
                if value.dim() not in (1, 2):
                    raise ValueError(f"LSTMCell: Expected hx[{index}] to be 1D or 2D, got "
                                     f"{value.dim()}D instead")
        if hx is None:
            h = c = None
        elif input.dim() == 1:
            # unbatched, PyTorch builds the pair from hx[0] and hx[1] itself
            h, c = hx[0], hx[1]
        else:
            if isinstance(hx, Tensor):
                raise TypeError("lstm_cell(): argument 'hx' (position 2) must be tuple of "
                                "Tensors, not Tensor")
            if len(hx) != 2:
                raise RuntimeError("lstm_cell expects two hidden states")
            h, c = hx
        return self._step("LSTM", input, h, c)


class GRUCell(RNNCellBase):
    __doc__ = r"""A gated recurrent unit (GRU) cell: one step of :class:`GRU`.

    Args:
        input_size: the number of expected features in the input ``x``
        hidden_size: the number of features in the hidden state ``h``
        bias: if ``False``, the cell uses no biases. Default: ``True``
    """ + _CELL_SHAPES + r"""
    Examples::

        >>> cell = nn.GRUCell(10, 20)
        >>> hx = disttorch.randn(3, 20)
        >>> for x in disttorch.randn(6, 3, 10).unbind(0):
        ...     hx = cell(x, hx)
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        self._single_state(input, hx)
        return self._step("GRU", input, hx, None)
