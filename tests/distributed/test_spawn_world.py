"""``disttorch.multiprocessing.spawn``'s processes are an MPI world: PyTorch's DDP tutorial
pattern (``init_process_group(backend, rank=rank, world_size=n)`` inside the spawned function)
trains; multiprocessing's objects travel as arguments; a failing rank is reported while the
others wait in a collective for it; nothing outlives the parent."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import disttorch
import disttorch.distributed as dist
import disttorch.multiprocessing as mp
from launcher import procs

pytestmark = pytest.mark.timeout(180)


def _ddp_rank(rank, world_size, init_method, x, y, weights, out):
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=world_size)
    assert (dist.get_rank(), dist.get_world_size()) == (rank, world_size)
    model = disttorch.nn.Linear(4, 3)
    with disttorch.no_grad():
        # every rank starts from different weights: DDP broadcasts rank 0's
        model.weight.copy_(weights[0] + rank)
        model.bias.zero_()
    ddp = disttorch.nn.parallel.DistributedDataParallel(model)
    opt = disttorch.optim.SGD(ddp.parameters(), lr=0.1)
    shard = slice(rank * 4, (rank + 1) * 4)
    for _ in range(3):
        opt.zero_grad()
        disttorch.nn.functional.mse_loss(ddp(x[shard]), y[shard]).backward()
        opt.step()
    out[rank].copy_(model.weight.detach())
    dist.destroy_process_group()


@pytest.mark.parametrize("init_method", [None, "env://", "tcp://127.0.0.1:29511"])
def test_ddp_tutorial_pattern_trains_like_one_process(init_method, monkeypatch):
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29512")
    g = disttorch.Generator().manual_seed(0)
    x, y = disttorch.randn(8, 4, generator=g), disttorch.randn(8, 3, generator=g)
    weights = disttorch.randn(1, 3, 4, generator=g)
    out = disttorch.zeros(2, 3, 4)
    mp.spawn(_ddp_rank, args=(2, init_method, x, y, weights, out), nprocs=2)
    # the same three steps in this process on the whole batch (mean of the ranks' means)
    model = disttorch.nn.Linear(4, 3)
    with disttorch.no_grad():
        model.weight.copy_(weights[0])
        model.bias.zero_()
    opt = disttorch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        disttorch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    assert not disttorch.equal(model.weight, weights[0])
    np.testing.assert_allclose(out[0].numpy(), model.weight.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(out[1].numpy(), out[0].numpy())


def _objects_rank(rank, queue, event, lock, value, conn):
    with lock:
        value.value += rank + 1
    queue.put((rank, disttorch.full((2,), float(rank))))
    if rank == 0:
        conn.send("hello from rank 0")
    event.wait(60)


def test_multiprocessing_objects_travel_as_arguments():
    ctx = mp.get_context("spawn")
    queue, event, lock, value = ctx.Queue(), ctx.Event(), ctx.Lock(), ctx.Value("i", 0)
    here, there = ctx.Pipe()
    job = mp.spawn(_objects_rank, args=(queue, event, lock, value, there), nprocs=3, join=False)
    got = sorted((r, t.tolist()) for r, t in (queue.get(timeout=60) for _ in range(3)))
    assert here.recv() == "hello from rank 0"
    event.set()
    while not job.join(60):
        pass
    assert got == [(0, [0.0, 0.0]), (1, [1.0, 1.0]), (2, [2.0, 2.0])]
    assert value.value == 6
    assert [p.exitcode for p in job.processes] == [0, 0, 0]


def _fail_in_collective(rank, how):
    dist.init_process_group("gloo", rank=rank, world_size=3)
    if rank == 2:
        time.sleep(0.2)
        if how == "raise":
            raise ValueError("rank 2 gives up")
        if how == "exit":
            sys.exit(5)
        os.kill(os.getpid(), signal.SIGKILL)
    dist.barrier()      # never completes: rank 2 does not come
    time.sleep(120)


@pytest.mark.parametrize("how, error, message", [
    ("raise", mp.ProcessRaisedException, "ValueError: rank 2 gives up"),
    ("exit", mp.ProcessExitedException, "process 2 terminated with exit code 5"),
    ("kill", mp.ProcessExitedException, "process 2 terminated with signal SIGKILL")])
def test_a_failing_rank_is_reported_while_the_others_wait_for_it(how, error, message):
    before = procs.shm_snapshot()
    start = time.monotonic()
    job = mp.spawn(_fail_in_collective, args=(how,), nprocs=3, join=False)
    pids = job.pids()
    with pytest.raises(error, match=message) as caught:
        while not job.join():
            pass
    # reported at once (the others sleep for minutes), and nothing is left behind
    assert time.monotonic() - start < 60
    assert caught.value.error_index == 2 and caught.value.pid == pids[2]
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or _is_zombie(pid)
    # no MPI shared-memory file of this group is left (other jobs' files are in use)
    leaked = procs.shm_snapshot() - before
    assert not leaked - procs.paths_in_use()


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _wrong_size(rank):
    dist.init_process_group("gloo", rank=rank, world_size=3)


def test_a_world_size_other_than_nprocs_is_refused_clearly():
    # (either rank may be the first to fail)
    with pytest.raises(mp.ProcessRaisedException, match=r"the environment says rank (\d) of 3, "
                                                        r"but MPI sees rank \1 of 2"):
        mp.spawn(_wrong_size, nprocs=2)


def _sleep(rank, seconds):
    time.sleep(seconds)


def test_pids_are_the_workers_and_terminate_reaches_them():
    job = mp.spawn(_sleep, args=(120,), nprocs=2, join=False)
    assert job.join(timeout=0.05) is False
    for pid in job.pids():
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert b"worker_main" in f.read()
    job.processes[1].terminate()
    with pytest.raises(mp.ProcessExitedException, match="process 1 terminated with signal "
                                                        "SIGTERM"):
        while not job.join():
            pass
    assert [p.is_alive() for p in job.processes] == [False, False]


def test_no_rank_outlives_a_killed_parent(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        import disttorch.multiprocessing as mp

        def nap(rank):
            time.sleep(300)

        if __name__ == "__main__":
            job = mp.spawn(nap, nprocs=2, join=False)
            print(" ".join(map(str, job.pids())), flush=True)
            time.sleep(300)
    """))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              cwd=tmp_path)
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(_is_zombie(p) for p in pids):
        time.sleep(0.1)
    assert all(_is_zombie(p) for p in pids)
