"""Finding hydra's mpiexec: the launcher and mp.spawn refuse another MPI's mpiexec by name."""
import os
import stat
import sys

import pytest

from disttorch.multiprocessing import _mpi_spawn
from launcher import agent, hydra


def _fake_mpiexec(folder, version_line):
    folder.mkdir()
    path = folder / "mpiexec"
    path.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def only(tmp_path, monkeypatch):
    """Put one fake mpiexec alone on PATH, with no mpiexec beside the Python."""
    def install(version_line):
        path = _fake_mpiexec(tmp_path / "bin", version_line)
        monkeypatch.setattr(sys, "executable", str(tmp_path / "nobin" / "python"))
        monkeypatch.setenv("PATH", str(path.parent))
        hydra._version.cache_clear()
        return path
    yield install
    hydra._version.cache_clear()


def test_another_mpis_mpiexec_is_named_not_run(only):
    path = only("mpiexec (Open MPI) 4.1.6")
    with pytest.raises(RuntimeError, match=r"no MPICH hydra mpiexec: found only .*mpiexec "
                                           r"\(mpiexec \(Open MPI\) 4\.1\.6\).*pip install mpich"):
        agent.mpiexec_path()
    assert str(path) in hydra.find()[1]
    assert _mpi_spawn.mpiexec_path() is None   # mp.spawn falls back to multiprocessing


def test_hydra_on_path_is_taken(only):
    path = only("HYDRA build details:")
    assert agent.mpiexec_path() == str(path) == _mpi_spawn.mpiexec_path()


def test_no_mpiexec_at_all(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="mpiexec not found: install MPICH's with `pip install "
                                           "mpich`"):
        agent.mpiexec_path()


def test_the_mpich_wheels_mpiexec_is_found():
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if not os.access(beside, os.X_OK):
        pytest.skip("no mpiexec beside this Python (pip install mpich)")
    hydra._version.cache_clear()
    assert hydra.find() == (beside, None)
