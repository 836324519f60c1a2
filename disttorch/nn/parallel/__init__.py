"""``disttorch.nn.parallel``: ``DistributedDataParallel``."""
from .distributed import DistributedDataParallel

DataParallel = None  # single-process multi-GPU replication is not provided; use DDP

__all__ = ["DistributedDataParallel"]
