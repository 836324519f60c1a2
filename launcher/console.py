"""The launcher's console: worker output lines plus one live progress line."""

import collections
import sys
import threading
import time

_NON_TTY_STATUS_PERIOD = 10.0


class Console:
    """Serialises output from several threads and keeps a live status line.

    On a terminal the status line is redrawn in place under the worker
    output; otherwise (logs, CI) it is printed as a plain line at most every
    10 seconds, and only when it changed.
    """

    def __init__(self, out=None, err=None):
        self.out = out or sys.stdout.buffer
        self.err = err or sys.stderr.buffer
        self._live = sys.stderr.isatty()
        self._lock = threading.Lock()
        self._status = ""
        self._status_printed_at = time.monotonic()
        self._last_printed = ""
        self.launcher_tail = collections.deque(maxlen=20)

    def line(self, data, stream="out"):
        """Write one line (bytes, with its newline) of worker output."""
        target = self.out if stream == "out" else self.err
        with self._lock:
            self._clear_status()
            target.write(data)
            target.flush()
            self._draw_status()

    def notice(self, text):
        """Print a launcher message on stderr."""
        self.line(f"disttorch-run: {text}\n".encode(), "err")

    def status(self, text):
        """Update the live progress line."""
        if not text or text == self._status:
            return
        with self._lock:
            self._status = text
            if self._live:
                self._clear_status()
                self._draw_status()
            elif text != self._last_printed and time.monotonic() - self._status_printed_at >= _NON_TTY_STATUS_PERIOD:
                self.err.write(f"disttorch-run: progress: {text}\n".encode())
                self.err.flush()
                self._status_printed_at, self._last_printed = time.monotonic(), text

    def clear_status(self):
        """Remove the live line (before the final report)."""
        with self._lock:
            self._clear_status()
            self._status = ""

    def _clear_status(self):
        if self._live and self._status:
            self.err.write(b"\r\x1b[K")
            self.err.flush()

    def _draw_status(self):
        if self._live and self._status:
            self.err.write(f"[progress] {self._status}".encode())
            self.err.flush()


def pump(pipe, console, stream):
    """Copy lines from ``pipe`` to ``console`` until EOF (run on a thread).

    Lines that no rank supervisor prefixed come from the MPI process manager
    itself; the last of them explain a launch failure.
    """
    for data in iter(pipe.readline, b""):
        data = data if data.endswith(b"\n") else data + b"\n"
        if not data.startswith(b"[rank"):
            console.launcher_tail.append(data.decode(errors="replace").rstrip("\n"))
        console.line(data, stream)
