"""Timer.collect_callgrind: the callgrind.out parser on a hand-written file, FunctionCounts
against torch's class on the same rows, and real Valgrind runs (skipped without valgrind)."""
import pickle
import re
import shutil

import pytest

import disttorch
from disttorch.utils.benchmark import (CallgrindStats, FunctionCount, FunctionCounts,
                                       TaskSpec, Timer)
from disttorch.utils.benchmark import callgrind

needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None,
                                    reason="valgrind is not installed")

# main -> work -> helper, helper -> work'2 -> helper'2 (recursion through another function),
# names compressed as Callgrind writes them, code inlined from a header inside work
_OUT = """\
version: 1
creator: callgrind-3.19.0
positions: line
events: Ir
summary: 128

ob=(1) /bin/prog
fl=(1) main.c
fn=(1) main
10 3
cfl=(2) work.c
cfn=(2) work
calls=1 20
10 125

fl=(2)
fn=(2)
20 5
fi=(3) inline.h
+2 4
fe=(2)
cfn=(3) helper
calls=2 30
-1 116

fn=(3)
30 7
cfn=(4) work'2
calls=1 20
+1 109

fn=(4)
20 9
cob=(2) /lib/libm.so
cfi=(4) ???
cfn=(5) sqrt
calls=3 0
* 100

ob=(2)
fl=(4)
fn=(5)
0 100

totals: 128
"""


def test_parser_exclusive_and_inclusive_counts():
    inclusive, exclusive = callgrind.parse_callgrind_out(_OUT)
    main = "main.c:main [/bin/prog]"
    work = "work.c:work [/bin/prog]"
    helper = "work.c:helper [/bin/prog]"
    sqrt = "???:sqrt [/lib/libm.so]"
    # work's own cost: 5 + 4 inlined at its outer level, 9 at its second
    assert exclusive == {main: 3, work: 18, helper: 7, sqrt: 100}
    assert sum(exclusive.values()) == 128
    # work'2 is inside work: work's inclusive cost is its outer activation's, counted once
    assert inclusive == {main: 128, work: 125, helper: 116, sqrt: 100}


def test_parser_uncompressed_names_and_self_calls():
    text = ("events: Ir\nfl=a.c\nfn=f\n1 10\ncfn=f\ncalls=1 1\n1 50\n"
            "cfn=g\ncalls=1 2\n1 7\nfn=g\n2 7\n")
    inclusive, exclusive = callgrind.parse_callgrind_out(text)
    # a self call's cost is already the function's own
    assert exclusive == {"a.c:f [???]": 10, "a.c:g [???]": 7}
    assert inclusive == {"a.c:f [???]": 17, "a.c:g [???]": 7}


_ROWS = [(500, "Objects/dictobject.c:lookdict_unicode [libpython]"),
         (400, "/build/dir/Python/ceval.c:_PyEval_EvalFrameDefault [libpython]"),
         (300, "???:ufunc_generic_fastcall [/venv/site-packages/numpy/_umath.so]"),
         (-20, "Objects/obmalloc.c:PyObject_Free [libpython]")]
_OTHER = [(100, "Objects/dictobject.c:lookdict_unicode [libpython]"),
          (50, "Python/new.c:new_function [libpython]"),
          (-20, "Objects/obmalloc.c:PyObject_Free [libpython]")]


def _both(rows, inclusive=False):
    pytest.importorskip("torch", reason="torch is not installed")
    from torch.utils.benchmark.utils.valgrind_wrapper import timer_interface as ti
    ours = FunctionCounts([FunctionCount(c, f) for c, f in rows], inclusive, _linewidth=70)
    theirs = ti.FunctionCounts(tuple(ti.FunctionCount(c, f) for c, f in rows), inclusive,
                               _linewidth=70)
    return ours, theirs


def _rows(counts):
    return [(c, f) for c, f in counts]


def _body(counts):
    # the first line is the object's default repr, which names its module
    return repr(counts).split("\n", 1)[1]


def test_function_counts_match_torch():
    ours, theirs = _both(_ROWS)
    other, their_other = _both(_OTHER)
    assert _rows(ours + other) == _rows(theirs + their_other)
    assert _rows(ours - other) == _rows(theirs - their_other)
    assert _rows(ours * 0.5) == _rows(theirs * 0.5)
    assert _rows(ours.denoise()) == _rows(theirs.denoise())
    assert ours.sum() == theirs.sum() and len(ours) == len(theirs)
    strip = lambda fn: re.sub(r"\s\[.+\]$", "", fn)
    assert _rows(ours.transform(strip)) == _rows(theirs.transform(strip))
    keep = lambda fn: "Objects" in fn
    assert _rows(ours.filter(keep)) == _rows(theirs.filter(keep))
    assert tuple(ours[1]) == tuple(theirs[1])
    assert _rows(ours[1:3]) == _rows(theirs[1:3])
    assert _body(ours) == _body(theirs)
    # long listings keep their first and last nine rows; slices are never truncated
    many = [(1000 - i, f"f{i}") for i in range(25)]
    ours, theirs = _both(many, inclusive=True)
    assert _body(ours) == _body(theirs)
    assert _body(ours[:20]) == _body(theirs[:20])
    with pytest.raises(ValueError, match="inclusive and exclusive"):
        ours + _both(_OTHER)[0]


