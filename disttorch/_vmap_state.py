"""The ``randomness`` flag of the running ``vmap`` levels, consulted by every random draw.

``vmap`` maps a function by calling it once per sample, so a random op inside it runs once
per sample. PyTorch's three behaviours follow from that loop with this module's help:

- ``'error'``: the first draw raises PyTorch's error;
- ``'different'``: nothing to do, each call draws afresh;
- ``'same'``: the first draw of a generator in sample 0 records its state, and the first
  draw of that generator in each later sample puts it back, so every sample sees the same
  numbers.

The random entry points call :func:`random_op` with the generator they draw from (a CPU
``Generator``, or ``"cuda"`` for CuPy's generator of the current device). It costs one
attribute lookup when no vmap runs.
"""
import threading

RANDOMNESS = ("error", "different", "same")
_ERROR = ("vmap: called random operation while in randomness error mode. Please either use the "
          "'same' or 'different' randomness flags on vmap or perform the randomness operation "
          "out of vmap")

_local = threading.local()


def _levels():
    levels = getattr(_local, "levels", None)
    if levels is None:
        levels = _local.levels = []
    return levels


def _get_state(generator):
    if generator == "cuda":
        from . import cuda
        return cuda.get_rng_state()
    return generator.get_state()


def _set_state(generator, state):
    if generator == "cuda":
        from . import cuda
        cuda.set_rng_state(state)
    else:
        generator.set_state(state)


class Level:
    """One running vmap (or jacfwd): its randomness flag and, for ``'same'``, the generator
    states recorded in sample 0."""

    def __init__(self, randomness):
        self.randomness = randomness
        self.sample = 0
        self._recorded = {}     # id(generator) -> (generator, state at its first draw)
        self._restored = set()  # generators already put back in the current sample

    def start_sample(self, index):
        self.sample = index
        self._restored = set()

    def _draw(self, generator):
        key = id(generator) if generator != "cuda" else "cuda"
        if self.sample == 0:
            if key not in self._recorded:
                self._recorded[key] = (generator, _get_state(generator))
        elif key not in self._restored:
            self._restored.add(key)
            if key in self._recorded:
                _set_state(generator, self._recorded[key][1])

    def __enter__(self):
        _levels().append(self)
        return self

    def __exit__(self, *exc):
        _levels().remove(self)


def random_op(generator):
    """Called by a random op about to draw from ``generator``: raises in ``'error'`` mode,
    replays sample 0's numbers in ``'same'`` mode."""
    levels = getattr(_local, "levels", None)
    if not levels:
        return
    if any(level.randomness == "error" for level in levels):
        raise RuntimeError(_ERROR)
    # outermost first: an inner level records the state its outer levels have put back
    for level in levels:
        if level.randomness == "same":
            level._draw(generator)
