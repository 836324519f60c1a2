"""More parity with torch: the default initialisation of conv, recurrent, attention,
transformer and normalisation layers (statistically), ``nn.init.orthogonal_``, soft-target
cross entropy with class weights, packed sequences through GRU/RNN, and the state_dict layout
of a nested CNN."""
import math

import numpy as np
import pytest

import disttorch
import disttorch.nn as nn
from disttorch.nn.utils import rnn as rnn_utils

torch = pytest.importorskip("torch")
from torch.nn.utils import rnn as torch_rnn_utils  # noqa: E402


def _np(t):
    return t.detach().numpy()


# --------------------------------------------------------------------------------------------
# 1. default initialisation
# --------------------------------------------------------------------------------------------

def _kaiming_a5(fan_in):
    """Bound of Linear/Conv's default kaiming_uniform_(a=sqrt(5)) and of their biases."""
    return 1 / math.sqrt(fan_in)


def _xavier_uniform(fan_in, fan_out):
    return math.sqrt(6 / (fan_in + fan_out))


def _all(bound):
    """Every parameter uniform in [-bound, bound] (recurrent layers and cells)."""
    return lambda pname: bound


def _table(table):
    return lambda pname: table[pname]


def _attention(prefix, embed, kdim=None, vdim=None, bias=True, add_bias_kv=False):
    """MultiheadAttention: xavier_uniform_ projections, zero in-projection bias, the out
    projection keeps Linear's kaiming bound and gets a zero bias, bias_k/v xavier_normal_."""
    table = {f"{prefix}out_proj.weight": _kaiming_a5(embed)}
    if kdim is None and vdim is None:
        table[f"{prefix}in_proj_weight"] = _xavier_uniform(embed, 3 * embed)
    else:
        table[f"{prefix}q_proj_weight"] = _xavier_uniform(embed, embed)
        table[f"{prefix}k_proj_weight"] = _xavier_uniform(kdim, embed)
        table[f"{prefix}v_proj_weight"] = _xavier_uniform(vdim, embed)
    if bias:
        table[f"{prefix}in_proj_bias"] = ("const", 0.0)
        table[f"{prefix}out_proj.bias"] = ("const", 0.0)
    if add_bias_kv:
        # shape (1, 1, E): fan_in = fan_out = E
        table[f"{prefix}bias_k"] = ("normal", math.sqrt(2 / (2 * embed)))
        table[f"{prefix}bias_v"] = ("normal", math.sqrt(2 / (2 * embed)))
    return table


def _transformer(d_model, ff, decoder):
    table = _attention("self_attn.", d_model)
    if decoder:
        table.update(_attention("multihead_attn.", d_model))
    table.update({"linear1.weight": _kaiming_a5(d_model), "linear1.bias": _kaiming_a5(d_model),
                  "linear2.weight": _kaiming_a5(ff), "linear2.bias": _kaiming_a5(ff)})
    for k in (1, 2, 3) if decoder else (1, 2):
        table[f"norm{k}.weight"] = ("const", 1.0)
        table[f"norm{k}.bias"] = ("const", 0.0)
    return _table(table)


def _affine_norm(pname):
    return ("const", 1.0) if pname == "weight" else ("const", 0.0)


