"""DistributedDataParallel against single-process training on the full batch."""
import pytest


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("case", ["sgd", "adam", "no_sync"])
def test_ddp_equals_single_process(mpirun, n, case):
    proc = mpirun("ddp.py", n, case)
    assert proc.stdout.count(f" {case} ok") == n


@pytest.mark.parametrize("case,marker", [("unused", None),
                                         ("unused_error", "unused parameters reported"),
                                         ("fp16", None), ("overlap", "overlap:"),
                                         ("mismatch", "model mismatch reported"),
                                         ("join", "join models in sync"),
                                         ("script", "script finished"), ("syncbn", None),
                                         ("zero", None)])
def test_ddp_features(mpirun, case, marker):
    proc = mpirun("ddp.py", 2, case)
    assert proc.stdout.count(f" {case} ok") == 2, proc.stdout
    if case in ("syncbn", "zero"):
        assert mpirun("ddp.py", 3, case).stdout.count(f" {case} ok") == 3
    if marker:
        assert marker in proc.stdout, proc.stdout
