"""The master agent: runs the control plane and the MPI world, watches it, restarts it.

One MPI world per attempt, started through hydra (``mpiexec``) with every
rank wrapped in :mod:`launcher.shim`. On more than one node, hydra's
``-launcher-exec`` points at :mod:`launcher.remote_exec`, which asks the node
agent of each host (over the control plane) to start the hydra proxy there,
so no ssh is needed.
"""

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

from launcher import console as console_mod
from launcher import hydra
from launcher import env as envvars
from launcher import procs
from launcher.job import Failure, JobState
from launcher.server import ControlServer

_EXIT_WAIT = 2.0


def mpiexec_path():
    """The hydra ``mpiexec`` installed with the project (next to this Python, else on
    ``PATH``); RuntimeError naming what was found when there is none."""
    path, reason = hydra.find()
    if path is None:
        raise RuntimeError(reason)
    return path


class MasterAgent:
    """Run one job from node 0.

    Args:
        config (launcher.config.LaunchConfig): the launch.
        console (launcher.console.Console, optional): where output goes.
    """

    def __init__(self, config, console=None):
        self.config = config
        self.console = console or console_mod.Console()
        self.job = JobState(config.job_id, config.nnodes, config.nproc_per_node)
        self.server = ControlServer(config.master_addr, config.master_port, config.secret.encode(), self.job)
        self._signal = None
        self._mpiexec = None
        self._run_dir = None

    def handle_signal(self, signum, frame):
        """SIGINT/SIGTERM: stop every worker, then exit with 128 + signum."""
        self._signal = signum

    def run(self):
        """Run attempts until one succeeds or restarts run out; returns the exit code."""
        self.server.start()
        self._run_dir = tempfile.mkdtemp(prefix="disttorch-run-")
        try:
            hosts = self._rendezvous()
            if hosts is None:
                return self._finish(128 + self._signal)
            for attempt in range(self.config.max_restarts + 1):
                failure = self._run_attempt(attempt, hosts)
                if self._signal is not None:
                    return self._finish(128 + self._signal)
                if failure is None:
                    return self._finish(0)
                self.console.clear_status()
                self.console.notice(f"worker group failed (attempt {attempt + 1} of "
                                    f"{self.config.max_restarts + 1}):\n{failure.report()}")
                if attempt < self.config.max_restarts:
                    self.console.notice(f"restarting the worker group "
                                        f"(restart {attempt + 1} of {self.config.max_restarts})")
            return self._finish(1)
        finally:
            self.console.clear_status()
            self.server.close()
            shutil.rmtree(self._run_dir, ignore_errors=True)

    def _finish(self, returncode):
        # Sent before the server closes: closing flushes what is queued.
        self.job.shutdown_agents(returncode)
        return returncode

    def _rendezvous(self):
        """Wait for the other nodes' agents; returns the host list (master first)."""
        if self.config.hosts:
            return self.config.hosts
        hosts = [self.config.master_addr]
        if self.config.nnodes == 1:
            return hosts
        self.console.notice(f"waiting for {self.config.nnodes - 1} more node(s) at "
                            f"{self.server.endpoint} (rdzv id {self.config.job_id})")
        agents = self.job.wait_for_agents(self.config.rdzv_timeout, lambda: self._signal is not None)
        if agents is None:
            return None
        hosts += [agent.host for agent in agents]
        self.console.notice("rendezvous complete: " + ", ".join(
            f"node {rank}={host}" for rank, host in enumerate(hosts)))
        return hosts

    def _run_attempt(self, attempt, hosts):
        """Start the world, watch it until it ends; returns a Failure or None."""
        config = self.config
        self.job.begin_group(attempt, config.world_size)
        shm_before, started_at = procs.shm_snapshot(), time.time()
        self._mpiexec = subprocess.Popen(
            self._mpiexec_command(hosts), env=self._environment(attempt),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, preexec_fn=_mpiexec_preexec)
        pumps = [threading.Thread(target=console_mod.pump, args=(pipe, self.console, name), daemon=True)
                 for pipe, name in ((self._mpiexec.stdout, "out"), (self._mpiexec.stderr, "err"))]
        for pump in pumps:
            pump.start()
        failure = None
        try:
            failure = self._watch()
        finally:
            if self._signal is not None:
                reason = f"the launcher got signal {self._signal}"
            else:
                reason = failure.summary if failure else "the worker group ended"
            self._stop_group(reason)
            for pump in pumps:
                pump.join(timeout=2)
            procs.remove_leaked_shm(shm_before, started_at)
        if failure is not None and not failure.tail and failure.rank is not None:
            # A hung rank's output arrives with its exit, after the stop.
            failure.tail = self.job.tail_of(failure.rank)
        return failure

    def _watch(self):
        config = self.config
        while self._signal is None:
            failure = self.job.failure() or self.job.check_liveness(config.hang_timeout, config.heartbeat_timeout)
            if failure is not None:
                return failure
            returncode = self._mpiexec.poll()
            if returncode is not None:
                return self._after_exit(returncode)
            self.console.status(self.job.progress_line())
            time.sleep(config.monitor_interval)
        return None

    def _after_exit(self, returncode):
        """mpiexec ended: success, or find out which rank failed."""
        if returncode == 0 and self.job.failure() is None:
            return None
        deadline = time.monotonic() + _EXIT_WAIT
        while (time.monotonic() < deadline and self.job.failure() is None
               and not self.job.all_exited_cleanly()):
            time.sleep(0.05)
        failure = self.job.failure()
        if failure is None and returncode != 0 and self.job.all_exited_cleanly():
            # With -disable-auto-cleanup hydra signals SIGUSR1 to the other proxies as each one
            # reports its exit; a proxy that has already closed its socket makes that write fail
            # (EPIPE), and mpiexec ends with an error after every rank finished its work.
            self.console.notice(f"every rank exited cleanly; the MPI process manager then "
                                f"exited with code {returncode} while tearing down (ignored)")
            return None
        if failure is None and returncode != 0:
            failure = self.job.set_failure(Failure(
                "launch", None, f"the MPI process manager exited with code {returncode} "
                "before any rank reported a failure", tail=list(self.console.launcher_tail)))
        return failure

    def _stop_group(self, reason):
        """Stop every worker: through their supervisors, then by force."""
        mpiexec = self._mpiexec
        if mpiexec.poll() is None:
            grace = self.config.stop_grace
            self.job.stop_group(grace, reason)
            deadline = time.monotonic() + grace + _EXIT_WAIT
            while mpiexec.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        if mpiexec.poll() is None:
            # Force what is left of hydra: proxies die when mpiexec does, their
            # ranks' supervisors with them, and the workers with those.
            procs.terminate_group(mpiexec.pid, 1.0, lambda: mpiexec.poll() is None)
        mpiexec.wait()

    def _environment(self, attempt):
        config = self.config
        environ = dict(os.environ)
        threads, notice = envvars.thread_defaults(environ, config.nproc_per_node)
        if notice and attempt == 0:
            self.console.notice(notice)
        environ.update(threads)
        tee = config.tee
        if config.log_dir and config.redirects == "0" and tee == "0":
            tee = "3"
        environ.update({
            "MASTER_ADDR": config.master_addr,
            "MASTER_PORT": str(self.server.port),
            envvars.CONTROL_ENDPOINT: self.server.endpoint,
            envvars.SECRET: config.secret,
            envvars.JOB_ID: config.job_id,
            envvars.RESTART_COUNT: str(attempt),
            envvars.MAX_RESTARTS: str(config.max_restarts),
            envvars.HEARTBEAT_INTERVAL: str(config.heartbeat_interval),
            envvars.HEARTBEAT_TIMEOUT: str(config.heartbeat_timeout),
            envvars.NPROC_PER_NODE: str(config.nproc_per_node),
            envvars.STOP_GRACE: str(config.stop_grace),
            envvars.REDIRECTS: config.redirects,
            envvars.TEE: tee,
        })
        if config.log_dir:
            environ[envvars.LOG_DIR] = os.path.abspath(config.log_dir)
        if config.local_ranks_filter:
            environ[envvars.LOCAL_RANKS_FILTER] = config.local_ranks_filter
        # Workers import launcher.shim/launcher.worker from wherever this launcher lives.
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, environ.get("PYTHONPATH")]))
        return environ

    def _mpiexec_command(self, hosts):
        config = self.config
        command = [mpiexec_path(), "-disable-auto-cleanup"]
        if config.nnodes > 1:
            hostfile = os.path.join(self._run_dir, "hosts")
            with open(hostfile, "w") as handle:
                handle.writelines(f"{host}:{config.nproc_per_node}\n" for host in hosts)
            launcher_exec = shutil.which(config.ssh) or config.ssh if config.hosts else self._remote_exec_program()
            command += ["-f", hostfile, "-launcher", "ssh", "-launcher-exec", launcher_exec,
                        "-localhost", config.master_addr]
        command += ["-n", str(config.world_size), sys.executable, "-m", "launcher.shim", "--", *config.command]
        return command

    def _remote_exec_program(self):
        """hydra wants a single executable for ``-launcher-exec``: write one."""
        path = os.path.join(self._run_dir, "remote-exec")
        with open(path, "w") as handle:
            handle.write(f"#!/bin/sh\nexec '{sys.executable}' -m launcher.remote_exec \"$@\"\n")
        os.chmod(path, stat.S_IRWXU)
        return path


def _mpiexec_preexec():
    procs.die_with_parent()
    # hydra writes to its proxies' sockets without ignoring SIGPIPE: a write to one that has
    # closed would kill it silently (exit -13); ignored, the write fails with EPIPE and hydra
    # says where. Workers still get the default: their supervisors (launcher.shim) start them
    # through subprocess, which restores it.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)


def install_signal_handlers(agent):
    """Route SIGINT and SIGTERM to ``agent.handle_signal``."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, agent.handle_signal)
