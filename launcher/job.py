"""What the control plane knows about a job: nodes, ranks, progress, failures.

The server thread feeds messages in; the launcher's main loop asks questions
(has a rank failed? is one hung? how far has training got?) and issues
commands (stop the group, shut the agents down). One lock guards it all.
"""

import dataclasses
import signal
import threading
import time


@dataclasses.dataclass
class Failure:
    """Why a worker group failed.

    Attributes:
        kind (str): ``"exit"`` (non-zero exit or signal), ``"hang"`` (no
            progress within the hang timeout), ``"lost"`` (a rank supervisor
            or node agent stopped answering) or ``"launch"`` (the MPI process
            manager failed by itself).
        rank (int or None): the global rank that failed first, when known.
        summary (str): one line: who failed and how.
        details (list of str): further lines (other stuck ranks, hints).
        tail (list of str): the last output lines of the failed rank.
    """

    kind: str
    rank: object
    summary: str
    details: list = dataclasses.field(default_factory=list)
    tail: list = dataclasses.field(default_factory=list)

    def report(self):
        """The multi-line report printed by the launcher."""
        lines = [self.summary, *self.details]
        if self.tail:
            source = f"rank {self.rank}" if self.rank is not None else "the MPI process manager"
            lines.append(f"last {len(self.tail)} lines of {source}:")
            lines.extend(f"    {line}" for line in self.tail)
        return "\n".join(lines)


def describe_exit(returncode, signum):
    """``'exit code 1'`` or ``'signal 9 (SIGKILL)'``."""
    if signum:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = "unknown"
        return f"signal {signum} ({name})"
    return f"exit code {returncode}"


class RankState:
    """Last known state of one rank: its supervisor (shim) and its worker."""

    def __init__(self, rank):
        self.rank = rank
        self.host = None
        self.pid = None
        self.shim_seen = None
        self.worker_seen = None
        self.activity_at = None
        self.epoch = None
        self.step = None
        self.loss = None
        self.samples_per_s = None
        self.collective = None
        self.collective_since = None
        self.worker_done = False
        self.exit = None
        self.tail = []

    def where(self):
        """Human-readable position: step, epoch and collective."""
        parts = []
        if self.epoch is not None:
            parts.append(f"epoch {self.epoch}")
        parts.append(f"step {self.step}" if self.step is not None else "no step reported")
        if self.collective:
            held = f" for {time.monotonic() - self.collective_since:.1f} s" if self.collective_since else ""
            parts.append(f"inside collective {self.collective!r}{held}")
        return ", ".join(parts)


