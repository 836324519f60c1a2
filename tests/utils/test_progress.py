"""utils.progress: plain-text and tqdm bars, the launcher's progress line, metrics log, plot."""
import io
import sys

import pytest

from disttorch.utils import progress
from disttorch.utils.progress import MetricsLog, ProgressBar, plot_metrics, read_metrics


def test_plain_bar_means_rate_and_final_line(monkeypatch):
    monkeypatch.delenv("DISTTORCH_CONTROL_ENDPOINT", raising=False)
    out = io.StringIO()
    bar = ProgressBar(range(4), desc="epoch 0", style="plain", file=out, world_size=2)
    for i in bar:
        bar.log(samples=8, loss=float(i), accuracy=0.5)
    summary = bar.summary()
    assert summary["loss"] == 1.5 and summary["accuracy"] == 0.5
    assert bar.samples == 64 and summary["samples_per_s"] > 0
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("epoch 0 [4/4] loss 1.5  accuracy 0.5")
    assert lines[-1].endswith("samples/s")


def test_tqdm_bar_when_installed():
    pytest.importorskip("tqdm", reason="tqdm is not installed")
    out = io.StringIO()
    bar = ProgressBar([1, 2], desc="epoch 1", style="tqdm", file=out)
    for _ in bar:
        bar.log(samples=1, loss=0.25)
    assert bar._mode == "tqdm" and "epoch 1:" in out.getvalue() and bar.summary()["loss"] == 0.25


def test_tqdm_missing_is_a_clear_error_or_plain_fallback(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match="pip install tqdm"):
        ProgressBar([1], style="tqdm")
    out = io.StringIO()
    bar = ProgressBar([1], file=out)
    for _ in bar:
        bar.log(samples=1, loss=1.0)
    assert "[1/1] loss 1" in out.getvalue()


def test_launcher_line(monkeypatch):
    calls = []
    monkeypatch.setenv("DISTTORCH_CONTROL_ENDPOINT", "tcp://127.0.0.1:1")
    from launcher import worker
    monkeypatch.setattr(worker, "report_progress", lambda **kw: calls.append(kw))
    bar = ProgressBar(range(3), epoch=4)
    for _ in bar:
        bar.log(samples=2, loss=0.5)
    assert [c["step"] for c in calls] == [1, 2, 3]
    assert calls[-1]["epoch"] == 4 and calls[-1]["loss"] == 0.5


def test_other_ranks_are_silent(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    out = io.StringIO()
    bar = ProgressBar(range(2), style="plain", file=out)
    for _ in bar:
        bar.log(samples=1, loss=1.0)
    assert out.getvalue() == "" and bar.summary()["loss"] == 1.0
    log = MetricsLog("unused/metrics.jsonl")
    log.write(epoch=0)
    assert log._file is None


def test_metrics_log_and_plot(tmp_path):
    path = tmp_path / "run" / "metrics.jsonl"
    with MetricsLog(str(path), mode="w") as log:
        for epoch in range(3):
            log.write(epoch=epoch, loss=1.0 / (epoch + 1), test_accuracy=0.5 + 0.1 * epoch)
    assert [r["epoch"] for r in read_metrics(path)] == [0, 1, 2]
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    out = plot_metrics(str(path), str(tmp_path / "curves.png"), title="test")
    assert (tmp_path / "curves.png").stat().st_size > 1000 and out.endswith("curves.png")
    with pytest.raises(ValueError, match="'step'"):
        plot_metrics(str(path), str(tmp_path / "x.png"), x="step")


def test_bad_style():
    with pytest.raises(ValueError, match="style"):
        progress.ProgressBar([], style="fancy")
