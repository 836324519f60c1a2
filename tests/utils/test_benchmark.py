"""disttorch.utils.benchmark: statistics, repr and Compare tables against torch's for the same
synthetic measurements, and real (short) timings with no assertions on their values."""
import random
import re

import pytest

import disttorch
from disttorch.utils import benchmark as db
from disttorch.utils.benchmark import Measurement, TaskSpec


def _torch_benchmark():
    pytest.importorskip("torch", reason="torch is not installed")
    import torch.utils.benchmark as tb
    from torch.utils.benchmark.utils.common import Measurement as TM, TaskSpec as TT
    return tb, TM, TT


def _m(number, raw, **spec):
    spec.setdefault("stmt", "x + y")
    spec.setdefault("setup", "pass")
    return Measurement(number, raw, TaskSpec(**spec))


# ---------------------------------------------------------------------------- statistics
def test_statistics_by_hand():
    m = _m(10, [1.0, 2.0, 3.0, 4.0, 10.0])
    assert m.times == pytest.approx([0.1, 0.2, 0.3, 0.4, 1.0])
    assert m.median == pytest.approx(0.3)
    assert m.mean == pytest.approx(0.4)
    # numpy's linear percentiles of [.1 .2 .3 .4 1.]: 25% -> .2, 75% -> .4
    assert m.iqr == pytest.approx(0.2)
    # IQR 0.2 / median 0.3 > 0.25: flagged, and blamed on the environment
    assert not m.meets_confidence() and m.meets_confidence(0.7)
    assert m.has_warnings and "environmental influence" in repr(m)
    # interquartile points [.2 .3 .4]: std .0816, 90% interval 1.645*.0816/sqrt(3) = .0775,
    # log10(.3/.0775) = 0.59 -> floor 0, clamped to 1
    assert m.significant_figures == 1


def test_significant_figures_and_confidence_by_hand():
    # constant times: the interval is the 25 ns floor; log10(1e-4 / 25e-9) = 3.6 -> 3
    assert _m(1, [1e-4] * 6).significant_figures == 3
    # capped at 4: log10(2e-3 / 25e-9) = 4.9
    assert _m(1, [2e-3]).significant_figures == 4
    # 5e-7 / 25e-9 = 20 -> 1
    assert _m(1, [5e-7] * 3).significant_figures == 1
    # 8 points 1..1.07: median 1.035, IQR 0.035 (3.4%): meets 0.1, fails 0.03
    m = _m(1, [1 + 0.01 * k for k in range(8)])
    assert m.median == pytest.approx(1.035) and m.iqr == pytest.approx(0.035)
    assert m.meets_confidence() and not m.meets_confidence(0.03) and not m.has_warnings
    # interquartile points 1.02..1.05: std 0.01118, interval 1.645*0.01118/2 = 0.0092,
    # log10(1.035 / 0.0092) = 2.05 -> 2
    assert m.significant_figures == 2
    # between 10% and 25%: a fluctuation warning, not an environment one
    m = _m(1, [1.0, 1.0, 1.15, 1.15])
    assert m.has_warnings and "system fluctuation" in m._warnings[0]


def test_merge_extrapolates_and_groups_by_task():
    a = _m(2, [1.0, 2.0], label="a")
    b = _m(1, [3.0], label="a")
    c = _m(1, [5.0], label="a", env="other")
    merged = Measurement.merge([a, b, c])
    assert [(r.number_per_run, r.raw_times, r.env) for r in merged] == [
        (1, [0.5, 1.0, 3.0], None), (1, [5.0], "other")]
    assert merged[0].metadata is None


def test_units_and_trim():
    assert db.select_unit(999e-9) == ("ns", 1e-9)
    assert db.select_unit(1e-6) == ("us", 1e-6)
    assert db.select_unit(0.5) == ("ms", 1e-3)
    assert db.select_unit(12.0) == ("s", 1)
    assert db.unit_to_english("us") == "microsecond"
    assert db.trim_sigfig(123.456, 2) == 120.0
    assert db.trim_sigfig(123.456, 4) == pytest.approx(123.5)
    assert db.trim_sigfig(9.99, 1) == 10.0


