"""The ``device`` fixture of the CUDA tests: a real GPU when present, and the simulated device.

``cuda`` runs on the GPU through CuPy and skips on machines without one; ``cuda-sim`` runs the
same cases on :mod:`disttorch.cuda._simulated`, so device-mixing bugs and numpy-only calls in GPU
paths fail on CPU-only machines too. Modules that test the fused kernels' values add
``cuda-emu`` (:data:`WITH_EMULATOR`): the simulated device with each fused kernel run by the CPU
emulator (:mod:`disttorch.cuda._kernel_emulator`).
"""
import pytest

import disttorch
from disttorch import _backend
from disttorch.cuda import _kernel_emulator, _simulated


def real_cuda_available():
    module = _backend.cupy_module()
    return module is not None and _backend.is_real_cupy(module) and disttorch.cuda.is_available()


NO_GPU = ("no CUDA device: CuPy is not installed or there is no NVIDIA GPU/driver on this machine "
          "(the cuda-sim cases run these checks on the simulated device)")


WITH_EMULATOR = ["cuda", "cuda-sim", "cuda-emu"]
# ``cuda-sim-second``: the second of two simulated devices while device 0 stays current. Every
# op must run on its inputs' device and leave its results there, as in PyTorch; the simulated
# devices refuse an array of another device, as CuPy does between GPUs without peer access.
WITH_SECOND_DEVICE = WITH_EMULATOR + ["cuda-sim-second"]


def on_device(kind):
    """Yield the device string with ``kind`` (``cuda``, ``cuda-sim``, ``cuda-emu`` or
    ``cuda-sim-second``) behind it."""
    if kind == "cuda":
        if not real_cuda_available():
            pytest.skip(NO_GPU)
        yield "cuda"
        return
    if kind == "cuda-sim-second":
        with _simulated.simulate(device_count=2):
            yield "cuda:1"
        return
    if kind == "cuda-emu" and not _kernel_emulator.available():
        pytest.skip("no C++ compiler to run the fused kernels on the CPU emulator")
    with _simulated.simulate(fused_kernels="run" if kind == "cuda-emu" else False):
        yield "cuda"


@pytest.fixture(params=["cuda", "cuda-sim"])
def device(request):
    """``"cuda"`` on the real GPU or, for ``cuda-sim``, on the simulated device."""
    yield from on_device(request.param)
