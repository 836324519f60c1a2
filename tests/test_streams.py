"""``disttorch.Stream`` / ``disttorch.Event``: PyTorch's device-generic stream and event. On the
CPU they behave as torch's CPU ones (compared call by call); on a CUDA device they are the
``cuda`` classes, subclasses of the generic ones."""
import pytest

import disttorch
from disttorch.cuda import _simulated
from tests.ops.harness import requires_torch, torch


def _cpu_behaviour(t):
    out = []
    s, e = t.Stream("cpu"), t.Event("cpu", enable_timing=True)
    plain = t.Event(device="cpu")
    calls = [lambda: s.device, lambda: s.device_type, lambda: s.device_index, lambda: s.stream_id,
             lambda: s.query(), lambda: s.synchronize(), lambda: s.wait_event(e),
             lambda: s.wait_stream(s), lambda: s.record_event(), lambda: s.native_handle,
             lambda: s.is_capturing(), lambda: s == t.Stream("cpu"),
             lambda: hash(s) == hash(t.Stream(device="cpu", priority=-1)),
             lambda: e.device, lambda: e.event_id, lambda: e.query(), lambda: e.synchronize(),
             lambda: e.wait(s), lambda: e.record(s), lambda: e.elapsed_time(e),
             lambda: plain.elapsed_time(e), lambda: t.Stream("cpu", 0), lambda: t.Event("cpu", 1)]
    for call in calls:
        try:
            out.append(repr(call()))
        except (RuntimeError, ValueError, TypeError) as exc:
            out.append(f"{type(exc).__name__}: {exc}")
    with s as entered:
        out.append(entered is s)
    out.append(repr(s) + repr(e))
    return [str(o).replace("disttorch", "torch") for o in out]


@requires_torch
def test_cpu_stream_and_event_behave_as_torch():
    assert _cpu_behaviour(disttorch) == _cpu_behaviour(torch)


def test_on_a_cuda_device_they_are_the_cuda_classes():
    with _simulated.simulate(device_count=2):
        stream = disttorch.Stream(device="cuda:1")
        assert type(stream) is disttorch.cuda.Stream and isinstance(stream, disttorch.Stream)
        assert stream.device == disttorch.device("cuda", 1) and stream.device_type == 1
        assert stream.stream_id == stream.native_handle == stream.cuda_stream
        assert isinstance(disttorch.cuda.current_stream(), disttorch.Stream)
        assert str(disttorch.Stream().device) == "cuda:0"   # the current accelerator
        with stream:
            assert disttorch.cuda.current_stream(1) == stream
            assert disttorch.cuda.current_device() == 1
        assert disttorch.cuda.current_stream(1) != stream
        assert disttorch.cuda.current_device() == 0
        start = disttorch.Event(device="cuda", enable_timing=True)
        end = disttorch.cuda.Event(enable_timing=True)
        assert isinstance(start, disttorch.cuda.Event) and isinstance(end, disttorch.Event)
        assert start.device == disttorch.device("cuda", 0)
        start.record()
        end.record()
        assert start.elapsed_time(end) >= 0.0
        with pytest.raises(TypeError, match="from 0 to 1 positional"):
            disttorch.Stream("cuda", 0)
