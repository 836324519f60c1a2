"""``disttorch.nn.parallel``: ``DistributedDataParallel``, and ``DataParallel`` with its
pieces (``replicate``, ``scatter``, ``parallel_apply``, ``gather``, ``data_parallel``)."""
from .distributed import DistributedDataParallel
from .parallel_apply import parallel_apply
from .replicate import replicate
from .scatter_gather import gather, scatter
from .data_parallel import DataParallel, data_parallel

__all__ = ["replicate", "scatter", "parallel_apply", "gather", "data_parallel", "DataParallel",
           "DistributedDataParallel"]
