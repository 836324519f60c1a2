"""End-to-end runs of disttorch-run on one node."""

import importlib.util
import os
import re
import signal
import time

import numpy as np
import pytest

from launcher import procs
from tests.launcher.conftest import script

# Real MPI jobs: deselect with -m 'not mpi' for a quick run.
pytestmark = pytest.mark.mpi


def parse_env_lines(out):
    ranks = {}
    for line in out.splitlines():
        match = re.match(r"\[rank(\d+)\]: env (.*)", line)
        if match:
            ranks[int(match.group(1))] = dict(item.split("=", 1) for item in match.group(2).split())
    return ranks


@pytest.mark.parametrize("nproc", [2, 3])
def test_workers_form_one_mpi_world_with_torchrun_environment(launcher, nproc):
    code, out, err = launcher.run("--nproc-per-node", nproc, "--max-restarts", 2, script("world.py"))
    assert code == 0, err
    ranks = parse_env_lines(out)
    assert sorted(ranks) == list(range(nproc))
    for rank, env in ranks.items():
        assert env["RANK"] == env["LOCAL_RANK"] == str(rank)
        assert env["WORLD_SIZE"] == env["LOCAL_WORLD_SIZE"] == str(nproc)
        assert env["GROUP_RANK"] == "0"
        assert env["MASTER_ADDR"] == "127.0.0.1" and env["MASTER_PORT"].isdigit()
        assert env["TORCHELASTIC_RESTART_COUNT"] == "0" and env["TORCHELASTIC_MAX_RESTARTS"] == "2"
        assert env["OMP_NUM_THREADS"] == "1"
    assert f"[rank0]: mpi rank=0 size={nproc} sum={nproc * (nproc + 1) // 2}" in out
    assert "OMP_NUM_THREADS=1" in err


def test_user_thread_setting_is_kept(launcher):
    code, out, err = launcher.run("--nproc_per_node", 2, script("world.py"), env={"OMP_NUM_THREADS": 2})
    assert code == 0, err
    assert all(env["OMP_NUM_THREADS"] == "2" for env in parse_env_lines(out).values())
    assert "setting OMP_NUM_THREADS" not in err


