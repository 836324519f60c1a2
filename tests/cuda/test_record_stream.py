"""``Tensor.record_stream``: a tensor used on another stream keeps its memory until that
stream's work is done."""
import gc

import pytest

import disttorch
from disttorch import _backend
from disttorch.cuda import _simulated, _stream_uses


def _real():
    return _backend.is_real_cupy(_backend.cupy_module())


@pytest.fixture
def pending(device, monkeypatch):
    """Events recorded from here on stay pending until ``state["done"]`` is set (the GPU work
    they mark is still running); on the real GPU, nothing is patched."""
    state = {"done": True}
    if not _real():
        monkeypatch.setattr(_simulated.Event, "done", property(lambda self: state["done"]))
    return state


def _allocated():
    gc.collect()
    return disttorch.cuda.memory_allocated()


def test_memory_is_held_until_the_recorded_stream_is_done(device, pending):
    if _real():
        pytest.skip("holding a stream pending needs the simulated device's events (a real GPU's "
                    "finish on their own)")
    side = disttorch.cuda.Stream()
    base = _allocated()
    t = disttorch.ones(1000, device=device)
    t.record_stream(side)
    t.record_stream(side)  # once per stream is enough
    pending["done"] = False
    del t
    assert _allocated() == base + 4000  # the side stream may still read it
    assert _stream_uses.release_finished() == 1
    pending["done"] = True
    disttorch.cuda.synchronize()  # releases what has finished
    assert _allocated() == base


def test_empty_cache_waits_for_the_streams(device, pending):
    side = disttorch.cuda.Stream()
    base = _allocated()
    t = disttorch.ones(256, device=device)
    t.record_stream(side)
    del t
    disttorch.cuda.empty_cache()
    assert _allocated() == base and _stream_uses.release_finished() == 0


def test_a_tensor_without_recorded_streams_is_freed_at_once(device):
    disttorch.ones(1, device=device)  # CUDA initialised: memory_allocated() counts from here
    base = _allocated()
    t = disttorch.ones(1000, device=device)
    assert _allocated() >= base + 4000  # (CuPy's pool rounds blocks up to 512 bytes)
    del t
    assert _allocated() == base


def test_bad_arguments(device):
    with pytest.raises(RuntimeError, match="record_stream expects a CUDA tensor, got a tensor on "
                                           "cpu"):
        disttorch.ones(2).record_stream(disttorch.cuda.current_stream())
    with pytest.raises(TypeError, match="argument 'stream' must be torch.cuda.Stream, not int"):
        disttorch.ones(2, device=device).record_stream(0)