# (id, class name, args, kwargs, spec of each parameter: a uniform bound, ("normal", std) or
# ("const", value))
INIT_CASES = [
    ("Conv1d", "Conv1d", (32, 256, 5), {}, _all(_kaiming_a5(32 * 5))),
    ("Conv2d", "Conv2d", (16, 512, 3), {}, _all(_kaiming_a5(16 * 9))),
    # the transposed weight is (in, out / groups, kh, kw): torch's fan_in is out/groups * kh * kw
    ("ConvTranspose2d-groups", "ConvTranspose2d", (256, 64, 3), dict(groups=2),
     _all(_kaiming_a5(32 * 9))),
    ("RNN", "RNN", (64, 256), dict(num_layers=2, bidirectional=True), _all(1 / 16)),
    ("LSTM", "LSTM", (64, 256), dict(num_layers=2), _all(1 / 16)),
    ("LSTM-proj", "LSTM", (64, 256), dict(proj_size=64), _all(1 / 16)),
    ("GRU", "GRU", (64, 256), dict(bidirectional=True), _all(1 / 16)),
    ("RNNCell", "RNNCell", (64, 256), {}, _all(1 / 16)),
    ("LSTMCell", "LSTMCell", (64, 256), {}, _all(1 / 16)),
    ("GRUCell", "GRUCell", (64, 256), {}, _all(1 / 16)),
    ("MultiheadAttention", "MultiheadAttention", (256, 8), dict(add_bias_kv=True),
     _table(_attention("", 256, add_bias_kv=True))),
    ("MultiheadAttention-kvdim", "MultiheadAttention", (128, 4), dict(kdim=64, vdim=32, bias=False),
     _table(_attention("", 128, kdim=64, vdim=32, bias=False))),
    ("TransformerEncoderLayer", "TransformerEncoderLayer", (128, 4, 512), {},
     _transformer(128, 512, decoder=False)),
    ("TransformerDecoderLayer", "TransformerDecoderLayer", (128, 4, 512), {},
     _transformer(128, 512, decoder=True)),
    ("BatchNorm2d", "BatchNorm2d", (64,), {}, _affine_norm),
    ("LayerNorm", "LayerNorm", ((16, 32),), {}, _affine_norm),
    ("GroupNorm", "GroupNorm", (4, 64), {}, _affine_norm),
]


@pytest.mark.parametrize("name,args,kwargs,spec", [c[1:] for c in INIT_CASES],
                         ids=[c[0] for c in INIT_CASES])
def test_default_init_statistics_match_torch(name, args, kwargs, spec):
    torch.manual_seed(0)
    disttorch.manual_seed(0)
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    ours_params, their_params = list(ours.named_parameters()), list(theirs.named_parameters())
    assert [(k, tuple(p.shape)) for k, p in ours_params] == \
        [(k, tuple(p.shape)) for k, p in their_params]
    for (pname, p), (_, q) in zip(ours_params, their_params):
        a, b = _np(p), _np(q)
        assert a.dtype == b.dtype and p.requires_grad, pname
        kind = spec(pname)
        if isinstance(kind, tuple) and kind[0] == "const":
            assert np.all(b == kind[1]), pname   # the spec describes torch correctly
            np.testing.assert_array_equal(a, b, err_msg=pname)
            continue
        n = a.size
        if isinstance(kind, tuple):   # ("normal", std): unbounded
            assert abs(b.std() - kind[1]) <= 5 / math.sqrt(2 * n) * kind[1], pname
        else:
            bound = kind
            assert np.abs(b).max() <= bound * (1 + 1e-6), pname   # the spec describes torch
            assert np.abs(a).max() <= bound * (1 + 1e-6), (pname, np.abs(a).max(), bound)
            # the observed extremes reach as far as torch's (a too-narrow bound fails here)
            tol = max(0.01, 10 / n) * (b.max() - b.min())
            assert abs(a.max() - b.max()) <= tol, (pname, a.max(), b.max())
            assert abs(a.min() - b.min()) <= tol, (pname, a.min(), b.min())
        assert abs(a.std() - b.std()) <= 4 / math.sqrt(2 * n) * b.std(), (pname, a.std(), b.std())
        assert abs(a.mean() - b.mean()) <= 6 / math.sqrt(n) * b.std(), (pname, a.mean(), b.mean())
    # buffers (BatchNorm's running statistics and counter) are deterministic
    ours_buffers, their_buffers = dict(ours.named_buffers()), dict(theirs.named_buffers())
    assert list(ours_buffers) == list(their_buffers)
    for bname, buf in their_buffers.items():
        a, b = _np(ours_buffers[bname]), _np(buf)
        assert a.dtype == b.dtype, bname
        np.testing.assert_array_equal(a, b, err_msg=bname)


# --------------------------------------------------------------------------------------------
# 2. orthogonal_
# --------------------------------------------------------------------------------------------

def _kurtosis(x):
    x = x - x.mean()
    return (x ** 4).mean() / (x ** 2).mean() ** 2


