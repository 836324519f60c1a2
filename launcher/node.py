"""Node agent: what ``disttorch-run --node-rank K`` (K > 0) runs on the other nodes.

It joins the master's control plane (the rendezvous), then waits. When the
master's MPI process manager needs a proxy on this node, the request comes
over the control plane (see :mod:`launcher.remote_exec`) and the agent runs
it; it stops its proxies when the master stops the worker group, and exits
with the job's status when the master shuts the job down.
"""

import os
import socket
import subprocess
import threading
import time

from launcher import procs
from launcher.client import ControlClient, ControlPlaneError


def local_address_towards(host, port):
    """The address of this machine on the route to ``host`` (no packet is sent)."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, proto=socket.IPPROTO_UDP)[0]
    except socket.gaierror as exc:
        raise RuntimeError(f"cannot resolve the master address {host!r}: {exc}") from None
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect(address)
        return probe.getsockname()[0]


class NodeAgent:
    """Serve one non-master node of a job.

    Args:
        config (launcher.config.LaunchConfig): the launch (``node_rank > 0``).
    """

    def __init__(self, config):
        self.config = config
        self._done = threading.Event()
        self._returncode = 1
        self._reason = None
        self._proxies = {}
        self._lock = threading.Lock()
        self._client = None
        self._signal = None

    def handle_signal(self, signum, frame):
        """SIGINT/SIGTERM: stop this node's proxies and leave."""
        self._signal = signum

    def run(self):
        """Join the rendezvous, serve the master until shutdown; returns the exit code."""
        config = self.config
        host = local_address_towards(config.master_addr, config.master_port)
        hello = {"role": "agent", "job": config.job_id, "restart": 0, "host": host, "pid": os.getpid(),
                 "node_rank": config.node_rank, "nproc_per_node": config.nproc_per_node}
        master = f"[{config.master_addr}]" if ":" in config.master_addr else config.master_addr
        self._client = ControlClient(
            f"tcp://{master}:{config.master_port}", config.secret.encode(), hello,
            heartbeat_interval=config.heartbeat_interval, on_message=self._on_message,
            server_timeout=config.heartbeat_timeout, on_lost=self._on_lost)
        print(f"disttorch-run: node {config.node_rank} ({host}) joining the rendezvous at "
              f"{config.master_addr}:{config.master_port}", flush=True)
        try:
            self._client.connect(timeout=config.rdzv_timeout)
        except ControlPlaneError as exc:
            raise RuntimeError(str(exc)) from None
        try:
            # Polled: a signal handler must not set an Event (see handle_signal).
            while not self._done.wait(0.2) and self._signal is None:
                pass
        finally:
            self._stop_proxies(0)
            self._client.close()
        if self._reason:
            print(f"disttorch-run: node {config.node_rank}: {self._reason}", flush=True)
        return 128 + self._signal if self._signal is not None else self._returncode

    def _on_message(self, msg_type, body):
        if msg_type == "spawn":
            self._spawn(body["request"], body["argv"])
        elif msg_type == "stop":
            # Only the proxies running now belong to the group being stopped: a restart may
            # spawn the next attempt's proxy while these are still being waited for.
            with self._lock:
                group = dict(self._proxies)
            threading.Thread(target=self._stop_proxies, args=(body["grace"] + 2.0, group),
                             daemon=True).start()
        elif msg_type == "shutdown":
            self._returncode = body["returncode"]
            self._done.set()

    def _on_lost(self):
        self._reason = "the master stopped answering; stopping this node's workers"
        self._returncode = 1
        self._done.set()

    def _spawn(self, request, argv):
        # hydra quotes the proxy command for a remote shell, as it would for ssh.
        proxy = subprocess.Popen(["/bin/sh", "-c", " ".join(argv)], stdin=subprocess.DEVNULL,
                                 start_new_session=True, preexec_fn=procs.die_with_parent)
        with self._lock:
            self._proxies[request] = proxy
        threading.Thread(target=self._wait_proxy, args=(request, proxy), daemon=True).start()

    def _wait_proxy(self, request, proxy):
        returncode = proxy.wait()
        with self._lock:
            self._proxies.pop(request, None)
        self._client.send("spawn_exit", {"request": request, "returncode": returncode})

    def _stop_proxies(self, wait, group=None):
        """Give the proxies of ``group`` (request -> process; default: all of this node's)
        ``wait`` s to end with their ranks, then end them."""
        if group is None:
            with self._lock:
                group = dict(self._proxies)
        # returncode, not poll(): _wait_proxy's thread holds each proxy in wait(), and poll()
        # answers None while another thread waits
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if all(proxy.returncode is not None for proxy in group.values()):
                return
            time.sleep(0.05)
        for proxy in group.values():
            if proxy.returncode is None:
                procs.terminate_group(proxy.pid, 1.0, lambda p=proxy: p.returncode is None)
