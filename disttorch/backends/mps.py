"""``disttorch.backends.mps``: Apple's Metal backend, which disttorch does not have."""

__all__ = ["is_available", "is_built"]


def is_available():
    """False: there is no MPS device in disttorch."""
    return False


def is_built():
    """False: disttorch is not built with MPS."""
    return False
