"""PyTorch's CUDA device semantics: ``"cuda"`` is the current device, the ``torch.cuda`` query,
memory and random-number API (also without CUDA, against PyTorch's CPU build), and random-state
replay in activation checkpointing and ``fork_rng``."""
import gc
import warnings

import numpy as np
import pytest

import disttorch
import disttorch.nn.functional as F
from disttorch import _backend
from disttorch.cuda import _simulated
from disttorch.utils.checkpoint import checkpoint


@pytest.fixture
def two_devices():
    """The simulated machine with two devices (device 0 current)."""
    with _simulated.simulate(device_count=2):
        yield
        disttorch.cuda.set_device(0)


@pytest.fixture
def no_cuda():
    previous = _backend.set_cuda_module(None)
    try:
        yield
    finally:
        _backend.set_cuda_module(previous)


# -- "cuda" is the current device


@pytest.mark.parametrize("make", [
    lambda: disttorch.zeros(2, device="cuda"), lambda: disttorch.empty(2, device="cuda"),
    lambda: disttorch.full((2,), 3.0, device="cuda"), lambda: disttorch.randn(2, device="cuda"),
    lambda: disttorch.tensor([1.0, 2.0], device="cuda"), lambda: disttorch.ones(2).to("cuda"),
    lambda: disttorch.ones(2).cuda(), lambda: disttorch.ones(2).to(device="cuda"),
    lambda: disttorch.nn.Linear(2, 2).to("cuda").weight,
    lambda: disttorch.nn.Linear(2, 2).cuda().weight,
], ids=["zeros", "empty", "full", "randn", "tensor", "to", "cuda", "to_kw", "module_to",
        "module_cuda"])
def test_cuda_without_index_is_the_current_device(make, two_devices):
    disttorch.cuda.set_device(1)
    t = make()
    assert t.device == disttorch.device("cuda", 1) and str(t.device) == "cuda:1"
    assert t.get_device() == 1 and t._data.device.id == 1
    # results and views stay there
    assert (t * 2).device.index == 1 and t[:1].device.index == 1
    disttorch.cuda.set_device(0)
    with disttorch.cuda.device(1):
        assert make().device.index == 1
    assert make().device.index == 0


def test_to_cuda_moves_a_tensor_to_the_current_device(two_devices):
    x = disttorch.arange(3.0, device="cuda:0")
    assert x.to("cuda") is x and x.to("cuda:0") is x
    with disttorch.cuda.device(1):
        y = x.to("cuda")
        assert y.device.index == 1 and y is not x
        np.testing.assert_array_equal(y.cpu().numpy(), [0.0, 1.0, 2.0])
        assert y.to("cuda") is y and x.cuda().device.index == 1
        assert x.to("cuda:0") is x  # an explicit index is honoured
    z = disttorch.zeros(1, device="cuda:1")
    assert z.device.index == 1 and disttorch.cuda.current_device() == 0
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        disttorch.zeros(1, device="cuda:2")


def test_gradients_flow_back_to_the_source_device(two_devices):
    x = disttorch.ones(3, device="cuda:0", requires_grad=True)
    with disttorch.cuda.device(1):
        (x.to("cuda") * 3).sum().backward()
    assert x.grad.device.index == 0
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [3.0, 3.0, 3.0])


# -- the torch.cuda API without CUDA, against PyTorch's CPU build

_CALLS = {
    "memory_allocated": lambda m: m.cuda.memory_allocated(),
    "max_memory_allocated": lambda m: m.cuda.max_memory_allocated(),
    "memory_reserved": lambda m: m.cuda.memory_reserved(),
    "max_memory_reserved": lambda m: m.cuda.max_memory_reserved(0),
    "memory_stats": lambda m: dict(m.cuda.memory_stats()),
    "get_rng_state_all": lambda m: m.cuda.get_rng_state_all(),
    "set_rng_state_all": lambda m: m.cuda.set_rng_state_all([]),
    "set_rng_state": lambda m: m.cuda.set_rng_state(m.zeros(16, dtype=m.uint8)),
    "seed": lambda m: m.cuda.seed(),
    "seed_all": lambda m: m.cuda.seed_all(),
    "manual_seed": lambda m: m.cuda.manual_seed(3),
    "is_initialized": lambda m: m.cuda.is_initialized(),
    "init": lambda m: m.cuda.init(),
    "set_stream": lambda m: m.cuda.set_stream(None),
    "is_bf16_supported": lambda m: m.cuda.is_bf16_supported(),
    "device_count": lambda m: m.cuda.device_count(),
    "get_device_properties": lambda m: m.cuda.get_device_properties(0),
    "get_device_capability": lambda m: m.cuda.get_device_capability(),
    "get_device_name": lambda m: m.cuda.get_device_name(),
    "mem_get_info": lambda m: m.cuda.mem_get_info(),
    "get_rng_state": lambda m: m.cuda.get_rng_state(),
    "initial_seed": lambda m: m.cuda.initial_seed(),
    "current_device": lambda m: m.cuda.current_device(),
    "zeros": lambda m: m.zeros(1, device="cuda"),
}


