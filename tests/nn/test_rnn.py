"""RNN/LSTM/GRU layers, cells and sequence packing against torch, plus finite differences."""
import numpy as np
import pytest

import disttorch
import disttorch.nn as nn
from disttorch.nn.functional._rnn import FusedCell, FusedRNN, RNNConfig
from disttorch.nn.utils import rnn as rnn_utils
from tests.ops.harness import OpInfo, S, check_against_torch, check_gradient

torch = pytest.importorskip("torch")
from torch.nn.utils import rnn as torch_rnn_utils  # noqa: E402

ATOL = 1e-9


def _to_d(t):
    return disttorch.tensor(t.detach().numpy())


def _pair(cls_name, *args, **kwargs):
    """The same layer in both libraries with torch's weights copied into ours."""
    torch.manual_seed(0)
    tm = getattr(torch.nn, cls_name)(*args, **kwargs).double()
    dm = getattr(nn, cls_name)(*args, **kwargs).double()
    assert list(dm.state_dict()) == list(tm.state_dict())
    dm.load_state_dict({k: _to_d(v) for k, v in tm.state_dict().items()})
    return tm, dm


def _leaf(lib, array):
    t = lib.tensor(array)
    t.requires_grad_(True)
    return t


def _flatten(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flatten(o)]
    if isinstance(out, torch_rnn_utils.PackedSequence) or isinstance(out, rnn_utils.PackedSequence):
        return [out.data]
    return [out]


def _compare_run(tm, dm, run, arrays, rng):
    """``run(lib, module, *leaves)`` in both libraries: outputs, then the gradients of a random
    projection of every output w.r.t. the inputs and the parameters."""
    t_in = [_leaf(torch, a) for a in arrays]
    d_in = [_leaf(disttorch, a) for a in arrays]
    t_out, d_out = _flatten(run(torch, tm, *t_in)), _flatten(run(disttorch, dm, *d_in))
    assert len(t_out) == len(d_out)
    for t, d in zip(t_out, d_out):
        assert tuple(d.shape) == tuple(t.shape)
        np.testing.assert_allclose(d.detach().numpy(), t.detach().numpy(), atol=ATOL)
    weights = [rng.standard_normal(tuple(t.shape)) for t in t_out]
    torch.autograd.backward(t_out, [torch.tensor(w) for w in weights])
    disttorch.autograd.backward(d_out, [disttorch.tensor(w) for w in weights])
    for t, d in zip(t_in, d_in):
        np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), atol=ATOL)
    for (name, tp), (_, dp) in zip(tm.named_parameters(), dm.named_parameters()):
        np.testing.assert_allclose(dp.grad.numpy(), tp.grad.numpy(), atol=ATOL, err_msg=name)


LAYER_CASES = [
    ("LSTM", dict(num_layers=1)),
    ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("LSTM", dict(num_layers=2, bidirectional=True, proj_size=3)),
    ("LSTM", dict(num_layers=1, bias=False)),
    ("GRU", dict(num_layers=1)),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("GRU", dict(num_layers=1, bias=False, bidirectional=True)),
    ("RNN", dict(num_layers=2, bidirectional=True)),
    ("RNN", dict(num_layers=2, nonlinearity="relu", batch_first=True)),
]


def _state_arrays(rng, cls_name, kwargs, batch):
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    out = kwargs.get("proj_size") or 5
    lead = (layers,) if batch is None else (layers, batch)
    states = [rng.standard_normal(lead + (out,))]
    if cls_name == "LSTM":
        states.append(rng.standard_normal(lead + (5,)))
    return states


def _call(cls_name, module, x, states):
    if not states:
        return module(x)
    return module(x, tuple(states) if cls_name == "LSTM" else states[0])


@pytest.mark.parametrize("with_states", [False, True], ids=["zeros", "h0"])
@pytest.mark.parametrize("cls_name,kwargs", LAYER_CASES,
                         ids=[f"{c}-{'-'.join(f'{k}={v}' for k, v in kw.items())}"
                              for c, kw in LAYER_CASES])
