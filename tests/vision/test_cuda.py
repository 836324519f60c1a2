"""vision on a CUDA device: models, transforms and make_grid keep the device and agree with the
CPU. ``cuda`` runs on a real GPU (skipped without one), ``cuda-sim`` on the simulated device."""
import numpy as np
import pytest

import disttorch
from disttorch import _backend
from disttorch.cuda import _simulated
from disttorch.vision import models, transforms, utils


@pytest.fixture(params=["cuda", "cuda-sim"])
def device(request):
    if request.param == "cuda":
        cupy = _backend.cupy_module()
        if cupy is None or not _backend.is_real_cupy(cupy) or not disttorch.cuda.is_available():
            pytest.skip("no CUDA device: CuPy is not installed or there is no NVIDIA GPU")
        yield "cuda"
        return
    with _simulated.simulate():
        yield "cuda"


@pytest.mark.parametrize("build,size", [
    (lambda: models.ResNet(models.BasicBlock, [1, 1, 1, 1], num_classes=10, cifar_stem=True),
     16),
    # 64 pixels: at 16 the last stages are 1x1, where each batch norm sees two values per
    # channel and the stacked norms amplify float64 rounding to 4e-6 (seen on an H100)
    (lambda: models.ResNet(models.Bottleneck, [1, 1, 1, 1], num_classes=10), 64),
    (lambda: models.MobileNetV2(num_classes=10, width_mult=0.25, dropout=0.0), 16),
], ids=["basic", "bottleneck", "mobilenet"])
def test_training_step_matches_cpu(device, build, size):
    # float64: in float32 a GPU's summation order moves activations by ~1e-6, enough to flip a
    # ReLU mask at a value near zero or, in a batch norm over two values per channel, to be
    # amplified a hundredfold; an element's gradient then differs by its whole size (seen on
    # an H100 and on the kernel emulator, in every layer's forward within 1e-5). The float32
    # fused kernels are checked in tests/cuda (test_kernels, test_training).
    disttorch.manual_seed(0)
    cpu_model = build().double()
    gpu_model = build().double()
    gpu_model.load_state_dict(cpu_model.state_dict())
    gpu_model.to(device)
    x = disttorch.randn(4, 3, size, size, dtype=disttorch.float64)
    y = disttorch.tensor([1, 7, 3, 0])
    grads = []
    for model, dev in ((cpu_model, "cpu"), (gpu_model, device)):
        loss = disttorch.nn.functional.cross_entropy(model(x.to(dev)), y.to(dev))
        loss.backward()
        assert list(model.parameters())[-1].grad.device.type == dev
        grads.append([p.grad.cpu().numpy() for p in model.parameters()])
    for cpu_grad, gpu_grad in zip(*grads):
        np.testing.assert_allclose(gpu_grad, cpu_grad, rtol=1e-6, atol=1e-9)


def test_transforms_and_grid_keep_the_device(device):
    x = disttorch.rand(3, 12, 10)
    pipeline = transforms.Compose([transforms.RandomCrop(8, padding=2),
                                   transforms.RandomHorizontalFlip(),
                                   transforms.Resize((6, 5)), transforms.RandomRotation(20),
                                   transforms.ColorJitter(0.3, 0.3, 0.3, 0.1),
                                   transforms.Normalize((0.5,) * 3, (0.2,) * 3)])
    disttorch.manual_seed(4)
    expected = pipeline(x)
    disttorch.manual_seed(4)
    got = pipeline(x.to(device))
    assert got.device.type == "cuda"
    np.testing.assert_allclose(got.cpu().numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    grid = utils.make_grid(disttorch.rand(3, 3, 4, 4).to(device), nrow=2)
    assert grid.device.type == "cuda" and tuple(grid.shape) == (3, 14, 14)


def test_save_image_from_the_device(device, tmp_path):
    images = disttorch.rand(2, 3, 4, 4)
    utils.save_image(images.to(device), tmp_path / "gpu.png")
    utils.save_image(images, tmp_path / "cpu.png")
    assert (tmp_path / "gpu.png").read_bytes() == (tmp_path / "cpu.png").read_bytes()