@pytest.mark.parametrize("shape,gain", [((64, 256), 1.0), ((256, 64), 2.5), ((128, 128), 1.0),
                                        ((128, 128), math.sqrt(2)), ((32, 16, 3, 3), 0.5)])
def test_orthogonal_matches_torch(shape, gain):
    torch.manual_seed(0)
    disttorch.manual_seed(0)
    a = _np(nn.init.orthogonal_(disttorch.empty(*shape), gain=gain))
    b = _np(torch.nn.init.orthogonal_(torch.empty(*shape), gain=gain))
    assert a.shape == b.shape and a.dtype == b.dtype
    for w in (a, b):
        flat = w.reshape(shape[0], -1).astype(np.float64)
        small = min(flat.shape)
        gram = flat @ flat.T if flat.shape[0] == small else flat.T @ flat
        np.testing.assert_allclose(gram, gain ** 2 * np.eye(small), atol=1e-5 * gain ** 2)
    n = a.size
    # the sum of squares is fixed by orthogonality; the spread of the entries follows it
    np.testing.assert_allclose(a.std(), b.std(), rtol=0.01)
    assert abs(a.mean() - b.mean()) <= 6 / math.sqrt(n) * b.std()
    # Haar-random, not a structured matrix (a permuted identity has kurtosis ~n)
    assert abs(_kurtosis(a) - _kurtosis(b)) <= 6 * math.sqrt(48 / n), (_kurtosis(a), _kurtosis(b))
    assert abs(np.abs(a).max() - np.abs(b).max()) <= 0.35 * np.abs(b).max()


def test_orthogonal_square_is_haar_not_biased():
    # With the sign of diag(R) folded into Q, E[trace(Q)] = 0; without it a QR-based draw is
    # biased.  Averaged over draws, both libraries give a trace near 0.
    disttorch.manual_seed(1)
    torch.manual_seed(1)
    traces = {lib: [] for lib in ("ours", "torch")}
    for _ in range(200):
        traces["ours"].append(np.trace(_np(nn.init.orthogonal_(disttorch.empty(8, 8)))))
        traces["torch"].append(np.trace(_np(torch.nn.init.orthogonal_(torch.empty(8, 8)))))
    for values in traces.values():
        assert abs(np.mean(values)) < 5 * np.std(values) / math.sqrt(len(values)) + 0.05
    assert abs(np.std(traces["ours"]) - np.std(traces["torch"])) < 0.3


