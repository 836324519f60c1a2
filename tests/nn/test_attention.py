"""scaled_dot_product_attention and MultiheadAttention against torch, plus finite differences."""
import numpy as np
import pytest

import disttorch
import disttorch.nn as nn
import disttorch.nn.functional as F
from tests.ops.harness import OpInfo, S, check_gradient, op_tests

torch = pytest.importorskip("torch")

ATOL = 1e-10


def _sdpa(**kwargs):
    def fn(lib, q, k, v, mask=None):
        return lib.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, **kwargs)
    return fn


def _qkv(rng, lead=(2, 3), target=4, source=5, dim=6, value_dim=None, kv_lead=None):
    kv_lead = lead if kv_lead is None else kv_lead
    return (rng.standard_normal(lead + (target, dim)), rng.standard_normal(kv_lead + (source, dim)),
            rng.standard_normal(kv_lead + (source, value_dim or dim)))


def _bool_mask(rng, shape, empty_row=True):
    mask = rng.random(shape) > 0.3
    mask[..., 0] = True
    if empty_row:
        mask[..., 1, :] = False
    return mask


def _masked_row(mask):
    mask[1] = -np.inf
    return mask


SDPA_OPS = [
    OpInfo("sdpa", _sdpa(), lambda rng: [S(*_qkv(rng)), S(*_qkv(rng, lead=(4,), value_dim=3))]),
    OpInfo("sdpa_bool_mask", _sdpa(), lambda rng: [
        S(*_qkv(rng), _bool_mask(rng, (4, 5))),
        S(*_qkv(rng), _bool_mask(rng, (2, 1, 4, 5)))]),
    OpInfo("sdpa_float_mask", _sdpa(), lambda rng: [
        S(*_qkv(rng), rng.standard_normal((4, 5))),
        S(*_qkv(rng), rng.standard_normal((2, 3, 4, 5))),
        S(*_qkv(rng), _masked_row(rng.standard_normal((4, 5))))]),
    OpInfo("sdpa_causal", _sdpa(is_causal=True), lambda rng: [
        S(*_qkv(rng, source=4)), S(*_qkv(rng, target=5, source=3))]),
    OpInfo("sdpa_scale", _sdpa(scale=0.3), lambda rng: [S(*_qkv(rng))]),
    OpInfo("sdpa_gqa", _sdpa(enable_gqa=True), lambda rng: [
        S(*_qkv(rng, lead=(2, 4), kv_lead=(2, 2)))]),
    OpInfo("sdpa_broadcast_kv", _sdpa(), lambda rng: [S(*_qkv(rng, kv_lead=(1, 3)))]),
]

test_sdpa_matches_torch, test_sdpa_finite_differences = op_tests(SDPA_OPS)


def test_sdpa_dropout_is_seeded_and_differentiable():
    rng = np.random.default_rng(0)

    def fn(lib, q, k, v):
        disttorch.manual_seed(3)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    sample = S(*_qkv(rng))
    check_gradient(OpInfo("sdpa_dropout", fn, None), sample)
    q, k, v = (disttorch.tensor(a) for a in sample.args)
    dropped = fn(disttorch, q, k, v).numpy()
    np.testing.assert_array_equal(dropped, fn(disttorch, q, k, v).numpy())
    assert not np.allclose(dropped, F.scaled_dot_product_attention(q, k, v).numpy())


def test_sdpa_shape_error():
    q, k = disttorch.randn(2, 3, 4), disttorch.randn(2, 5, 6)
    with pytest.raises(RuntimeError, match="scaled_dot_product_attention"):
        F.scaled_dot_product_attention(q, k, k)


