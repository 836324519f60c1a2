"""Finding MPICH's process manager, hydra's ``mpiexec``.

The launcher and ``disttorch.multiprocessing.spawn`` drive hydra with its own options
(``-disable-auto-cleanup``, ``-launcher-exec``...), and its ranks meet through mpi4py built on
MPICH. Another MPI's ``mpiexec`` earlier on ``PATH`` (a system Open MPI, say) would refuse those
options or start ranks that never form one world, so it is named in the error instead.
"""
import functools
import os
import shutil
import subprocess
import sys

__all__ = ["find"]

INSTALL_HINT = "install MPICH's with `pip install mpich` in this environment"


def _candidates():
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(beside, os.X_OK):
        yield beside
    on_path = shutil.which("mpiexec")
    if on_path and on_path != beside:
        yield on_path


@functools.lru_cache(maxsize=None)
def _version(path):
    """What ``path --version`` prints ('' when it does not run)."""
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    return (done.stdout + done.stderr).strip()


def find():
    """``(path, None)`` for hydra's ``mpiexec``: the one beside this Python (the ``mpich``
    wheel's), else the one on ``PATH``; ``(None, reason)`` when neither is hydra's."""
    others = []
    for path in _candidates():
        version = _version(path)
        if "HYDRA" in version:
            return path, None
        first = version.splitlines()[0] if version else "it did not run"
        others.append(f"{path} ({first})")
    if not others:
        return None, f"mpiexec not found: {INSTALL_HINT}"
    return None, (f"no MPICH hydra mpiexec: found only {', '.join(others)}, which does not take "
                  f"hydra's options; {INSTALL_HINT}")