def _outcome(call, module):
    try:
        return "returns", call(module)
    except AssertionError:
        return "raises", AssertionError


@pytest.mark.parametrize("name", sorted(_CALLS))
def test_without_cuda_matches_pytorchs_cpu_build(name, no_cuda):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available() or torch.version.cuda is not None:
        pytest.skip("the oracle is PyTorch's CPU build")
    assert _outcome(_CALLS[name], disttorch) == _outcome(_CALLS[name], torch)


def test_without_cuda_errors_are_runtime_errors_too(no_cuda):
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        disttorch.cuda.get_device_properties()
    with pytest.raises(AttributeError):  # PyTorch clones the state first
        disttorch.cuda.set_rng_state([1])


def test_out_of_memory_error_is_pytorchs():
    torch = pytest.importorskip("torch")
    assert issubclass(disttorch.cuda.OutOfMemoryError, RuntimeError)
    assert issubclass(torch.cuda.OutOfMemoryError, RuntimeError)


# -- queries and memory on the device


def test_device_properties(device):
    props = disttorch.cuda.get_device_properties()
    assert isinstance(props.name, str) and props.name == disttorch.cuda.get_device_name(0)
    assert props.total_memory > 0 and props.multi_processor_count > 0 and props.major >= 1
    assert disttorch.cuda.get_device_capability() == (props.major, props.minor)
    assert "_CudaDeviceProperties(name=" in repr(props)
    with pytest.raises(AssertionError, match="Invalid device id"):
        disttorch.cuda.get_device_properties(disttorch.cuda.device_count())
    free, total = disttorch.cuda.mem_get_info()
    assert 0 <= free <= total == props.total_memory
    assert disttorch.cuda.is_initialized()


def test_memory_stats_use_pytorchs_keys(device):
    disttorch.cuda.reset_peak_memory_stats()
    x = disttorch.empty(1 << 18, dtype=disttorch.float32, device=device)
    stats = disttorch.cuda.memory_stats()
    assert list(stats) == sorted(stats)
    assert stats["allocated_bytes.all.current"] == disttorch.cuda.memory_allocated() >= 1 << 20
    assert stats["allocated_bytes.all.peak"] >= stats["allocated_bytes.all.current"]
    assert stats["reserved_bytes.all.current"] == disttorch.cuda.memory_reserved()
    assert stats["reserved_bytes.all.peak"] >= stats["reserved_bytes.all.current"]
    assert stats["active_bytes.all.current"] == stats["allocated_bytes.all.current"]
    del x


def test_memory_is_counted_per_device(two_devices):
    # initialized first: before that the counts read 0 whatever the devices hold (as in
    # PyTorch), and memory left by earlier tests of this process would show up after the
    # allocation (seen on a GPU machine, where the real device was the one initialized last);
    # earlier tests' garbage collected now, not between the two readings
    disttorch.cuda.init()
    gc.collect()
    before = [disttorch.cuda.memory_allocated(d) for d in (0, 1)]
    with disttorch.cuda.device(1):
        x = disttorch.empty(1 << 18, dtype=disttorch.float32, device="cuda")
    assert disttorch.cuda.memory_allocated(1) == before[1] + (1 << 20)
    assert disttorch.cuda.memory_allocated("cuda:0") == before[0]
    assert disttorch.cuda.max_memory_allocated(1) >= before[1] + (1 << 20)
    assert disttorch.cuda.mem_get_info(1)[0] == disttorch.cuda.mem_get_info(0)[0] - (1 << 20) \
        + before[0] - before[1]
    del x


def test_out_of_memory_raises_pytorchs_error():
    with _simulated.simulate(total_memory=1 << 20):
        with pytest.raises(disttorch.cuda.OutOfMemoryError, match="CUDA out of memory"):
            disttorch.zeros(1 << 20, device="cuda")
        with pytest.raises(RuntimeError, match="Tried to allocate 8.00 MiB"):
            disttorch.ones(1 << 20, dtype=disttorch.float64).cuda()
        assert disttorch.zeros(16, device="cuda").is_cuda


def test_set_stream(device):
    side = disttorch.cuda.Stream()
    default = disttorch.cuda.current_stream()
    disttorch.cuda.set_stream(side)
    try:
        assert disttorch.cuda.current_stream() == side
    finally:
        disttorch.cuda.set_stream(default)
    assert disttorch.cuda.current_stream() == default
    assert disttorch.cuda.set_stream(None) is None


# -- random-number state


def _dropout_mask(n=1000):
    return (F.dropout(disttorch.ones(n, device="cuda"), 0.5) != 0).cpu().numpy()


