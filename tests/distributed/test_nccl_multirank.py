"""The ``nccl`` backend with several ranks, on machines without GPUs: each rank on a simulated
GPU of its own, the collectives run between the processes by a stand-in NCCL over MPI
(``workers/nccl_sim.py``), which holds the backend to NCCL's contract (counts, roots and peers
as communicator ranks, one GPU per rank, the same calls on every rank)."""
import pytest


@pytest.fixture
def sim_env(tmp_path):
    return {"DISTTORCH_NCCL_SIM_DIR": str(tmp_path)}


@pytest.mark.parametrize("n", [1, 2, 3])
def test_every_collective_matches_numpy(mpirun, sim_env, n):
    proc = mpirun("collectives.py", n, "nccl", env=sim_env)
    assert proc.stdout.count("all collectives ok") == n


@pytest.mark.parametrize("case,n", [("sgd", 2), ("adam", 3), ("no_sync", 2), ("unused", 2),
                                    ("fp16", 2), ("overlap", 2), ("join", 2), ("script", 2),
                                    ("syncbn", 3), ("zero", 3)])
def test_ddp_equals_single_process(mpirun, sim_env, case, n):
    proc = mpirun("ddp.py", n, case, "nccl", env=sim_env)
    assert proc.stdout.count(f" {case} ok") == n, proc.stdout


def test_collectives_on_each_ranks_device_without_set_device(mpirun, sim_env):
    proc = mpirun("collectives.py", 2, "nccl-to-rank", env=sim_env)
    assert proc.stdout.count("all collectives ok") == 2


@pytest.mark.parametrize("case,n", [("adam", 2), ("syncbn", 2), ("zero", 2), ("join", 2)])
def test_ddp_on_each_ranks_device_without_set_device(mpirun, sim_env, case, n):
    # PyTorch's tutorial pattern, model.to(rank) with device 0 current on every rank: the
    # communicator and every op follow the tensors to cuda:RANK
    proc = mpirun("ddp.py", n, case, "nccl-to-rank", env=sim_env)
    assert proc.stdout.count(f" {case} ok") == n, proc.stdout


@pytest.mark.parametrize("world", ["nccl", "gloo"])
def test_subgroups_take_a_backend_of_their_own(mpirun, sim_env, world):
    proc = mpirun("mixed_backends.py", 2, world, env=sim_env)
    assert proc.stdout.count("mixed backends ok") == 2, proc.stdout


def test_ranks_sharing_a_gpu_are_told_to_set_the_device(mpirun, sim_env):
    proc = mpirun("nccl_same_device.py", 2, env=sim_env)
    assert proc.stdout.count("refused") == 2, proc.stdout + proc.stderr