def test_layer_matches_torch(cls_name, kwargs, with_states):
    rng = np.random.default_rng(0)
    tm, dm = _pair(cls_name, 4, 5, **kwargs)
    x = rng.standard_normal((3, 6, 4) if kwargs.get("batch_first") else (6, 3, 4))
    states = _state_arrays(rng, cls_name, kwargs, 3) if with_states else []
    _compare_run(tm, dm, lambda lib, m, x, *s: _call(cls_name, m, x, s), [x] + states, rng)


@pytest.mark.parametrize("cls_name", ["LSTM", "GRU", "RNN"])
def test_unbatched_input(cls_name):
    rng = np.random.default_rng(1)
    kwargs = dict(num_layers=2, bidirectional=True)
    tm, dm = _pair(cls_name, 4, 5, **kwargs)
    arrays = [rng.standard_normal((6, 4))] + _state_arrays(rng, cls_name, kwargs, None)
    _compare_run(tm, dm, lambda lib, m, x, *s: _call(cls_name, m, x, s), arrays, rng)


def _packed_run(cls_name, batch_first, lengths):
    def run(lib, module, x, *states):
        utils = torch_rnn_utils if lib is torch else rnn_utils
        packed = utils.pack_padded_sequence(x, lengths, batch_first=batch_first,
                                            enforce_sorted=False)
        out, hidden = _call(cls_name, module, packed, states)
        padded, out_lengths = utils.pad_packed_sequence(out, batch_first=batch_first)
        assert out_lengths.tolist() == list(lengths)
        return padded, hidden
    return run


