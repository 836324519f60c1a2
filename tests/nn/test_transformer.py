"""Transformer layers and stacks against torch (outputs and every gradient), masks, state_dict."""
import numpy as np
import pytest

import disttorch
import disttorch.nn as nn

torch = pytest.importorskip("torch")

ATOL = 1e-9


def _copy_weights(tm, dm):
    assert list(dm.state_dict()) == list(tm.state_dict())
    dm.load_state_dict({k: disttorch.tensor(v.numpy()) for k, v in tm.state_dict().items()})


def _build(factory):
    """``factory(lib)`` in both libraries (float64, torch's initial weights copied)."""
    torch.manual_seed(0)
    tm = factory(torch).double()
    dm = factory(disttorch).double()
    _copy_weights(tm, dm)
    return tm, dm


def _compare(tm, dm, arrays, call, rng, train=False):
    """Outputs of ``call(module, lib, *tensors)`` and gradients of inputs and parameters."""
    tm.train(train)
    dm.train(train)
    t_in = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    d_in = [disttorch.tensor(a) for a in arrays]
    for t in d_in:
        if t.dtype.is_floating_point:
            t.requires_grad_(True)
    t_out, d_out = call(tm, torch, *t_in), call(dm, disttorch, *d_in)
    np.testing.assert_allclose(d_out.detach().numpy(), t_out.detach().numpy(), atol=ATOL)
    g = rng.standard_normal(tuple(t_out.shape))
    t_out.backward(torch.tensor(g))
    d_out.backward(disttorch.tensor(g))
    for t, d in zip(t_in, d_in):
        if t.requires_grad:
            np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), atol=ATOL)
    for (name, tp), (_, dp) in zip(tm.named_parameters(), dm.named_parameters()):
        np.testing.assert_allclose(dp.grad.numpy(), tp.grad.numpy(), atol=ATOL, err_msg=name)


def _activation(lib, name):
    return {"relu": "relu", "gelu": "gelu", "callable": lib.nn.functional.silu}[name]


MODES = [("eval", 0.1, False), ("train-p0", 0.0, True)]


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
@pytest.mark.parametrize("mode,dropout,train", MODES, ids=[m[0] for m in MODES])
@pytest.mark.parametrize("activation", ["relu", "gelu", "callable"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_matches_torch(norm_first, activation, mode, dropout, train):
    rng = np.random.default_rng(0)

    def factory(lib):
        layer = lib.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=dropout,
                                               activation=_activation(lib, activation),
                                               norm_first=norm_first)
        return lib.nn.TransformerEncoder(layer, 2, norm=lib.nn.LayerNorm(8))
    tm, dm = _build(factory)
    padding = np.zeros((3, 5))
    padding[1, 3:] = -np.inf
    causal = np.triu(np.full((5, 5), -np.inf), 1)

    def call(module, lib, x, mask, pad):
        return module(x, mask=mask, src_key_padding_mask=pad)
    _compare(tm, dm, [rng.standard_normal((5, 3, 8)), causal, padding], call, rng, train)


@pytest.mark.parametrize("mode,dropout,train", MODES, ids=[m[0] for m in MODES])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_matches_torch(norm_first, activation, mode, dropout, train):
    rng = np.random.default_rng(1)

    def factory(lib):
        layer = lib.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=dropout,
                                               activation=activation, norm_first=norm_first,
                                               batch_first=True)
        return lib.nn.TransformerDecoder(layer, 2)
    tm, dm = _build(factory)
    memory_padding = np.zeros((3, 6), bool)
    memory_padding[0, 4:] = True

    def call(module, lib, tgt, memory, pad):
        mask = lib.nn.Transformer.generate_square_subsequent_mask(4, dtype=lib.float64)
        return module(tgt, memory, tgt_mask=mask, memory_key_padding_mask=pad,
                      tgt_is_causal=True)
    arrays = [rng.standard_normal((3, 4, 8)), rng.standard_normal((3, 6, 8)), memory_padding]
    _compare(tm, dm, arrays, call, rng, train)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
@pytest.mark.parametrize("batch_first", [False, True])
def test_full_transformer_matches_torch(batch_first):
    rng = np.random.default_rng(2)

    def factory(lib):
        return lib.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1,
                                  dim_feedforward=16, dropout=0.0, batch_first=batch_first)
    tm, dm = _build(factory)
    src = rng.standard_normal((3, 5, 8) if batch_first else (5, 3, 8))
    tgt = rng.standard_normal((3, 4, 8) if batch_first else (4, 3, 8))
    padding = np.zeros((3, 5), bool)
    padding[2, 2:] = True

    def call(module, lib, src, tgt, pad):
        mask = module.generate_square_subsequent_mask(4, dtype=lib.float64)
        return module(src, tgt, tgt_mask=mask, src_key_padding_mask=pad,
                      memory_key_padding_mask=pad)
    _compare(tm, dm, [src, tgt, padding], call, rng, train=True)


