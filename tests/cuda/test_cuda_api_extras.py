"""The rest of ``torch.cuda``'s everyday surface: ``StreamContext``, ``ExternalStream`` and the
stream protocol, nested memory statistics and the summary table, the deprecated memory aliases,
architecture queries and NVTX ranges (on the simulated device, and without CUDA against torch's
CPU build)."""
import warnings

import pytest

import disttorch
from disttorch import _backend
from disttorch.cuda import _simulated

from tests.ops.harness import requires_torch, torch


@pytest.fixture
def sim():
    with _simulated.simulate(device_count=2):
        yield _simulated


@pytest.fixture
def no_cuda():
    previous = _backend.set_cuda_module(None)
    try:
        yield
    finally:
        _backend.set_cuda_module(previous)


def test_stream_context_selects_the_stream_and_its_device(sim):
    cuda = disttorch.cuda
    side = cuda.Stream(device=1)
    outer = cuda.current_stream()
    with cuda.StreamContext(side) as entered:
        assert entered is side
        assert cuda.current_device() == 1
        assert cuda.current_stream() == side
        x = disttorch.ones(3, device="cuda")
        assert x.device == disttorch.device("cuda:1")
    assert cuda.current_device() == 0
    assert cuda.current_stream() == outer
    with cuda.stream(None) as nothing:
        assert nothing is None
        assert cuda.current_stream() == outer
    assert isinstance(cuda.stream(side), cuda.StreamContext)


def test_external_stream_wraps_a_foreign_pointer(sim):
    cuda = disttorch.cuda
    native = cuda.Stream()
    assert native.__cuda_stream__() == (0, native.cuda_stream)
    external = cuda.ExternalStream(native.cuda_stream)
    assert external.cuda_stream == native.cuda_stream
    assert external == native and isinstance(external, cuda.Stream)
    with cuda.stream(external):
        assert cuda.current_stream() == native
        y = disttorch.ones(2, 2, device="cuda") * 2
    external.synchronize()
    assert y.sum().item() == 8.0


def test_nested_memory_stats_and_summary(sim):
    cuda = disttorch.cuda
    x = disttorch.empty(1 << 18, device="cuda")
    cuda.reset_peak_memory_stats()
    flat, nested = cuda.memory_stats(), cuda.memory_stats_as_nested_dict()
    assert flat and set(nested) == {"active_bytes", "allocated_bytes", "reserved_bytes"}
    for key, value in flat.items():
        group, pool, stat = key.split(".")
        assert nested[group][pool][stat] == value
    current = nested["allocated_bytes"]["all"]["current"]
    assert current >= 4 << 18
    summary = cuda.memory_summary()
    assert "device ID 0" in summary and "Allocated memory" in summary
    # the live blocks (the empty() one and what earlier tests' caches hold), current and peak
    assert summary.count(f"{current / 2 ** 20:.2f} MiB") >= 2
    del x


def test_deprecated_memory_aliases_warn_like_torch(sim):
    cuda = disttorch.cuda
    x = disttorch.empty(1024, device="cuda")
    for old, new in [("memory_cached", "memory_reserved"),
                     ("max_memory_cached", "max_memory_reserved")]:
        with pytest.warns(FutureWarning, match=f"`torch.cuda.{old}` has been renamed to "
                                               f"`torch.cuda.{new}`"):
            assert getattr(cuda, old)() == getattr(cuda, new)()
    for old in ("reset_max_memory_allocated", "reset_max_memory_cached"):
        with pytest.warns(FutureWarning, match="resets /all/ peak memory stats"):
            getattr(cuda, old)()
        assert cuda.max_memory_allocated() == cuda.memory_allocated()
    del x


def test_architecture_queries(sim):
    assert disttorch.cuda.get_arch_list() == ["sm_80"]  # the simulated device's capability 8.0
    assert disttorch.cuda.get_gencode_flags() == "-gencode compute=compute_80,code=sm_80"
    assert disttorch.cuda.is_tf32_supported() is True


@requires_torch
def test_without_cuda_the_queries_answer_as_torchs_cpu_build(no_cuda):
    if torch.cuda.is_available() or torch.version.cuda is not None:
        pytest.skip("the oracle is PyTorch's CPU build (this torch is built with CUDA)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for name in ("get_arch_list", "get_gencode_flags", "is_tf32_supported",
                     "memory_stats_as_nested_dict", "memory_cached", "max_memory_cached"):
            assert getattr(disttorch.cuda, name)() == getattr(torch.cuda, name)(), name
    for name in ("range_push", "mark"):
        for lib in (disttorch, torch):
            with pytest.raises(RuntimeError, match="NVTX functions not installed"):
                getattr(lib.cuda.nvtx, name)("step")


def test_nvtx_ranges_reach_cupys_nvtx(sim):
    nvtx = disttorch.cuda.nvtx
    events = sim.cuda.nvtx.events
    events.clear()
    assert nvtx.range_push("outer") == 0
    assert nvtx.range_push("inner") == 1
    assert nvtx.range_pop() == 1
    with nvtx.range("epoch {} step {step}", 3, step=7):
        nvtx.mark("here")
    assert nvtx.range_pop() == 0
    handle = nvtx.range_start("async")
    nvtx.range_end(handle)

    @nvtx.range("decorated")
    def work():
        return 5

    assert work() == 5
    assert events == [("push", "outer"), ("push", "inner"), ("pop",),
                      ("push", "epoch 3 step 7"), ("mark", "here"), ("pop",), ("pop",),
                      ("start", "async", handle), ("end", handle),
                      ("push", "decorated"), ("pop",)]