@pytest.mark.parametrize("cls_name", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_packed_unsorted_matches_torch(cls_name, batch_first):
    rng = np.random.default_rng(2)
    kwargs = dict(num_layers=2, bidirectional=True, batch_first=batch_first)
    tm, dm = _pair(cls_name, 4, 5, **kwargs)
    lengths = [3, 6, 1, 4]
    x = rng.standard_normal((4, 6, 4) if batch_first else (6, 4, 4))
    arrays = [x] + _state_arrays(rng, cls_name, kwargs, 4)
    _compare_run(tm, dm, _packed_run(cls_name, batch_first, lengths), arrays, rng)


def test_packed_equals_each_sequence_alone():
    rng = np.random.default_rng(3)
    _, lstm = _pair("LSTM", 4, 5, num_layers=2, bidirectional=True)
    seqs = [disttorch.tensor(rng.standard_normal((n, 4))) for n in (2, 5, 3)]
    out, (h, c) = lstm(rnn_utils.pack_sequence(seqs, enforce_sorted=False))
    outs = rnn_utils.unpack_sequence(out)
    for k, seq in enumerate(seqs):
        alone, (h1, c1) = lstm(seq)
        np.testing.assert_allclose(outs[k].detach().numpy(), alone.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(h.detach().numpy()[:, k], h1.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(c.detach().numpy()[:, k], c1.detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("cls_name", ["LSTMCell", "GRUCell", "RNNCell"])
@pytest.mark.parametrize("variant", ["batched", "unbatched", "no-state", "no-bias", "relu"])
def test_cell_matches_torch(cls_name, variant):
    if variant == "relu" and cls_name != "RNNCell":
        pytest.skip("nonlinearity is an RNNCell option")
    rng = np.random.default_rng(4)
    kwargs = {"no-bias": dict(bias=False), "relu": dict(nonlinearity="relu")}.get(variant, {})
    tm, dm = _pair(cls_name, 4, 5, **kwargs)
    lead = () if variant == "unbatched" else (3,)
    arrays = [rng.standard_normal(lead + (4,))]
    if variant != "no-state":
        arrays += [rng.standard_normal(lead + (5,))] * (2 if cls_name == "LSTMCell" else 1)

    def run(lib, module, x, *states):
        if not states:
            return module(x)
        return module(x, tuple(states) if cls_name == "LSTMCell" else states[0])
    _compare_run(tm, dm, run, arrays, rng)


def test_lstm_cell_loop_equals_layer():
    rng = np.random.default_rng(5)
    _, layer = _pair("LSTM", 4, 5)
    cell = nn.LSTMCell(4, 5).double()
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = disttorch.tensor(rng.standard_normal((6, 2, 4)))
    out, (h, c) = layer(x)
    hc = None
    for t in range(6):
        hc = cell(x[t], hc)
        np.testing.assert_allclose(hc[0].detach().numpy(), out.detach().numpy()[t], atol=1e-12)
    np.testing.assert_allclose(hc[1].detach().numpy(), c.detach().numpy()[0], atol=1e-12)


def test_dropout_between_layers():
    rng = np.random.default_rng(6)
    lstm = nn.LSTM(4, 5, num_layers=2, dropout=0.5).double()
    x = disttorch.tensor(rng.standard_normal((6, 3, 4)))
    lstm.eval()
    reference = lstm(x)[0].detach().numpy()
    np.testing.assert_array_equal(lstm(x)[0].detach().numpy(), reference)
    lstm.train()
    disttorch.manual_seed(0)
    first = lstm(x)[0]
    disttorch.manual_seed(0)
    second = lstm(x)[0]
    np.testing.assert_array_equal(first.detach().numpy(), second.detach().numpy())
    assert not np.allclose(first.detach().numpy(), reference)
    first.backward(disttorch.ones(6, 3, 5, dtype=disttorch.float64))
    assert all(np.isfinite(p.grad.numpy()).all() for p in lstm.parameters())


def test_float32_and_default_init():
    lstm = nn.LSTM(4, 8, num_layers=2, bidirectional=True)
    bound = 1 / np.sqrt(8)
    for p in lstm.parameters():
        assert p.dtype == disttorch.float32
        assert np.abs(p.detach().numpy()).max() <= bound
        assert np.abs(p.detach().numpy()).max() > bound / 2
    out, (h, c) = lstm(disttorch.randn(3, 2, 4))
    assert out.dtype == disttorch.float32 and tuple(out.shape) == (3, 2, 16)
    assert tuple(h.shape) == (4, 2, 8) and tuple(c.shape) == (4, 2, 8)


def test_errors_match_torch():
    lstm = nn.LSTM(3, 4)
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to input_size. "
                                           r"Expected 3, got 5"):
        lstm(disttorch.randn(2, 1, 5))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 1, 4\), got "
                                           r"\[1, 2, 4\]"):
        lstm(disttorch.randn(2, 1, 3), (disttorch.zeros(1, 2, 4), disttorch.zeros(1, 1, 4)))
    with pytest.raises(RuntimeError, match="For batched 3-D input, hx and cx should also be 3-D"):
        lstm(disttorch.randn(2, 1, 3), (disttorch.zeros(1, 4), disttorch.zeros(1, 4)))
    with pytest.raises(ValueError, match="LSTM: Expected input to be 2D or 3D, got 4D instead"):
        lstm(disttorch.randn(1, 2, 1, 3))
    with pytest.raises(ValueError, match="does not match weight dtype"):
        lstm(disttorch.randn(2, 1, 3, dtype=disttorch.float64))
    with pytest.raises(RuntimeError, match="Input batch size 2 doesn't match hidden0 batch size 3"):
        nn.GRUCell(3, 4)(disttorch.randn(2, 3), disttorch.zeros(3, 4))
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.2)


def test_repr_matches_torch():
    for cls_name, kwargs in [("LSTM", dict(num_layers=2, proj_size=2, bidirectional=True,
                                           batch_first=True, dropout=0.1, bias=False)),
                             ("RNN", dict(nonlinearity="relu")), ("GRUCell", dict(bias=False)),
                             ("RNNCell", dict(nonlinearity="relu"))]:
        assert repr(getattr(nn, cls_name)(3, 4, **kwargs)) == \
            repr(getattr(torch.nn, cls_name)(3, 4, **kwargs))


