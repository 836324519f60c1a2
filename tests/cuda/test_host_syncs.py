"""Host synchronisations in hot paths, counted on the simulated device: no more than PyTorch
needs. Whole training steps (a transformer LM with embeddings, a CNN with max and adaptive
pooling, an EmbeddingBag + LSTM tagger, a GroupNorm + bilinear upsampling net) read nothing back. A scaled AMP step reads the found-inf flag once (torch's ``GradScaler._maybe_opt_step``
does ``.item()`` too); ``GradScaler.update``, ``clip_grad_norm_`` and the indexing ops read
nothing back. Also here: the device-side scale update against torch's GradScaler, and the index
checks kept on the CPU."""
import math

import numpy as np
import pytest

import disttorch
import disttorch.nn as nn
import disttorch.nn.functional as F
from disttorch.cuda import _simulated

try:
    import torch
except ImportError:
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="torch (the test oracle) is not installed")


@pytest.fixture
def sim():
    with _simulated.simulate():
        yield "cuda"


def _report(syncs):
    return "host synchronisations:\n" + "\n".join(syncs["where"])


# ------------------------------------------------------------------ AMP training step
def _amp_setup(clip, bad_grad=False):
    disttorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.LayerNorm(16), nn.Linear(16, 4)).to("cuda")
    optimizer = disttorch.optim.AdamW(model.parameters())
    scaler = disttorch.amp.GradScaler("cuda", init_scale=1024.0)
    x = disttorch.randn(5, 8, device="cuda")
    y = disttorch.randint(0, 4, (5,), device="cuda")
    poison = disttorch.tensor(float("inf"), device="cuda")

    def step():
        optimizer.zero_grad()
        with disttorch.autocast("cuda", dtype=disttorch.float16):
            loss = F.cross_entropy(model(x), y)
        if bad_grad:
            loss = loss * poison
        scaler.scale(loss).backward()
        if clip:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
    return model, scaler, step


@pytest.mark.parametrize("clip", [False, True], ids=["plain", "unscale+clip"])
def test_amp_step_reads_back_only_the_found_inf_flag(clip, sim):
    _, scaler, step = _amp_setup(clip)
    step()  # first step: lazy state (scale, growth tracker, optimizer state) is made here
    with _simulated.count_host_syncs() as syncs:
        step()
        step()
    assert syncs["count"] == 2, _report(syncs)  # one per step, in GradScaler.step
    assert all("grad_scaler.py" in w for w in syncs["where"]), _report(syncs)
    assert scaler.get_scale() == 1024.0


def test_amp_step_with_inf_skips_and_backs_off_on_device(sim):
    model, scaler, step = _amp_setup(clip=True, bad_grad=True)
    before = [p.detach().clone() for p in model.parameters()]
    with _simulated.count_host_syncs() as syncs:
        step()
    assert syncs["count"] == 1, _report(syncs)
    assert scaler.get_scale() == 512.0
    assert scaler.state_dict()["_growth_tracker"] == 0
    for p, q in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.detach().cpu().numpy(), q.cpu().numpy())


def test_grad_scaler_update_reads_nothing_back(sim):
    weight = disttorch.ones(3, device="cuda", requires_grad=True)
    optimizer = disttorch.optim.SGD([weight], lr=0.1)
    scaler = disttorch.amp.GradScaler("cuda", growth_interval=1)
    scaler.scale(weight.sum()).backward()
    scaler.step(optimizer)
    with _simulated.count_host_syncs() as syncs:
        scaler.update()
    assert syncs["count"] == 0, _report(syncs)
    assert scaler.get_scale() == 2.0 ** 17


