"""``disttorch.accelerator``: without CUDA it answers as torch's CPU-only build (the oracle
here); on the simulated CUDA device its answers are ``disttorch.cuda``'s."""
import collections
import inspect
import warnings

import numpy as np
import pytest

import disttorch
from disttorch import _backend
from disttorch.cuda import _simulated

A = disttorch.accelerator

NAMES = ["current_accelerator", "current_device_idx", "current_device_index",
         "get_device_capability", "current_stream", "device_count", "device_index",
         "empty_cache", "empty_host_cache", "get_memory_info", "is_available",
         "max_memory_allocated", "max_memory_reserved", "memory_allocated", "memory_reserved",
         "memory_stats", "reset_accumulated_memory_stats", "reset_peak_memory_stats",
         "set_device_idx", "set_device_index", "set_stream", "synchronize"]


def _outcome(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ("ok", fn())
        except Exception as exc:  # noqa: BLE001 - compared with the oracle's
            result = ("raised", type(exc), str(exc))
    return result, [(w.category, str(w.message)) for w in caught]


def test_names_and_signatures_match_torch():
    torch = pytest.importorskip("torch")
    assert disttorch.accelerator is A
    assert sorted(A.__all__) == sorted(NAMES)
    assert set(NAMES) <= set(torch.accelerator.__all__)
    for name in NAMES:
        ours, theirs = getattr(A, name), getattr(torch.accelerator, name)
        if inspect.isclass(ours):
            ours, theirs = ours.__init__, theirs.__init__
        ours = [(p.name, p.kind, p.default) for p in inspect.signature(ours).parameters.values()]
        theirs = [(p.name, p.kind, p.default)
                  for p in inspect.signature(theirs).parameters.values()]
        assert ours == theirs, name


CALLS = [
    lambda a, lib: a.current_accelerator(),
    lambda a, lib: a.current_accelerator(check_available=True),
    lambda a, lib: a.device_count(),
    lambda a, lib: a.is_available(),
    lambda a, lib: a.current_device_index(),
    lambda a, lib: a.current_device_idx(),
    lambda a, lib: a.set_device_index(0),
    lambda a, lib: a.set_device_index(-1),
    lambda a, lib: a.set_device_index(None),
    lambda a, lib: a.set_device_index("cuda:0"),
    lambda a, lib: a.set_device_index(lib.device("cpu")),
    lambda a, lib: a.set_device_idx(0),
    lambda a, lib: a.device_index(0).__enter__(),
    lambda a, lib: a.device_index(None).__enter__(),
    lambda a, lib: a.current_stream(),
    lambda a, lib: a.current_stream(0),
    lambda a, lib: a.current_stream("cuda"),
    lambda a, lib: a.synchronize(),
    lambda a, lib: a.synchronize(1),
    lambda a, lib: a.synchronize("cuda:0"),
    lambda a, lib: a.get_device_capability(),
    lambda a, lib: a.empty_cache(),
    lambda a, lib: a.empty_host_cache(),
    lambda a, lib: a.memory_stats(),
    lambda a, lib: a.memory_stats("cuda"),
    lambda a, lib: a.memory_allocated(),
    lambda a, lib: a.memory_allocated(0),
    lambda a, lib: a.max_memory_allocated(),
    lambda a, lib: a.memory_reserved(),
    lambda a, lib: a.max_memory_reserved(),
    lambda a, lib: a.reset_peak_memory_stats(),
    lambda a, lib: a.reset_accumulated_memory_stats(),
    lambda a, lib: a.get_memory_info(),
    lambda a, lib: a.get_memory_info("cuda"),
    lambda a, lib: a.memory_allocated(device_index=0),
]


@pytest.mark.skipif(_backend.cupy_module() is not None, reason="CuPy is installed: the "
                    "accelerator exists, unlike in torch's CPU-only build")
@pytest.mark.parametrize("index", range(len(CALLS)))
def test_without_cuda_answers_like_torch_cpu_build(index):
    torch = pytest.importorskip("torch")
    if torch.accelerator.current_accelerator() is not None:
        pytest.skip("the oracle torch has an accelerator")
    call = CALLS[index]
    assert _outcome(lambda: call(A, disttorch)) == _outcome(lambda: call(torch.accelerator,
                                                                        torch))


@pytest.mark.skipif(_backend.cupy_module() is not None, reason="CuPy is installed")
def test_without_cuda_context_manager_and_stream():
    torch = pytest.importorskip("torch")
    with A.device_index(None):
        pass
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is"):
        with A.device_index(0):
            pass
    # torch's set_stream refuses a non-stream with a TypeError too
    with pytest.raises(TypeError):
        A.set_stream(None)
    with pytest.raises(TypeError):
        torch.accelerator.set_stream(None)


@pytest.fixture
def sim():
    with _simulated.simulate(device_count=2):
        disttorch.cuda.set_device(0)
        yield
        disttorch.cuda.set_device(0)


def test_simulated_device_queries(sim):
    cuda = disttorch.cuda
    assert A.current_accelerator() == disttorch.device("cuda")
    assert A.current_accelerator().index is None
    assert A.current_accelerator(check_available=True) == disttorch.device("cuda")
    assert A.is_available() is True and A.device_count() == cuda.device_count() == 2
    assert A.current_device_index() == cuda.current_device() == 0
    A.set_device_index(1)
    assert cuda.current_device() == A.current_device_index() == 1
    assert disttorch.ones(2, device="cuda").device == disttorch.device("cuda", 1)
    A.set_device_index("cuda:0")
    assert cuda.current_device() == 0
    A.set_device_index(disttorch.device("cuda", 1))
    assert cuda.current_device() == 1
    A.set_device_index(-1)  # no-op
    assert cuda.current_device() == 1
    with pytest.warns(FutureWarning, match="Use `set_device_index` instead."):
        A.set_device_idx(0)
    with pytest.warns(FutureWarning, match="Use `current_device_index` instead."):
        assert A.current_device_idx() == 0
    with pytest.raises(ValueError, match="Expected a torch.device with a specified index or an "
                                         "integer, but got:cuda"):
        A.set_device_index("cuda")
    with pytest.raises(ValueError, match="cpu doesn't match the current accelerator cuda."):
        A.set_device_index("cpu")
    caps = A.get_device_capability("cuda:1")
    assert {disttorch.float32, disttorch.float64, disttorch.int64, disttorch.bool} <= \
        caps["supported_dtypes"]


def test_simulated_device_index_context(sim):
    cuda = disttorch.cuda
    with A.device_index(1):
        assert cuda.current_device() == 1
        assert disttorch.zeros(1, device="cuda").device.index == 1
        with A.device_index(0):
            assert cuda.current_device() == 0
        assert cuda.current_device() == 1
        with A.device_index(None):
            assert cuda.current_device() == 1
    assert cuda.current_device() == 0
    with pytest.raises(KeyError):
        with A.device_index(1):
            raise KeyError("restored on errors too")
    assert cuda.current_device() == 0


def test_simulated_streams(sim):
    cuda = disttorch.cuda
    assert A.current_stream() == cuda.current_stream()
    assert A.current_stream().device_index == 0
    assert A.current_stream(1).device_index == 1
    assert A.current_stream("cuda:1").device_index == 1
    side = cuda.Stream(device=1)
    A.set_stream(side)  # the stream's device becomes current too
    assert cuda.current_device() == 1
    assert A.current_stream() == side == cuda.current_stream()
    A.set_stream(cuda.default_stream(0))
    assert cuda.current_device() == 0
    assert A.current_stream() == cuda.default_stream(0)
    A.synchronize()
    A.synchronize(1)
    A.synchronize("cuda:1")
    with pytest.raises(TypeError):
        A.set_stream(None)


def test_simulated_memory_equals_cuda(sim):
    cuda = disttorch.cuda
    names = ["memory_allocated", "max_memory_allocated", "memory_reserved",
             "max_memory_reserved", "memory_stats"]
    A.reset_peak_memory_stats()
    A.empty_cache()
    A.empty_host_cache()
    before = A.memory_allocated()
    x = disttorch.ones(1000, device="cuda")
    y = disttorch.ones(500, device="cuda:1")
    assert A.memory_allocated() == before + 4000 == cuda.memory_allocated()
    assert A.memory_allocated(1) == cuda.memory_allocated(1) >= 2000
    del x
    assert A.max_memory_allocated() >= before + 4000
    for name in names:
        for device in (None, 0, 1, "cuda:1", disttorch.device("cuda", 0)):
            args = () if device is None else (device,)
            assert getattr(A, name)(*args) == getattr(cuda, name)(*args), (name, device)
    assert isinstance(A.memory_stats(), collections.OrderedDict)
    assert A.get_memory_info() == cuda.mem_get_info()
    assert A.get_memory_info("cuda:1") == cuda.mem_get_info(1)
    peak = A.max_memory_allocated()
    A.reset_peak_memory_stats()
    assert A.max_memory_allocated() == cuda.max_memory_allocated() < peak
    A.reset_accumulated_memory_stats(1)
    assert A.memory_allocated(1) == cuda.memory_allocated(1)
    del y
    np.testing.assert_equal(A.memory_stats(1), cuda.memory_stats(1))