# ------------------------------------------------------------------ sequence utilities
def _sequences(rng):
    return [rng.standard_normal((n, 3)) for n in (2, 5, 3, 5)]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_and_unpad_sequence(batch_first, padding_side):
    op = OpInfo("pad_sequence", lambda lib, *seqs: _utils(lib).pad_sequence(
        list(seqs), batch_first=batch_first, padding_value=-1.5, padding_side=padding_side),
        lambda rng: [S(*_sequences(rng))])
    check_against_torch(op, op.samples(np.random.default_rng(7))[0], "float64")
    check_gradient(op, op.samples(np.random.default_rng(7))[0])
    if padding_side == "right":
        # torch's unpad_sequence transposes its input in place: hand it a non-leaf
        unpad = OpInfo("unpad_sequence", lambda lib, x: _utils(lib).unpad_sequence(
            x * 1, lib.tensor([2, 5, 3, 1]), batch_first=batch_first),
            lambda rng: [S(rng.standard_normal((4, 6, 3) if batch_first else (6, 4, 3)))])
        sample = unpad.samples(np.random.default_rng(8))[0]
        check_against_torch(unpad, sample, "float32")
        check_gradient(unpad, sample)


def _utils(lib):
    return torch_rnn_utils if lib is torch else rnn_utils


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pack_and_pad_packed(batch_first, enforce_sorted):
    lengths = [6, 4, 4, 1] if enforce_sorted else [4, 6, 1, 4]

    def fn(lib, x):
        packed = _utils(lib).pack_padded_sequence(x, lengths, batch_first=batch_first,
                                                  enforce_sorted=enforce_sorted)
        padded, out_lengths = _utils(lib).pad_packed_sequence(packed, batch_first=batch_first,
                                                              padding_value=2.0, total_length=7)
        return packed.data, packed.batch_sizes, padded, out_lengths

    op = OpInfo("pack", fn, lambda rng: [S(rng.standard_normal(
        (4, 6, 3) if batch_first else (6, 4, 3)))], noncontig=False)
    sample = op.samples(np.random.default_rng(9))[0]
    check_against_torch(op, sample, "float64")
    check_gradient(op, sample)


def test_pack_sequence_and_unpack():
    rng = np.random.default_rng(10)
    seqs = [disttorch.tensor(s) for s in _sequences(rng)]
    packed = rnn_utils.pack_sequence(seqs, enforce_sorted=False)
    expected = torch_rnn_utils.pack_sequence([torch.tensor(s.numpy()) for s in seqs],
                                             enforce_sorted=False)
    np.testing.assert_array_equal(packed.data.numpy(), expected.data.numpy())
    assert packed.sorted_indices.tolist() == expected.sorted_indices.tolist()
    assert packed.unsorted_indices.tolist() == expected.unsorted_indices.tolist()
    for a, b in zip(rnn_utils.unpack_sequence(packed), seqs):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert packed.double().data.dtype == disttorch.float64
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert batch_sizes.tolist() == [4, 4, 3, 2, 2]


def test_packing_errors_match_torch():
    x = disttorch.ones(3, 2)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        rnn_utils.pack_padded_sequence(x, [1, 3])
    with pytest.raises(RuntimeError, match=r"Expected `len\(lengths\)` to be equal to batch_size"):
        rnn_utils.pack_padded_sequence(x, [1, 3, 3])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        rnn_utils.pack_padded_sequence(x, [3, 0], enforce_sorted=False)
    with pytest.raises(ValueError, match="Expected total_length to be at least"):
        rnn_utils.pad_packed_sequence(rnn_utils.pack_padded_sequence(x, [3, 2]), total_length=2)
    with pytest.raises(RuntimeError, match="Expected padding_side to be one of left or right"):
        rnn_utils.pad_sequence([x], padding_side="middle")


