"""Process plumbing: parent-death signals, group termination, shared-memory cleanup."""

import ctypes
import ctypes.util
import fnmatch
import glob
import os
import signal
import time

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

# Shared-memory files that MPI runtimes leave behind when a rank dies inside
# MPI_Init or before they unlink them (MPICH, Open MPI).
SHM_PATTERNS = ("/dev/shm/mpich_shm_*", "/dev/shm/sm_segment.*")


def die_with_parent(signum=signal.SIGKILL):
    """Ask the kernel to send ``signum`` to this process when its parent dies.

    Used in every process the launcher starts, so that no worker outlives
    the supervisor that watches it, even when that supervisor is SIGKILLed.
    Safe to call from a ``preexec_fn``.
    """
    _libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0)


def terminate_group(pgid, grace, is_alive):
    """SIGTERM process group ``pgid``, wait up to ``grace`` s, then SIGKILL it.

    Args:
        pgid (int): the process group (the leader's pid).
        grace (float): seconds to wait between SIGTERM and SIGKILL.
        is_alive (callable): returns True while the leader still runs.
    """
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    # SIGKILL even if the leader exited: its children may still hold the group.
    _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid, signum):
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def shm_snapshot():
    """Names of the MPI shared-memory files present now."""
    return {path for pattern in SHM_PATTERNS for path in glob.glob(pattern)}


def remove_leaked_shm(before, started_at):
    """Remove MPI shared-memory files this job leaked.

    A file is this job's leak when it appeared after ``before`` was taken,
    was created after ``started_at`` (``time.time()``), and no live process
    maps it or holds it open; files of concurrent jobs are in use and stay.

    Returns:
        list: the removed paths.
    """
    return remove_unused([path for path in shm_snapshot() - before if _created_after(path, started_at)])


def shm_mapped_by(pid):
    """MPI shared-memory files that process ``pid`` has mapped (empty if it is gone)."""
    try:
        with open(f"/proc/{pid}/maps") as maps:
            paths = {line.split(None, 5)[-1].strip() for line in maps if "/dev/shm/" in line}
    except OSError:
        return set()
    return {path for path in paths if any(fnmatch.fnmatch(path, pattern) for pattern in SHM_PATTERNS)}


def remove_unused(paths):
    """Remove those of ``paths`` that no live process maps or holds open; returns them."""
    if not paths:
        return []
    in_use = paths_in_use()
    removed = []
    for path in paths:
        if path in in_use:
            continue
        try:
            os.unlink(path)
            removed.append(path)
        except FileNotFoundError:
            pass
    return removed


def _created_after(path, started_at):
    try:
        return os.stat(path).st_ctime >= started_at - 1
    except FileNotFoundError:
        return False


def paths_in_use():
    """The ``/dev/shm`` files some live process maps or holds open."""
    in_use = set()
    for proc in glob.glob("/proc/[0-9]*"):
        try:
            with open(f"{proc}/maps") as maps:
                for line in maps:
                    if "/dev/shm/" in line:
                        in_use.add(line.split(None, 5)[-1].strip())
            for fd in os.listdir(f"{proc}/fd"):
                target = os.readlink(f"{proc}/fd/{fd}")
                if target.startswith("/dev/shm/"):
                    in_use.add(target)
        except OSError:
            continue
    return in_use