class JobState:
    """Control-plane state of one job, shared by the server thread and the launcher.

    Args:
        job_id (str): the rendezvous id; peers of another job are refused.
        nnodes (int): number of node agents, the master's included.
        nproc_per_node (int): workers per node (all nodes must agree).
    """

    def __init__(self, job_id, nnodes, nproc_per_node):
        self.job_id = job_id
        self.nnodes = nnodes
        self.nproc_per_node = nproc_per_node
        self.restart = 0
        self._lock = threading.Condition()
        self._server = None
        self._agents = {}
        self._ranks = {}
        self._barriers = {}
        self._exec_requests = {}
        self._next_request = 0
        self._failure = None
        self._stopping = False

    def attach(self, server):
        """Called by :class:`launcher.server.ControlServer` with itself."""
        self._server = server

    # ---- messages from the server thread ----

    def on_hello(self, peer):
        """Admit or refuse a new peer; returns the refusal reason or None."""
        with self._lock:
            if peer.job != self.job_id:
                return f"this control plane serves rdzv id {self.job_id!r}, not {peer.job!r}"
            if peer.role == "agent":
                if peer.node_rank is None or not 0 < peer.node_rank < self.nnodes:
                    return f"node rank {peer.node_rank} is outside 1..{self.nnodes - 1}"
                if peer.node_rank in self._agents:
                    other = self._agents[peer.node_rank]
                    return f"node rank {peer.node_rank} already joined from {other.host}"
                if peer.nproc_per_node != self.nproc_per_node:
                    return (f"node {peer.node_rank} has --nproc-per-node {peer.nproc_per_node}, "
                            f"the master has {self.nproc_per_node}: use the same value on every node")
                self._agents[peer.node_rank] = peer
                self._lock.notify_all()
                return None
            if peer.role in ("shim", "worker"):
                if peer.restart != self.restart:
                    return f"stale worker from restart {peer.restart}; the group is now at restart {self.restart}"
                if peer.rank not in self._ranks:
                    return f"rank {peer.rank} is not in this group of {len(self._ranks)}"
                state = self._ranks[peer.rank]
                state.host, now = peer.host, time.monotonic()
                if peer.role == "shim":
                    state.shim_seen = now
                else:
                    state.pid, state.worker_seen, state.activity_at = peer.pid, now, now
            return None

    def on_message(self, peer, msg_type, body):
        """Apply one validated message from an admitted peer."""
        handlers = {
            "heartbeat": self._on_heartbeat, "progress": self._on_progress, "barrier": self._on_barrier,
            "exit": self._on_exit, "exec_request": self._on_exec_request, "spawn_exit": self._on_spawn_exit,
            "bye": self._on_bye,
        }
        with self._lock:
            handlers[msg_type](peer, body)

    def _rank_state(self, peer):
        if peer.role in ("shim", "worker") and peer.restart == self.restart:
            return self._ranks.get(peer.rank)
        return None

    def _on_heartbeat(self, peer, body):
        state = self._rank_state(peer)
        if state is None:
            return
        now = time.monotonic()
        if peer.role == "shim":
            state.shim_seen = now
            return
        state.worker_seen = now
        if body.get("activity_age") is not None:
            state.activity_at = now - body["activity_age"]
        for name in ("step", "epoch"):
            if body.get(name) is not None:
                setattr(state, name, body[name])
        state.collective = body.get("collective")
        age = body.get("collective_age")
        state.collective_since = now - age if age is not None else None

    def _on_progress(self, peer, body):
        state = self._rank_state(peer)
        if state is None:
            return
        state.worker_seen = state.activity_at = time.monotonic()
        for name, value in body.items():
            if value is not None:
                setattr(state, name, value)

    def _on_barrier(self, peer, body):
        if self._rank_state(peer) is None:
            return
        waiting = self._barriers.setdefault(body["name"], set())
        waiting.add(peer.identity)
        if len(waiting) == len(self._ranks):
            for identity in waiting:
                self._server.push(identity, "barrier_release", {"name": body["name"]})
            del self._barriers[body["name"]]

    def _on_exit(self, peer, body):
        state = self._rank_state(peer)
        if state is None:
            return
        state.exit = (body["returncode"], body["signal"])
        state.tail = list(body["tail"])
        failed = body["signal"] is not None or body["returncode"] != 0
        if failed and self._failure is None and not self._stopping:
            how = describe_exit(body["returncode"], body["signal"])
            self._failure = Failure("exit", state.rank, f"rank {state.rank} (host {state.host}) "
                                    f"failed first: {how}", tail=list(body["tail"]))
        self._lock.notify_all()

    def _on_exec_request(self, peer, body):
        agent = next((a for a in self._agents.values() if a.host == body["host"]), None)
        if agent is None:
            if self._failure is None and not self._stopping:
                self._failure = Failure("lost", None, f"no node agent on {body['host']} to start its MPI "
                                        "proxy: that node has left the job")
            self._server.push(peer.identity, "exec_done", {"returncode": 255})
            return
        self._next_request += 1
        self._exec_requests[self._next_request] = peer.identity
        self._server.push(agent.identity, "spawn", {"request": self._next_request, "argv": body["argv"]})

    def _on_spawn_exit(self, peer, body):
        identity = self._exec_requests.pop(body["request"], None)
        if identity is not None:
            self._server.push(identity, "exec_done", {"returncode": body["returncode"]})

    def _on_bye(self, peer, body):
        state = self._rank_state(peer)
        if state is not None and peer.role == "worker":
            # It is exiting: MPI_Finalize may now wait on slower ranks in silence.
            state.worker_done = True
        if peer.role == "agent" and self._agents.get(peer.node_rank) is peer:
            del self._agents[peer.node_rank]

    # ---- questions and commands from the launcher ----

    def wait_for_agents(self, timeout, interrupted=lambda: False):
        """Block until every remote node agent has joined.

        Args:
            timeout (float): seconds to wait.
            interrupted (callable): polled every second; returning True gives up.

        Returns:
            list or None: agent peers ordered by node rank (the master not
            included), or None when interrupted.
        Raises:
            TimeoutError: some nodes did not join within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._agents) < self.nnodes - 1:
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = sorted(set(range(1, self.nnodes)) - set(self._agents))
                    raise TimeoutError(f"nodes {missing} did not join the rendezvous within {timeout:g} s "
                                       "(check their --master-addr, --rdzv-id and secret)")
                if interrupted():
                    return None
                self._lock.wait(min(left, 1.0))
            return [self._agents[k] for k in sorted(self._agents)]

    def begin_group(self, restart, world_size):
        """Forget the previous worker group and expect ``world_size`` new ranks."""
        with self._lock:
            self.restart = restart
            self._ranks = {rank: RankState(rank) for rank in range(world_size)}
            self._barriers.clear()
            self._failure = None
            self._stopping = False

    def failure(self):
        """The first failure of the current group, or None."""
        with self._lock:
            return self._failure

    def all_exited_cleanly(self):
        """Whether every rank of the current group has reported exit code 0 (no signal)."""
        with self._lock:
            return bool(self._ranks) and all(state.exit == (0, None)
                                             for state in self._ranks.values())

    def set_failure(self, failure):
        """Record a failure found outside the control plane, unless one is known."""
        with self._lock:
            if self._failure is None:
                self._failure = failure
            return self._failure

    def tail_of(self, rank):
        """The last output lines rank ``rank`` reported when it ended."""
        with self._lock:
            state = self._ranks.get(rank)
            return list(state.tail) if state else []

    def check_liveness(self, hang_timeout, heartbeat_timeout):
        """Look for hung ranks and silent supervisors or agents.

        A worker is hung when it has used the worker API (so it is known to
        report) and has shown no activity for ``hang_timeout`` seconds: no
        progress, no step, no collective finished. Its heartbeat thread keeps
        beating while the main thread is stuck, which is how we can still say
        where it is stuck. Records and returns the failure, or None.
        """
        now = time.monotonic()
        with self._lock:
            if self._failure is not None or self._stopping:
                return self._failure
            stuck = []
            for state in self._ranks.values():
                if state.exit is not None or state.worker_seen is None or state.worker_done:
                    continue
                idle = now - state.activity_at
                silent = now - state.worker_seen
                if max(idle, silent) > hang_timeout:
                    stuck.append((max(idle, silent), state))
            if stuck:
                # A rank waiting inside a collective is usually the victim of one that is not:
                # name the latter first, then the longest idle.
                stuck.sort(key=lambda item: (item[1].collective is not None, -item[0]))
                idle, first = stuck[0]
                self._failure = Failure(
                    "hang", first.rank,
                    f"rank {first.rank} (host {first.host}) hung: no progress for {idle:.1f} s "
                    f"(hang timeout {hang_timeout:g} s); last seen at {first.where()}",
                    [f"rank {s.rank} also stuck for {t:.1f} s at {s.where()}" for t, s in stuck[1:]])
                return self._failure
            for state in self._ranks.values():
                if state.exit is None and state.shim_seen is not None and now - state.shim_seen > heartbeat_timeout:
                    self._failure = Failure("lost", state.rank, f"rank {state.rank} (host {state.host}) "
                                            f"stopped answering for {now - state.shim_seen:.1f} s")
                    return self._failure
            for agent in self._agents.values():
                if now - agent.last_seen > heartbeat_timeout:
                    self._failure = Failure("lost", None, f"node {agent.node_rank} ({agent.host}) "
                                            f"stopped answering for {now - agent.last_seen:.1f} s")
                    return self._failure
            return None

    def progress_line(self):
        """One-line summary of training progress, or None before any report."""
        with self._lock:
            reporting = [s for s in self._ranks.values() if s.step is not None]
            if not reporting:
                return None
            alive = sum(1 for s in self._ranks.values() if s.exit is None)
            parts = []
            epochs = [s.epoch for s in reporting if s.epoch is not None]
            if epochs:
                parts.append(f"epoch {min(epochs)}")
            parts.append(f"step {min(s.step for s in reporting)}")
            rates = [s.samples_per_s for s in reporting if s.samples_per_s is not None]
            if rates:
                parts.append(f"{sum(rates):,.0f} samples/s")
            losses = [s.loss for s in reporting if s.loss is not None]
            if losses:
                parts.append(f"loss {sum(losses) / len(losses):.4g}")
            parts.append(f"{alive}/{len(self._ranks)} ranks running")
            return " | ".join(parts)

    def stop_group(self, grace, reason):
        """Ask every rank supervisor and node agent to stop its processes."""
        with self._lock:
            self._stopping = True
            for peer in list(self._server.peers.values()):
                if peer.role == "shim" or peer.role == "agent":
                    self._server.push(peer.identity, "stop", {"grace": float(grace), "reason": reason})

    def shutdown_agents(self, returncode):
        """Tell every node agent the job is over."""
        with self._lock:
            for agent in self._agents.values():
                self._server.push(agent.identity, "shutdown", {"returncode": returncode})