# ------------------------------------------------------------------- finite differences
def _cell_fn(mode, torch_fn):
    def fn(lib, x, h, c, w_ih, w_hh, b_ih, b_hh):
        if lib is torch:
            return torch_fn(x, (h, c) if mode == "LSTM" else h, w_ih, w_hh, b_ih, b_hh)
        return FusedCell.apply(x, h, c if mode == "LSTM" else None, mode, w_ih, w_hh, b_ih, b_hh)
    return fn


def _cell_samples(gates):
    def samples(rng):
        return [S(rng.standard_normal((3, 4)), rng.standard_normal((3, 5)),
                  rng.standard_normal((3, 5)), rng.standard_normal((gates * 5, 4)),
                  rng.standard_normal((gates * 5, 5)), rng.standard_normal(gates * 5),
                  rng.standard_normal(gates * 5))]
    return samples


CELL_OPS = [OpInfo("lstm_cell", _cell_fn("LSTM", torch.lstm_cell), _cell_samples(4)),
            OpInfo("gru_cell", _cell_fn("GRU", torch.gru_cell), _cell_samples(3)),
            OpInfo("rnn_tanh_cell", _cell_fn("RNN_TANH", torch.rnn_tanh_cell), _cell_samples(1)),
            OpInfo("rnn_relu_cell", _cell_fn("RNN_RELU", torch.rnn_relu_cell), _cell_samples(1))]


@pytest.mark.parametrize("op", CELL_OPS, ids=lambda o: o.name)
def test_cell_kernels(op):
    sample = op.samples(np.random.default_rng(11))[0]
    flags = [True, True, op.name == "lstm_cell", True, True, True, True]
    sample.grad = flags
    for dtype in ("float32", "float64"):
        check_against_torch(op, sample, dtype)
    check_gradient(op, sample)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH"])
def test_layer_finite_differences(mode):
    """The whole fused kernel: 2 layers, both directions, packed, projections for LSTM."""
    rng = np.random.default_rng(12)
    lstm = mode == "LSTM"
    cls_name = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN"}[mode]
    module = getattr(nn, cls_name)(4, 5, num_layers=2, bidirectional=True,
                                   **({"proj_size": 3} if lstm else {}))
    shapes = [tuple(p.shape) for p in module.parameters()]
    lengths = [2, 4, 3]

    def fn(lib, x, h, c, *weights):
        packed = rnn_utils.pack_padded_sequence(x, lengths, enforce_sorted=False)
        config = RNNConfig(mode, 2, True, packed.batch_sizes._data, False, False, 0.0, False,
                           packed.sorted_indices._data, packed.unsorted_indices._data)
        return FusedRNN.apply(packed.data, h, c if lstm else None, config, *weights)

    out = 3 if lstm else 5
    sample = S(rng.standard_normal((4, 3, 4)), rng.standard_normal((4, 3, out)),
               rng.standard_normal((4, 3, 5)), *[rng.standard_normal(s) * 0.5 for s in shapes],
               grad=[True, True, lstm] + [True] * len(shapes))
    check_gradient(OpInfo(mode, fn, None), sample)


# ------------------------------------------------------------------------ double backward
def _second_order(lib, fn, arrays):
    """Gradients w.r.t. the inputs of <grad(<fn(inputs), w>, inputs), u>."""
    inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
    outs = fn(lib, *inputs)
    outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
    rng = np.random.default_rng(5)
    loss = sum((o * lib.tensor(rng.standard_normal(tuple(o.shape)))).sum() for o in outs)
    grads = lib.autograd.grad(loss, inputs, create_graph=True)
    total = sum((g * lib.tensor(rng.standard_normal(tuple(g.shape)))).sum() for g in grads)
    total.backward()
    return [g.detach().numpy() for g in grads] + [t.grad.numpy() for t in inputs]


