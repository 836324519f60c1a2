"""CUDA tensors handed to and taken from other GPU libraries without a copy:
``__cuda_array_interface__`` and DLPack (real GPU only: the simulated device has no device
memory to share)."""
import pytest

import disttorch
from tests.cuda.conftest import real_cuda_available


@pytest.fixture
def cupy():
    if not real_cuda_available():
        pytest.skip("no CUDA device: sharing device memory needs CuPy and an NVIDIA GPU (the "
                    "simulated device has none)")
    import cupy
    return cupy


def test_cupy_reads_a_cuda_tensor_in_place(cupy):
    t = disttorch.arange(4.0, device="cuda")
    view = cupy.asarray(t)          # through __cuda_array_interface__
    view[0] = 9.0
    assert t[0].item() == 9.0
    with pytest.raises(RuntimeError, match="requires grad"):
        disttorch.ones(2, device="cuda", requires_grad=True).__cuda_array_interface__


def test_dlpack_round_trips_on_the_device(cupy):
    c = cupy.arange(3.0)
    t = disttorch.from_dlpack(c)
    assert t.is_cuda and t.tolist() == [0.0, 1.0, 2.0]
    t[1] = 5.0
    assert float(c[1]) == 5.0
    back = cupy.from_dlpack(t)
    back[2] = 8.0
    assert t[2].item() == 8.0