def expected_weights(steps):
    """Full-batch gradient descent in one process: what data-parallel training must give."""
    spec = importlib.util.spec_from_file_location("train_linear", script("train_linear.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    inputs, targets = module.make_data()
    features = np.hstack([inputs, np.ones((module.BATCH, 1))])
    weights = np.zeros(5)
    for _ in range(steps):
        weights = weights - module.LEARNING_RATE * features.T @ (features @ weights - targets) * (2.0 / module.BATCH)
    return weights


def final_weights(out):
    line = next(line for line in out.splitlines() if "final weights" in line)
    return np.array([float(value) for value in line.split("final weights")[1].split()])


def test_data_parallel_sgd_matches_single_process(launcher, tmp_path):
    code, out, err = launcher.run("--nproc-per-node", 2, script("train_linear.py"), tmp_path, 20)
    assert code == 0, err
    np.testing.assert_allclose(final_weights(out), expected_weights(20), rtol=1e-9, atol=1e-9)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fault, how", [("exit", "exit code 1"), ("kill", "signal 9 (SIGKILL)")])
def test_crash_is_reported_and_group_restarts_from_checkpoint(launcher, tmp_path, fault, how):
    code, out, err = launcher.run(
        "--nproc-per-node", 2, "--max-restarts", 1, script("train_linear.py"), tmp_path, 20,
        env={"FAULT": fault, "FAULT_RANK": 1, "FAULT_STEP": 5})
    assert code == 0, err
    assert f"rank 1 (host {os.uname().nodename}) failed first: {how}" in err
    assert "injecting fault" in err.split("failed first")[1]  # the tail of its output
    assert "restarting the worker group (restart 1 of 1)" in err
    assert "[rank0]: resuming from step 5" in out
    np.testing.assert_allclose(final_weights(out), expected_weights(20), rtol=1e-9, atol=1e-9)


@pytest.mark.timeout(60)
def test_failure_without_restarts_left_exits_non_zero(launcher, tmp_path):
    code, out, err = launcher.run("--nproc-per-node", 2, script("train_linear.py"), tmp_path, 20,
                                  env={"FAULT": "exit", "FAULT_RANK": 0, "FAULT_STEP": 2})
    assert code == 1
    assert "rank 0" in err and "failed first: exit code 1" in err
    assert "restarting" not in err


@pytest.mark.timeout(60)
def test_hang_is_detected_with_rank_step_and_collective(launcher, tmp_path):
    code, out, err = launcher.run(
        "--nproc-per-node", 2, "--max-restarts", 1, "--hang-timeout", 3, "--heartbeat-interval", 0.2,
        script("train_linear.py"), tmp_path, 20, env={"FAULT": "hang", "FAULT_RANK": 1, "FAULT_STEP": 5})
    assert code == 0, err
    assert re.search(r"rank 1 \(host .*\) hung: no progress for [\d.]+ s \(hang timeout 3 s\); "
                     r"last seen at epoch 0, step 5", err), err
    assert re.search(r"rank 0 also stuck .* inside collective 'allreduce'", err), err
    np.testing.assert_allclose(final_weights(out), expected_weights(20), rtol=1e-9, atol=1e-9)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_launcher_leaves_no_process_or_shm(launcher, signum):
    shm_before = procs.shm_snapshot()
    proc = launcher.start("--nproc-per-node", 2, script("slow_progress.py"))
    deadline = time.monotonic() + 30
    seen = b""
    while b"started" not in seen and time.monotonic() < deadline:
        seen += os.read(proc.stdout.fileno(), 4096)
    assert len(launcher.leftovers()) >= 5  # launcher, mpiexec, proxy, 2 supervisors, 2 workers
    proc.send_signal(signum)
    proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum
    assert launcher.leftovers() == []
    assert procs.remove_leaked_shm(shm_before, launcher.started_at) == []


def test_log_dir_and_local_ranks_filter(launcher, tmp_path):
    code, out, err = launcher.run("--nproc-per-node", 2, "--log-dir", tmp_path, "--redirects", "0:1",
                                  "--local-ranks-filter", "0,1", script("world.py"))
    assert code == 0, err
    assert "[rank0]" not in out and "[rank1]: env" in out  # rank 0 stdout redirected to its file
    assert "env RANK=0" in (tmp_path / "attempt_0" / "0" / "stdout.log").read_text()
    code, out, err = launcher.run("--nproc-per-node", 2, "--local-ranks-filter", "1", script("world.py"))
    assert code == 0, err
    assert "[rank0]" not in out and "[rank1]: env" in out


def test_module_and_no_python(launcher, tmp_path):
    code, out, err = launcher.run("--nproc-per-node", 2, "-m", "tests.launcher.scripts.world")
    assert code == 0, err
    assert "[rank1]: mpi rank=1 size=2 sum=3" in out
    code, out, err = launcher.run("--nproc-per-node", 2, "--no-python", "sh", "-c", "echo rank $RANK")
    assert code == 0, err
    assert "[rank0]: rank 0" in out and "[rank1]: rank 1" in out
    code, out, err = launcher.run("--nproc-per-node", 1, "--no-python", "sh", "-c", "exit 3")
    assert code == 1 and "failed first: exit code 3" in err


@pytest.mark.timeout(60)
def test_frozen_worker_is_detected_and_killed(launcher):
    code, out, err = launcher.run("--nproc-per-node", 2, "--hang-timeout", 2, "--heartbeat-interval", 0.2,
                                  "--stop-grace", 1, script("freeze.py"))
    assert code == 1
    # Frozen, it cannot send its last steps: the report has the last one that left.
    assert re.search(r"rank 1 \(host .*\) hung: no progress for [\d.]+ s .* last seen at step [123]\b", err), err
    assert "failed first" not in err
    assert launcher.leftovers() == []
