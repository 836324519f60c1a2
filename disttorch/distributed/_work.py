"""Work handles for asynchronous collectives and the per-group operation executor."""
import collections
import threading


class Work:
    """Handle of an asynchronous collective: ``wait()``, ``is_completed()``, ``result()``."""

    def __init__(self, description, result=None, timeout=None, on_timeout=None):
        self.description = description
        self._done = threading.Event()
        self._exception = None
        self._result = result
        self._callbacks = []
        self._timeout = timeout
        self._on_timeout = on_timeout

    def _finish(self, exception=None):
        self._exception = exception
        self._done.set()
        for callback in self._callbacks:
            callback(self)

    def is_completed(self):
        """True once the operation has finished (successfully or not)."""
        return self._done.is_set()

    def is_success(self):
        return self._done.is_set() and self._exception is None

    def exception(self):
        return self._exception

    def wait(self, timeout=None):
        """Block until the operation has finished (at most ``timeout``, default: the group's
        timeout); re-raise its error if it failed."""
        limit = timeout if timeout is not None else self._timeout
        seconds = None if limit is None else getattr(limit, "total_seconds", lambda: limit)()
        if not self._done.wait(seconds):
            if timeout is None and self._on_timeout is not None:
                raise self._on_timeout()
            raise RuntimeError(f"Work.wait() timed out after {seconds} s waiting for "
                               f"{self.description}")
        if self._exception is not None:
            raise self._exception
        return True

    def result(self):
        self.wait()
        return self._result

    def get_future(self):
        return _Future(self)

    def synchronize(self):
        self.wait()


class _Future:
    """The ``get_future()`` view of a Work: ``wait()``, ``value()``, ``then(callback)``."""

    def __init__(self, work):
        self._work = work

    def wait(self):
        self._work.wait()
        if self._work._exception is not None:
            raise self._work._exception
        return self._work._result

    def value(self):
        return self.wait()

    def done(self):
        return self._work.is_completed()

    def then(self, callback):
        chained = Work(self._work.description)

        def run(work):
            try:
                chained._result = callback(_Future(work))
                chained._finish()
            except Exception as exc:  # surfaced through the chained future's wait()
                chained._finish(exc)
        if self._work.is_completed():
            run(self._work)
        else:
            self._work._callbacks.append(run)
        return _Future(chained)


class Executor:
    """Runs a group's operations in submission order, on a background thread for async ops.

    Synchronous calls run inline on the caller's thread once nothing is pending, so a blocking
    collective costs no thread hand-off; async calls queue behind each other and never overtake.
    """

    def __init__(self, name):
        self.name = name
        self.cv = threading.Condition()
        self.pending = collections.deque()
        self.running = False
        self.thread = None
        self.closed = False

    def submit(self, fn, work):
        with self.cv:
            if self.closed:
                raise RuntimeError("the process group has been destroyed")
            self.pending.append((fn, work))
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name=f"disttorch-{self.name}",
                                               daemon=True)
                self.thread.start()
            self.cv.notify_all()
        return work

    def run_sync(self, fn):
        with self.cv:
            while self.pending or self.running:
                self.cv.wait()
            self.running = True
        try:
            return fn()
        finally:
            with self.cv:
                self.running = False
                self.cv.notify_all()

    def _loop(self):
        while True:
            with self.cv:
                while not self.pending or self.running:
                    if self.closed and not self.pending:
                        return
                    self.cv.wait()
                fn, work = self.pending.popleft()
                self.running = True
            try:
                work._result = fn()
                error = None
            except BaseException as exc:  # delivered to the waiter
                error = exc
            with self.cv:
                self.running = False
                self.cv.notify_all()
            work._finish(error)

    def close(self):
        with self.cv:
            self.closed = True
            self.cv.notify_all()
        if self.thread is not None:
            self.thread.join(timeout=5)
