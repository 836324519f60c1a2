"""A 2-node job across two network namespaces joined by a veth pair (cluster/local)."""

import os
import random
import re
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest

from tests.launcher.conftest import REPO, script
from tests.launcher.test_launch import expected_weights, final_weights

# Real MPI jobs: deselect with -m 'not mpi' for a quick run.
pytestmark = pytest.mark.mpi

RIG = os.path.join(REPO, "cluster", "local")


def _why_no_namespaces():
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "needs iproute2 (`ip`)"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"`ip netns` does not work here: {probe.stderr.strip()}"
    return None


@pytest.fixture
def nodes():
    reason = _why_no_namespaces()
    if reason:
        pytest.skip(reason)
    prefix, net = f"dt{os.getpid() % 100000}n", f"10.77.{random.randrange(100, 200)}"
    if net in subprocess.run(["ip", "route"], capture_output=True, text=True).stdout:
        pytest.skip(f"subnet {net}.0/24 is already routed on this machine")
    up = subprocess.run([os.path.join(RIG, "netns-up.sh"), prefix, net], capture_output=True, text=True)
    try:
        if up.returncode != 0:
            pytest.skip(f"cannot build the namespaces: {up.stderr.strip()}")
        yield prefix, net
    finally:
        subprocess.run([os.path.join(RIG, "netns-down.sh"), prefix, net], capture_output=True)


def veth_rx_bytes(prefix):
    stats = subprocess.run(["ip", "-n", f"{prefix}2", "-s", "link", "show", f"{prefix}2v"],
                           capture_output=True, text=True, check=True).stdout
    return int(re.search(r"RX:.*\n\s*(\d+)", stats).group(1))


def run_two_nodes(launcher, nodes, *args, env=None):
    prefix, net = nodes
    environ = launcher.env(PREFIX=prefix, NET=net, PORT=29400 + os.getpid() % 500,
                           DISTTORCH_RUN=f"{launcher.python} -m launcher", **(env or {}))
    proc = subprocess.Popen([os.path.join(RIG, "run-2node.sh"), *map(str, args)], cwd=REPO, env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    launcher.procs.append(proc)
    out, err = proc.communicate(timeout=90)
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.timeout(120)
def test_two_node_world_crosses_the_veth(launcher, nodes):
    before = veth_rx_bytes(nodes[0])
    code, out, err = run_two_nodes(launcher, nodes, "--nproc-per-node", 2, script("allreduce_bytes.py"), 4)
    assert code == 0, err
    assert "rendezvous complete: node 0=" in err
    assert out.count("allreduce ok=True size=4 mib=4") == 4
    # 4 allreduces of 4 MiB between the nodes: most of it must have crossed the veth.
    assert veth_rx_bytes(nodes[0]) - before > 8 * 2 ** 20
    assert launcher.leftovers() == []


@pytest.mark.timeout(120)
def test_two_node_crash_on_the_remote_node_restarts(launcher, nodes, tmp_path):
    code, out, err = run_two_nodes(launcher, nodes, "--nproc-per-node", 1, "--max-restarts", 1,
                                   script("train_linear.py"), tmp_path, 12,
                                   env={"FAULT": "kill", "FAULT_RANK": 1, "FAULT_STEP": 4})
    assert code == 0, err
    assert "failed first: signal 9 (SIGKILL)" in err and "rank 1" in err
    assert "[rank1]: resuming from step 4" in out
    np.testing.assert_allclose(final_weights(out), expected_weights(12), rtol=1e-9, atol=1e-9)
    assert launcher.leftovers() == []


@pytest.mark.timeout(120)
def test_hostfile_ssh_mode_reaches_the_other_namespace(launcher, nodes, tmp_path):
    prefix, net = nodes
    hostfile = tmp_path / "hosts"
    hostfile.write_text(f"# node 0 first\n{net}.1\n{net}.2:8\n")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", f"{prefix}1", launcher.python, "-m", "launcher", "--hostfile", str(hostfile),
         "--master-addr", f"{net}.1", "--master-port", str(29000 + os.getpid() % 400),
         "--ssh", os.path.join(RIG, "netns-ssh.sh"), "--nproc-per-node", "2", script("world.py")],
        cwd=REPO, env=launcher.env(UCX_TLS="tcp,self"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True)
    launcher.procs.append(proc)
    out, err = (stream.decode() for stream in proc.communicate(timeout=90))
    assert proc.returncode == 0, err
    assert "[rank3]: env RANK=3 LOCAL_RANK=1 WORLD_SIZE=4 LOCAL_WORLD_SIZE=2 GROUP_RANK=1" in out
    assert out.count("size=4 sum=10") == 4
    assert launcher.leftovers() == []


def loopback_node(launcher, node_rank, port, *args, secret="loopback-secret"):
    return launcher.start("--nnodes", 2, "--node-rank", node_rank, "--master-addr", "127.0.0.1",
                          "--master-port", port, *args, env={"DISTTORCH_SECRET": secret})


@pytest.mark.timeout(60)
def test_two_agents_on_loopback_form_one_world(launcher):
    port = 28000 + os.getpid() % 500
    node1 = loopback_node(launcher, 1, port, "--nproc-per-node", 1, script("world.py"))
    node0 = loopback_node(launcher, 0, port, "--nproc-per-node", 1, script("world.py"))
    out, err = (stream.decode() for stream in node0.communicate(timeout=45))
    node1.communicate(timeout=15)
    assert node0.returncode == 0 and node1.returncode == 0, err
    assert "[rank1]: mpi rank=1 size=2 sum=3" in out
    assert launcher.leftovers() == []


@pytest.mark.timeout(60)
def test_node_with_the_wrong_secret_is_refused(launcher):
    port = 28500 + os.getpid() % 500
    node0 = loopback_node(launcher, 0, port, "--nproc-per-node", 1, "--rdzv-timeout", 3, script("world.py"))
    intruder = loopback_node(launcher, 1, port, "--nproc-per-node", 1, script("world.py"), secret="guessed")
    _, intruder_err = intruder.communicate(timeout=30)
    _, master_err = node0.communicate(timeout=30)
    assert intruder.returncode != 0
    assert "uses another job secret" in intruder_err.decode()
    assert node0.returncode != 0
    assert "refused peer" in master_err.decode()
    assert "nodes [1] did not join the rendezvous within 3 s" in master_err.decode()


@pytest.mark.timeout(60)
def test_sigterm_to_the_master_ends_every_node(launcher):
    port = 27500 + os.getpid() % 500
    node1 = loopback_node(launcher, 1, port, "--nproc-per-node", 1, script("slow_progress.py"))
    node0 = loopback_node(launcher, 0, port, "--nproc-per-node", 1, script("slow_progress.py"))
    seen, deadline = b"", time.monotonic() + 30
    while seen.count(b"started") < 2 and time.monotonic() < deadline:
        seen += os.read(node0.stdout.fileno(), 4096)
    assert seen.count(b"started") == 2
    node0.send_signal(signal.SIGTERM)
    node0.communicate(timeout=30)
    node1.communicate(timeout=30)
    assert node0.returncode == 128 + signal.SIGTERM
    assert node1.returncode == 128 + signal.SIGTERM  # the job's status, as the master sent it
    assert launcher.leftovers() == []