def _stats(rows, base_rows=()):
    exclusive = FunctionCounts._from_dict(dict((f, c) for c, f in rows), False)
    inclusive = FunctionCounts._from_dict(dict((f, c * 2) for c, f in rows), True)
    base = FunctionCounts._from_dict(dict((f, c) for c, f in base_rows), False)
    return CallgrindStats(TaskSpec("x + y", "pass", num_threads=2), 10, True,
                          FunctionCounts((), True), base, inclusive, exclusive, None)


def test_callgrind_stats_counts_delta_and_standardized():
    stats = _stats(_ROWS, _OTHER)
    assert stats.counts() == 1180 and stats.counts(denoise=True) == 680
    assert stats.stats(inclusive=True).sum() == 2360
    later = _stats([(c + 7, f) for c, f in _ROWS])
    assert later.delta(stats).sum() == 28 and later.delta(stats, inclusive=True).sum() == 56
    names = [f for _, f in stats.as_standardized().stats()]
    assert names == ["Objects/dictobject.c:lookdict_unicode",
                     "Python/ceval.c:_PyEval_EvalFrameDefault",
                     "???:ufunc_generic_fastcall", "Objects/obmalloc.c:PyObject_Free"]
    text = repr(stats)
    assert "x + y" in text and "2 threads" in text and "10 runs per measurement" in text
    assert re.search(r"Instructions:\s+1180\s+680", text)
    assert re.search(r"Baseline:\s+130\s+30", text)


def test_globals_must_pickle_before_valgrind_runs(monkeypatch):
    started = []
    monkeypatch.setattr(callgrind.subprocess, "run", lambda *a, **k: started.append(a))
    monkeypatch.setattr(callgrind, "_valgrind", lambda: "valgrind")
    timer = Timer("f()", globals={"f": lambda: None})
    with pytest.raises(ValueError, match="`f` \\(function\\) cannot be pickled"):
        timer.collect_callgrind(number=5)
    assert not started


def test_missing_valgrind_is_reported(monkeypatch):
    monkeypatch.setattr(callgrind.shutil, "which", lambda name: None)
    with pytest.raises(OSError, match="Could not find `valgrind`"):
        Timer("1 + 1").collect_callgrind(number=5)


def test_bad_arguments():
    timer = Timer("1 + 1")
    with pytest.raises(ValueError, match="`repeats` must be >= 1"):
        timer.collect_callgrind(repeats=0)
    with pytest.raises(ZeroDivisionError):
        Timer("1 / 0").collect_callgrind()


@needs_valgrind
def test_counts_scale_with_number_and_exclude_setup():
    x = disttorch.ones(16)
    # a setup far more expensive than the statement: counted, it would swamp the ratio
    setup = "big = torch.randn(200, 200); big @ big; y = x * 2"
    small = Timer("x + y", setup=setup, globals={"x": x}, label="add")
    first, second = small.collect_callgrind(number=20, repeats=2, retain_out_file=True)
    large = Timer("x + y", setup=setup, globals={"x": x}).collect_callgrind(
        number=40, collect_baseline=False)
    # several statements in one process, each counted on its own
    many = callgrind.collect_statements(["x + y", "x + y + y"], setup, {"x": x}, number=40)
    assert many["x + y"].counts() / 40 == pytest.approx(second.counts() / 20, rel=0.05)
    assert many["x + y + y"].counts() > 1.5 * many["x + y"].counts()
    assert many["x + y"].baseline_exclusive_stats.sum() > 0
    assert isinstance(first, CallgrindStats) and first.number_per_run == 20
    # a statement through Python and numpy: thousands of instructions a run, no more
    per_run = second.counts() / 20
    assert 1_000 < per_run < 200_000
    assert large.counts() / 40 == pytest.approx(per_run, rel=0.05)
    # the same loop around `pass` costs a few dozen instructions a run
    assert 0 < first.baseline_exclusive_stats.sum() / 20 < 1_000
    assert large.baseline_exclusive_stats.sum() == 0
    # the file kept is the one the statement's counts were read from
    assert f"summary: {first.counts()}" in first.stmt_callgrind_out
    assert second.stmt_callgrind_out != first.stmt_callgrind_out
    assert any("ufunc" in fn for _, fn in second.stats())
    inclusive = second.stats(inclusive=True)
    assert inclusive[0].count <= second.counts()
    assert "add" in repr(first)
