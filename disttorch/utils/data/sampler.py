"""Samplers: the index orders a DataLoader draws batches in, each able to resume a pass.

The random samplers draw from their generator when PyTorch's do: a pass is drawn in the
chunks PyTorch's ``__iter__`` draws it in (one ``randperm`` per ``len(dataset)`` indices, one
``randint`` per 32, one ``multinomial``), each chunk when its first index is asked for, so an
epoch cut short leaves the generator where PyTorch leaves it.

Every sampler here can report where it is in its current pass (``state_dict()``) and,
after ``load_state_dict()``, its next ``__iter__`` replays the same pass from that
position: the chunks drawn before the save are redrawn from the generator states they
were drawn from, those drawn after it come from the (restored) generator as they would have.
"""
import ctypes
import warnings

import numpy as np

from ...tensor import Tensor, _new

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]

# PyTorch's RandomSampler draws indices with replacement 32 at a time
_REPLACEMENT_CHUNK = 32
# numpy's mt19937_state: uint32 key[624] then int pos
_MT_STATE_BYTES = 624 * 4 + 4


def _draw_seed(generator):
    """A fresh 63-bit seed from ``generator`` (the default generator when None), drawn as
    PyTorch's ``torch.empty((), dtype=torch.int64).random_()``."""
    from ...ops import _torch_stream
    from ...ops.random import _generator
    return int(_torch_stream.random_full(_generator(generator), 1, np.int64)[0])


def _seeded(seed):
    from ...ops.random import Generator
    return Generator().manual_seed(seed)


def _state_bytes(generator):
    return bytes(generator.get_state()._data)


def _from_state(state):
    from ...ops.random import Generator
    return Generator().set_state(_new(np.frombuffer(state, np.uint8).copy()))


def _position(generator):
    """Where ``generator`` is in its stream, cheaply enough to check around every draw
    (``get_state()`` serialises the whole state: ~100 times slower)."""
    bitgen = generator._bitgen
    if isinstance(bitgen, np.random.MT19937):
        raw = ctypes.string_at(bitgen.ctypes.state_address, _MT_STATE_BYTES)
    else:
        raw = repr(bitgen.state)
    return raw, generator._normal_cache


def _as_index_array(values):
    if isinstance(values, Tensor):
        values = values._data
    return np.asarray(values, dtype=np.int64).reshape(-1)


class _Layout:
    """The chunks a pass is drawn in: ``full`` chunks of ``length`` indices, then, when
    ``tail`` is not None, one of ``tail`` (PyTorch draws it even when it is empty)."""

    def __init__(self, length, full, tail=None):
        self.length, self.full, self.tail = length, full, tail
        self.count = full + (tail is not None)

    def size(self, chunk):
        return self.length if chunk < self.full else self.tail


