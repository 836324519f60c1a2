"""The ``ProcessGroup`` interface that every backend implements, and ``ReduceOp``."""
import abc
import datetime
import enum
import os

__all__ = ["ReduceOp", "ProcessGroup", "Backend", "register_backend", "DistBackendError",
           "DistTimeoutError"]

default_pg_timeout = datetime.timedelta(minutes=30)


class DebugLevel(enum.IntEnum):
    """How much the distributed package checks and reports (``TORCH_DISTRIBUTED_DEBUG``):
    ``DETAIL`` compares every collective's arguments across ranks before running it."""
    OFF = 0
    INFO = 1
    DETAIL = 2


def _level_from_env():
    value = os.environ.get("TORCH_DISTRIBUTED_DEBUG", "OFF").upper()
    if value not in DebugLevel.__members__:
        raise ValueError("The value of TORCH_DISTRIBUTED_DEBUG must be OFF, INFO, or DETAIL.")
    return DebugLevel[value]


_debug_level = [DebugLevel.OFF]


def get_debug_level():
    """The current :class:`DebugLevel` (from ``TORCH_DISTRIBUTED_DEBUG`` at import)."""
    return _debug_level[0]


def set_debug_level(level):
    """Set the :class:`DebugLevel`; process groups made afterwards follow it."""
    _debug_level[0] = DebugLevel(level)


def set_debug_level_from_env():
    """Read the level again from ``TORCH_DISTRIBUTED_DEBUG``."""
    _debug_level[0] = _level_from_env()


try:
    set_debug_level_from_env()
except ValueError:
    # a bad value is reported when the level is asked for from the environment again, as
    # PyTorch does; importing the package does not fail on it
    pass


class DistError(RuntimeError):
    """An error of the distributed package."""


class DistBackendError(DistError):
    """A backend failed to complete a collective."""


class DistStoreError(DistError):
    """A store operation failed (``get``/``wait`` past the timeout)."""


class DistNetworkError(DistError):
    """A store or backend could not reach its peer."""


class DistTimeoutError(DistBackendError):
    """A collective did not complete within the group's timeout."""


class ReduceOp:
    """Reduction operations for ``all_reduce``, ``reduce``, ``reduce_scatter``."""

    class RedOpType(str):
        def __repr__(self):
            return f"<RedOpType.{self}: {_ORDER.index(self)}>"

    SUM = RedOpType("SUM")
    AVG = RedOpType("AVG")
    PRODUCT = RedOpType("PRODUCT")
    MIN = RedOpType("MIN")
    MAX = RedOpType("MAX")
    BAND = RedOpType("BAND")
    BOR = RedOpType("BOR")
    BXOR = RedOpType("BXOR")


_ORDER = ["SUM", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR", "AVG"]


class ProcessGroup(abc.ABC):
    """A set of ranks that run collectives together.

    Backends implement the methods below on tensors; each takes ``async_op`` and returns a
    :class:`~disttorch.distributed._work.Work` when it is True (None otherwise).
    """

    backend_name = "undefined"

    @abc.abstractmethod
    def rank(self):
        """See the module-level function of the same name."""

    @abc.abstractmethod
    def size(self):
        """See the module-level function of the same name."""

    @abc.abstractmethod
    def allreduce(self, tensor, op, async_op):
        """See the module-level function of the same name."""

    @abc.abstractmethod
    def broadcast(self, tensor, src, async_op):
        """See the module-level function of the same name."""

    @abc.abstractmethod
    def reduce(self, tensor, dst, op, async_op):
        """See the module-level function of the same name."""

    @abc.abstractmethod
    def allgather(self, output_tensors, tensor, async_op):
        """See the module-level function of the same name."""

    @abc.abstractmethod
    def allgather_into_tensor(self, output, tensor, async_op):
        """See the module-level function of the same name."""

    @abc.abstractmethod
    def gather(self, tensor, gather_list, dst, async_op):
        """See the module-level function of the same name."""

    @abc.abstractmethod
    def scatter(self, tensor, scatter_list, src, async_op):
        """See the module-level function of the same name."""

    @abc.abstractmethod
    def reduce_scatter(self, output, input_list, op, async_op):
        """See the module-level function of the same name."""

    @abc.abstractmethod
    def reduce_scatter_tensor(self, output, input, op, async_op):
        """See the module-level function of the same name."""

    @abc.abstractmethod
    def alltoall(self, output_list, input_list, async_op):
        """See the module-level function of the same name."""

    @abc.abstractmethod
    def alltoall_single(self, output, input, output_split_sizes, input_split_sizes, async_op):
        """See the module-level function of the same name."""

    @abc.abstractmethod
    def send(self, tensor, dst, tag, async_op):
        """See the module-level function of the same name."""

    @abc.abstractmethod
    def recv(self, tensor, src, tag, async_op):
        """See the module-level function of the same name."""

    @abc.abstractmethod
    def barrier(self, async_op):
        """See the module-level function of the same name."""

    @abc.abstractmethod
    def broadcast_bytes(self, payload, src):
        """Broadcast a bytes payload from group rank ``src``; every rank returns it."""

    @abc.abstractmethod
    def allgather_bytes(self, payload):
        """Every rank contributes bytes; returns the list of all ranks' payloads."""

    def batch_p2p(self, ops):
        """Start ``(kind, tensor, peer, tag)`` sends and receives (``kind`` ``"send"`` or
        ``"recv"``, ``peer`` a group rank) together; one :class:`Work` per op. Each is
        non-blocking here, so their order cannot deadlock."""
        return [self.send(t, peer, tag, True) if kind == "send" else
                self.recv(t, peer, tag, True) for kind, t, peer, tag in ops]

    def shutdown(self):
        pass


class Backend(str):
    """Backend names: ``Backend.MPI``, ``Backend.GLOO`` (an alias of MPI here), ``Backend.NCCL``."""

    MPI = "mpi"
    GLOO = "gloo"
    NCCL = "nccl"
    UNDEFINED = "undefined"
    _registry = {}

    def __new__(cls, name):
        value = str(name).lower()
        if value not in (cls.MPI, cls.GLOO, cls.NCCL) and value not in cls._registry:
            raise ValueError(f"Invalid backend: '{name}'")
        return str.__new__(cls, value)


def register_backend(name, factory):
    """Register ``factory(comm_world, timeout) -> ProcessGroup`` under ``name``."""
    Backend._registry[name.lower()] = factory