def _layer_shapes(gates, layers=2, dirs=2, input_size=4, hidden=5):
    shapes = []
    for layer in range(layers):
        for _ in range(dirs):
            shapes += [(gates * hidden, input_size if layer == 0 else hidden * dirs),
                       (gates * hidden, hidden), (gates * hidden,), (gates * hidden,)]
    return shapes


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH"])
def test_double_backward_matches_torch(mode):
    rng = np.random.default_rng(13)
    lstm = mode == "LSTM"
    gates = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1}[mode]
    weights = [rng.standard_normal(s) * 0.5 for s in _layer_shapes(gates)]
    states = [rng.standard_normal((4, 3, 5))] * (2 if lstm else 1)
    torch_fn = {"LSTM": torch._VF.lstm, "GRU": torch._VF.gru, "RNN_TANH": torch._VF.rnn_tanh}[mode]

    def layer(lib, x, *rest):
        hx, w = (rest[:2], rest[2:]) if lstm else (rest[0], rest[1:])
        if lib is torch:
            return torch_fn(x, hx if lstm else hx, list(w), True, 2, 0.0, False, True, False)
        config = RNNConfig(mode, 2, True, None, False, False, 0.0, False, None, None)
        return FusedRNN.apply(x, hx[0] if lstm else hx, hx[1] if lstm else None, config, *w)

    arrays = [rng.standard_normal((4, 3, 4))] + states + weights
    for ours, theirs in zip(_second_order(disttorch, layer, arrays),
                            _second_order(torch, layer, arrays)):
        np.testing.assert_allclose(ours, theirs, atol=1e-9)

    def cell(lib, x, h, c, *w):
        if lib is torch:
            return torch.lstm_cell(x, (h, c), *w)
        return FusedCell.apply(x, h, c, "LSTM", *w)
    arrays = [rng.standard_normal((3, 4)), rng.standard_normal((3, 5)), rng.standard_normal((3, 5)),
              rng.standard_normal((20, 4)), rng.standard_normal((20, 5)), rng.standard_normal(20),
              rng.standard_normal(20)]
    for ours, theirs in zip(_second_order(disttorch, cell, arrays),
                            _second_order(torch, cell, arrays)):
        np.testing.assert_allclose(ours, theirs, atol=1e-9)


def test_retain_graph_and_inplace_checks():
    lstm = nn.LSTM(3, 4)
    out, _ = lstm(disttorch.randn(5, 2, 3))
    loss = out.sum()
    loss.backward(retain_graph=True)
    first = lstm.weight_hh_l0.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(lstm.weight_hh_l0.grad.numpy(), 2 * first, rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()
    out, _ = lstm(disttorch.randn(5, 2, 3))
    with disttorch.no_grad():
        lstm.weight_ih_l0.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def _first_derivatives(fn):
    """``fn``'s input gradients of a fixed projection of its outputs, with a graph: checking
    them by finite differences checks the second derivatives."""
    def grads(lib, *inputs):
        # the finite-difference passes run under no_grad on plain tensors
        inputs = [t if t.requires_grad else t.detach().requires_grad_() for t in inputs]
        with disttorch.enable_grad():
            outs = fn(lib, *inputs)
            outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
            rng = np.random.default_rng(7)
            loss = sum((o * lib.tensor(rng.standard_normal(tuple(o.shape)))).sum() for o in outs)
            return list(lib.autograd.grad(loss, inputs, create_graph=True))
    return grads


def test_double_backward_finite_differences_packed_dropout_proj():
    """Second derivatives of a packed, unsorted, 2-layer bidirectional LSTM with projections,
    zero initial states and dropout between the layers (re-seeded per call)."""
    rng = np.random.default_rng(14)
    module = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2, dropout=0.5).double()
    shapes = [tuple(p.shape) for p in module.parameters()]

    def fn(lib, x, *weights):
        disttorch.manual_seed(0)
        packed = rnn_utils.pack_padded_sequence(x, [2, 3, 1], enforce_sorted=False)
        config = RNNConfig("LSTM", 2, True, packed.batch_sizes._data, False, False, 0.5, True,
                           packed.sorted_indices._data, packed.unsorted_indices._data)
        return FusedRNN.apply(packed.data, None, None, config, *weights)

    sample = S(rng.standard_normal((3, 3, 3)), *[rng.standard_normal(s) * 0.5 for s in shapes])
    check_gradient(OpInfo("lstm_grad", _first_derivatives(fn), None, fd_atol=1e-4), sample)