# --------------------------------------------------------------------- MultiheadAttention
def _pair(*args, **kwargs):
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(*args, **kwargs).double()
    dm = nn.MultiheadAttention(*args, **kwargs).double()
    assert list(dm.state_dict()) == list(tm.state_dict())
    dm.load_state_dict({k: disttorch.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    return tm, dm


def _leaves(lib, arrays):
    out = []
    for a in arrays:
        t = lib.tensor(a)
        if a.dtype.kind == "f":
            t.requires_grad_(True)
        out.append(t)
    return out


def _check_mha(tm, dm, arrays, call, rng, self_attention=False):
    """Run ``call(module, *tensors)`` in both libraries; compare outputs, weights and all
    gradients."""
    t_in, d_in = _leaves(torch, arrays), _leaves(disttorch, arrays)
    t_out, t_w = call(tm, *t_in)
    d_out, d_w = call(dm, *d_in)
    np.testing.assert_allclose(d_out.detach().numpy(), t_out.detach().numpy(), atol=ATOL)
    assert (d_w is None) == (t_w is None)
    g = rng.standard_normal(tuple(t_out.shape))
    t_loss = (t_out * torch.tensor(g)).sum()
    d_loss = (d_out * disttorch.tensor(g)).sum()
    if t_w is not None:
        np.testing.assert_allclose(d_w.detach().numpy(), t_w.detach().numpy(), atol=ATOL)
        gw = rng.standard_normal(tuple(t_w.shape))
        t_loss = t_loss + (t_w * torch.tensor(gw)).sum()
        d_loss = d_loss + (d_w * disttorch.tensor(gw)).sum()
    t_loss.backward()
    d_loss.backward()
    for t, d in zip(t_in, d_in):
        if t.requires_grad:
            np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), atol=ATOL)
    for (name, tp), (_, dp) in zip(tm.named_parameters(), dm.named_parameters()):
        np.testing.assert_allclose(dp.grad.numpy(), tp.grad.numpy(), atol=ATOL, err_msg=name)


MHA_CASES = {
    "plain": (dict(), dict()),
    "batch_first": (dict(batch_first=True), dict()),
    "kdim_vdim": (dict(kdim=5, vdim=3), dict()),
    "bias_kv_zero_attn": (dict(add_bias_kv=True, add_zero_attn=True), dict()),
    "no_bias": (dict(bias=False), dict()),
    "no_weights": (dict(), dict(need_weights=False)),
    "per_head_weights": (dict(), dict(average_attn_weights=False)),
    "eval_dropout": (dict(dropout=0.3), dict()),
}


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@pytest.mark.parametrize("masks", ["none", "key_padding", "bool", "float", "per_head", "both"])
@pytest.mark.parametrize("case", list(MHA_CASES))
def test_mha_matches_torch(case, masks):
    rng = np.random.default_rng(1)
    kwargs, call_kwargs = MHA_CASES[case]
    tm, dm = _pair(8, 2, **kwargs)
    tm.eval(), dm.eval()
    batch_first = kwargs.get("batch_first", False)
    lead_q, lead_k = ((3, 4), (3, 6)) if batch_first else ((4, 3), (6, 3))
    arrays = [rng.standard_normal(lead_q + (8,)),
              rng.standard_normal(lead_k + (kwargs.get("kdim", 8),)),
              rng.standard_normal(lead_k + (kwargs.get("vdim", 8),))]
    padding = np.zeros((3, 6), bool)
    padding[1, 4:] = True
    attn = {"bool": np.triu(np.ones((4, 6), bool), 2), "float": rng.standard_normal((4, 6)),
            "per_head": rng.standard_normal((6, 4, 6))}
    names = []
    if masks in ("key_padding", "both"):
        arrays.append(padding)
        names.append("key_padding_mask")
    if masks in attn or masks == "both":
        arrays.append(attn["float" if masks == "both" else masks])
        names.append("attn_mask")

    def call(module, q, k, v, *mask_tensors):
        return module(q, k, v, **dict(zip(names, mask_tensors)), **call_kwargs)
    _check_mha(tm, dm, arrays, call, rng)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [False, True])
