"""Training-loop reporting: a per-epoch progress bar, a JSON-lines metrics log, a curve plot.

These are disttorch additions (PyTorch leaves them to third-party packages). Each works
without its optional dependency:

* :class:`ProgressBar` draws with ``tqdm`` when it is installed (``pip install tqdm``) and
  prints plain-text lines otherwise, on rank 0 only; under ``disttorch-run`` it feeds the
  launcher's live status line instead of drawing.
* :class:`MetricsLog` appends one JSON object per line (no dependency).
* :func:`plot_metrics` needs ``matplotlib`` and says so when it is missing.

Example::

    from disttorch.utils.progress import MetricsLog, ProgressBar, plot_metrics

    log = MetricsLog("runs/mlp/metrics.jsonl")
    for epoch in range(epochs):
        bar = ProgressBar(loader, desc=f"epoch {epoch}", epoch=epoch)
        for x, y in bar:
            loss = train_step(x, y)
            bar.log(samples=len(y), loss=loss.item())
        log.write(epoch=epoch, **bar.summary())
    plot_metrics("runs/mlp/metrics.jsonl", "runs/mlp/curves.png")
"""
import json
import os
import sys
import time

__all__ = ["ProgressBar", "MetricsLog", "read_metrics", "plot_metrics"]

_PLAIN_INTERVAL_S = 5.0


def _rank():
    from .. import distributed as dist
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    for name in ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID"):
        if name in os.environ:
            return int(os.environ[name])
    return 0


def _launched():
    return "DISTTORCH_CONTROL_ENDPOINT" in os.environ


class ProgressBar:
    r"""Wrap an iterable (usually a ``DataLoader``) and show progress, loss and throughput.

    Iterate over the bar instead of the loader and call :meth:`log` once per step. The bar
    shows running means of the logged metrics and samples per second; :meth:`summary`
    returns them at the end of the epoch.

    How it draws depends on where it runs: under ``disttorch-run`` every rank feeds the
    launcher's live status line (epoch, step, job samples/s, mean loss); otherwise nothing
    on ranks other than 0, and on rank 0 a ``tqdm`` bar when ``tqdm`` is installed and
    ``style`` is ``"auto"`` or ``"tqdm"``, else a plain text line every 5 seconds and at
    the end.

    Args:
        iterable (iterable): what to iterate over.
        desc (str, optional): a label in front of the bar, e.g. ``"epoch 3"``.
        total (int, optional): number of steps; defaults to ``len(iterable)``.
        epoch (int, optional): reported to the launcher with each step.
        style (str): ``"auto"``, ``"tqdm"``, ``"plain"`` or ``"none"``. Default: ``"auto"``.
        file (file, optional): where to draw. Default: ``sys.stderr``.
        world_size (int): samples logged by this rank are multiplied by it for the
            throughput, so rank 0 shows the whole job's samples/s. Default: 1.
    """

    def __init__(self, iterable, desc=None, total=None, epoch=None, style="auto", file=None,
                 world_size=1):
        if style not in ("auto", "tqdm", "plain", "none"):
            raise ValueError(f"ProgressBar: style must be 'auto', 'tqdm', 'plain' or 'none', "
                             f"got {style!r}")
        self.iterable = iterable
        self.desc = desc or ""
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__")
                                                      else None)
        self.epoch = epoch
        self.world_size = world_size
        self.file = file if file is not None else sys.stderr
        self.steps = 0
        self.samples = 0
        self._sums = {}
        self._counts = {}
        self._start = None
        self._end = None
        self._printed_at = 0.0
        self._tqdm = None
        self._reporter = None
        self._closed = False
        if _launched() and style == "auto":
            # every rank reports: the launcher sums the throughputs and averages the losses
            from launcher import worker
            self._reporter = worker
            self._mode = "launcher"
        elif style == "none" or _rank() != 0:
            self._mode = "none"
        elif style in ("auto", "tqdm") and self._make_tqdm(required=style == "tqdm"):
            self._mode = "tqdm"
        else:
            self._mode = "plain"

    def _make_tqdm(self, required):
        try:
            from tqdm.auto import tqdm
        except ImportError:
            if required:
                raise ImportError("ProgressBar(style='tqdm') needs tqdm: pip install tqdm "
                                  "(or pip install 'disttorch[examples]')") from None
            return False
        self._tqdm = tqdm(total=self.total, desc=self.desc, file=self.file, leave=False,
                          dynamic_ncols=True)
        return True

    def __len__(self):
        return self.total

    def __iter__(self):
        self._start = self._printed_at = time.perf_counter()
        try:
            for item in self.iterable:
                yield item
        finally:
            self.close()

    @property
    def elapsed(self):
        """Seconds from the start of iteration to its end (or to now, while it runs)."""
        if self._start is None:
            return 0.0
        return (self._end if self._end is not None else time.perf_counter()) - self._start

    def log(self, samples=0, **metrics):
        """Record one step: ``samples`` processed by this rank and metric values (floats).

        Values may be Python numbers or one-element tensors; the bar shows their running
        mean over the epoch.
        """
        if self._start is None:
            self._start = self._printed_at = time.perf_counter()
        self.steps += 1
        self.samples += samples * self.world_size
        for name, value in metrics.items():
            value = float(value.item() if hasattr(value, "item") else value)
            self._sums[name] = self._sums.get(name, 0.0) + value
            self._counts[name] = self._counts.get(name, 0) + 1
        if self._mode == "none":
            return
        means = self.means()
        rate = self.samples_per_s
        if self._mode == "launcher":
            self._reporter.report_progress(epoch=self.epoch, step=self.steps,
                                           samples_per_s=rate / self.world_size,
                                           loss=means.get("loss"))
        elif self._mode == "tqdm":
            self._tqdm.set_postfix({**{k: f"{v:.4g}" for k, v in means.items()},
                                    "samples/s": f"{rate:.0f}"}, refresh=False)
            self._tqdm.update(1)
        elif time.perf_counter() - self._printed_at >= _PLAIN_INTERVAL_S:
            self._print_line()

    def means(self):
        """Running means of the logged metrics, ``{name: float}``."""
        return {name: self._sums[name] / self._counts[name] for name in self._sums}

    @property
    def samples_per_s(self):
        """Samples per second of the whole job since iteration started."""
        elapsed = self.elapsed
        return self.samples / elapsed if elapsed > 0 else 0.0

    def summary(self):
        """The epoch's means, ``samples_per_s`` and ``seconds``, as a dict for a metrics log."""
        return {**self.means(), "samples_per_s": self.samples_per_s, "seconds": self.elapsed}

    def _print_line(self):
        self._printed_at = time.perf_counter()
        where = f"{self.steps}/{self.total}" if self.total else str(self.steps)
        values = "  ".join(f"{k} {v:.4g}" for k, v in self.means().items())
        print(f"{self.desc} [{where}] {values}  {self.samples_per_s:.0f} samples/s".strip(),
              file=self.file, flush=True)

    def close(self):
        """Finish the bar (called automatically when iteration ends)."""
        if self._closed:
            return
        self._closed = True
        if self._start is not None:
            self._end = time.perf_counter()
        if self._mode == "tqdm":
            self._tqdm.close()
        elif self._mode == "plain" and self.steps:
            self._print_line()


