"""``skip_init`` and the memory-format converters of ``torch.nn.utils``."""
import inspect

__all__ = ["skip_init", "convert_conv2d_weight_memory_format",
           "convert_conv3d_weight_memory_format"]


def skip_init(module_cls, *args, **kwargs):
    """Build ``module_cls(*args, **kwargs)`` whose parameters the caller will overwrite.

    PyTorch leaves them uninitialised; here they hold the ordinary initial values (which the
    caller must not rely on either). ``module_cls`` must accept a ``device`` argument.
    """
    from ..modules.module import Module
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    return module_cls(*args, **kwargs)


def convert_conv2d_weight_memory_format(module, memory_format):
    """Return ``module``: disttorch keeps every weight row-major, so there is nothing to
    convert (the tags are accepted for scripts that tune memory formats)."""
    return module


def convert_conv3d_weight_memory_format(module, memory_format):
    """Return ``module`` unchanged, as :func:`convert_conv2d_weight_memory_format`."""
    return module