def test_mha_self_attention_causal(batch_first, need_weights):
    rng = np.random.default_rng(2)
    tm, dm = _pair(8, 4, batch_first=batch_first)
    x = rng.standard_normal((3, 5, 8) if batch_first else (5, 3, 8))
    causal = np.triu(np.ones((5, 5), bool), 1)
    padding = np.zeros((3, 5), bool)
    padding[2, 3:] = True

    def call(module, x, mask, pad):
        return module(x, x, x, attn_mask=mask, key_padding_mask=pad, is_causal=True,
                      need_weights=need_weights)
    _check_mha(tm, dm, [x, causal, padding], call, rng)


def test_mha_float_key_padding_mask_and_unbatched():
    rng = np.random.default_rng(3)
    tm, dm = _pair(8, 2)
    pad = np.zeros(6)
    pad[4:] = -1e9
    arrays = [rng.standard_normal((4, 8)), rng.standard_normal((6, 8)),
              rng.standard_normal((6, 8)), pad, rng.standard_normal((2, 4, 6))]

    def call(module, q, k, v, pad, mask):
        return module(q, k, v, key_padding_mask=pad, attn_mask=mask,
                      average_attn_weights=False)
    _check_mha(tm, dm, arrays, call, rng)


def test_mha_functional_form():
    rng = np.random.default_rng(4)
    tm, dm = _pair(8, 2)
    x = rng.standard_normal((4, 3, 8))

    def call(module, x):
        lib = torch if isinstance(module, torch.nn.Module) else disttorch
        return lib.nn.functional.multi_head_attention_forward(
            x, x, x, 8, 2, module.in_proj_weight, module.in_proj_bias, None, None, False, 0.0,
            module.out_proj.weight, module.out_proj.bias, training=False)
    _check_mha(tm, dm, [x], call, rng)


def test_mha_dropout_in_training():
    mha = nn.MultiheadAttention(8, 2, dropout=0.5).double()
    x = disttorch.randn(4, 3, 8, dtype=disttorch.float64)
    disttorch.manual_seed(0)
    out, weights = mha(x, x, x)
    disttorch.manual_seed(0)
    again, _ = mha(x, x, x)
    np.testing.assert_array_equal(out.detach().numpy(), again.detach().numpy())
    mha.eval()
    assert not np.allclose(out.detach().numpy(), mha(x, x, x)[0].detach().numpy())
    out.sum().backward()
    assert np.isfinite(mha.in_proj_weight.grad.numpy()).all()


def test_mha_errors_and_repr():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    mha = nn.MultiheadAttention(8, 2)
    x = disttorch.randn(4, 3, 8)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is"):
        mha(x, x, x, attn_mask=disttorch.zeros(3, 3))
    with pytest.raises(AssertionError, match="was expecting embedding dimension of 8, but got 6"):
        mha(disttorch.randn(4, 3, 6), x, x)
    assert repr(mha) == repr(torch.nn.MultiheadAttention(8, 2))
    ours = nn.MultiheadAttention(8, 2, kdim=3, add_bias_kv=True)
    theirs = torch.nn.MultiheadAttention(8, 2, kdim=3, add_bias_kv=True)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_mha_key_padding_mask_shape_is_checked():
    """A key padding mask in the wrong layout raises torch's error instead of being reshaped
    into a different mask (or failing in numpy); after the keys that bias_k and the zero
    attention append, with the lengths as torch's padded mask has them."""
    disttorch.manual_seed(0)
    mha = nn.MultiheadAttention(4, 2)
    x = disttorch.arange(24.).view(3, 2, 4) / 10
    wrong = disttorch.tensor([[False, False], [False, True], [True, True]])
    with pytest.raises(AssertionError, match=r"^Expected key_padded_mask.shape\[0\] to be 2, "
                                             r"but got 3$"):
        mha(x, x, x, key_padding_mask=wrong)
    with pytest.raises(AssertionError, match=r"shape\[1\] to be 3, but got 2$"):
        mha(x, x, x, key_padding_mask=disttorch.zeros(2, 2, dtype=disttorch.bool))
    padded = nn.MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True)
    with pytest.raises(AssertionError, match=r"shape\[1\] to be 5, but got 6$"):
        padded(x, x, x, key_padding_mask=disttorch.zeros(2, 4, dtype=disttorch.bool))
    first = nn.MultiheadAttention(4, 2, batch_first=True)
    with pytest.raises(AssertionError, match=r"shape\[0\] to be 2, but got 3$"):
        first(*(x.transpose(0, 1),) * 3, key_padding_mask=wrong)