class MetricsLog:
    r"""Append metrics to a JSON-lines file, one object per :meth:`write`.

    Only rank 0 writes (other ranks' calls are no-ops), so it may be called on every rank.

    Args:
        path (str): the file; parent directories are created.
        mode (str): ``"a"`` to continue a resumed run's log, ``"w"`` to start over.
            Default: ``"a"``.
    """

    def __init__(self, path, mode="a"):
        self.path = path
        self._file = None
        if _rank() == 0:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self._file = open(path, mode)

    def write(self, **record):
        """Write one record (keyword values must be JSON-serialisable numbers or strings)."""
        if self._file is not None:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_metrics(path):
    """Read a JSON-lines metrics file into a list of dicts."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def plot_metrics(path, out, x="epoch", title=None):
    r"""Plot every numeric metric of a JSON-lines file against ``x`` and save a PNG.

    Losses go on the left axis and metrics whose name contains ``accuracy`` on the right,
    so both curves are readable in one figure. Needs ``matplotlib``.

    Args:
        path (str): the JSON-lines file written by :class:`MetricsLog`.
        out (str): the PNG to write.
        x (str): the record field on the horizontal axis. Default: ``"epoch"``.
        title (str, optional): the figure's title.

    Returns:
        str: ``out``.
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise ImportError("plot_metrics needs matplotlib: pip install matplotlib "
                          "(or pip install 'disttorch[examples]')") from None
    records = [r for r in read_metrics(path) if x in r]
    if not records:
        raise ValueError(f"plot_metrics: no record in {path} has the field {x!r}")
    names = [k for k, v in records[-1].items()
             if k != x and isinstance(v, (int, float)) and ("loss" in k or "accuracy" in k)]
    figure, left = plt.subplots(figsize=(6, 3.6), dpi=100)
    right = None
    # one colour cycle across both axes, so no two curves share a colour
    colors = iter(plt.rcParams["axes.prop_cycle"].by_key()["color"] * 4)
    for name in names:
        xs = [r[x] for r in records if name in r]
        ys = [r[name] for r in records if name in r]
        if "accuracy" in name:
            right = right or left.twinx()
            right.plot(xs, ys, marker="o", linestyle="--", label=name, color=next(colors))
            right.set_ylabel("accuracy")
        else:
            left.plot(xs, ys, marker="o", label=name, color=next(colors))
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_xlabel(x)
    left.set_ylabel("loss")
    handles, labels = left.get_legend_handles_labels()
    if right is not None:
        more = right.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    left.legend(handles, labels, loc="center right")
    if title:
        left.set_title(title)
    figure.tight_layout()
    figure.savefig(out)
    plt.close(figure)
    return out