# ------------------------------------------------------------------ GradScaler against torch
def _scaler_run(lib, device, grads, updates=None, **kwargs):
    weight = lib.zeros(3, device=device, requires_grad=True)
    optimizer = lib.optim.SGD([weight], lr=0.1)
    scaler = lib.amp.GradScaler(device, **kwargs)
    seen = []
    for k, grad in enumerate(grads):
        optimizer.zero_grad()
        scaler.scale((weight * lib.tensor(grad, device=device)).sum()).backward()
        scaler.step(optimizer)
        new_scale = (updates or {}).get(k)
        if callable(new_scale):
            new_scale = new_scale(lib, device)
        scaler.update(new_scale)
        seen.append((scaler.get_scale(), scaler.state_dict()["_growth_tracker"]))
    return seen, scaler


GOOD, INF, NAN = [1.0, 2.0, 3.0], [math.inf, 0.0, 0.0], [0.0, math.nan, 1.0]


@requires_torch
@pytest.mark.parametrize("case", ["growth", "backoff", "new_scale_float", "new_scale_tensor",
                                  "growth_capped_at_float32", "interval_3"])
def test_device_scale_update_matches_torch(case, sim):
    grads, updates, kwargs = [GOOD, GOOD, INF, GOOD, NAN, GOOD, GOOD], None, {"growth_interval": 2}
    if case == "backoff":
        grads = [INF, NAN, INF, GOOD]
    elif case == "new_scale_float":
        updates = {1: 8.0, 3: 3.0}
    elif case == "new_scale_tensor":
        updates = {1: lambda lib, dev: lib.tensor(8.0, device=dev)}
    elif case == "growth_capped_at_float32":
        kwargs = {"init_scale": 2.0 ** 127, "growth_interval": 1}
        grads = [GOOD, GOOD, GOOD]
    elif case == "interval_3":
        kwargs = {"growth_interval": 3, "growth_factor": 3.0, "backoff_factor": 0.25}
    expected, t_scaler = _scaler_run(torch, "cpu", grads, updates, **kwargs)
    actual, d_scaler = _scaler_run(disttorch, "cuda", grads, updates, **kwargs)
    assert actual == expected
    assert d_scaler.state_dict() == t_scaler.state_dict()


@requires_torch
def test_growth_tracker_survives_state_dict(sim):
    kwargs = {"growth_interval": 3}
    _, source = _scaler_run(disttorch, "cuda", [GOOD, GOOD], **kwargs)
    state = source.state_dict()
    assert state["_growth_tracker"] == 2
    for lazy in (True, False):
        scaler = disttorch.amp.GradScaler("cuda", **kwargs)
        weight = disttorch.zeros(3, device="cuda", requires_grad=True)
        optimizer = disttorch.optim.SGD([weight], lr=0.1)
        if not lazy:  # the scale and tracker already exist on the device
            scaler.scale(weight.sum()).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad()
        scaler.load_state_dict(state)
        scaler.scale(weight.sum()).backward()
        scaler.step(optimizer)
        scaler.update()  # the third clean step in a row: the scale grows
        assert scaler.get_scale() == 2.0 ** 17 and scaler.state_dict()["_growth_tracker"] == 0


def test_update_errors_follow_torch(sim):
    scaler = disttorch.amp.GradScaler("cuda")
    with pytest.raises(AssertionError, match="Attempted update but _scale is None"):
        scaler.update()
    weight = disttorch.zeros(3, device="cuda", requires_grad=True)
    scaler.scale(weight.sum()).backward()
    with pytest.raises(AssertionError, match="No inf checks were recorded prior to update"):
        scaler.update()
    with pytest.raises(AssertionError, match="new_scale should be a float or a 1-element"):
        scaler.update(disttorch.ones(2, device="cuda"))


# ------------------------------------------------------------------ clip_grad_norm_
def _grads(device, values=(3.0, 4.0)):
    params = [disttorch.zeros(2, device=device, requires_grad=True) for _ in values]
    for p, v in zip(params, values):
        p.grad = disttorch.full((2,), v, device=device)
    return params