@pytest.mark.parametrize("mode", ["GRU", "RNN_RELU"])
def test_cell_double_backward_finite_differences(mode):
    rng = np.random.default_rng(15)
    gates = 3 if mode == "GRU" else 1

    def fn(lib, x, w_ih, w_hh, b_ih, b_hh):
        return FusedCell.apply(x, None, None, mode, w_ih, w_hh, b_ih, b_hh)

    sample = S(rng.standard_normal(4), rng.standard_normal((gates * 5, 4)),
               rng.standard_normal((gates * 5, 5)), rng.standard_normal(gates * 5),
               rng.standard_normal(gates * 5))
    check_gradient(OpInfo(mode, _first_derivatives(fn), None, fd_atol=1e-4), sample)


def test_packed_sequence_conversions():
    packed = rnn_utils.pack_sequence([disttorch.ones(3, 2), disttorch.ones(1, 2)],
                                     enforce_sorted=False)
    assert packed.double().data.dtype == disttorch.float64
    assert packed.to(disttorch.float64).half().float().data.dtype == disttorch.float32
    assert packed.cpu() is packed and packed.to("cpu") is packed
    assert not packed.is_cuda and not packed.is_pinned()
    legacy = rnn_utils.PackedSequence((packed.data, packed.batch_sizes))
    assert legacy.batch_sizes.tolist() == [2, 1, 1]
    padded = rnn_utils.pad_sequence(disttorch.ones(2, 3, 4), batch_first=True)
    assert tuple(padded.shape) == (2, 3, 4)


@pytest.mark.parametrize("cls_name", ["LSTM", "GRU"])
def test_float32_matches_torch(cls_name):
    rng = np.random.default_rng(16)
    torch.manual_seed(0)
    tm = getattr(torch.nn, cls_name)(8, 16, num_layers=2, bidirectional=True)
    dm = getattr(nn, cls_name)(8, 16, num_layers=2, bidirectional=True)
    dm.load_state_dict({k: _to_d(v) for k, v in tm.state_dict().items()})
    x = rng.standard_normal((12, 4, 8)).astype(np.float32)
    t_out, d_out = tm(torch.tensor(x))[0], dm(disttorch.tensor(x))[0]
    np.testing.assert_allclose(d_out.detach().numpy(), t_out.detach().numpy(), atol=2e-6)
    t_out.sum().backward()
    d_out.sum().backward()
    for (name, tp), (_, dp) in zip(tm.named_parameters(), dm.named_parameters()):
        assert dp.grad.dtype == disttorch.float32
        np.testing.assert_allclose(dp.grad.numpy(), tp.grad.numpy(), atol=1e-4, err_msg=name)


def test_inplace_change_of_output_is_caught():
    out, _ = nn.GRU(3, 4)(disttorch.randn(5, 2, 3))
    out.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_packed_sequence_pin_memory_pins_its_tensors():
    from disttorch.cuda import _simulated
    from disttorch.nn.utils.rnn import pack_sequence
    packed = pack_sequence([disttorch.ones(3), disttorch.ones(2)], enforce_sorted=False)
    assert not packed.is_pinned()
    with _simulated.simulate():
        pinned = packed.pin_memory()
        assert pinned is not packed and pinned.is_pinned()
        assert pinned.sorted_indices.is_pinned() and pinned.unsorted_indices.is_pinned()
        assert pinned.batch_sizes.tolist() == packed.batch_sizes.tolist()
        assert pinned.pin_memory() is pinned


def test_pad_sequence_broadcast_sequence_and_iterables_as_torch():
    """A sequence that broadcasts into its slot gets its gradient summed back; any iterable of
    tensors is taken, a generator included."""
    grads = []
    for lib in (torch, disttorch):
        short = lib.ones(3, requires_grad=True)
        full = lib.ones(2, 3, requires_grad=True)
        utils = lib.nn.utils.rnn
        out = utils.pad_sequence(seq for seq in [full, short])
        (out * lib.arange(18.).view(3, 2, 3)).sum().backward()
        grads.append((out.detach().numpy(), short.grad.numpy(), full.grad.numpy()))
        single = lib.ones(2, 3, requires_grad=True)
        utils.pad_sequence([single]).sum().backward()
        grads.append((single.grad.numpy(),))
    for ours, theirs in zip(grads[2:], grads[:2]):
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


