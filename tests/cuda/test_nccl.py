"""The ``nccl`` backend: argument checks everywhere, collectives on a real GPU (one rank)."""
import numpy as np
import pytest

import disttorch
import disttorch.distributed as dist
from disttorch.distributed import backend_nccl
from disttorch.distributed.process_group import ReduceOp

from .conftest import NO_GPU, real_cuda_available


def test_nccl_unavailable_without_a_gpu_says_so():
    if backend_nccl.nccl_available():
        pytest.skip("this machine has a GPU with NCCL")
    assert dist.is_nccl_available() is False
    with pytest.raises(RuntimeError, match="backend 'nccl' needs CuPy and a CUDA GPU"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()


def test_simulated_device_is_not_nccl(device):
    if real_cuda_available():
        pytest.skip("checks the simulated device")
    assert dist.is_nccl_available() is False


def test_reduce_op_and_dtype_mapping():
    floats, flags = np.zeros(2, np.float32), np.zeros(2, np.bool_)
    assert backend_nccl._nccl_op(ReduceOp.AVG, floats) == 4
    assert backend_nccl._nccl_op(ReduceOp.SUM, flags) == 2  # logical or, as max over uint8
    assert backend_nccl._nccl_op(ReduceOp.PRODUCT, flags) == 3
    with pytest.raises(ValueError, match="Cannot use ReduceOp.BAND with NCCL"):
        backend_nccl._nccl_op(ReduceOp.BAND, np.zeros(2, np.int64))
    assert backend_nccl._nccl_dtype(floats) == 7
    with pytest.raises(TypeError, match="NCCL does not support tensors of dtype complex64"):
        backend_nccl._nccl_dtype(np.zeros(2, np.complex64))


def test_cpu_tensors_are_refused():
    with pytest.raises(ValueError, match="Tensors must be CUDA and dense"):
        backend_nccl._device_data(disttorch.ones(2), "all_reduce")


@pytest.fixture
def nccl_group():
    if not real_cuda_available():
        pytest.skip(NO_GPU)
    if not dist.is_nccl_available():
        pytest.skip("CuPy has no NCCL bindings on this machine (pip install nvidia-nccl-cu12)")
    pytest.importorskip("mpi4py", reason="the nccl backend bootstraps through MPI (mpi4py)")
    disttorch.cuda.set_device(0)
    dist.init_process_group("nccl")
    yield dist.get_default_group()
    dist.destroy_process_group()


def test_one_rank_collectives(nccl_group):
    x = disttorch.arange(6.0, device="cuda")
    dist.all_reduce(x)
    np.testing.assert_array_equal(x.cpu().numpy(), np.arange(6.0))
    work = dist.all_reduce(x, op=dist.ReduceOp.AVG, async_op=True)
    work.wait()
    dist.broadcast(x, src=0)
    gathered = [disttorch.zeros(6, device="cuda")]
    dist.all_gather(gathered, x)
    np.testing.assert_array_equal(gathered[0].cpu().numpy(), np.arange(6.0))
    out = disttorch.zeros(6, device="cuda")
    dist.reduce_scatter_tensor(out, x)
    np.testing.assert_array_equal(out.cpu().numpy(), np.arange(6.0))
    flags = disttorch.tensor([True, False], device="cuda")
    dist.all_reduce(flags)
    assert flags.cpu().tolist() == [True, False]
    dist.barrier()
    assert dist.get_backend() == "nccl"


def test_ddp_step_on_nccl(nccl_group):
    model = disttorch.nn.Linear(4, 3).cuda()
    ddp = disttorch.nn.parallel.DistributedDataParallel(model)
    x = disttorch.randn(5, 4, device="cuda")
    ddp(x).sum().backward()
    expected = disttorch.ones(5, 3).t() @ x.cpu()
    np.testing.assert_allclose(model.weight.grad.cpu().numpy(), expected.numpy(), rtol=1e-5)