# --------------------------------------------------------------------------------------------
# 3. cross entropy with probability targets and class weights
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("api", ["functional", "module"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("shape", [(6, 5), (3, 5, 2, 4)], ids=["2d", "4d"])
def test_cross_entropy_soft_targets_with_weight(shape, reduction, label_smoothing, api):
    rng = np.random.default_rng(sum(shape) + int(label_smoothing * 100))
    x = rng.standard_normal(shape) * 2
    target = rng.uniform(0.0, 1.0, shape)
    if len(shape) == 2:
        target /= target.sum(1, keepdims=True)   # proper distributions
    # (4d: unnormalised non-negative targets, which torch accepts as they are)
    weight = rng.uniform(0.2, 3.0, shape[1])
    kwargs = dict(reduction=reduction, label_smoothing=label_smoothing)
    results = []
    for lib in (torch, disttorch):
        xt = lib.tensor(x, dtype=lib.float64, requires_grad=True)
        tt = lib.tensor(target, dtype=lib.float64)
        wt = lib.tensor(weight, dtype=lib.float64)
        if api == "functional":
            loss = lib.nn.functional.cross_entropy(xt, tt, weight=wt, **kwargs)
        else:
            loss = lib.nn.CrossEntropyLoss(weight=wt, **kwargs)(xt, tt)
        upstream = lib.tensor(np.linspace(0.5, 1.5, max(loss.numel(), 1)).reshape(
            tuple(loss.shape)), dtype=lib.float64)
        (loss * upstream).sum().backward()
        results.append((_np(loss), _np(xt.grad)))
    (t_loss, t_grad), (d_loss, d_grad) = results
    assert d_loss.shape == t_loss.shape
    np.testing.assert_allclose(d_loss, t_loss, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(d_grad, t_grad, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------------------------
# 4. packed sequences through GRU and RNN
# --------------------------------------------------------------------------------------------

def _pair(cls_name, *args, **kwargs):
    """The same layer in both libraries with torch's weights copied into ours (float64)."""
    torch.manual_seed(0)
    tm = getattr(torch.nn, cls_name)(*args, **kwargs).double()
    dm = getattr(nn, cls_name)(*args, **kwargs).double()
    assert list(dm.state_dict()) == list(tm.state_dict())
    dm.load_state_dict({k: disttorch.tensor(_np(v)) for k, v in tm.state_dict().items()})
    return tm, dm


@pytest.mark.parametrize("cls_name,kwargs", [("GRU", {}), ("RNN", dict(nonlinearity="tanh")),
                                             ("RNN", dict(nonlinearity="relu"))],
                         ids=["GRU", "RNN-tanh", "RNN-relu"])
def test_packed_gru_rnn_equals_each_sequence_alone(cls_name, kwargs):
    rng = np.random.default_rng(3)
    tm, layer = _pair(cls_name, 4, 5, num_layers=2, bidirectional=True, **kwargs)
    arrays = [rng.standard_normal((n, 4)) for n in (2, 5, 3)]
    seqs = [disttorch.tensor(a) for a in arrays]
    out, h = layer(rnn_utils.pack_sequence(seqs, enforce_sorted=False))
    outs = rnn_utils.unpack_sequence(out)
    assert h.shape == (4, 3, 5)
    for k, seq in enumerate(seqs):
        alone, h1 = layer(seq)
        assert outs[k].shape == alone.shape == (len(arrays[k]), 10)
        np.testing.assert_allclose(_np(outs[k]), _np(alone), atol=1e-12)
        np.testing.assert_allclose(_np(h)[:, k], _np(h1), atol=1e-12)
    # and the packed result is torch's
    t_out, t_h = tm(torch_rnn_utils.pack_sequence([torch.tensor(a) for a in arrays],
                                                  enforce_sorted=False))
    np.testing.assert_allclose(_np(out.data), _np(t_out.data), atol=1e-12)
    np.testing.assert_array_equal(_np(out.batch_sizes), _np(t_out.batch_sizes))
    np.testing.assert_allclose(_np(h), _np(t_h), atol=1e-12)


# --------------------------------------------------------------------------------------------
# 5. state_dict layout of a nested CNN
# --------------------------------------------------------------------------------------------

def _cnn(lib):
    m = lib.nn
    return m.Sequential(
        m.Sequential(m.Conv2d(3, 8, 3, padding=1), m.BatchNorm2d(8), m.ReLU(), m.MaxPool2d(2)),
        m.ModuleDict({
            "grouped": m.Sequential(m.Conv2d(8, 16, 3, padding=1, groups=4, bias=False),
                                    m.GroupNorm(4, 16), m.ReLU()),
            "up": m.ConvTranspose2d(16, 6, 2, stride=2, groups=2),
        }),
        m.Sequential(m.Flatten(), m.Linear(6 * 8 * 8, 10)),
    )


def _run_cnn(model, x):
    x = model[0](x)
    x = model[1]["up"](model[1]["grouped"](x))
    return model[2](x)


def test_nested_cnn_state_dict_layout_matches_torch():
    torch.manual_seed(0)
    tm, dm = _cnn(torch), _cnn(disttorch)
    t_state, d_state = tm.state_dict(), dm.state_dict()
    assert [(k, tuple(v.shape), str(_np(v).dtype)) for k, v in d_state.items()] == \
        [(k, tuple(v.shape), str(_np(v).dtype)) for k, v in t_state.items()]
    assert [k for k, _ in dm.named_parameters()] == [k for k, _ in tm.named_parameters()]
    assert [k for k, _ in dm.named_buffers()] == [k for k, _ in tm.named_buffers()]
    # torch's weights load into ours and give torch's output
    dm.load_state_dict({k: disttorch.tensor(_np(v)) for k, v in t_state.items()})
    tm.eval()
    dm.eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(_np(_run_cnn(dm, disttorch.tensor(x))),
                               _np(_run_cnn(tm, torch.tensor(x))), rtol=1e-4, atol=1e-5)
