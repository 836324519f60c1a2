"""Peak memory of CuPy's pool, counted from its allocation events.

CuPy's pool keeps no peak, and reading its usage walks every block it holds (``used_bytes``
sums the blocks in use), so reading the pool on each allocation made a transformer step 3-6 ms
slower on an H200 once anything had asked for a peak. Instead, a memory hook adds each block the
pool hands out and subtracts each one it takes back, and reads the pool only when that count
passes the peak (a candidate peak), when the pool grew, and every ``RESYNC`` events. CuPy runs
memory hooks per thread, so a block freed on another thread goes unseen and the count drifts
up: the read at the next candidate peak corrects it, and a peak is only ever taken from a read.
A block allocated on another thread and freed on this one makes the count low until the next
read, which may miss a peak reached in between.
"""

__all__ = ["PeakTracker"]


class PeakTracker:
    """Current and peak bytes per device, kept from CuPy memory-hook events.

    Args:
        read_pool (callable): ``read_pool(index) -> (allocated, reserved)``, the pool's own
            figures for device ``index`` (exact, but costly).
    """

    RESYNC = 4096   # pool events between two re-reads of the pool

    def __init__(self, read_pool):
        self._read = read_pool
        # index -> [allocated now, peak allocated, peak reserved, events since read, grew]
        self._devices = {}

    def _state(self, index):
        state = self._devices.get(index)
        if state is None:
            allocated, reserved = self._read(index)
            state = self._devices[index] = [allocated, allocated, reserved, 0, False]
        return state

    def peaks(self, index):
        """``(allocated, reserved)`` peaks of device ``index``, after re-reading the pool."""
        state = self._state(index)
        allocated, reserved = self._read(index)
        state[0], state[3], state[4] = allocated, 0, False
        state[1] = max(state[1], allocated)
        state[2] = max(state[2], reserved)
        return state[1], state[2]

    def reset(self, index):
        """Restart the peaks of device ``index`` from its current usage."""
        self._devices.pop(index, None)
        self._state(index)

    def clear(self):
        self._devices.clear()

    # -- CuPy's MemoryHook callbacks, with the keyword arguments CuPy passes
    def malloc_postprocess(self, device_id, size, mem_size, mem_ptr, pmem_id):
        if not mem_ptr:  # the allocation failed
            return
        state = self._state(device_id)
        state[0] += mem_size
        state[3] += 1
        if state[0] > state[1] or state[4] or state[3] >= self.RESYNC:
            # a candidate peak, a pool that grew (reserved rises only then) or a long run of
            # events: read the pool, now that it counts the new block as in use
            self.peaks(device_id)

    def free_postprocess(self, device_id, mem_size, mem_ptr, pmem_id):
        state = self._devices.get(device_id)
        if state is not None:
            state[0] -= mem_size

    def alloc_postprocess(self, device_id, mem_size, mem_ptr):
        if mem_ptr:
            self._state(device_id)[4] = True
