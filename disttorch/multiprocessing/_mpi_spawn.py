"""``spawn``'s processes as one MPI world, so that the DDP tutorial's pattern works as written::

    def run(rank, world_size):
        dist.init_process_group("gloo", rank=rank, world_size=world_size)
        ...
    mp.spawn(run, args=(world_size,), nprocs=world_size)

The ranks are started on this node by hydra (MPICH's ``mpiexec``), each through a small
supervisor (:mod:`._rank_supervisor`) that reports its worker's pid and exit status to the parent
and passes the parent's signals on. The worker connects back to the parent over a Unix socket
authenticated with the parent's ``authkey``, receives what multiprocessing's ``spawn`` start
method would have given it (the parent's ``sys.path``, working directory and ``__main__``) and
``fn``'s pickled arguments, then runs ``fn(rank, *args)``. CPU tensors among the arguments are
shared with the parent as under multiprocessing. Whether a rank failed, and what the others do
then, is decided by :class:`ProcessContext.join`, as for any other start method.
"""
import atexit
import os
import pickle
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from multiprocessing import connection, current_process, resource_sharer
from multiprocessing import context as mp_context
from multiprocessing import spawn as mp_spawn
from multiprocessing.reduction import ForkingPickler

from launcher import hydra, procs

from . import _rank_supervisor
from .spawn import SpawnContext, _wrap

# seconds mpiexec gets to exit once every rank has reported, before it is killed
_MPIEXEC_EXIT_WAIT = 5.0


def mpiexec_path():
    """The hydra ``mpiexec`` next to this Python (the ``mpich`` wheel's), else on ``PATH``;
    None when there is none (another MPI's ``mpiexec`` does not count)."""
    return hydra.find()[0]


class RankProcess:
    """One rank of an MPI spawn group, as the parent sees it: the ``pid``, ``exitcode``,
    ``sentinel``, ``is_alive``/``join``/``terminate``/``kill`` of a ``multiprocessing.Process``,
    served by the rank's supervisor."""

    def __init__(self, rank, conn, pid):
        self.rank = rank
        self.name = f"SpawnProcess-{rank + 1}"
        self.pid = pid
        self.exitcode = None
        self.sentinel = conn
        self._conn = conn

    def _collect(self, timeout):
        if self.exitcode is not None:
            return True
        try:
            if not self._conn.poll(timeout):
                return False
            _, code = self._conn.recv()
        except (EOFError, OSError):
            # the supervisor died without a word; its worker was killed with it
            code = -signal.SIGKILL
        self.exitcode = code
        self._conn.close()
        return True

    def is_alive(self):
        return not self._collect(0)

    def join(self, timeout=None):
        self._collect(timeout)

    def _signal(self, signum):
        if self.exitcode is None:
            try:
                self._conn.send(("signal", int(signum)))
            except OSError:
                pass

    def terminate(self):
        self._signal(signal.SIGTERM)

    def kill(self):
        self._signal(signal.SIGKILL)

    def __repr__(self):
        state = "started" if self.exitcode is None else f"stopped exitcode={self.exitcode}"
        return f"<RankProcess name={self.name!r} pid={self.pid} {state}>"


class MPISpawnContext(SpawnContext):
    """The processes of :func:`start_mpi_processes`; :meth:`join` also ends hydra and removes
    what a killed rank left in ``/dev/shm`` once every rank has exited."""

    def __init__(self, processes, error_files, mpiexec, shm_before, started_at):
        super().__init__(processes, error_files)
        self._mpiexec = mpiexec
        self._shm = (shm_before, started_at)

    def join(self, timeout=None, grace_period=None):
        try:
            done = super().join(timeout, grace_period)
        except BaseException:
            self._close()
            raise
        if done:
            self._close()
        return done

    def _close(self):
        mpiexec = self._mpiexec
        try:
            mpiexec.wait(_MPIEXEC_EXIT_WAIT)
        except subprocess.TimeoutExpired:
            mpiexec.kill()
            mpiexec.wait()
        # a rank killed inside MPI leaves MPICH's shared-memory file behind
        procs.remove_leaked_shm(*self._shm)


class _SpawningGroup:
    """Stands in for multiprocessing's spawning ``Popen`` while the ranks' work is pickled, so
    that a ``Queue``, ``Event``, ``Lock`` or ``Pipe`` may be among the arguments as under
    multiprocessing's own spawn. The ranks are not this process's children: their descriptors
    travel through multiprocessing's resource sharer, which the parent's authkey guards."""

    @staticmethod
    def duplicate_for_child(fd):
        return fd

    @staticmethod
    def DupFd(fd):  # noqa: N802 (multiprocessing's name)
        return resource_sharer.DupFd(fd)


def _mpiexec_preexec():
    procs.die_with_parent()
    # hydra writes to its proxies' sockets without ignoring SIGPIPE; ignored, a write to a
    # closed one fails with EPIPE instead of killing hydra silently
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)


