"""``set_default_device`` / ``get_default_device`` and ``with device(...)``: where factory
functions put tensors when given no device, as in PyTorch."""
import numpy as np
import pytest

import disttorch


@pytest.fixture
def restore_default():
    yield
    disttorch.set_default_device(None)


def _made(device):
    """Where each factory puts its tensor."""
    return {
        "zeros": disttorch.zeros(2).device, "ones": disttorch.ones(2).device,
        "empty": disttorch.empty(2).device, "full": disttorch.full((2,), 3.0).device,
        "arange": disttorch.arange(3).device, "linspace": disttorch.linspace(0, 1, 3).device,
        "eye": disttorch.eye(2).device, "tensor": disttorch.tensor([1.0]).device,
        "as_tensor(list)": disttorch.as_tensor([1.0]).device,
        "as_tensor(ndarray)": disttorch.as_tensor(np.ones(2)).device,
        "randn": disttorch.randn(2).device, "rand": disttorch.rand(2).device,
        "randint": disttorch.randint(0, 3, (2,)).device, "randperm": disttorch.randperm(3).device,
        "Linear.weight": disttorch.nn.Linear(2, 2).weight.device,
    }


def test_set_default_device(device, restore_default):
    assert disttorch.get_default_device() == disttorch.device("cpu")
    disttorch.set_default_device(device)
    assert disttorch.get_default_device() == disttorch.device(device)
    made = _made(device)
    assert all(d.type == "cuda" for d in made.values()), made
    # not affected, as in PyTorch: from_numpy shares host memory; *_like follow their input
    assert disttorch.from_numpy(np.ones(2)).device.type == "cpu"
    assert disttorch.zeros_like(disttorch.ones(2, device="cpu")).device.type == "cpu"
    assert disttorch.zeros(2, device="cpu").device.type == "cpu"  # an explicit device wins
    disttorch.set_default_device(None)
    assert disttorch.get_default_device() == disttorch.device("cpu")
    assert all(d.type == "cpu" for d in _made("cpu").values())


def test_device_context_manager(device, restore_default):
    with disttorch.device(device) as dev:
        assert dev == disttorch.device(device)
        assert disttorch.get_default_device() == disttorch.device(device)
        assert disttorch.zeros(1).device.type == "cuda"
        with disttorch.device("cpu"):  # blocks nest
            assert disttorch.zeros(1).device.type == "cpu"
        assert disttorch.randn(1).device.type == "cuda"
    assert disttorch.zeros(1).device.type == "cpu"
    assert disttorch.get_default_device() == disttorch.device("cpu")
