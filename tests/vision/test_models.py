"""vision.models: torchvision's state-dict keys, shapes and parameter counts, outputs equal to
a torch rebuild of torchvision's architecture after loading its ``torch.save`` checkpoint, and
one training step per model."""
import numpy as np
import pytest

import disttorch
from disttorch import nn
from disttorch.vision import models

torch = pytest.importorskip("torch", reason="torch (the oracle) is not installed")
from tests.vision import torchvision_reference as reference  # noqa: E402

# torchvision's documented parameter counts (num_params in its weights' metadata).
TORCHVISION_PARAMS = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
                      "vgg11": 132_863_336, "mobilenet_v2": 3_504_872, "lenet": 61_706}


def _skip_init(tensor, *args, **kwargs):
    return tensor


def _tiled_init(tensor, *args, **kwargs):
    block = np.random.default_rng(0).standard_normal(4099).astype(np.float32) * 0.01
    with disttorch.no_grad():
        tensor.copy_(disttorch.from_numpy(np.resize(block, tuple(tensor.shape))))
    return tensor


def _patch_init(monkeypatch, fill):
    # VGG's 120M-weight classifier takes seconds to initialise properly: tests that overwrite
    # or never read the weights skip it, the training step gets small non-constant weights.
    for name in ("normal_", "uniform_", "kaiming_normal_", "kaiming_uniform_"):
        monkeypatch.setattr(nn.init, name, fill)


@pytest.fixture
def skip_init(monkeypatch):
    _patch_init(monkeypatch, _skip_init)


@pytest.fixture
def tiled_init(monkeypatch):
    _patch_init(monkeypatch, _tiled_init)


@pytest.mark.parametrize("name", sorted(TORCHVISION_PARAMS))
def test_keys_shapes_and_parameter_count_match_torchvision(name, skip_init):
    ours = getattr(models, name)()
    with torch.device("meta"):
        theirs = getattr(reference, name)()
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    assert [tuple(v.shape) for v in ours_sd.values()] == \
           [tuple(v.shape) for v in theirs_sd.values()]
    assert sum(p.numel() for p in ours.parameters()) == TORCHVISION_PARAMS[name]
    assert sum(p.numel() for p in theirs.parameters()) == TORCHVISION_PARAMS[name]


def _randomize_running_stats(model):
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


@pytest.mark.parametrize("name, kwargs, shape", [
    ("resnet18", {}, (2, 3, 32, 32)),
    ("resnet18", {"num_classes": 10, "cifar_stem": True}, (2, 3, 32, 32)),
    ("resnet50", {"num_classes": 7}, (1, 3, 32, 32)),
    ("mobilenet_v2", {"num_classes": 10}, (2, 3, 32, 32)),
    ("lenet", {}, (2, 1, 28, 28)),
])
def test_torch_checkpoint_loads_and_outputs_match(name, kwargs, shape, tmp_path, skip_init):
    torch.manual_seed(0)
    theirs = getattr(reference, name)(**kwargs).eval()
    _randomize_running_stats(theirs)
    path = tmp_path / f"{name}.pt"
    torch.save(theirs.state_dict(), path)
    ours = getattr(models, name)(**kwargs).eval()
    result = ours.load_state_dict(disttorch.load(path))
    assert not result.missing_keys and not result.unexpected_keys
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    with disttorch.no_grad():
        got = ours(disttorch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name, kwargs, shape", [
    ("resnet18", {"num_classes": 10, "cifar_stem": True}, (2, 3, 8, 8)),
    ("resnet34", {"num_classes": 10}, (2, 3, 32, 32)),
    ("resnet50", {"num_classes": 10}, (2, 3, 32, 32)),
    ("vgg11", {"num_classes": 10}, (2, 3, 32, 32)),
    ("mobilenet_v2", {"num_classes": 10}, (2, 3, 32, 32)),
    ("lenet", {}, (4, 1, 28, 28)),
])
def test_output_shape_and_one_training_step(name, kwargs, shape, request):
    if name == "vgg11":
        request.getfixturevalue("tiled_init")
    disttorch.manual_seed(0)
    model = getattr(models, name)(**kwargs)
    optimizer = disttorch.optim.SGD(model.parameters(), lr=0.01)
    x = disttorch.randn(*shape)
    target = disttorch.randint(0, 10, (shape[0],))
    out = model(x)
    assert tuple(out.shape) == (shape[0], 10)
    loss = nn.functional.cross_entropy(out, target)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer.zero_grad()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    optimizer.step()
    assert np.isfinite(loss.item())
    changed = sum(not disttorch.equal(a, p) for a, p in zip(before, model.parameters()))
    assert changed == len(before)