# (layer, keyword arguments): PyTorch's oneDNN LSTM (one autocast op) and its cell loops,
# where only the matmuls are lowered
AUTOCAST_LAYERS = [("LSTM", {}), ("LSTM", dict(num_layers=2, bidirectional=True)),
                   ("LSTM", dict(batch_first=True)), ("LSTM", dict(proj_size=3)),
                   ("RNN", {}), ("GRU", {})]


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("cls_name,kwargs", AUTOCAST_LAYERS,
                         ids=["lstm", "lstm_2l_bi", "lstm_batch_first", "lstm_proj", "rnn", "gru"])
def test_cpu_autocast_dtypes_and_values_match_torch(cls_name, kwargs):
    torch.manual_seed(0)
    tm = getattr(torch.nn, cls_name)(6, 5, **kwargs)
    dm = getattr(nn, cls_name)(6, 5, **kwargs)
    dm.load_state_dict({k: _to_d(v) for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((7, 3, 6)).astype(np.float32)
    results = []
    for lib, module in ((torch, tm), (disttorch, dm)):
        leaf = lib.tensor(x, requires_grad=True)
        with lib.autocast("cpu", dtype=lib.bfloat16):
            out, state = module(leaf)
        states = state if isinstance(state, tuple) else (state,)
        (out.float().sum() + sum(s.float().sum() for s in states)).backward()
        results.append(([str(t.dtype).split(".")[-1] for t in (out,) + states],
                        [t.detach().float().numpy() for t in (out,) + states],
                        leaf.grad.numpy()))
    theirs, ours = results
    assert ours[0] == theirs[0]
    # bfloat16 keeps 8 bits: the values agree to a few of its units in the last place
    for a, b in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(a, b, atol=1e-2, rtol=2e-2)
    np.testing.assert_allclose(ours[2], theirs[2], atol=5e-2, rtol=5e-2)


def test_cpu_autocast_lstm_edge_cases_as_torch():
    x = np.ones((2, 1, 4), np.float32)
    for lib in (torch, disttorch):
        with lib.autocast("cpu", dtype=lib.bfloat16):
            # packed input and cells are not on the oneDNN path: float32 state, float32 out
            packed = lib.nn.utils.rnn.pack_padded_sequence(lib.ones(3, 2, 4), [3, 2])
            out, (h, c) = lib.nn.LSTM(4, 4)(packed)
            assert (out.data.dtype, h.dtype, c.dtype) == (lib.float32,) * 3
            assert lib.nn.LSTMCell(4, 4)(lib.tensor(x[0]))[0].dtype == lib.float32
            # a bfloat16 input is taken, whatever the weights' dtype
            out, _ = lib.nn.LSTM(4, 4)(lib.tensor(x).bfloat16())
            assert out.dtype == lib.bfloat16
            gru_out, h = lib.nn.GRU(4, 4)(lib.tensor(x), lib.zeros(1, 1, 4, dtype=lib.bfloat16))
            assert (gru_out.dtype, h.dtype) == (lib.bfloat16, lib.bfloat16)
            with pytest.raises(RuntimeError, match="^mat1 and mat2 must have the same dtype, but "
                                                   "got Double and BFloat16$"):
                lib.nn.GRU(4, 4)(lib.tensor(x).double())
            with pytest.raises(RuntimeError, match="^get_mkldnn_dtype: unsupported data type$"):
                lib.nn.LSTM(4, 4).double()(lib.tensor(x))
            out, _ = lib.nn.LSTM(4, 4).double()(lib.tensor(x).double())
            assert out.dtype == lib.float64