# ------------------------------------------------------------------- text against torch
def _random_specs(rng, k):
    labels = rng.choice([[None], ["A"], ["A", "B"]])
    subs = rng.choice([[None], ["s", "long_sub"]])
    envs = rng.choice([[None], ["E1"], ["E1", "Env2"]])
    specs = []
    for _ in range(k):
        number = rng.choice([1, 3, 100])
        base = 10 ** rng.uniform(-8, 0.5)
        spread = rng.choice([0.0, 0.01, 0.05, 0.3])
        raw = [number * base * (1 + spread * rng.random()) for _ in range(rng.choice([1, 2, 4, 9]))]
        specs.append((number, raw, dict(
            stmt=rng.choice(["f(x)", "x + y"]), setup=rng.choice(["pass", "s = 1", "s1\ns2"]),
            label=rng.choice(labels), sub_label=rng.choice(subs),
            description=rng.choice(["d1", "n=100", "x"]), env=rng.choice(envs),
            num_threads=rng.choice([1, 1, 4]))))
    return specs


def _normalize(text):
    return re.sub(r"<[\w.]+\.Measurement object at 0x[0-9a-f]+>", "<Measurement>", text)


def test_repr_matches_torch():
    tb, TM, TT = _torch_benchmark()
    rng = random.Random(0)
    cases = [(1, [2e-3], {}), (1, [1e-3, 2e-3], {}), (10, [1e-3, 1.1e-3, 1.2e-3, 5e-3], {}),
             (100, [1e-5] * 50, dict(label="Add", sub_label="float", description="n=4",
                                     env="A", num_threads=4)),
             (1, [1e-5] * 3, dict(stmt="a = 1\nb = 2", setup="x = 1\ny = 2", label="L")),
             (1, [1e-3] * 5, dict(stmt="a\nb", setup="s", sub_label="S", description="D"))]
    for number, raw, spec in _random_specs(rng, 40):
        cases.append((number, raw, dict(spec, stmt=rng.choice(["f(x)", "a\nb"]))))
    for number, raw, spec in cases:
        spec = dict(dict(stmt="x + y", setup="pass"), **spec)
        ours, theirs = Measurement(number, raw, TaskSpec(**spec)), TM(number, raw, TT(**spec))
        assert _normalize(repr(ours)) == _normalize(repr(theirs)), spec
        for attr in ("median", "mean", "iqr"):
            assert getattr(ours, attr) == pytest.approx(getattr(theirs, attr), rel=1e-12)
        for attr in ("significant_figures", "has_warnings", "title", "env", "as_row_name"):
            assert getattr(ours, attr) == getattr(theirs, attr), (attr, spec)
        for threshold in (0.01, 0.1, 0.5):
            assert ours.meets_confidence(threshold) == theirs.meets_confidence(threshold)


@pytest.mark.parametrize("seed", range(4))
def test_compare_matches_torch(seed):
    tb, TM, TT = _torch_benchmark()
    rng = random.Random(seed)
    compared = 0
    for _ in range(25):
        specs = _random_specs(rng, rng.randint(1, 8))
        for trim in (False, True):
            for color in (None, "columns", "rows"):
                for highlight in (False, True):
                    texts = []
                    for Compare, M, T in ((tb.Compare, TM, TT), (db.Compare, Measurement, TaskSpec)):
                        c = Compare([M(n, list(raw), T(**spec)) for n, raw, spec in specs])
                        if trim:
                            c.trim_significant_figures()
                        if color:
                            c.colorize(rowwise=color == "rows")
                        if highlight:
                            c.highlight_warnings()
                        try:
                            texts.append(str(c))
                        except TypeError:
                            # torch cannot sort rows that mix env=None with named envs
                            texts.append(None)
                    if texts[0] is None:
                        continue
                    assert texts[1] == texts[0], specs
                    compared += 1
    assert compared > 100


def test_compare_table_layout():
    ms = [_m(1, [2e-6] * 4, label="Add", sub_label="float", description="n=1"),
          _m(1, [4e-6] * 4, label="Add", sub_label="int", description="n=1"),
          _m(1, [3e-5] * 4, label="Add", sub_label="float", description="n=100", num_threads=4)]
    c = db.Compare(ms)
    lines = str(c).splitlines()
    assert lines[0].startswith("[") and " Add " in lines[0] and lines[0].endswith("]")
    assert lines[1:3] == ["             |  n=1  |  n=100", "1 threads: ------------------"]
    assert lines[3:7] == ["      float  |  2.0  |       ", "      int    |  4.0  |       ",
                          "4 threads: ------------------", "      float  |       |   30.0"]
    assert lines[-1] == "Times are in microseconds (us)."
    assert all(len(line) == len(lines[0]) for line in lines[1:7])
    with pytest.raises(ValueError, match="Expected an instance of `Measurement`"):
        db.Compare([1])