def test_clip_grad_norm_reads_nothing_back(sim):
    params = _grads("cuda")
    with _simulated.count_host_syncs() as syncs:
        total = nn.utils.clip_grad_norm_(params, 1.0)
    assert syncs["count"] == 0, _report(syncs)
    np.testing.assert_allclose(float(total), math.sqrt(50), rtol=1e-6)
    np.testing.assert_allclose(params[0].grad.cpu().numpy(), 3 / (math.sqrt(50) + 1e-6),
                               rtol=1e-6)


def test_clip_grad_norm_error_if_nonfinite_reads_the_norm(sim):
    params = _grads("cuda")
    with _simulated.count_host_syncs() as syncs:
        nn.utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    assert syncs["count"] == 1, _report(syncs)  # as in torch: the check needs the value
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        nn.utils.clip_grad_norm_(_grads("cuda", (math.inf, 1.0)), 1.0, error_if_nonfinite=True)


@requires_torch
@pytest.mark.parametrize("values,max_norm", [((3.0, 4.0), 1.0), ((0.1, 0.2), 5.0),
                                             ((math.nan, 1.0), 1.0), ((math.inf, 1.0), 1.0)])
def test_clip_grad_norm_on_device_matches_torch(values, max_norm, sim):
    t_params = [torch.zeros(2, requires_grad=True) for _ in values]
    for p, v in zip(t_params, values):
        p.grad = torch.full((2,), v)
    expected = torch.nn.utils.clip_grad_norm_(t_params, max_norm)
    params = _grads("cuda", values)
    total = nn.utils.clip_grad_norm_(params, max_norm)
    assert total.is_cuda
    np.testing.assert_allclose(float(total), float(expected), rtol=1e-6)
    for p, q in zip(params, t_params):
        assert p.grad.is_cuda
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.numpy(), rtol=1e-6)


def test_clip_grads_with_norm_takes_a_tensor_or_a_number(sim):
    for total in (disttorch.tensor(10.0, device="cuda"), 10.0, disttorch.tensor(10.0)):
        params = _grads("cuda")
        nn.utils.clip_grads_with_norm_(params, 1.0, total)
        assert params[0].grad.is_cuda
        np.testing.assert_allclose(params[0].grad.cpu().numpy(), 3 / (10 + 1e-6), rtol=1e-6)


# ------------------------------------------------------------------ indexing ops
def _index_cases(device):
    """name -> fn(x) for a (2, 3) float tensor ``x``; the index tensors are made here, before
    any counting (uploading host data is a synchronisation of its own)."""
    def idx(*values):
        return disttorch.tensor(list(values), device=device)
    i_gather, i_scatter, i_value = idx([0, 2], [1, 1]), idx([0, 2], [1, 0]), idx([1, 0, 1])
    i_add, i_select, i_rows = idx([0, 0], [2, 2]), idx(2, 0, 2), idx(1, 1)
    i_copy, i_fill, i_reduce = idx(2, 0, 1), idx(0, 2), idx(1, 0)
    i_take, i_along, i_put = idx(5, 0, -1), idx([2, 0, 1], [0, 0, 0]), idx(0, 4)
    return {
        "gather": lambda x: disttorch.gather(x, 1, i_gather),
        "scatter": lambda x: x.scatter(1, i_scatter, x[:, :2] * 2),
        "scatter_value": lambda x: x.scatter(0, i_value, 5.0),
        "scatter_add": lambda x: x.scatter_add(1, i_add, x[:, :2]),
        "scatter_reduce": lambda x: x.scatter_reduce(1, i_add, x[:, :2], "amax"),
        "scatter_reduce_add": lambda x: x.scatter(1, i_add, x[:, :2], reduce="add"),
        "index_select": lambda x: disttorch.index_select(x, 1, i_select),
        "index_add": lambda x: x.index_add(0, i_rows, x * 3),
        "index_copy": lambda x: x.index_copy(1, i_copy, x * 3),
        "index_fill": lambda x: x.index_fill(1, i_fill, -1.0),
        "index_reduce": lambda x: x.index_reduce(0, i_reduce, x * 2, "amax"),
        "take": lambda x: disttorch.take(x, i_take),
        "take_along_dim": lambda x: disttorch.take_along_dim(x, i_along, 1),
        "put": lambda x: x.put(i_put, x[0, :2] * 2),
        "masked_scatter": lambda x: x.masked_scatter(x > 0.4, x.flip(0) * 10),
        "sort": lambda x: disttorch.sort(x, 1)[0],
        "topk": lambda x: disttorch.topk(x, 2, 1)[0],
    }


