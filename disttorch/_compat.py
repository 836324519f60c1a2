"""Shims that let PyTorch scripts run unchanged: ``compile``, global numeric switches and print
options. disttorch always runs eagerly, so compilation returns its input."""
import warnings

from . import _formatting

__all__ = ["compile", "set_printoptions", "set_float32_matmul_precision",
           "get_float32_matmul_precision", "use_deterministic_algorithms",
           "are_deterministic_algorithms_enabled", "is_deterministic_algorithms_warn_only_enabled",
           "set_deterministic_debug_mode", "get_deterministic_debug_mode", "set_warn_always",
           "is_warn_always_enabled"]

_noticed = set()


def notice_once(feature, message):
    """Warn about ``feature`` the first time only (a script calls ``compile`` per model)."""
    if feature not in _noticed:
        _noticed.add(feature)
        warnings.warn(message, UserWarning, stacklevel=3)


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None,
            options=None, disable=False):
    """Return ``model`` unchanged: disttorch runs eagerly, which gives the numbers a compiled
    PyTorch model gives. Used as ``torch.compile(model)`` or as a decorator, with or without
    arguments.

    Args:
        model (Callable): a module or function. When omitted, a decorator is returned.
        fullgraph, dynamic, backend, mode, options, disable: accepted and ignored.
    """
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified "
                           "at the same time.")
    if model is None:
        return lambda fn: compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                                  mode=mode, options=options, disable=disable)
    if not callable(model):
        raise RuntimeError("torch.compile: model must be callable")
    notice_once("compile", "disttorch.compile: running eagerly (disttorch has no graph "
                           "compiler); the model is returned unchanged.")
    return model


_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80),
             "full": (4, float("inf"), 3, 80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """Set how tensors print, like ``numpy.set_printoptions``.

    Args:
        precision (int): digits after the decimal point (default 4).
        threshold (int): above this many elements the repr is summarised (default 1000).
        edgeitems (int): items shown at each end of a summarised dimension (default 3).
        linewidth (int): characters per line before wrapping (default 80).
        profile (str): ``"default"``, ``"short"`` or ``"full"``; explicit options override it.
        sci_mode (bool): force (True) or suppress (False) scientific notation; None chooses
            automatically.
    """
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"Unknown profile {profile!r}: expected one of {sorted(_PROFILES)}")
        (_formatting._PRECISION, _formatting._THRESHOLD, _formatting._EDGEITEMS,
         _formatting._LINEWIDTH) = _PROFILES[profile]
    if precision is not None:
        _formatting._PRECISION = precision
    if threshold is not None:
        _formatting._THRESHOLD = threshold
    if edgeitems is not None:
        _formatting._EDGEITEMS = edgeitems
    if linewidth is not None:
        _formatting._LINEWIDTH = linewidth
    _formatting._SCI_MODE = sci_mode


_matmul_precision = ["highest"]
_deterministic = {"enabled": False, "warn_only": False}


def set_float32_matmul_precision(precision):
    """Record the float32 matmul precision (``"highest"``, ``"high"`` or ``"medium"``). disttorch
    always multiplies float32 in full float32 precision, which every setting permits."""
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"Invalid float32 matmul precision: {precision}; expected one of "
                           f"'highest', 'high', 'medium'")
    _matmul_precision[0] = precision


def get_float32_matmul_precision():
    """The value last given to :func:`set_float32_matmul_precision` (``"highest"`` initially)."""
    return _matmul_precision[0]


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Record the deterministic-algorithms flag. disttorch's kernels are deterministic (numpy
    and CuPy reductions in a fixed order), so nothing needs to change."""
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms expects a bool, but got {type(mode).__name__}")
    _deterministic["enabled"] = mode
    _deterministic["warn_only"] = bool(warn_only)


def are_deterministic_algorithms_enabled():
    """Whether :func:`use_deterministic_algorithms` turned the flag on."""
    return _deterministic["enabled"]


def is_deterministic_algorithms_warn_only_enabled():
    """Whether the deterministic-algorithms flag was set with ``warn_only=True``."""
    return _deterministic["warn_only"]


_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def set_deterministic_debug_mode(debug_mode):
    """``0``/``"default"``, ``1``/``"warn"`` or ``2``/``"error"``: the same flag as
    :func:`use_deterministic_algorithms` (off, on with ``warn_only``, on)."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, "
                               f"`error`, but got {debug_mode}")
        debug_mode = _DEBUG_MODES[debug_mode]
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got "
                           f"{debug_mode}")
    use_deterministic_algorithms(debug_mode != 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode():
    """0, 1 or 2, as set by :func:`set_deterministic_debug_mode`."""
    if not _deterministic["enabled"]:
        return 0
    return 1 if _deterministic["warn_only"] else 2


_warn_always = [False]


def set_warn_always(b):
    """Record whether once-only warnings should repeat (disttorch's notices are once-only)."""
    _warn_always[0] = bool(b)


def is_warn_always_enabled():
    """The value last given to :func:`set_warn_always` (False initially)."""
    return _warn_always[0]
