"""torch.distributed over MPI: real multi-process runs under mpiexec."""
import pytest

import disttorch
import disttorch.distributed as dist


@pytest.mark.parametrize("n", [1, 2, 3])
def test_every_collective_matches_numpy(mpirun, n):
    proc = mpirun("collectives.py", n)
    assert proc.stdout.count("all collectives ok") == n


def test_timeout_names_the_missing_rank(mpirun):
    proc = mpirun("timeout.py", 3, "2", check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("TIMEOUT")]
    assert lines, proc.stdout + proc.stderr
    assert "allreduce (collective #2)" in lines[0]
    assert "Ranks that had not joined: 1 (last joined collective #1: allreduce)" in lines[0]


def test_monitored_barrier_names_the_missing_rank_within_its_own_timeout(mpirun):
    proc = mpirun("timeout.py", 3, "2", "monitored", check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("TIMEOUT")]
    assert lines, proc.stdout + proc.stderr
    assert "barrier (collective #2)" in lines[0] and "timed out after 2 s" in lines[0]
    assert "Ranks that had not joined: 1 (last joined collective #1: allreduce)" in lines[0]


def test_debug_mode_reports_mismatched_shapes(mpirun):
    proc = mpirun("debug_mismatch.py", 2, env={"TORCH_DISTRIBUTED_DEBUG": "DETAIL"})
    assert "MISMATCH" in proc.stdout
    assert "rank 0 called allreduce with [[[2], '<f4']" in proc.stdout
    assert "rank 1 called allreduce with [[[3], '<f4']" in proc.stdout


def test_api_before_init_and_in_single_process():
    assert dist.is_available() and not dist.is_initialized()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="init_method 'tcp://x:1' is not supported"):
        dist.init_process_group("gloo", init_method="tcp://x:1")
    with pytest.raises(ValueError, match="Invalid backend"):
        dist.init_process_group("bogus")
    assert not dist.is_initialized()


def test_import_does_not_start_mpi():
    import subprocess
    import sys
    code = ("import sys, disttorch, disttorch.distributed; "
            "print('mpi4py.MPI' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
