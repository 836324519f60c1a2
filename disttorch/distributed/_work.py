"""Work handles for asynchronous collectives and their futures."""
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
        self._parent = None  # the work a ``then`` continuation waits for

    def _finish(self, exception=None):
        self._exception = exception
        self._done.set()
        for callback in self._callbacks:
            callback(self)

    def is_completed(self):
        """True once the operation has finished (successfully or not)."""
        if self._parent is not None and not self._done.is_set():
            self._parent.is_completed()  # drives the parent, whose callback finishes us
        return self._done.is_set()

    def is_success(self):
        return self._done.is_set() and self._exception is None

    def exception(self):
        return self._exception

    def wait(self, timeout=None):
        """Block until the operation has finished (at most ``timeout``, default: the group's
        timeout); re-raise its error if it failed."""
        if self._parent is not None and not self._done.is_set():
            try:
                self._parent.wait(timeout)
            except Exception:
                if not self._done.is_set():  # e.g. a timeout: the continuation never ran
                    raise
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
        chained._parent = self._work

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
