"""DistributedDataParallel's small queries in one process (a one-rank MPI group)."""
import pytest

import disttorch
import disttorch.distributed as dist


@pytest.fixture
def one_rank():
    pytest.importorskip("mpi4py", reason="the process group runs over MPI (mpi4py)")
    dist.init_process_group("gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def test_will_sync_module_buffers_and_no_sync(one_rank):
    nn = disttorch.nn
    with_buffers = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    assert nn.parallel.DistributedDataParallel(with_buffers).will_sync_module_buffers()
    assert not nn.parallel.DistributedDataParallel(
        with_buffers, broadcast_buffers=False).will_sync_module_buffers()
    assert not nn.parallel.DistributedDataParallel(nn.Linear(3, 4)).will_sync_module_buffers()
    ddp = nn.parallel.DistributedDataParallel(nn.Linear(3, 4))
    with ddp.no_sync():
        ddp(disttorch.ones(2, 3)).sum().backward()
    assert ddp.module.weight.grad is not None