class _Pass:
    """The indices of one pass, drawn chunk by chunk when first needed.

    ``draw(generator, first, count)`` gives chunks ``first`` to ``first + count - 1``
    concatenated. The first ``drawn`` chunks were drawn before a resumption: they are
    redrawn from ``marks`` (chunk -> the generator state it was drawn from) and never
    touch ``live``, which the later chunks come from. With ``shared`` (``live`` is a
    generator others draw from too) the pass notes a mark for each chunk not drawn
    straight after the previous one, which is what a saved position needs.
    """

    def __init__(self, layout, draw, live, shared, begin=0, drawn=0, marks=None):
        self.layout, self._draw, self.live, self.shared = layout, draw, live, shared
        self.drawn = drawn
        self.marks = dict(marks or {})
        self._replay = None
        self._after = None      # _position of the generator once the last chunk was drawn
        self._values = np.empty(0, np.int64)
        self._offset = 0
        # A resumption starts at the chunk holding index ``begin``, or at the last mark
        # before it when that chunk is to be redrawn (chunks in between follow the mark).
        target = min(begin // layout.length, layout.count - 1) if layout.length else 0
        if target >= drawn:
            self._chunk = drawn
        else:
            self._chunk = max((c for c in self.marks if c <= target), default=0)
        self._skip = begin - self._chunk * layout.length

    @classmethod
    def fixed(cls, order, begin=0):
        """A pass known in full (no generator)."""
        order = np.asarray(order, dtype=np.int64)
        return cls(_Layout(len(order), 1), lambda generator, first, count: order, None, False,
                   begin=begin, drawn=1)

    def _load(self, wanted):
        """Draw the chunks holding the next ``wanted`` indices (at least one chunk; all
        drawn at once when they come from the same generator). False at the pass's end."""
        layout, first = self.layout, self._chunk
        if first >= layout.count:
            return False
        replaying = first < self.drawn
        stop = self.drawn if replaying else layout.count
        count, covered = 0, 0
        while first + count < stop and (count == 0 or covered < wanted):
            covered += layout.size(first + count)
            count += 1
        if replaying:
            if first in self.marks:
                self._replay = _from_state(self.marks[first])
            generator = self._replay
        else:
            generator = self.live
            if self.shared and (self._after is None or _position(generator) != self._after):
                self.marks[first] = _state_bytes(generator)
        self._values = np.asarray(self._draw(generator, first, count), dtype=np.int64)
        self._offset = 0
        if self.shared:
            self._after = _position(generator)
        self._chunk = first + count
        self.drawn = max(self.drawn, self._chunk)
        return True

    def _pending(self, wanted):
        """Indices left in the loaded chunks, loading more as needed (discarding those a
        resumption skips); False once the pass is over."""
        while True:
            while self._skip:
                if self._offset == len(self._values) and not self._load(self._skip):
                    self._skip = 0
                    return False
                skipped = min(self._skip, len(self._values) - self._offset)
                self._offset += skipped
                self._skip -= skipped
            if self._offset < len(self._values):
                return True
            if not self._load(wanted):
                return False

    def take(self, count):
        """Up to ``count`` next indices; fewer only at the end of the pass."""
        parts = []
        while count and self._pending(count):
            part = self._values[self._offset:self._offset + count]
            self._offset += len(part)
            count -= len(part)
            parts.append(part)
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.empty(0, np.int64)

    def take_chunk(self):
        """The rest of the current chunk (drawing the next one when it is used up), or None
        at the end of the pass."""
        if not self._pending(1):
            return None
        part = self._values[self._offset:]
        self._offset = len(self._values)
        return part

    def key(self, consumed):
        """What a resumption at index ``consumed`` needs: the number of chunks drawn, and
        the marks from the last one at or before the chunk holding that index."""
        layout = self.layout
        chunk = consumed // layout.length if layout.length else 0
        chunk = min(chunk, layout.count - 1)
        start = max((c for c in self.marks if c <= chunk), default=0)
        return {"drawn": self.drawn,
                "marks": [[c, self.marks[c]] for c in sorted(self.marks) if c >= start]}


class Sampler:
    r"""Base class for all samplers.

    A sampler provides ``__iter__``, an iterator over dataset indices (or lists of
    indices for batch samplers), and optionally ``__len__``.
    """

    def __init__(self, data_source=None):
        if data_source is not None:
            warnings.warn("`data_source` argument is not used and will be removed in 2.2.0."
                          "You may still have custom implementation that utilizes it.")


class _ResumableSampler(Sampler):
    """A sampler whose pass is a function of a small key: subclasses give ``_draw_pass``
    (a new key, called once per pass) and ``_order(key)`` (the pass as an int64 array), or
    override ``_open_pass`` to draw the pass lazily."""

    _resume = None
    _pass_key = None
    _pass = None
    _pass_start = 0
    _yielded = 0

    def _draw_pass(self):
        return {}

    def _open_pass(self, key, start):
        """The :class:`_Pass` for ``key``, from index ``start`` on."""
        return _Pass.fixed(self._order(key), start)

    def _start_pass(self):
        """Begin a pass (replaying a loaded state if there is one); returns its
        :class:`_Pass`. Called when the first index is asked for, as PyTorch's samplers
        draw inside their generator functions."""
        if self._resume is not None:
            state, self._resume = self._resume, None
            key, start = state["pass"], int(state["consumed"])
            generator_state = state.get("generator")
            if generator_state is not None and getattr(self, "generator", None) is not None:
                self.generator.set_state(_new(np.frombuffer(generator_state, np.uint8).copy()))
        else:
            key, start = self._draw_pass(), 0
        self._pass_key, self._pass_start, self._yielded = key, start, start
        self._pass = self._open_pass(key, start)
        return self._pass

    def __iter__(self):
        run = self._start_pass()
        while True:
            chunk = run.take_chunk()
            if chunk is None:
                return
            for index in chunk.tolist():
                self._yielded += 1
                yield index

    def _state_at(self, consumed):
        key = self._pass_key
        if self._pass is not None and self._pass.shared:
            key = self._pass.key(int(consumed))
        generator = getattr(self, "generator", None)
        return {"pass": key, "consumed": int(consumed),
                "generator": None if generator is None else _state_bytes(generator)}

    def state_dict(self):
        r"""The position in the current pass: the pass's key and the indices consumed."""
        return self._state_at(self._yielded)

    def load_state_dict(self, state_dict):
        r"""Make the next ``__iter__`` continue the saved pass where it stopped."""
        if state_dict.get("pass") is not None:
            self._resume = dict(state_dict)


class _DrawnSampler(_ResumableSampler):
    """A sampler drawing its pass from ``self.generator`` (the default generator when None)
    in the chunks of ``_layout()``, ``_draw(generator, first, count)`` drawing them.

    Keys: ``{"drawn": 0}`` for a new pass; ``{"drawn", "marks"}`` for a saved one;
    ``{"seed", "stream": "torch"}`` for a pass drawn from a private generator seeded so;
    and, from earlier disttorch versions, ``{"state"}`` (the whole pass drawn from that
    generator state) and ``{"seed"}`` (a numpy PCG64 stream: ``_legacy_order``).
    """

    def _draw_pass(self):
        return {"drawn": 0}

    def _open_pass(self, key, start):
        layout = self._layout()
        if "seed" in key:
            if key.get("stream") != "torch":
                return _Pass.fixed(self._legacy_order(key["seed"]), start)
            return _Pass(layout, self._draw, _seeded(key["seed"]), False, begin=start)
        from ...ops.random import _generator
        live = _generator(self.generator)
        if "state" in key:      # drawn in full when the pass began
            return _Pass(layout, self._draw, live, True, begin=start, drawn=layout.count,
                         marks={0: key["state"]})
        return _Pass(layout, self._draw, live, True, begin=start, drawn=int(key["drawn"]),
                     marks={int(c): state for c, state in key.get("marks", ())})


class SequentialSampler(_ResumableSampler):
    r"""Samples elements sequentially, always in the same order.

    Args:
        data_source (Dataset): dataset to sample from.
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def _order(self, key):
        return np.arange(len(self.data_source), dtype=np.int64)

    def __len__(self):
        return len(self.data_source)


class RandomSampler(_DrawnSampler):
    r"""Samples elements randomly. Without replacement, samples from a shuffled dataset;
    with replacement, ``num_samples`` draws are made.

    As PyTorch's: with a ``generator`` the pass is drawn from it, one ``randperm`` per
    ``len(data_source)`` indices (and one more, of which none are used, at the end) or one
    ``randint`` per 32 indices with replacement, each when its first index is needed;
    without one, a seed is drawn from the default generator when the first index is
    needed and the pass comes from a generator of its own seeded with it.

    Args:
        data_source (Dataset): dataset to sample from.
        replacement (bool): samples are drawn on-demand with replacement if ``True``
            (default: ``False``).
        num_samples (int): number of samples to draw (default: ``len(dataset)``).
        generator (Generator): generator used in sampling.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError("replacement should be a boolean value, but got "
                            f"replacement={self.replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _draw_pass(self):
        if self.generator is None:
            return {"seed": _draw_seed(None), "stream": "torch"}
        return {"drawn": 0}

    def _layout(self):
        if self.replacement:
            full, rest = divmod(self.num_samples, _REPLACEMENT_CHUNK)
            return _Layout(_REPLACEMENT_CHUNK, full, rest)
        full, rest = divmod(self.num_samples, len(self.data_source))
        return _Layout(len(self.data_source), full, rest)

    def _draw(self, generator, first, count):
        from ...ops import _torch_stream
        n = len(self.data_source)
        layout = self._layout()
        if self.replacement:
            # one randint of the chunks' total size: the same words as one per chunk
            size = sum(layout.size(c) for c in range(first, first + count))
            return _torch_stream.integers(generator, size, 0, n, np.int64)
        parts = [_torch_stream.permutation(generator, n)[:layout.size(c)]
                 for c in range(first, first + count)]
        return parts[0] if count == 1 else np.concatenate(parts)

    def _legacy_order(self, seed):
        """The pass a state saved by an earlier disttorch (numpy's PCG64 streams) stands for."""
        rng = np.random.Generator(np.random.PCG64(seed))
        n = len(self.data_source)
        if self.replacement:
            return rng.integers(0, n, size=self.num_samples, dtype=np.int64)
        full, rest = divmod(self.num_samples, n)
        parts = [rng.permutation(n) for _ in range(full)] + [rng.permutation(n)[:rest]]
        return np.concatenate(parts).astype(np.int64, copy=False)

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(_DrawnSampler):
    r"""Samples elements randomly from a given list of indices, without replacement.

    The permutation is drawn from ``generator`` (the default generator when None) when
    the first index is needed, as PyTorch draws it.

    Args:
        indices (sequence): a sequence of indices.
        generator (Generator): generator used in sampling.
    """

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def _layout(self):
        return _Layout(len(self.indices), 1)

    def _draw(self, generator, first, count):
        from ...ops import _torch_stream
        indices = _as_index_array(self.indices)
        return indices[_torch_stream.permutation(generator, len(indices))]

    def _legacy_order(self, seed):
        rng = np.random.Generator(np.random.PCG64(seed))
        return _as_index_array(self.indices)[rng.permutation(len(self.indices))]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(_DrawnSampler):
    r"""Samples elements from ``[0,..,len(weights)-1]`` with given probabilities (weights).

    The pass is one ``multinomial`` draw from ``generator`` (the default generator when
    None) when the first index is needed, as PyTorch draws it.

    Args:
        weights (sequence): a sequence of weights, not necessarily summing up to one.
        num_samples (int): number of samples to draw.
        replacement (bool): if ``True``, samples are drawn with replacement. If not, they
            are drawn without replacement: a sample index cannot be drawn twice.
        generator (Generator): generator used in sampling.

    Example::

        >>> list(WeightedRandomSampler([0.1, 0.9, 0.4, 0.7, 3.0, 0.6], 5, replacement=True))
        [4, 4, 1, 4, 5]
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError("replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        weights_array = np.asarray(weights._data if isinstance(weights, Tensor) else weights,
                                   dtype=np.float64)
        if weights_array.ndim != 1:
            raise ValueError("weights should be a 1d sequence but given weights have shape "
                             f"{tuple(weights_array.shape)}")
        if not replacement and num_samples > len(weights_array):
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        self.weights = _new(weights_array)
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def _layout(self):
        return _Layout(self.num_samples, 1)

    def _draw(self, generator, first, count):
        from ...ops.random import multinomial
        return multinomial(self.weights, self.num_samples, self.replacement,
                           generator=generator)._data

    def _legacy_order(self, seed):
        rng = np.random.Generator(np.random.PCG64(seed))
        weights = self.weights._data
        return rng.choice(len(weights), size=self.num_samples, replace=self.replacement,
                          p=weights / weights.sum()).astype(np.int64, copy=False)

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    r"""Wraps another sampler to yield a mini-batch of indices.

    A batch asks the sampler for its indices when it is itself asked for, as PyTorch's
    does, so the sampler draws (see :class:`RandomSampler`) at the same batches.

    Args:
        sampler (Sampler or Iterable): base sampler.
        batch_size (int): size of mini-batch.
        drop_last (bool): if ``True``, the sampler drops the last batch if its size would
            be less than ``batch_size``.

    Example::

        >>> list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=False))
        [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
        >>> list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=True))
        [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        if (not isinstance(batch_size, int) or isinstance(batch_size, bool)
                or batch_size <= 0):
            raise ValueError("batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError("drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        for batch in self._batches():
            yield batch.tolist() if isinstance(batch, np.ndarray) else batch

    def _batches(self):
        """Batches as int64 arrays when the sampler is one of ours (no per-index Python
        work), otherwise as lists."""
        size = self.batch_size
        if isinstance(self.sampler, _ResumableSampler):
            sampler = self.sampler
            run = sampler._start_pass()
            while True:
                # asking for a whole batch reaches the end of the pass (and its last,
                # possibly empty, chunk) exactly when PyTorch's batching does
                batch = run.take(size)
                if not len(batch) or (self.drop_last and len(batch) < size):
                    return
                sampler._yielded += len(batch)
                yield batch
        iterator = iter(self.sampler)
        while True:
            batch = []
            for index in iterator:
                batch.append(index)
                if len(batch) == size:
                    break
            if not batch or (self.drop_last and len(batch) < size):
                return
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size

    def state_dict(self):
        r"""The wrapped sampler's position (empty when it cannot resume)."""
        return self.sampler.state_dict() if isinstance(self.sampler, _ResumableSampler) else {}

    def load_state_dict(self, state_dict):
        r"""Resume the wrapped sampler's pass; batches continue from the saved index."""
        if isinstance(self.sampler, _ResumableSampler):
            self.sampler.load_state_dict(state_dict)