def _index_run(name, device, data):
    fn = _index_cases(device)[name]
    x = disttorch.tensor(data, device=device, requires_grad=True)
    weight = disttorch.arange(1.0, 7.0, device=device)
    with _simulated.count_host_syncs() as syncs:
        out = fn(x)
        (out.reshape(-1) * weight[:out.numel()]).sum().backward()
    return out, x.grad, syncs


@pytest.mark.parametrize("name", sorted(_index_cases("cpu")))
def test_indexing_ops_read_nothing_back(name, sim):
    data = np.random.default_rng(0).random((2, 3)).astype(np.float32)
    out, grad, syncs = _index_run(name, "cuda", data)
    assert syncs["count"] == 0, _report(syncs)
    assert out.is_cuda and grad.is_cuda
    expected, expected_grad, _ = _index_run(name, "cpu", data)
    np.testing.assert_allclose(out.detach().cpu().numpy(), expected.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(grad.cpu().numpy(), expected_grad.numpy(), rtol=1e-6)


def test_cpu_index_checks_keep_torch_messages():
    x = disttorch.arange(6.0).reshape(2, 3)
    with pytest.raises(RuntimeError, match="index 3 is out of bounds for dimension 1 with size 3"):
        disttorch.gather(x, 1, disttorch.tensor([[3]]))
    with pytest.raises(RuntimeError, match="index 5 is out of bounds for dimension 0 with size 2"):
        x.scatter(0, disttorch.tensor([[5]]), 1.0)
    with pytest.raises(IndexError, match="index out of range in self"):
        disttorch.index_select(x, 0, disttorch.tensor([2]))
    with pytest.raises(IndexError, match="index out of range in self"):
        x.index_add(1, disttorch.tensor([3]), disttorch.ones(2, 1))
    with pytest.raises(IndexError, match="out of range: tried to access index 6 on a tensor of 6"):
        disttorch.take(x, disttorch.tensor([6]))
    with pytest.raises(RuntimeError, match="expected source to have at least as many elements"):
        x.masked_scatter(x > 0, disttorch.ones(2))


def test_cpu_scalar_tensor_in_device_op_reads_nothing_back(sim):
    x = disttorch.ones(3, device="cuda", requires_grad=True)
    s = disttorch.tensor(2.0)
    with _simulated.count_host_syncs() as syncs:
        (x * s + disttorch.maximum(x, s)).sum().backward()
    assert syncs["count"] == 0, _report(syncs)


# ------------------------------------------------------------------ whole training steps
class _TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(16, 50)

    def forward(self, tokens):
        mask = nn.Transformer.generate_square_subsequent_mask(tokens.shape[1], device=tokens.device)
        return self.head(self.encoder(self.embed(tokens), mask=mask, is_causal=True))


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                         nn.Flatten(), nn.Linear(32, 5))


class _LSTMTagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.EmbeddingBag(20, 8, mode="mean")
        self.lstm = nn.LSTM(8, 6, num_layers=2, batch_first=True)
        self.head = nn.Linear(6, 5)

    def forward(self, bags):
        features = self.embed(bags.reshape(-1, 3)).reshape(2, 4, 8)
        return self.head(self.lstm(features)[0])