# ------------------------------------------------------------------------ real timings
def test_timeit_runs_setup_and_statement():
    calls = []
    t = db.Timer("calls.append(1)", setup="calls.append('s')", globals={"calls": calls})
    m = t.timeit(10)
    # one warmup loop (max(10 // 100, 2) runs) and the measured one, each after the setup
    assert calls.count("s") == 2 and calls.count(1) == 12
    assert m.number_per_run == 10 and len(m.raw_times) == 1
    assert m.raw_times[0] > 0 and m.median == pytest.approx(m.raw_times[0] / 10)


def test_globals_and_setup_semantics():
    g = {"a": 1}
    t = db.Timer("out.append(a + b + x.sum().item())", setup="b = 10\nx = torch.ones(2)",
                 globals=dict(g, out=(out := [])))
    t.timeit(3)
    assert out and all(v == 13.0 for v in out)
    assert g == {"a": 1}                           # the caller's dict is copied, not filled
    t = db.Timer("\n        y = 1\n        z = y + 1\n    ", setup="\n    import math\n")
    m = t.timeit(2)
    assert m.task_spec.stmt == "y = 1\nz = y + 1" and m.task_spec.setup == "import math"
    with pytest.raises(NameError):
        db.Timer("undefined_name + 1").timeit(1)
    with pytest.raises(SyntaxError):
        db.Timer("x =")


def test_constructor_errors():
    with pytest.raises(ValueError, match="only a `str` stmt"):
        db.Timer(lambda: 1)
    with pytest.raises(ValueError, match="global_setup is C\\+\\+ only"):
        db.Timer("pass", global_setup="#include <x>")
    for language in ("c++", "cpp", db.Language.CPP):
        with pytest.raises(ValueError, match="Python statements only"):
            db.Timer("pass", language=language)
    with pytest.raises(ValueError, match="Invalid language `rust`"):
        db.Timer("pass", language="rust")
    db.Timer("pass", language="py")
    t = db.Timer("pass")
    for method in (t.repeat, t.autorange):     # PyTorch refuses them the same way
        with pytest.raises(NotImplementedError, match="blocked_autorange"):
            method()


def test_blocked_and_adaptive_autorange():
    seen = []
    t = db.Timer("x + 1", globals={"x": 1}, label="add", description="int")
    m = t.blocked_autorange(callback=lambda number, time: seen.append((number, time)),
                            min_run_time=0.01)
    assert len(m.raw_times) == len(seen) >= 1
    assert all(n == m.number_per_run for n, _ in seen) and m.number_per_run >= 1
    assert [time for _, time in seen] == m.raw_times
    assert sum(m.raw_times) >= 0.01 and m.median > 0 and m.label == "add"
    m = t.adaptive_autorange(threshold=0.5, min_run_time=0.01, max_run_time=0.2)
    assert len(m.raw_times) >= 1 and m.median > 0
    # it stops once more than 3 blocks agree, or at max_run_time
    assert (len(m.raw_times) > 3 and m.meets_confidence(0.5)) or sum(m.raw_times) > 0.2


def test_num_threads_set_and_restored():
    before = disttorch.get_num_threads()
    seen = []
    t = db.Timer("seen.append(torch.get_num_threads())", globals={"seen": seen}, num_threads=3)
    t.timeit(2)
    t.blocked_autorange(min_run_time=0.001)
    assert set(seen) == {3}
    assert disttorch.get_num_threads() == before

    boom = db.Timer("raise KeyError('x')", num_threads=before + 1)
    with pytest.raises(KeyError):
        boom.timeit(1)
    assert disttorch.get_num_threads() == before


def test_default_timer_synchronizes_cuda(monkeypatch):
    from disttorch.cuda import _simulated
    with _simulated.simulate():
        x = disttorch.ones(4, device="cuda")
        syncs = []
        real = disttorch.cuda.synchronize
        monkeypatch.setattr(disttorch.cuda, "synchronize", lambda *a: (syncs.append(1), real(*a)))
        m = db.Timer("x * 2", globals={"x": x}).timeit(5)
        # the clock is read twice per timed loop (warmup and measurement), each after a sync
        assert len(syncs) >= 4 and m.median > 0