def test_unbatched_and_no_bias_layer():
    rng = np.random.default_rng(3)

    def factory(lib):
        return lib.nn.TransformerEncoderLayer(8, 4, dim_feedforward=12, dropout=0.0, bias=False,
                                              layer_norm_eps=1e-3)
    tm, dm = _build(factory)
    _compare(tm, dm, [rng.standard_normal((5, 8))], lambda m, lib, x: m(x), rng)


def test_generate_square_subsequent_mask():
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(mask.numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    assert mask.dtype == disttorch.float32


def test_dropout_in_training_is_seeded():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.5)
    x = disttorch.randn(5, 3, 8)
    disttorch.manual_seed(1)
    first = layer(x)
    disttorch.manual_seed(1)
    np.testing.assert_array_equal(first.detach().numpy(), layer(x).detach().numpy())
    layer.eval()
    assert not np.allclose(first.detach().numpy(), layer(x).detach().numpy())


def test_errors():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                           dim_feedforward=8)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(disttorch.randn(5, 3, 8), disttorch.randn(4, 2, 8))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal"):
        model(disttorch.randn(5, 3, 8), disttorch.randn(4, 3, 6))


def _language_models(lib):
    class LSTMModel(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.head = lib.nn.Linear(8, 5)
            self.rnn = lib.nn.LSTM(5, 8, num_layers=2, bidirectional=True, proj_size=4)
            self.cell = lib.nn.GRUCell(4, 3)

    class TransformerLM(lib.nn.Module):
        def __init__(self):
            super().__init__()
            layer = lib.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
            self.encoder = lib.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.decoder = lib.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16)
            self.attn = lib.nn.MultiheadAttention(8, 2, kdim=4, vdim=4)
            self.out = lib.nn.Linear(8, 5)

    return LSTMModel(), TransformerLM()


def test_state_dict_keys_and_shapes_match_torch():
    for t_model, d_model in zip(_language_models(torch), _language_models(disttorch)):
        t_state, d_state = t_model.state_dict(), d_model.state_dict()
        assert list(d_state) == list(t_state)
        assert [tuple(v.shape) for v in d_state.values()] == \
            [tuple(v.shape) for v in t_state.values()]
        d_model.load_state_dict({k: disttorch.tensor(v.numpy()) for k, v in t_state.items()})


def _encoder_pair(**layer_kwargs):
    torch.manual_seed(0)
    te = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **layer_kwargs), 2,
        norm=torch.nn.LayerNorm(8))
    de = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **layer_kwargs),
                               2, norm=nn.LayerNorm(8))
    de.load_state_dict({k: disttorch.tensor(v.detach().numpy())
                        for k, v in te.state_dict().items()})
    return te.eval(), de.eval()


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
@pytest.mark.parametrize("left_aligned", [True, False], ids=["left-aligned", "holes"])
def test_encoder_padded_positions_match_torch_nested_tensor_path(grad, left_aligned):
    # torch runs this inference case as nested tensors: padded positions come out as
    # norm(0) = the norm's bias; with gradients or a mask with holes it computes densely
    te, de = _encoder_pair(batch_first=True)
    x = np.random.default_rng(0).standard_normal((3, 5, 8)).astype(np.float32)
    pad = np.array([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0], [0, 1, 1, 1, 1]], bool)
    if not left_aligned:
        pad[0, 1] = True
    with torch.set_grad_enabled(grad), disttorch.set_grad_enabled(grad):
        expected = te(torch.tensor(x), src_key_padding_mask=torch.tensor(pad)).detach().numpy()
        got = de(disttorch.tensor(x), src_key_padding_mask=disttorch.tensor(pad))
    np.testing.assert_allclose(got.detach().numpy(), expected, atol=2e-5)
    if left_aligned and not grad:
        np.testing.assert_allclose(got.detach().numpy()[0, 3], te.norm.bias.detach().numpy(),
                                   atol=1e-6)
        # with the fast path switched off, both compute the padded positions densely
        for lib in (torch, disttorch):
            lib.backends.mha.set_fastpath_enabled(False)
        try:
            with torch.no_grad(), disttorch.no_grad():
                expected = te(torch.tensor(x), src_key_padding_mask=torch.tensor(pad)).numpy()
                got = de(disttorch.tensor(x), src_key_padding_mask=disttorch.tensor(pad))
        finally:
            for lib in (torch, disttorch):
                lib.backends.mha.set_fastpath_enabled(True)
        assert disttorch.backends.mha.get_fastpath_enabled()
        np.testing.assert_allclose(got.numpy(), expected, atol=2e-5)
        assert np.abs(got.numpy()[0, 3] - te.norm.bias.detach().numpy()).max() > 1e-3


def test_encoder_nested_tensor_warning_matches_torch():
    import warnings
    messages = {}
    for lib in (torch, disttorch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(8, 2, 16), 2)
            lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(8, 2, 16), 2,
                                      enable_nested_tensor=False)
            lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(8, 2, 16,
                                                                     batch_first=True), 2)
        messages[lib] = [str(w.message) for w in caught if "nested" in str(w.message)
                         and "prototype" not in str(w.message)]
    assert messages[disttorch] == messages[torch] and len(messages[torch]) == 1
    assert not nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 1, 16, batch_first=True), 1,
                                     enable_nested_tensor=False).use_nested_tensor