@pytest.mark.parametrize("dtype", ["long", "uint8", "int32"])
def test_mha_integer_masks_are_rejected(dtype):
    mha = nn.MultiheadAttention(4, 2)
    x = disttorch.randn(3, 2, 4)
    mask = disttorch.zeros(3, 3, dtype=getattr(disttorch, dtype))
    with pytest.raises(AssertionError, match="^only bool and floating types of attn_mask are "
                                             "supported$"):
        mha(x, x, x, attn_mask=mask)
    with pytest.raises(AssertionError, match="^only bool and floating types of key_padding_mask"):
        mha(x, x, x, key_padding_mask=disttorch.zeros(2, 3, dtype=getattr(disttorch, dtype)))
    layer = nn.TransformerEncoderLayer(4, 2, 8)
    with pytest.raises(AssertionError, match="^only bool and floating types of src_mask"):
        layer(x, src_mask=mask)


def test_mha_mixed_mask_types_warn_once_as_torch():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 2, 4))
    padding = np.zeros((2, 3), bool)
    padding[1, 2] = True
    attn = rng.standard_normal((3, 3))
    messages = {}
    for lib in (torch, disttorch):
        lib.manual_seed(0)
        layer = lib.nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0).double()
        mha = lib.nn.MultiheadAttention(4, 2).double()
        xt = lib.tensor(x)
        with pytest.warns(UserWarning) as record:
            mha(xt, xt, xt, key_padding_mask=lib.tensor(padding), attn_mask=lib.tensor(attn))
            layer(xt, src_key_padding_mask=lib.tensor(padding), src_mask=lib.tensor(attn))
        messages[lib] = [str(w.message) for w in record if "mismatched" in str(w.message)]
    assert messages[disttorch] == messages[torch]
    assert len(messages[torch]) == 2


@pytest.mark.parametrize("extra", [dict(), dict(add_zero_attn=True)])
def test_mha_causal_hint_applies_the_causal_mask(extra):
    """Without a padding mask or weights torch runs the causal hint as is_causal, attn_mask
    unread; an integer one is then not rejected by the functional form either."""
    rng = np.random.default_rng(10)
    tm, dm = _pair(8, 2, **extra)
    x = rng.standard_normal((5, 3, 8))
    not_causal = np.zeros((5, 5), bool)
    not_causal[0, 1] = True

    def call(module, x, mask):
        out, _ = module(x, x, x, attn_mask=mask, is_causal=True, need_weights=False)
        return out, None
    _check_mha(tm, dm, [x, not_causal], call, rng)
    for lib, module in ((torch, tm), (disttorch, dm)):
        xt = lib.tensor(x)
        out, _ = lib.nn.functional.multi_head_attention_forward(
            xt, xt, xt, 8, 2, module.in_proj_weight, module.in_proj_bias, None, None,
            bool(extra), 0.0, module.out_proj.weight, module.out_proj.bias, training=False,
            attn_mask=lib.zeros(5, 5, dtype=lib.long), is_causal=True, need_weights=False)
        assert tuple(out.shape) == (5, 3, 8)


