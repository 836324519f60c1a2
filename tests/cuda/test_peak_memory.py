"""The peak-memory counter behind ``max_memory_allocated`` on CuPy (``cuda/_peak_memory``),
driven here by the events CuPy's memory hooks deliver, against a model of the pool."""
import numpy as np

from disttorch.cuda._peak_memory import PeakTracker


class _Pool:
    """The figures CuPy's pool reports: blocks in use, and blocks held (in use or cached)."""

    def __init__(self):
        self.blocks, self.cached, self.reads = {}, 0, 0

    def read(self, index):
        self.reads += 1
        used = sum(self.blocks.values())
        return used, used + self.cached


def _malloc(tracker, pool, ptr, size):
    """A pool allocation as CuPy reports it: alloc_* only when no cached block fits."""
    grew = pool.cached < size
    if grew:
        tracker.alloc_postprocess(device_id=0, mem_size=size, mem_ptr=ptr)
    else:
        pool.cached -= size
    pool.blocks[ptr] = size
    tracker.malloc_postprocess(device_id=0, size=size - 7, mem_size=size, mem_ptr=ptr,
                               pmem_id=ptr)


def _free(tracker, pool, ptr, seen=True):
    size = pool.blocks.pop(ptr)
    pool.cached += size
    if seen:
        tracker.free_postprocess(device_id=0, mem_size=size, mem_ptr=ptr, pmem_id=ptr)


def test_random_allocations_give_the_pools_exact_peaks():
    rng = np.random.default_rng(0)
    pool = _Pool()
    tracker = PeakTracker(pool.read)
    tracker.reset(0)
    peak_used = peak_held = 0
    next_ptr = 1
    for step in range(3000):
        if pool.blocks and rng.random() < 0.5:
            _free(tracker, pool, int(rng.choice(list(pool.blocks))))
        else:
            _malloc(tracker, pool, next_ptr, 512 * int(rng.integers(1, 64)))
            next_ptr += 1
        used, held = sum(pool.blocks.values()), sum(pool.blocks.values()) + pool.cached
        peak_used, peak_held = max(peak_used, used), max(peak_held, held)
        if step % 500 == 0:
            assert tracker.peaks(0) == (peak_used, peak_held)
    assert tracker.peaks(0) == (peak_used, peak_held)
    # counting is cheap: the pool is read on growth and on queries, not on every event
    assert pool.reads < 3000 // 4


def test_a_free_on_another_thread_is_caught_up_by_the_next_query():
    pool = _Pool()
    tracker = PeakTracker(pool.read)
    tracker.reset(0)
    _malloc(tracker, pool, 1, 4096)
    _free(tracker, pool, 1, seen=False)     # CuPy runs hooks per thread: this one went unseen
    _malloc(tracker, pool, 2, 1024)
    assert tracker.peaks(0) == (4096, 4096)
    _malloc(tracker, pool, 3, 2048)          # from the re-read count, 1024 in use: now 3072
    assert tracker.peaks(0) == (4096, 4096)
    _malloc(tracker, pool, 4, 2048)          # 5120 in use; 1024 cached did not fit: grew
    assert tracker.peaks(0) == (5120, 6144)


def test_reset_starts_from_current_usage_and_a_failed_malloc_counts_nothing():
    pool = _Pool()
    tracker = PeakTracker(pool.read)
    _malloc(tracker, pool, 1, 8192)
    _free(tracker, pool, 1)
    _malloc(tracker, pool, 2, 512)
    tracker.reset(0)
    tracker.malloc_postprocess(device_id=0, size=10, mem_size=512, mem_ptr=0, pmem_id=0)
    assert tracker.peaks(0) == (512, 8192)
    tracker.clear()
    assert tracker.peaks(0) == (512, 8192)  # re-read from the pool