def _environment(address, authkey):
    # A parent that is itself an MPI rank must not hand its own process manager's
    # connection to the new world's hydra.
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith(("PMI_", "HYDRA_", "HYDI_"))}
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root,
                                                          environ.get("PYTHONPATH")]))
    environ[_rank_supervisor.ADDRESS] = address
    environ[_rank_supervisor.AUTHKEY] = authkey.hex()
    return environ


def start_mpi_processes(fn, args, nprocs, error_files, mpiexec):
    """Start ``fn(i, *args)`` in ``nprocs`` ranks of a new MPI world; returns their context once
    every rank has received its work (or has already ended)."""
    authkey = bytes(current_process().authkey)
    shm_before, started_at = procs.shm_snapshot(), time.time()
    run_dir = tempfile.mkdtemp(prefix="disttorch_spawn_")
    address = os.path.join(run_dir, "socket")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    proc = None
    try:
        server.bind(address)
        server.listen(2 * nprocs)
        # each rank's work is pickled for that rank alone: a shared tensor's descriptor is
        # handed over once per pickle
        mp_context.set_spawning_popen(_SpawningGroup())
        try:
            payloads = [ForkingPickler.dumps((_wrap, (fn, i, args, error_files[i])))
                        for i in range(nprocs)]
        finally:
            mp_context.set_spawning_popen(None)
        preparation = [mp_spawn.get_preparation_data(f"SpawnProcess-{i + 1}")
                       for i in range(nprocs)]
        for data in preparation:
            # multiprocessing refuses to pickle the key outside its own spawning; it travels
            # over a connection that the key itself authenticated
            data["authkey"] = bytes(data["authkey"])
        supervisor = os.path.abspath(_rank_supervisor.__file__)
        proc = subprocess.Popen(
            [mpiexec, "-disable-auto-cleanup", "-launcher", "fork", "-rmk", "user",
             "-n", str(nprocs), sys.executable, supervisor],
            env=_environment(address, authkey), stdin=subprocess.DEVNULL,
            preexec_fn=_mpiexec_preexec)
        processes = _handshake(server, authkey, nprocs, preparation, payloads, proc)
    except BaseException:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    finally:
        # the socket is only for the handshake: nothing is left to clean if the parent dies
        server.close()
        shutil.rmtree(run_dir, ignore_errors=True)
    return MPISpawnContext(processes, error_files, proc, shm_before, started_at)


def _accept(server, authkey):
    sock, _ = server.accept()
    conn = connection.Connection(sock.detach())
    try:
        connection.deliver_challenge(conn, authkey)
        connection.answer_challenge(conn, authkey)
    except (connection.AuthenticationError, EOFError, OSError):
        conn.close()
        return None
    return conn


def _handshake(server, authkey, nprocs, preparation, payloads, proc):
    """Accept each rank's supervisor and worker; send each worker its work. A rank whose
    worker ends before asking for work is left for ``join`` to report."""
    supervisors = {}        # rank -> RankProcess
    served = set()          # ranks whose worker has its work
    pending = []            # accepted connections that have not said who they are
    while not all(r in supervisors and (r in served or not supervisors[r].is_alive())
                  for r in range(nprocs)):
        readable, _, _ = select.select([server] + pending, [], [], 0.1)
        if not readable and proc.poll() is not None:
            raise RuntimeError(
                f"the MPI process manager (mpiexec) exited with code {proc.returncode} before "
                f"all {nprocs} processes started")
        for ready in readable:
            if ready is server:
                conn = _accept(server, authkey)
                if conn is not None:
                    pending.append(conn)
                continue
            pending.remove(ready)
            try:
                kind, rank, pid = ready.recv()
            except (EOFError, OSError, ValueError, pickle.UnpicklingError):
                ready.close()
                continue
            if kind == "started":
                supervisors[rank] = RankProcess(rank, ready, pid)
            else:
                try:
                    ready.send(preparation[rank])
                    ready.send_bytes(payloads[rank])
                    served.add(rank)
                except OSError:
                    pass
                ready.close()
    return [supervisors[r] for r in range(nprocs)]


def worker_main():
    """Entry point of a rank's worker (started by its supervisor): get the work, run it."""
    environ = os.environ
    authkey = bytes.fromhex(environ.pop(_rank_supervisor.AUTHKEY))
    conn = connection.Client(environ.pop(_rank_supervisor.ADDRESS), authkey=authkey)
    conn.send(("worker", int(environ["PMI_RANK"]), os.getpid()))
    preparation = conn.recv()
    payload = conn.recv_bytes()
    conn.close()
    # as multiprocessing's spawn does: the parent's sys.path, cwd, authkey and __main__
    mp_spawn.prepare(preparation)
    target, args = pickle.loads(payload)
    try:
        target(*args)
    except SystemExit as exc:
        if exc.code not in (None, 0):
            _exit_without_finalize(exc.code)
        raise


def _exit_without_finalize(code):
    """Exit a failed rank, skipping only MPI_Finalize: MPICH's waits for every rank, and the
    others may be waiting in a collective for this one."""
    if not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()     # the program's own exit handlers still run
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