@pytest.mark.parametrize("name, kwargs, shape", [
    ("resnet18", {"num_classes": 10, "cifar_stem": True}, (2, 3, 16, 16)),
    ("mobilenet_v2", {"num_classes": 10, "dropout": 0.0}, (4, 3, 64, 64)),
    ("lenet", {}, (3, 1, 28, 28)),
])
def test_training_step_matches_torch(name, kwargs, shape):
    # float64, and MobileNet at 64x64: batch norm over the few values per channel of its last
    # stages (2 at 2x3x32x32) amplifies rounding differences without bound
    torch.manual_seed(0)
    theirs = getattr(reference, name)(**kwargs).double()
    ours = getattr(models, name)(**kwargs).double()
    ours.load_state_dict({k: disttorch.from_numpy(v.numpy().copy())
                          for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    y = rng.integers(0, 10, shape[0])
    results = []
    for lib, model in ((torch, theirs), (disttorch, ours)):
        optimizer = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss = lib.nn.functional.cross_entropy(model(lib.from_numpy(x)), lib.from_numpy(y))
        loss.backward()
        grads = {k: p.grad.numpy().copy() for k, p in model.named_parameters()}
        optimizer.step()
        state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
        results.append((loss.item(), grads, state))
    (loss_t, grads_t, state_t), (loss_d, grads_d, state_d) = results
    assert loss_d == pytest.approx(loss_t, rel=1e-7)
    for k in grads_t:
        np.testing.assert_allclose(grads_d[k], grads_t[k], rtol=1e-5, atol=1e-8, err_msg=k)
    for k in state_t:
        np.testing.assert_allclose(state_d[k], state_t[k], rtol=1e-6, atol=1e-9, err_msg=k)


def test_zero_init_residual_starts_blocks_as_identity():
    model = models.resnet18(zero_init_residual=True)
    assert all(float(block.bn2.weight.abs().sum()) == 0
               for layer in (model.layer1, model.layer4) for block in layer)


def test_pretrained_weights_are_refused_with_the_way_out():
    with pytest.raises(ValueError, match="cannot download.*load_state_dict"):
        models.resnet18(weights="IMAGENET1K_V1")
    with pytest.warns(UserWarning, match="'pretrained' is deprecated"):
        with pytest.raises(ValueError, match="cannot download"):
            models.mobilenet_v2(pretrained=True)
    with pytest.warns(UserWarning, match="'pretrained' is deprecated"):
        assert models.lenet().fc3.out_features == models.resnet18(
            pretrained=False, num_classes=10).fc.out_features


def test_real_torchvision_checkpoint_loads(tmp_path):
    torchvision = pytest.importorskip(
        "torchvision", reason="torchvision is not installed (it needs another torch version)")
    theirs = torchvision.models.resnet18(num_classes=10).eval()
    torch.save(theirs.state_dict(), tmp_path / "resnet18.pt")
    ours = models.resnet18(num_classes=10).eval()
    ours.load_state_dict(disttorch.load(tmp_path / "resnet18.pt"))
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    with disttorch.no_grad():
        got = ours(disttorch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_list_and_get_model():
    names = models.list_models()
    assert {"lenet", "mobilenet_v2", "resnet18", "resnet50", "vgg11", "vgg16_bn"} <= set(names)
    assert "ResNet" not in names
    assert models.get_model("resnet18", num_classes=3).fc.out_features == 3
    with pytest.raises(ValueError, match="Unknown model 'alexnet'"):
        models.get_model("alexnet")