def test_mha_separate_weights_are_checked_against_the_inputs():
    mha = nn.MultiheadAttention(8, 2, kdim=6, vdim=7)
    x = disttorch.randn(3, 2, 8)
    with pytest.raises(AssertionError, match=r"^expecting key weights shape of \(8, 8\), but got "
                                             r"disttorch.Size\(\[8, 6\]\)$"):
        mha(x, x, x)
    with pytest.raises(AssertionError, match=r"^expecting value weights shape of \(8, 8\)"):
        mha(x, disttorch.randn(3, 2, 6), x)


def _second_order(lib, fn, arrays):
    inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, *inputs)
    rng = np.random.default_rng(5)
    grads = lib.autograd.grad((out * lib.tensor(rng.standard_normal(tuple(out.shape)))).sum(),
                              inputs, create_graph=True)
    total = sum((g * lib.tensor(rng.standard_normal(tuple(g.shape)))).sum() for g in grads)
    total.backward()
    return [g.detach().numpy() for g in grads] + [t.grad.numpy() for t in inputs]


@pytest.mark.parametrize("variant", ["bool_mask", "causal_gqa", "float_mask"])
def test_sdpa_double_backward(variant):
    """Second derivatives against torch's math formulation (its fused CPU kernel has none)."""
    rng = np.random.default_rng(6)
    heads_kv = 1 if variant == "causal_gqa" else 2
    arrays = [rng.standard_normal((2, 2, 3, 4)), rng.standard_normal((2, heads_kv, 5, 4)),
              rng.standard_normal((2, heads_kv, 5, 4))]
    allowed = np.tril(np.ones((3, 5), bool)) if variant == "causal_gqa" else \
        _bool_mask(rng, (3, 5), empty_row=False)
    if variant == "float_mask":
        arrays.append(rng.standard_normal((3, 5)))

    def fn(lib, q, k, v, mask=None):
        if lib is disttorch:
            kwargs = {"is_causal": True, "enable_gqa": True} if variant == "causal_gqa" else {
                "attn_mask": mask if mask is not None else disttorch.tensor(allowed)}
            return F.scaled_dot_product_attention(q, k, v, **kwargs)
        k, v = k.repeat_interleave(2 // heads_kv, -3), v.repeat_interleave(2 // heads_kv, -3)
        scores = q @ k.transpose(-1, -2) / 2.0
        scores = scores + mask if mask is not None else scores.masked_fill(
            ~torch.tensor(allowed), float("-inf"))
        return torch.softmax(scores, -1) @ v
    for ours, theirs in zip(_second_order(disttorch, fn, arrays),
                            _second_order(torch, fn, arrays)):
        np.testing.assert_allclose(ours, theirs, atol=1e-9)


def test_mha_static_kv_matches_torch():
    rng = np.random.default_rng(7)
    tm, dm = _pair(8, 2)
    arrays = [rng.standard_normal((4, 3, 8)), rng.standard_normal((6, 6, 4)),
              rng.standard_normal((6, 6, 4))]

    def call(module, q, static_k, static_v):
        lib = torch if isinstance(module, torch.nn.Module) else disttorch
        return lib.nn.functional.multi_head_attention_forward(
            q, q, q, 8, 2, module.in_proj_weight, module.in_proj_bias, None, None, False, 0.0,
            module.out_proj.weight, module.out_proj.bias, training=False, static_k=static_k,
            static_v=static_v)
    _check_mha(tm, dm, arrays, call, rng)


def test_sdpa_gqa_error_and_mask_broadcasting_up():
    q, kv = disttorch.randn(2, 3, 4, 8), disttorch.randn(2, 2, 5, 8)
    with pytest.raises(RuntimeError, match="must be a multiple of the number of key/value heads"):
        F.scaled_dot_product_attention(q, kv, kv, enable_gqa=True)
    rng = np.random.default_rng(8)
    op = OpInfo("sdpa_mask_wider_than_inputs", _sdpa(), lambda rng: [
        S(*_qkv(rng, lead=(3,)), rng.standard_normal((2, 3, 4, 5)))])
    sample = op.samples(rng)[0]
    check_gradient(op, sample)
