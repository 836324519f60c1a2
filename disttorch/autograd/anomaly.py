"""Anomaly detection: name the forward op whose backward produced NaN."""
import threading

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


class _AnomalyState(threading.local):
    def __init__(self):
        self.enabled = False
        self.check_nan = True


state = _AnomalyState()


def is_anomaly_enabled():
    return state.enabled


class detect_anomaly:
    """Context manager / decorator: record each op's forward stack trace and, during backward,
    raise an error naming the op (and showing where it was called) whose backward produced NaN.
    """

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        self.prev = None

    def __enter__(self):
        self.prev = (state.enabled, state.check_nan)
        state.enabled, state.check_nan = True, self.check_nan

    def __exit__(self, *exc):
        state.enabled, state.check_nan = self.prev

    def __call__(self, func):
        import functools

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__(self.check_nan):
                return func(*args, **kwargs)
        return wrapper


class set_detect_anomaly:
    """Turn anomaly detection on or off (function or context manager)."""

    def __init__(self, mode, check_nan=True):
        self.prev = (state.enabled, state.check_nan)
        state.enabled, state.check_nan = bool(mode), check_nan

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        state.enabled, state.check_nan = self.prev
