"""Samplers: the index orders a DataLoader draws batches in, each able to resume a pass.

Every sampler here can report where it is in its current pass (``state_dict()``) and,
after ``load_state_dict()``, its next ``__iter__`` replays the same pass from that
position: the order of a random pass is fixed by one seed drawn when the pass starts,
so saving that seed and the number of indices consumed is enough.
"""
import warnings

import numpy as np

from ...tensor import Tensor, _new

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]

def _draw_seed(generator):
    """A fresh 63-bit seed from ``generator`` (the default generator when None), drawn as
    PyTorch's ``torch.empty((), dtype=torch.int64).random_()``."""
    from ...ops import _torch_stream
    from ...ops.random import _generator
    return int(_torch_stream.random_full(_generator(generator), 1, np.int64)[0])


def _seeded(seed):
    from ...ops.random import Generator
    return Generator().manual_seed(seed)


def _as_index_array(values):
    if isinstance(values, Tensor):
        values = values._data
    return np.asarray(values, dtype=np.int64).reshape(-1)


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
    (a new key, called once per pass) and ``_order(key)`` (the pass as an int64 array)."""

    _resume = None
    _pass_key = None
    _pass_start = 0
    _yielded = 0

    _drawn = None

    def _draw_pass(self):
        return {}

    def _pass_from(self, generator, draw):
        """A pass drawn straight from ``generator`` (the default one when None), as PyTorch's
        samplers draw theirs; its key is the generator's state before the draw, from which
        :meth:`_replay` redraws it on resumption."""
        from ...ops.random import _generator
        gen = _generator(generator)
        state = bytes(gen.get_state()._data)
        self._drawn = (state, draw(gen))
        return {"state": state}

    def _replay(self, key, draw):
        if self._drawn is not None and self._drawn[0] == key["state"]:
            return self._drawn[1]
        from ...ops.random import Generator
        gen = Generator().set_state(_new(np.frombuffer(key["state"], np.uint8).copy()))
        return draw(gen)

    def _start_pass(self):
        """Begin a pass (replaying a loaded state if there is one); returns what is left."""
        if self._resume is not None:
            state, self._resume = self._resume, None
            key, start = state["pass"], int(state["consumed"])
            generator_state = state.get("generator")
            if generator_state is not None and getattr(self, "generator", None) is not None:
                self.generator.set_state(_new(np.frombuffer(generator_state, np.uint8).copy()))
        else:
            key, start = self._draw_pass(), 0
        self._pass_key, self._pass_start, self._yielded = key, start, start
        return self._order(key)[start:]

    def __iter__(self):
        for index in self._start_pass().tolist():
            self._yielded += 1
            yield index

    def _state_at(self, consumed):
        generator = getattr(self, "generator", None)
        return {"pass": self._pass_key, "consumed": int(consumed),
                "generator": None if generator is None else bytes(generator.get_state()._data)}

    def state_dict(self):
        r"""The position in the current pass: the pass's key and the indices consumed."""
        return self._state_at(self._yielded)

    def load_state_dict(self, state_dict):
        r"""Make the next ``__iter__`` continue the saved pass where it stopped."""
        if state_dict.get("pass") is not None:
            self._resume = dict(state_dict)


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


class RandomSampler(_ResumableSampler):
    r"""Samples elements randomly. Without replacement, samples from a shuffled dataset;
    with replacement, ``num_samples`` draws are made.

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
        # PyTorch: a fresh generator seeded from the default one, or the given generator
        if self.generator is None:
            return {"seed": _draw_seed(None), "stream": "torch"}
        return self._pass_from(self.generator, self._draw_order)

    def _order(self, key):
        if "seed" in key and key.get("stream") != "torch":
            return self._legacy_order(key["seed"])
        if "seed" in key:
            return self._draw_order(_seeded(key["seed"]))
        return self._replay(key, self._draw_order)

    def _legacy_order(self, seed):
        """The pass a state saved by an earlier disttorch (numpy's PCG64 streams) stands for."""
        rng = np.random.Generator(np.random.PCG64(seed))
        n = len(self.data_source)
        if self.replacement:
            return rng.integers(0, n, size=self.num_samples, dtype=np.int64)
        full, rest = divmod(self.num_samples, n)
        parts = [rng.permutation(n) for _ in range(full)] + [rng.permutation(n)[:rest]]
        return np.concatenate(parts).astype(np.int64, copy=False)

    def _draw_order(self, gen):
        from ...ops import _torch_stream
        n = len(self.data_source)
        if self.replacement:
            return _torch_stream.integers(gen, self.num_samples, 0, n, np.int64)
        full, rest = divmod(self.num_samples, n)
        parts = [_torch_stream.permutation(gen, n) for _ in range(full)]
        parts.append(_torch_stream.permutation(gen, n)[:rest])
        return np.concatenate(parts).astype(np.int64, copy=False)

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(_ResumableSampler):
    r"""Samples elements randomly from a given list of indices, without replacement.

    Args:
        indices (sequence): a sequence of indices.
        generator (Generator): generator used in sampling.
    """

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def _draw_pass(self):
        return self._pass_from(self.generator, self._draw_order)

    def _order(self, key):
        if "seed" in key:     # (a pass saved before passes were drawn as PyTorch draws them)
            rng = np.random.Generator(np.random.PCG64(key["seed"]))
            return _as_index_array(self.indices)[rng.permutation(len(self.indices))]
        return self._replay(key, self._draw_order)

    def _draw_order(self, gen):
        from ...ops import _torch_stream
        indices = _as_index_array(self.indices)
        return indices[_torch_stream.permutation(gen, len(indices))]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(_ResumableSampler):
    r"""Samples elements from ``[0,..,len(weights)-1]`` with given probabilities (weights).

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

    def _draw_pass(self):
        return self._pass_from(self.generator, self._draw_order)

    def _order(self, key):
        if "seed" in key:     # (a pass saved before passes were drawn as PyTorch draws them)
            rng = np.random.Generator(np.random.PCG64(key["seed"]))
            weights = self.weights._data
            return rng.choice(len(weights), size=self.num_samples, replace=self.replacement,
                              p=weights / weights.sum()).astype(np.int64, copy=False)
        return self._replay(key, self._draw_order)

    def _draw_order(self, gen):
        from ...ops.random import multinomial
        return multinomial(self.weights, self.num_samples, self.replacement,
                           generator=gen)._data

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    r"""Wraps another sampler to yield a mini-batch of indices.

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
        if isinstance(self.sampler, _ResumableSampler):
            order = self.sampler._start_pass()
            size = self.batch_size
            stop = len(order) - len(order) % size if self.drop_last else len(order)
            for begin in range(0, stop, size):
                batch = order[begin:begin + size]
                self.sampler._yielded += len(batch)
                yield batch
            return
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
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
