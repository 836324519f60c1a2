"""``disttorch.utils``: ``data`` (datasets and loaders) and friends, loaded on first use."""


def __getattr__(name):
    if name in ("data", "tensorboard", "checkpoint"):
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'disttorch.utils' has no attribute '{name}'")
