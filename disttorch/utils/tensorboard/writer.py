"""``SummaryWriter``: scalars and histograms as TensorBoard event files."""
import os
import socket
import time
from datetime import datetime

import numpy as np
from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.compat.proto.types_pb2 import DT_DOUBLE, DT_FLOAT
from tensorboard.summary.writer.event_file_writer import EventFileWriter

__all__ = ["SummaryWriter"]


def _to_numpy(value):
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "cpu"):
        value = value.cpu()
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value)


def _scalar(value, name):
    array = _to_numpy(value)
    if array.size != 1:
        raise ValueError(f"SummaryWriter.{name}: the scalar value must have one element, got "
                         f"shape {tuple(array.shape)}")
    return float(array.reshape(()))


def _tensorflow_bucket_edges():
    # TensorFlow's default histogram buckets: +-1e-12 growing by 10% up to 1e20, and 0.
    edges, v = [], 1e-12
    while v < 1e20:
        edges.append(v)
        v *= 1.1
    return np.array([-e for e in reversed(edges)] + [0.0] + edges)


_TF_EDGES = None


def _histogram(values, bins, max_bins):
    global _TF_EDGES
    values = _to_numpy(values).astype(np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("SummaryWriter.add_histogram: the values are empty")
    if not np.all(np.isfinite(values)):
        raise ValueError("SummaryWriter.add_histogram: the values contain NaN or infinity")
    if bins == "tensorflow":
        if _TF_EDGES is None:
            _TF_EDGES = _tensorflow_bucket_edges()
        bins = _TF_EDGES
    counts, limits = np.histogram(values, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        group = len(counts) // max_bins
        counts = np.pad(counts, (0, (-len(counts)) % group)).reshape(-1, group).sum(1)
        limits = np.concatenate([limits[:-1:group], limits[-1:]])
    # TensorBoard stores right edges only: one empty bucket on the left keeps the first edge.
    nonzero = np.flatnonzero(counts)
    first, last = nonzero[0], nonzero[-1]
    if first > 0:
        counts, right_edges = counts[first - 1:last + 1], limits[first:last + 2]
    else:
        counts, right_edges = np.concatenate([[0], counts[:last + 1]]), limits[:last + 2]
    return HistogramProto(min=float(values.min()), max=float(values.max()), num=values.size,
                          sum=float(values.sum()), sum_squares=float((values * values).sum()),
                          bucket_limit=right_edges.tolist(), bucket=counts.tolist())


class SummaryWriter:
    r"""Write scalars and histograms to TensorBoard event files in ``log_dir``.

    The same class as ``torch.utils.tensorboard.SummaryWriter`` for the calls it provides
    (``add_scalar``, ``add_scalars``, ``add_histogram``, ``flush``, ``close``); view the
    result with ``tensorboard --logdir runs``. In data-parallel training create it on
    rank 0 only.

    Args:
        log_dir (str, optional): the directory for the event files. Default:
            ``runs/CURRENT_DATETIME_HOSTNAME``.
        comment (str): appended to the default ``log_dir``; ignored when ``log_dir`` is
            given. Default: ``""``.
        purge_step (int, optional): when resuming a crashed run at step ``purge_step``,
            TensorBoard hides the events of this directory whose step is at least it.
        max_queue (int): events queued before a write to disk. Default: 10.
        flush_secs (int): seconds between automatic flushes. Default: 120.
        filename_suffix (str): appended to every event file name. Default: ``""``.

    Example::

        >>> writer = SummaryWriter("runs/example")
        >>> for step in range(100):
        ...     writer.add_scalar("loss/train", 1.0 / (step + 1), step)
        >>> writer.close()
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120,
                 filename_suffix=""):
        if not log_dir:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")
        self.log_dir = log_dir
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self._writer = None
        self._scalars_writers = {}
        self._open()

    def _open(self):
        if self._writer is None:
            self._writer = self._new_file_writer(self.log_dir)
        return self._writer

    def _new_file_writer(self, log_dir):
        writer = EventFileWriter(log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
        if self.purge_step is not None:
            writer.add_event(Event(step=self.purge_step, file_version="brain.Event:2"))
            writer.add_event(Event(step=self.purge_step,
                                   session_log=SessionLog(status=SessionLog.START)))
        return writer

    def get_logdir(self):
        """The directory the event files are written to."""
        return self.log_dir

    def _add_summary(self, writer, summary, global_step, walltime):
        event = Event(summary=summary, wall_time=time.time() if walltime is None else walltime)
        if global_step is not None:
            event.step = int(global_step)
        writer.add_event(event)

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        """Record one value of the curve ``tag``.

        Args:
            tag (str): the curve's name, e.g. ``"loss/train"``.
            scalar_value (float or Tensor): a number or a one-element tensor.
            global_step (int, optional): the step on the horizontal axis.
            walltime (float, optional): seconds since the epoch. Default: now.
            new_style (bool): write a tensor summary instead of a simple value.
            double_precision (bool): with ``new_style``, keep float64.
        """
        value = _scalar(scalar_value, "add_scalar")
        if new_style:
            shape = TensorShapeProto()
            tensor = (TensorProto(dtype=DT_DOUBLE, double_val=[value], tensor_shape=shape)
                      if double_precision else
                      TensorProto(dtype=DT_FLOAT, float_val=[value], tensor_shape=shape))
            metadata = Summary.Value(tag=tag).metadata
            metadata.plugin_data.plugin_name = "scalars"
            summary = Summary(value=[Summary.Value(tag=tag, tensor=tensor, metadata=metadata)])
        else:
            summary = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
        self._add_summary(self._open(), summary, global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Record several curves in one chart: each key goes to ``log_dir/main_tag_key``.

        Args:
            main_tag (str): the chart's name.
            tag_scalar_dict (dict): ``{curve name: value}``.
            global_step (int, optional): the step on the horizontal axis.
            walltime (float, optional): seconds since the epoch. Default: now.
        """
        self._open()
        walltime = time.time() if walltime is None else walltime
        for tag, value in tag_scalar_dict.items():
            directory = os.path.join(self.log_dir, f"{main_tag.replace('/', '_')}_{tag}")
            writer = self._scalars_writers.get(directory)
            if writer is None:
                writer = self._scalars_writers[directory] = self._new_file_writer(directory)
            summary = Summary(value=[Summary.Value(tag=main_tag,
                                                   simple_value=_scalar(value, "add_scalars"))])
            self._add_summary(writer, summary, global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None,
                      max_bins=None):
        """Record the distribution of ``values`` (e.g. a layer's weights).

        Args:
            tag (str): the histogram's name.
            values (Tensor or array): any shape; flattened.
            global_step (int, optional): the step.
            bins (str or int or sequence): ``"tensorflow"`` (TensorFlow's exponential
                buckets), or anything ``numpy.histogram`` accepts (``"auto"``, a count,
                edges). Default: ``"tensorflow"``.
            walltime (float, optional): seconds since the epoch. Default: now.
            max_bins (int, optional): merge neighbouring buckets down to this many.
        """
        summary = Summary(value=[Summary.Value(tag=tag,
                                               histo=_histogram(values, bins, max_bins))])
        self._add_summary(self._open(), summary, global_step, walltime)

    def flush(self):
        """Write pending events to disk."""
        for writer in [self._writer, *self._scalars_writers.values()]:
            if writer is not None:
                writer.flush()

    def close(self):
        """Flush and close every event file; a later ``add_*`` call opens new ones."""
        for writer in [self._writer, *self._scalars_writers.values()]:
            if writer is not None:
                writer.flush()
                writer.close()
        self._writer = None
        self._scalars_writers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