def test_rng_state_round_trips_exactly(device):
    disttorch.cuda.manual_seed(5)
    state = disttorch.cuda.get_rng_state()
    assert state.dtype == disttorch.uint8 and state.device.type == "cpu" and state.dim() == 1
    first = _dropout_mask()
    disttorch.cuda.set_rng_state(state)
    np.testing.assert_array_equal(_dropout_mask(), first)
    disttorch.cuda.set_rng_state(state, "cuda:0")
    np.testing.assert_array_equal(_dropout_mask(), first)
    with pytest.raises(TypeError, match="ByteTensor"):
        disttorch.cuda.set_rng_state(state.float())
    with pytest.raises(RuntimeError, match="Invalid CUDA generator state"):
        disttorch.cuda.set_rng_state(disttorch.zeros(4, dtype=disttorch.uint8))


def test_rng_state_reads_without_perturbing_the_simulated_stream():
    with _simulated.simulate():
        disttorch.cuda.manual_seed(9)
        plain = [_dropout_mask(), _dropout_mask()]
        disttorch.cuda.manual_seed(9)
        first = _dropout_mask()
        disttorch.cuda.get_rng_state()
        np.testing.assert_array_equal(np.stack([first, _dropout_mask()]), np.stack(plain))


def test_seeds(device):
    disttorch.cuda.manual_seed(1234)
    assert disttorch.cuda.initial_seed() == 1234
    disttorch.manual_seed(-1)
    assert disttorch.cuda.initial_seed() == 2 ** 64 - 1
    disttorch.cuda.manual_seed_all(77)
    a = _dropout_mask()
    disttorch.cuda.manual_seed_all(77)
    np.testing.assert_array_equal(_dropout_mask(), a)
    disttorch.cuda.seed()
    s = disttorch.cuda.initial_seed()
    disttorch.cuda.seed_all()
    s = disttorch.cuda.initial_seed()
    state = disttorch.cuda.get_rng_state()
    disttorch.cuda.manual_seed(3)
    disttorch.cuda.set_rng_state(state)  # the state carries its seed
    assert disttorch.cuda.initial_seed() == s != 3


def test_each_device_has_its_own_generator(two_devices):
    disttorch.cuda.manual_seed_all(11)
    with disttorch.cuda.device(1):
        on_one = _dropout_mask()
    np.testing.assert_array_equal(_dropout_mask(), on_one)  # device 0: same seed, own stream
    states = disttorch.cuda.get_rng_state_all()
    assert len(states) == 2
    a = _dropout_mask()
    with disttorch.cuda.device(1):
        b = _dropout_mask()
    disttorch.cuda.set_rng_state_all(states)
    np.testing.assert_array_equal(_dropout_mask(), a)
    with disttorch.cuda.device(1):
        np.testing.assert_array_equal(_dropout_mask(), b)
    disttorch.cuda.manual_seed(5)  # the current device only
    assert disttorch.cuda.initial_seed() == 5
    with disttorch.cuda.device(1):
        assert disttorch.cuda.initial_seed() == 11


# -- replay in checkpointing and fork_rng


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpoint_replays_cuda_dropout(use_reentrant, device):
    disttorch.manual_seed(0)
    x = disttorch.ones(1000, device=device, requires_grad=True)
    y = checkpoint(lambda t: F.dropout(t * 1.0, 0.5, training=True), x,
                   use_reentrant=use_reentrant)
    y.sum().backward()
    np.testing.assert_array_equal((x.grad != 0).cpu().numpy(), (y.detach() != 0).cpu().numpy())


def test_checkpoint_replays_the_generator_of_the_inputs_device(two_devices):
    disttorch.manual_seed(0)
    x = disttorch.ones(1000, device="cuda:1", requires_grad=True)

    def segment(t):
        with disttorch.cuda.device(1):
            return F.dropout(t * 1.0, 0.5, training=True)
    y = checkpoint(segment, x, use_reentrant=False)
    _dropout_mask()  # draws on device 0 in between do not matter
    with disttorch.cuda.device(1):
        _dropout_mask()
    y.sum().backward()
    np.testing.assert_array_equal((x.grad != 0).cpu().numpy(), (y.detach() != 0).cpu().numpy())


def test_fork_rng_forks_cuda_generators(device):
    disttorch.manual_seed(3)
    with disttorch.fork_rng(devices=[0]):
        inside = _dropout_mask()
        cpu_inside = disttorch.rand(4)
    np.testing.assert_array_equal(_dropout_mask(), inside)
    np.testing.assert_array_equal(disttorch.rand(4).numpy(), cpu_inside.numpy())
    with disttorch.fork_rng(devices=[0], enabled=False):
        _dropout_mask()
    assert not np.array_equal(_dropout_mask(), inside)


def test_fork_rng_forks_every_device_by_default(two_devices):
    disttorch.cuda.manual_seed_all(8)
    with pytest.warns(UserWarning, match="2 available devices"):
        with disttorch.fork_rng():
            with disttorch.cuda.device(1):
                inside = _dropout_mask()
    with disttorch.cuda.device(1):
        np.testing.assert_array_equal(_dropout_mask(), inside)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with disttorch.fork_rng(devices=range(2)):
            pass
