"""Whole training steps on CUDA equal the same steps on the CPU (modules, losses, optimizers)."""
import contextlib
import copy

import numpy as np
import pytest

import disttorch
import disttorch.nn as nn
import disttorch.nn.functional as F

from .conftest import WITH_SECOND_DEVICE, on_device


@pytest.fixture(params=WITH_SECOND_DEVICE)
def device(request):
    """Also ``cuda-emu``: the same steps with the fused kernels run by the CPU emulator."""
    yield from on_device(request.param)


def _mlp():
    return nn.Sequential(nn.Linear(20, 32), nn.GELU(), nn.Linear(32, 32), nn.ReLU(),
                         nn.Linear(32, 5))


class _CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 8, 3, bias=False)  # a bias before BatchNorm has no gradient
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 2 * 2, 5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.avg_pool2d(F.relu(self.bn(self.conv2(x))), 2)
        return self.fc(x.flatten(1))


class _TinyLM(nn.Module):
    dropout = 0.0

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(11, 16)
        layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=self.dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.norm = nn.LayerNorm(16)
        self.head = nn.Linear(16, 11)

    def forward(self, tokens):
        mask = nn.Transformer.generate_square_subsequent_mask(tokens.shape[1], device=tokens.device)
        return self.head(self.norm(self.encoder(self.embed(tokens), mask=mask, is_causal=True)))


def _batch(kind, rng):
    if kind == "mlp":
        return rng.standard_normal((8, 20)).astype(np.float32), rng.integers(0, 5, 8)
    if kind == "cnn":
        return rng.standard_normal((4, 1, 12, 12)).astype(np.float32), rng.integers(0, 5, 4)
    tokens = rng.integers(0, 11, (3, 7))
    return tokens, rng.integers(0, 11, (3, 7))


def _loss(kind, model, x, y):
    out = model(x)
    if kind == "lm":
        return F.cross_entropy(out.reshape(-1, 11), y.reshape(-1), label_smoothing=0.1)
    return F.cross_entropy(out, y)


OPTIMIZERS = {
    "sgd": lambda p: disttorch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-4),
    "adam": lambda p: disttorch.optim.Adam(p, lr=1e-2),
    "adamw": lambda p: disttorch.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
}
MODELS = {"mlp": _mlp, "cnn": _CNN, "lm": _TinyLM}


def _train(kind, model, optimizer_name, device, steps=3, around_steps=contextlib.nullcontext):
    model = model.to(device)
    optimizer = OPTIMIZERS[optimizer_name](model.parameters())
    rng = np.random.default_rng(0)
    batches = [[disttorch.from_numpy(a).to(device) for a in _batch(kind, rng)]
               for _ in range(steps)]
    losses = []
    with around_steps():
        for x, y in batches:
            optimizer.zero_grad()
            loss = _loss(kind, model, x, y)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
    return model, losses


@pytest.mark.parametrize("optimizer_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_training_steps_match_cpu(kind, optimizer_name, device):
    disttorch.manual_seed(0)
    model = MODELS[kind]()
    on_cpu, cpu_losses = _train(kind, copy.deepcopy(model), optimizer_name, "cpu")
    on_device, device_losses = _train(kind, model, optimizer_name, device)
    for c, d in zip(cpu_losses, device_losses):
        assert d.is_cuda
        np.testing.assert_allclose(d.cpu().numpy(), c.numpy(), rtol=1e-4, atol=1e-5)
    cpu_state = on_cpu.state_dict()
    for name, value in on_device.state_dict().items():
        assert value.is_cuda, f"{name} is on {value.device}"
        ours, cpu = value.cpu().numpy().copy(), cpu_state[name].numpy().copy()
        noise = _ZERO_GRADIENT.get((kind, name))
        if noise is not None and optimizer_name.startswith("adam"):
            # the true gradient here is zero, so each device's is rounding noise, and Adam
            # scales noise up to steps of lr: these move by at most lr per step, and alike only
            # in that; every other element is compared as closely as the rest
            lr = 1e-2
            np.testing.assert_allclose(ours[noise], cpu[noise], atol=2 * 3 * lr, err_msg=name)
            ours[noise] = cpu[noise] = 0
        np.testing.assert_allclose(ours, cpu, rtol=1e-3, atol=1e-4, err_msg=name)


# Elements whose gradient is zero up to rounding: the key bias of attention (softmax ignores
# what every score of a row shares).
_ZERO_GRADIENT = {("lm", f"encoder.layers.{i}.self_attn.in_proj_bias"): slice(16, 32)
                  for i in range(2)}


class _DropoutLM(_TinyLM):
    dropout = 0.1


@pytest.mark.parametrize("kind,optimizer_name", [("mlp", "sgd"), ("cnn", "adam"), ("lm", "adamw"),
                                                 ("lm-dropout", "adam")])
def test_training_step_never_waits_for_the_device(kind, optimizer_name):
    """A training step reads nothing back from the device (no ``.item()``, ``bool()``...)."""
    from disttorch.cuda import _simulated
    with _simulated.simulate():
        disttorch.manual_seed(0)
        model = (_DropoutLM() if kind == "lm-dropout" else MODELS[kind]()).to("cuda")
        kind = kind.split("-")[0]
        _train(kind, model, optimizer_name, "cuda", steps=1)
        captured = {}

        @contextlib.contextmanager
        def counting():
            with _simulated.count_host_syncs() as syncs:
                captured["syncs"] = syncs
                yield
        _train(kind, model, optimizer_name, "cuda", steps=2, around_steps=counting)
    syncs = captured["syncs"]
    assert syncs["count"] == 0, "host synchronisations in the training step:\n" + \
        "\n".join(syncs["where"])


def test_ddp_one_rank_on_device_matches_plain_training(device):
    """DDP's buckets (pack, all-reduce, unpack) with CUDA gradients, over MPI in one process."""
    import disttorch.distributed as dist
    pytest.importorskip("mpi4py", reason="DDP's process group runs over MPI (mpi4py)")
    dist.init_process_group("gloo")
    try:
        disttorch.manual_seed(0)
        model = _mlp()
        plain, _ = _train("mlp", copy.deepcopy(model), "sgd", device)
        ddp = disttorch.nn.parallel.DistributedDataParallel(model.to(device),
                                                            bucket_cap_mb=0.001)
        wrapped, _ = _train("mlp", ddp, "sgd", device)
    finally:
        dist.destroy_process_group()
    for (name, a), b in zip(plain.state_dict().items(), wrapped.module.state_dict().values()):
        assert b.is_cuda
        np.testing.assert_allclose(b.cpu().numpy(), a.cpu().numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=name)
