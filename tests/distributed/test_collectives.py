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
    with pytest.raises(RuntimeError, match="No rendezvous handler for foo://"):
        dist.init_process_group("gloo", init_method="foo://x:1")
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


@pytest.mark.parametrize("n", [2, 3])
def test_batched_point_to_point_objects_and_subgroups(mpirun, n):
    proc = mpirun("p2p_subgroups.py", n)
    assert proc.stdout.count("p2p ok") == n


def test_point_to_point_and_subgroup_argument_errors(monkeypatch):
    with pytest.raises(ValueError, match="Expected ``op`` to be of type"):
        dist.P2POp(dist.send, disttorch.ones(1), 0)
    with pytest.raises(ValueError, match="Exactly one of peer and group_peer"):
        dist.P2POp(dist.isend, disttorch.ones(1))
    with pytest.raises(ValueError, match="Each op is expected to to be of type"):
        dist.batch_isend_irecv([])
    with pytest.raises(ValueError, match="Each op is expected to to be of type"):
        dist.batch_isend_irecv([dist.isend])
    with pytest.raises(ValueError, match="The arg 'ranks_per_subgroup_list' cannot be empty"):
        dist.new_subgroups_by_enumeration([])
    with pytest.raises(ValueError, match=r"Rank 1 has appeared in both subgroup \[0, 1\] and "
                                         r"\[1, 2\]"):
        dist.new_subgroups_by_enumeration([[0, 1], [1, 2]])
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    with pytest.raises(RuntimeError, match="LOCAL_RANK is not in the environment"):
        dist.get_node_local_rank()
    assert dist.get_node_local_rank(fallback_rank=3) == 3
    monkeypatch.setenv("LOCAL_RANK", "2")
    assert dist.get_node_local_rank(fallback_rank=3) == 2
    assert dist.is_backend_available("gloo") and dist.is_backend_available("MPI")
    assert not dist.is_backend_available("bogus")
    assert dist.get_default_backend_for_device("cpu") == "gloo"
    assert dist.get_default_backend_for_device(disttorch.device("cuda", 0)) == "nccl"
    with pytest.raises(ValueError, match="Default backend not registered for device : meta"):
        dist.get_default_backend_for_device("meta")


@pytest.mark.filterwarnings("ignore")
def test_new_subgroups_checks_against_torch(monkeypatch):
    # a world of one: the size checks run before any group is made
    dist.init_process_group("gloo")
    try:
        with pytest.raises(ValueError, match=r"The arg 'group_size' \(0\) must be positive"):
            dist.new_subgroups(group_size=0)
        with pytest.raises(ValueError, match=r"must not exceed the world size \(1\)"):
            dist.new_subgroups(group_size=2)
        mine, groups = dist.new_subgroups(group_size=1)
        assert dist.get_process_group_ranks(mine) == [0] and len(groups) == 1
    finally:
        dist.destroy_process_group()


def test_debug_level_follows_the_environment_and_setters(monkeypatch):
    previous = dist.get_debug_level()
    try:
        monkeypatch.setenv("TORCH_DISTRIBUTED_DEBUG", "info")
        dist.set_debug_level_from_env()
        assert dist.get_debug_level() is dist.DebugLevel.INFO
        dist.set_debug_level(dist.DebugLevel.DETAIL)
        assert dist.get_debug_level() == 2
        monkeypatch.setenv("TORCH_DISTRIBUTED_DEBUG", "bogus")
        with pytest.raises(ValueError, match="must be OFF, INFO, or DETAIL"):
            dist.set_debug_level_from_env()
        assert list(dist.DebugLevel.__members__) == ["OFF", "INFO", "DETAIL"]
    finally:
        dist.set_debug_level(previous)


def test_debug_level_set_in_code_turns_on_argument_checks(mpirun):
    # the DETAIL checks of test_debug_mode_reports_mismatched_shapes, asked for in code
    proc = mpirun("debug_mismatch.py", 2, "set-in-code")
    assert "rank 0 called allreduce with [[[2], '<f4']" in proc.stdout
    # (without DETAIL the mismatched all_reduce is not checked at all)
    assert "MISMATCH" not in mpirun("debug_mismatch.py", 2).stdout


def test_breakpoint_stops_one_rank_after_skipping(tmp_path):
    import os
    import subprocess
    import sys
    from tests.distributed.conftest import WORKERS, _mpiexec
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root, OMP_NUM_THREADS="1")
    proc = subprocess.run([_mpiexec(), "-n", "2", sys.executable,
                           os.path.join(WORKERS, "breakpoint.py")],
                          input="up\np secret + 1\nc\n", capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # one stop (the third pass), on rank 0, whose caller's frame is one 'up' away
    assert proc.stdout.count("!!! ATTENTION !!!") == 1
    assert "\n(Pdb) 42\n" in proc.stdout or "(Pdb) 42" in proc.stdout, proc.stdout
    assert "rank 0 passed" in proc.stdout and "rank 1 passed" in proc.stdout


def test_small_distributed_queries():
    assert dist.supports_complex(dist.ReduceOp.SUM) and dist.supports_complex(dist.ReduceOp.AVG)
    assert not any(dist.supports_complex(op) for op in (
        dist.ReduceOp.MAX, dist.ReduceOp.MIN, dist.ReduceOp.PRODUCT, dist.ReduceOp.BAND,
        dist.ReduceOp.BOR, dist.ReduceOp.BXOR))
    assert not dist.is_ucc_available() and not dist.is_xccl_available()
    dist.init_process_group("gloo")
    try:
        assert dist.get_backend_config() == "cpu:gloo,cuda:gloo"
    finally:
        dist.destroy_process_group()
