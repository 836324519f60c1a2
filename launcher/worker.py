"""Worker-side API: tell the launcher that training is alive and how far it got.

Every function here is a silent no-op when the process was not started by
``disttorch-run`` (the ``DISTTORCH_CONTROL_ENDPOINT`` variable is absent), so
libraries may call them unconditionally. The first call connects to the
launcher's control plane and starts a background thread that sends a
heartbeat every ``DISTTORCH_HEARTBEAT_INTERVAL`` seconds carrying the last
reported step and, while one is running, the name of the current collective.

The launcher declares a rank *hung* when its main thread has shown no
activity (no call to any function below) for ``--hang-timeout`` seconds.
A rank that never calls this API is only watched for exits, not for hangs.

Example::

    from launcher import worker

    for epoch in range(start_epoch, epochs):
        for step, batch in enumerate(loader):
            with worker.collective("allreduce"):
                comm.Allreduce(local, total)
            worker.report_progress(epoch=epoch, step=step, loss=loss, samples_per_s=rate)

Environment read (set by the launcher): ``DISTTORCH_CONTROL_ENDPOINT``,
``DISTTORCH_SECRET``, ``DISTTORCH_JOB_ID``, ``DISTTORCH_HEARTBEAT_INTERVAL``,
``DISTTORCH_RESTART_COUNT``, ``DISTTORCH_MAX_RESTARTS``, ``RANK``.
"""

import atexit
import contextlib
import logging
import os
import socket
import threading
import time

log = logging.getLogger("launcher.worker")

_PROGRESS_INTERVAL = 0.5


class _Reporter:
    """Per-process state behind the module-level functions."""

    def __init__(self):
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.client = None
        self.activity_at = time.monotonic()
        self.epoch = None
        self.step = None
        self.loss = None
        self.samples_per_s = None
        self.collective = None
        self.collective_at = None
        self.progress_sent_at = 0.0

    def heartbeat_body(self):
        with self.lock:
            now = time.monotonic()
            return {
                "step": self.step,
                "epoch": self.epoch,
                "collective": self.collective,
                "collective_age": None if self.collective_at is None else now - self.collective_at,
                "activity_age": now - self.activity_at,
            }


_reporter = None
_disabled = False
_setup_lock = threading.Lock()


def is_launched():
    """Return True when this process runs under ``disttorch-run``."""
    return "DISTTORCH_CONTROL_ENDPOINT" in os.environ


def restart_count():
    """How many times the launcher has restarted the worker group (0 on the first run)."""
    return int(os.environ.get("DISTTORCH_RESTART_COUNT", "0"))


def _get():
    """The connected reporter, or None when not launched or in a forked child."""
    global _reporter, _disabled
    if _disabled:
        return None
    if _reporter is not None:
        # A forked DataLoader worker inherits the module but not the thread.
        return _reporter if _reporter.pid == os.getpid() else None
    if not is_launched():
        _disabled = True
        return None
    with _setup_lock:
        if _reporter is None and not _disabled:
            _reporter = _connect()
            _disabled = _reporter is None
    return _reporter


def _connect():
    from launcher.client import ControlClient, ControlPlaneError

    reporter = _Reporter()
    env = os.environ
    hello = {
        "role": "worker", "job": env.get("DISTTORCH_JOB_ID", ""), "restart": restart_count(),
        "host": socket.gethostname(), "pid": os.getpid(), "rank": int(env.get("RANK", "0")),
    }
    client = ControlClient(
        env["DISTTORCH_CONTROL_ENDPOINT"], env.get("DISTTORCH_SECRET", "").encode(), hello,
        heartbeat_interval=float(env.get("DISTTORCH_HEARTBEAT_INTERVAL", "1")),
        heartbeat_body=reporter.heartbeat_body)
    try:
        client.connect(timeout=30)
    except ControlPlaneError as exc:
        log.warning("progress reporting disabled: %s", exc)
        return None
    reporter.client = client
    atexit.register(client.close)
    return reporter


def heartbeat():
    """Mark this rank as active (call it from long loops that report nothing else)."""
    reporter = _get()
    if reporter is not None:
        with reporter.lock:
            reporter.activity_at = time.monotonic()


def report_progress(epoch=None, step=None, samples_per_s=None, loss=None):
    """Record training progress; shown on the launcher's console and in hang reports.

    Cheap enough to call every step: the values are sent at most twice a second, each
    send carrying the latest value of every field (so a DataLoader reporting throughput and
    a training loop reporting the loss can share the line).

    Args:
        epoch (int, optional): current epoch.
        step (int, optional): current step (global or within the epoch).
        samples_per_s (float, optional): this rank's throughput; the console shows the sum.
        loss (float, optional): latest loss; the console shows the mean over ranks.
    """
    reporter = _get()
    if reporter is None:
        return
    now = time.monotonic()
    with reporter.lock:
        reporter.activity_at = now
        if epoch is not None:
            reporter.epoch = int(epoch)
        if step is not None:
            reporter.step = int(step)
        if samples_per_s is not None:
            reporter.samples_per_s = float(samples_per_s)
        if loss is not None:
            reporter.loss = float(loss)
        if now - reporter.progress_sent_at < _PROGRESS_INTERVAL:
            return
        reporter.progress_sent_at = now
        body = {"epoch": reporter.epoch, "step": reporter.step,
                "samples_per_s": reporter.samples_per_s, "loss": reporter.loss}
    reporter.client.send("progress", body)


def collective_begin(name):
    """Note that this rank enters collective ``name`` (named in hang reports)."""
    reporter = _get()
    if reporter is not None:
        with reporter.lock:
            reporter.collective = str(name)[:128]
            reporter.activity_at = reporter.collective_at = time.monotonic()


def collective_end():
    """Note that the current collective finished."""
    reporter = _get()
    if reporter is not None:
        with reporter.lock:
            reporter.collective = reporter.collective_at = None
            reporter.activity_at = time.monotonic()


@contextlib.contextmanager
def collective(name):
    """Context manager form of :func:`collective_begin` / :func:`collective_end`."""
    collective_begin(name)
    try:
        yield
    finally:
        collective_end()


def barrier(name, timeout=None):
    """Wait until every rank of the job reached barrier ``name`` (through the launcher).

    Unlike an MPI barrier this works before the process group exists.
    A no-op when not launched.
    """
    reporter = _get()
    if reporter is not None:
        with collective(f"barrier {name}"):
            reporter.client.barrier(name, timeout)
