"""Grad-mode switches: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``."""
import functools
import inspect
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled"]


class _GradState(threading.local):
    # Thread-local like PyTorch's: a no_grad block in one thread does not affect another.
    def __init__(self):
        self.enabled = True
        self.inference = False


state = _GradState()


def is_grad_enabled():
    """Return True if gradient recording is currently enabled."""
    return state.enabled


def is_inference_mode_enabled():
    return state.inference


def _mark_inference_thread():
    """Keep ``tensor.INFERENCE_THREADS`` (the threads whose new tensors are inference tensors)
    in step with this thread's inference flag."""
    import threading
    from ..tensor import INFERENCE_THREADS   # (disttorch.tensor is the factory function)
    ident = threading.get_ident()
    if state.inference:
        INFERENCE_THREADS.add(ident)
    else:
        INFERENCE_THREADS.discard(ident)


class _DecoratorContextManager:
    """A context manager that is also usable as a function/generator decorator."""

    def __call__(self, func):
        if inspect.isclass(func):
            raise TypeError("grad-mode decorators cannot be applied to a class")
        if inspect.isgeneratorfunction(func):
            @functools.wraps(func)
            def generator_wrapper(*args, **kwargs):
                gen = func(*args, **kwargs)
                request = None
                while True:
                    try:
                        with self.clone():
                            response = gen.send(request)
                    except StopIteration as stop:
                        return stop.value
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self.clone():
                            gen.close()
                        raise
                    except BaseException as exc:
                        with self.clone():
                            try:
                                response = gen.throw(exc)
                            except StopIteration as stop:
                                return stop.value
                        request = yield response
            return generator_wrapper

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)
        return wrapper

    def clone(self):
        return self.__class__()


class no_grad(_DecoratorContextManager):
    """Context manager / decorator that disables gradient recording.

    Example::

        >>> x = disttorch.ones(2, requires_grad=True)
        >>> with disttorch.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def __init__(self):
        self.prev = None

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = False

    def __exit__(self, *exc):
        state.enabled = self.prev


class enable_grad(_DecoratorContextManager):
    """Context manager / decorator that enables gradient recording inside ``no_grad``."""

    def __init__(self):
        self.prev = None

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = True

    def __exit__(self, *exc):
        state.enabled = self.prev


class set_grad_enabled(_DecoratorContextManager):
    """Set gradient recording on or off; works as a function, context manager or decorator."""

    def __init__(self, mode):
        self.prev = state.enabled
        self.mode = bool(mode)
        state.enabled = self.mode

    def __call__(self, func):
        # Used as a decorator: the constructor must not leave the mode switched.
        state.enabled = self.prev
        return super().__call__(func)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        state.enabled = self.prev

    def clone(self):
        return self.__class__(self.mode)


class inference_mode(_DecoratorContextManager):
    """Like ``no_grad``; tensors made inside cannot be recorded by autograd later."""

    def __init__(self, mode=True):
        self.mode = mode
        self.prev = None

    def __call__(self, func=None):
        if isinstance(func, bool):
            return inference_mode(func)
        return super().__call__(func)

    def __enter__(self):
        self.prev = (state.enabled, state.inference)
        if self.mode:
            state.enabled = False
            state.inference = True
        _mark_inference_thread()

    def __exit__(self, *exc):
        state.enabled, state.inference = self.prev
        _mark_inference_thread()

    def clone(self):
        return self.__class__(self.mode)
