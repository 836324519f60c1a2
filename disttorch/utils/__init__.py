"""``disttorch.utils``: ``data`` (datasets and loaders), ``tensorboard``, ``checkpoint``,
``progress`` (progress bar, metrics log, curves), ``hooks`` (hook handles), ``benchmark``
(Timer, Compare), each loaded on first use."""


def __getattr__(name):
    if name in ("data", "tensorboard", "checkpoint", "progress", "hooks", "benchmark"):
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'disttorch.utils' has no attribute '{name}'")
