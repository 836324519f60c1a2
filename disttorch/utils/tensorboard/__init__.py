"""``disttorch.utils.tensorboard``: write TensorBoard event files (needs the ``tensorboard``
package: ``pip install tensorboard``)."""
try:
    import tensorboard  # noqa: F401
except ImportError:
    raise ImportError("disttorch.utils.tensorboard needs the tensorboard package to write event "
                      "files: pip install tensorboard (or pip install 'disttorch[tensorboard]')"
                      ) from None

from .writer import SummaryWriter

__all__ = ["SummaryWriter"]
