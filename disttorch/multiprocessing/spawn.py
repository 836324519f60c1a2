"""``spawn`` / ``start_processes``: run ``fn(i, *args)`` in ``nprocs`` processes and watch them.

With the ``spawn`` start method the processes are the ranks of a new MPI world
(:mod:`._mpi_spawn`); without an ``mpiexec`` they are plain multiprocessing children.

The first process to fail brings the others down and its error up: the exception text of a
process that raised (written by the child to its own error file), or its exit code or signal.
"""
import atexit
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import tempfile
import traceback
import warnings

__all__ = ["spawn", "start_processes", "ProcessContext", "ProcessException",
           "ProcessRaisedException", "ProcessExitedException"]

# seconds a failed job's other processes get to exit after SIGTERM before SIGKILL
_TERMINATE_GRACE = 30.0


class ProcessException(Exception):
    """A process of a :class:`ProcessContext` failed."""

    def __init__(self, msg, error_index, error_pid):
        super().__init__(msg)
        self.msg = msg
        self.error_index = error_index
        self.pid = error_pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid)


class ProcessRaisedException(ProcessException):
    """A process failed because ``fn`` raised; the message holds its traceback."""


class ProcessExitedException(ProcessException):
    """A process exited with a non-zero code or was killed by a signal."""

    def __init__(self, msg, error_index, error_pid, exit_code, signal_name=None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code = exit_code
        self.signal_name = signal_name

    def __reduce__(self):
        return (type(self),
                (self.msg, self.error_index, self.pid, self.exit_code, self.signal_name))


def _wrap(fn, i, args, error_file):
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass        # the parent is stopping the job: not this process's error
    except Exception:
        with open(error_file, "wb") as f:
            pickle.dump(traceback.format_exc(), f)
        sys.exit(1)


class ProcessContext:
    """The processes started by :func:`start_processes`; :meth:`join` waits for them."""

    def __init__(self, processes, error_files):
        self.processes = processes
        self.error_files = error_files
        self.sentinels = {p.sentinel: i for i, p in enumerate(processes)}

    def pids(self):
        return [p.pid for p in self.processes]

    def _wait_all(self, timeout):
        multiprocessing.connection.wait([p.sentinel for p in self.processes
                                         if p.is_alive()], timeout=timeout)

    def join(self, timeout=None, grace_period=None):
        """Wait for the processes; ``True`` once all have exited successfully, ``False`` if
        ``timeout`` seconds passed first.

        When one fails, the others get ``grace_period`` seconds to finish, then SIGTERM,
        then (after another grace period, 30 s by default) SIGKILL; the first failure is
        raised as :class:`ProcessRaisedException` or :class:`ProcessExitedException`.
        """
        if not self.sentinels:
            return True
        ready = multiprocessing.connection.wait(list(self.sentinels), timeout=timeout)
        failed = None
        for sentinel in ready:
            index = self.sentinels.pop(sentinel)
            process = self.processes[index]
            process.join()
            if process.exitcode != 0:
                failed = index
                break
        if failed is None:
            return not self.sentinels
        self._stop_others(grace_period)
        self.sentinels.clear()
        process = self.processes[failed]
        try:
            with open(self.error_files[failed], "rb") as f:
                trace = pickle.load(f)
        except (OSError, EOFError, pickle.UnpicklingError):
            trace = None
        for path in self.error_files:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        if trace is not None:
            raise ProcessRaisedException(
                f"\n\n-- Process {failed:d} terminated with the following error:\n{trace}",
                failed, process.pid)
        code = process.exitcode
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"<Unknown signal {-code}>"
            raise ProcessExitedException(f"process {failed:d} terminated with signal {name}",
                                         error_index=failed, error_pid=process.pid,
                                         exit_code=code, signal_name=name)
        raise ProcessExitedException(f"process {failed:d} terminated with exit code {code:d}",
                                     error_index=failed, error_pid=process.pid,
                                     exit_code=code)

    def _stop_others(self, grace_period):
        if grace_period is not None:
            self._wait_all(grace_period)
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        self._wait_all(_TERMINATE_GRACE if grace_period is None else grace_period)
        for process in self.processes:
            if process.is_alive():
                process.kill()
            process.join()


class SpawnContext(ProcessContext):
    """The context :func:`spawn` returns (``join=False``)."""


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Start ``nprocs`` processes running ``fn(i, *args)`` (``i`` = 0 .. nprocs-1) with
    ``start_method``; return their :class:`ProcessContext` (``join=False``) or wait for
    them, raising the first failure.

    ``fn`` and ``args`` are pickled for ``"spawn"`` and ``"forkserver"`` (CPU tensors among
    them are shared, not copied): ``fn`` must be importable, a function at module level.

    With ``"spawn"`` the processes are also the ranks of a new MPI world on this node (started
    through MPICH's ``mpiexec``), so ``fn`` may call
    ``init_process_group(backend, rank=i, world_size=nprocs)``. Processes started with
    ``"fork"`` or ``"forkserver"`` are not an MPI world (nor those of ``"spawn"`` where no
    ``mpiexec`` is installed).
    """
    if nprocs < 1:
        raise ValueError(f"nprocs must be a positive integer, got {nprocs}")
    context = multiprocessing.get_context(start_method)
    error_files = []
    for _ in range(nprocs):
        # the child writes its traceback here only if fn raises: an empty file is
        # removed first so that "exists" means "raised"
        handle, path = tempfile.mkstemp(prefix="disttorch_spawn_")
        os.close(handle)
        os.unlink(path)
        error_files.append(path)
    mpiexec = None
    if start_method == "spawn":
        from ._mpi_spawn import mpiexec_path, start_mpi_processes
        mpiexec = mpiexec_path()
    if mpiexec is not None:
        job = start_mpi_processes(fn, args, nprocs, error_files, mpiexec)
        if not daemon and not join:
            # as multiprocessing does for its non-daemonic children: exiting waits for them
            atexit.register(_join_at_exit, job)
    else:
        processes = []
        try:
            for i in range(nprocs):
                process = context.Process(target=_wrap, args=(fn, i, args, error_files[i]),
                                          daemon=daemon)
                process.start()
                processes.append(process)
        except BaseException:
            for process in processes:
                process.kill()
                process.join()
            raise
        job = SpawnContext(processes, error_files) if start_method == "spawn" else \
            ProcessContext(processes, error_files)
    if not join:
        return job
    while not job.join():
        pass
    return None


def _join_at_exit(job):
    try:
        while not job.join():
            pass
    except ProcessException:
        pass        # nobody is left to raise it to; the failed process reported on stderr


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """:func:`start_processes` with the ``"spawn"`` start method (``torch.multiprocessing.spawn``).

    The processes form an MPI world, process ``i`` its rank ``i``: ``fn`` may call
    ``disttorch.distributed.init_process_group(backend, rank=i, world_size=nprocs)``.

    Args:
        fn (function): run as ``fn(i, *args)`` in process ``i``; module level, so that it
            can be pickled.
        args (tuple): the rest of ``fn``'s arguments.
        nprocs (int): number of processes.
        join (bool): wait for them (and raise the first failure).
        daemon (bool): the processes' daemon flag.
        start_method (str): deprecated; always ``"spawn"``.

    Returns:
        None if ``join``, else the :class:`ProcessContext`.
    """
    if start_method != "spawn":
        warnings.warn(f"This method only supports start_method=spawn (got: {start_method}).\n"
                      "To use a different start_method use:\n\t\t"
                      " torch.multiprocessing.start_processes(...)", FutureWarning,
                      stacklevel=2)
    return start_processes(fn, args, nprocs, join, daemon, start_method="spawn")