def _upsampler():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.SiLU(),
                         nn.Upsample(scale_factor=2, mode="bilinear"), nn.Flatten(),
                         nn.Linear(4 * 16 * 16, 5))


# model, input maker, target maker
_STEP_MODELS = {
    "lm": (_TinyLM, lambda: disttorch.randint(0, 50, (3, 7)), lambda: disttorch.randint(0, 50, (21,))),
    "cnn": (_cnn, lambda: disttorch.randn(2, 1, 8, 8), lambda: disttorch.randint(0, 5, (2,))),
    "lstm": (_LSTMTagger, lambda: disttorch.randint(0, 20, (2, 4, 3)),
             lambda: disttorch.randint(0, 5, (8,))),
    "upsample": (_upsampler, lambda: disttorch.randn(2, 1, 8, 8),
                 lambda: disttorch.randint(0, 5, (2,))),
    "avgpool": (lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1),
                                      nn.AvgPool2d(3, stride=2, padding=1, divisor_override=4),
                                      nn.Flatten(), nn.Linear(4 * 4 * 4, 5)),
                lambda: disttorch.randn(2, 1, 8, 8), lambda: disttorch.randint(0, 5, (2,))),
}


@pytest.mark.parametrize("kind", sorted(_STEP_MODELS))
def test_training_step_reads_nothing_back(kind, sim):
    disttorch.manual_seed(0)
    make_model, make_x, make_y = _STEP_MODELS[kind]
    model, x, y = make_model().to("cuda"), make_x().to("cuda"), make_y().to("cuda")
    optimizer = disttorch.optim.AdamW(model.parameters())

    def step():
        optimizer.zero_grad(set_to_none=True)
        out = model(x)
        F.cross_entropy(out.reshape(-1, out.shape[-1]), y).backward()
        optimizer.step()

    step()  # the first step makes the optimizer state
    with _simulated.count_host_syncs() as syncs:
        step()
    assert syncs["count"] == 0, _report(syncs)


@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits",
                                  "mse_loss", "smooth_l1_loss", "huber_loss", "cross_entropy"])
def test_losses_read_nothing_back(name, sim):
    # binary_cross_entropy's range check of its input runs on the device (raised at the next
    # host read, as PyTorch's device-side assert is)
    x = disttorch.rand(4, 3, device="cuda", requires_grad=True)
    t = disttorch.rand(4, 3, device="cuda")
    args = (x, disttorch.tensor([0, 2, 1, 0], device="cuda")) if name == "cross_entropy" else (x, t)
    with _simulated.count_host_syncs() as syncs:
        getattr(F, name)(*args).backward()
    assert syncs["count"] == 0, _report(syncs)


@pytest.mark.parametrize("masks", ["key_padding", "bool_attn", "causal_hint"])
def test_masked_attention_reads_nothing_back(masks, sim):
    """Masked multi-head attention (the unfused softmax, with its fully-masked-row handling)
    forward and backward: no boolean-mask indexing, which CuPy sizes on the host."""
    disttorch.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, batch_first=True).to("cuda")
    x = disttorch.randn(2, 5, 8, device="cuda", requires_grad=True)
    pad = disttorch.tensor([[False] * 4 + [True], [False] * 5], device="cuda")
    causal = nn.Transformer.generate_square_subsequent_mask(5, device="cuda")
    kwargs = {"key_padding": {"key_padding_mask": pad},
              "bool_attn": {"attn_mask": disttorch.ones(5, 5, dtype=disttorch.bool,
                                                        device="cuda").triu(1)},
              "causal_hint": {"attn_mask": causal, "is_causal": True}}[masks]
    mha(x, x, x, need_weights=False, **kwargs)   # (first calls build device constants)
    with _simulated.count_host_syncs() as syncs:
        out, _ = mha(x, x, x, need_weights=False, **kwargs)
        out.sum().backward()
    assert syncs["count"] == 0, _report(syncs)
