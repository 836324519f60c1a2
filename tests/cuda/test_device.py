"""``disttorch.cuda`` queries, streams, events, memory statistics and device placement."""
import io

import numpy as np
import pytest

try:
    import ml_dtypes
except ImportError:     # bfloat16 is optional
    ml_dtypes = None

import disttorch
from disttorch.cuda import _simulated
from disttorch import _backend


def test_is_available_without_cuda_never_raises():
    previous = _backend.set_cuda_module(None)
    try:
        assert disttorch.cuda.is_available() is False
        assert disttorch.cuda.device_count() == 0
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            disttorch.cuda.current_device()
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            disttorch.zeros(2, device="cuda")
        disttorch.cuda.manual_seed_all(0)
        disttorch.cuda.empty_cache()
    finally:
        _backend.set_cuda_module(previous)


def test_device_queries(device):
    assert disttorch.cuda.is_available()
    assert disttorch.cuda.device_count() >= 1
    disttorch.cuda.set_device(0)
    assert disttorch.cuda.current_device() == 0
    with disttorch.cuda.device("cuda:0"):
        assert disttorch.cuda.current_device() == 0
    assert isinstance(disttorch.cuda.get_device_name(), str)
    disttorch.cuda.synchronize()


@pytest.mark.parametrize("make", [
    lambda d: disttorch.zeros(2, 3, device=d), lambda d: disttorch.ones(2, 3, device=d),
    lambda d: disttorch.full((2, 3), 1.5, device=d), lambda d: disttorch.empty(2, 3, device=d),
    lambda d: disttorch.arange(6, device=d), lambda d: disttorch.linspace(0, 1, 5, device=d),
    lambda d: disttorch.eye(3, device=d), lambda d: disttorch.randn(2, 3, device=d),
    lambda d: disttorch.rand(2, 3, device=d), lambda d: disttorch.randint(0, 5, (4,), device=d),
    lambda d: disttorch.tensor([1.0, 2.0], device=d), lambda d: disttorch.randperm(5, device=d),
    lambda d: disttorch.zeros_like(disttorch.ones(2), device=d),
    lambda d: disttorch.ones(2).new_zeros(3, device=d),
])
def test_creation_functions_take_device(make, device):
    t = make(device)
    assert t.is_cuda and t.device == disttorch.device("cuda", 0)


def test_moves_between_devices(device):
    x = disttorch.arange(6.0).reshape(2, 3).requires_grad_()
    y = x.to(device)
    assert y.is_cuda and x.cuda().is_cuda and y.cpu().device.type == "cpu"
    assert y.to(device) is y
    (y * y).sum().backward()
    assert x.grad.device.type == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy())
    z = x.detach().pin_memory().to(device, non_blocking=True)
    np.testing.assert_array_equal(z.cpu().numpy(), x.detach().numpy())


def test_mixing_devices_raises_pytorchs_error(device):
    a, b = disttorch.ones(3, device=device), disttorch.ones(3)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        a + b
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        disttorch.matmul(disttorch.ones(2, 2, device=device), disttorch.ones(2, 2))
    with pytest.raises(TypeError, match="can't convert cuda"):
        a.numpy()


def test_module_to_device_and_checkpoint(device):
    model = disttorch.nn.Linear(3, 2).to(device)
    assert all(p.is_cuda for p in model.parameters())
    buffer = io.BytesIO()
    disttorch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state = disttorch.load(buffer, map_location="cpu")
    assert all(v.device.type == "cpu" for v in state.values())
    buffer.seek(0)
    state = disttorch.load(buffer)
    assert all(v.is_cuda for v in state.values())


def test_streams_and_events(device):
    side = disttorch.cuda.Stream()
    start, end = disttorch.cuda.Event(enable_timing=True), disttorch.cuda.Event(enable_timing=True)
    start.record()
    x = disttorch.ones(64, 64, device=device)
    side.wait_stream(disttorch.cuda.current_stream())
    with disttorch.cuda.stream(side):
        y = x @ x
    disttorch.cuda.current_stream().wait_stream(side)
    end.record()
    end.synchronize()
    assert start.elapsed_time(end) >= 0.0
    assert side.query() in (True, False)
    side.synchronize()
    assert float(y[0, 0]) == 64.0
    with pytest.raises(RuntimeError, match="enable_timing"):
        disttorch.cuda.Event().elapsed_time(end)


def test_memory_statistics(device):
    disttorch.cuda.reset_peak_memory_stats()
    before = disttorch.cuda.memory_allocated()
    x = disttorch.empty(1 << 20, dtype=disttorch.float32, device=device)
    assert disttorch.cuda.memory_allocated() >= before + 4 * (1 << 20)
    assert disttorch.cuda.max_memory_allocated() >= before + 4 * (1 << 20)
    assert disttorch.cuda.memory_reserved() >= disttorch.cuda.memory_allocated()
    del x
    disttorch.cuda.empty_cache()
    assert disttorch.cuda.max_memory_allocated() >= disttorch.cuda.memory_allocated()


def test_the_peak_counts_blocks_freed_before_the_query(device):
    x = disttorch.empty(1, device=device)  # CUDA initialised before the peak is reset
    disttorch.cuda.reset_peak_memory_stats()
    before = disttorch.cuda.memory_allocated()
    for _ in range(3):
        a = disttorch.empty(1 << 20, device=device)
        b = disttorch.empty(1 << 19, device=device)
        del a, b
    assert disttorch.cuda.memory_allocated() == before
    assert disttorch.cuda.max_memory_allocated() == before + 4 * (1 << 20) + 4 * (1 << 19)
    del x


def test_simulated_device_rejects_host_arrays(device):
    if _backend.is_real_cupy(_backend.cupy_module()):
        pytest.skip("checks the simulated device's own strictness")
    xp = _backend.cupy_module()
    a = xp.ones(3)
    with pytest.raises(TypeError):
        a + np.ones(3)
    with pytest.raises(TypeError):
        np.asarray(a)
    with pytest.raises(AttributeError):
        xp.errstate
    assert type(a.sum()) is xp.ndarray


def test_simulated_device_refuses_what_cupy_lacks():
    """Each case here is a CuPy 14 gap that a real GPU run found and the CPU runs had missed."""
    with _simulated.simulate():
        xp = _backend.cupy_module()
        a = xp.arange(6.0).reshape(2, 3)
        assert not hasattr(a.flags, "writeable") and a.flags.c_contiguous
        assert not hasattr(xp.cuda, "get_default_memory_pool") and xp.get_default_memory_pool()
        with pytest.raises(NotImplementedError, match="cupy_multiply.at"):
            xp.multiply.at(a, xp.zeros(2, np.int64), 2.0)
        with pytest.raises(NotImplementedError, match="cupy_maximum.accumulate"):
            xp.maximum.accumulate(a, axis=1)
        xp.add.at(a, xp.zeros(2, np.int64), 1.0)       # add has a scatter kernel
        with pytest.raises(TypeError, match="unexpected keyword argument 'initial'"):
            a.max(initial=0.0)
        with pytest.raises(TypeError, match="unexpected keyword argument 'order'"):
            xp.add(a, a, order="C")
        with pytest.raises(ValueError, match="no '...' ellipsis"):
            xp.einsum("...ij,...j->i", xp.ones((2, 3, 4)), xp.ones((2, 4)))
        with pytest.raises(ValueError, match="for multidimensional b"):
            xp.linalg.solve(xp.eye(3), xp.ones((2, 3, 4)))
        if ml_dtypes is not None:
            b = a.astype(ml_dtypes.bfloat16)
            with pytest.raises(TypeError, match="data type 'E' not understood"):
                b @ b.T
        with _simulated.count_host_syncs() as syncs:
            xp.bincount(xp.zeros(3, np.int64), minlength=2)
        assert syncs["count"] == 1


def test_out_of_range_indices_raise_at_the_next_host_read(device):
    # range checks on the host would stall every step: the device checks, and the error comes
    # with the next read, as PyTorch's device-side asserts do (tests/cuda/test_device_asserts.py)
    logits = disttorch.zeros(2, 3, device=device)
    loss = disttorch.nn.functional.cross_entropy(logits, disttorch.tensor([0, 7], device=device))
    with pytest.raises(RuntimeError, match="device-side assert triggered: cross_entropy: "
                                           "Target 7 is out of bounds"):
        float(loss)
    weight = disttorch.ones(4, 2, device=device)
    rows = disttorch.nn.functional.embedding(disttorch.tensor([1, 9], device=device), weight)
    with pytest.raises(RuntimeError, match="embedding: index 9 is out of range for size 4"):
        rows.cpu()
    with pytest.raises(IndexError):
        disttorch.nn.functional.cross_entropy(disttorch.zeros(2, 3), disttorch.tensor([0, 7]))


def test_pinned_memory_and_non_blocking_copies(device):
    x = disttorch.arange(12.0).reshape(3, 4)
    assert not x.is_pinned()
    pinned = x.pin_memory()
    assert pinned.is_pinned() and pinned.pin_memory() is pinned
    y = pinned.to(device, non_blocking=True)
    disttorch.cuda.current_stream().synchronize()
    np.testing.assert_array_equal(y.cpu().numpy(), x.numpy())
    with pytest.raises(RuntimeError, match="only dense CPU tensors can be pinned"):
        y.pin_memory()
    loader = disttorch.utils.data.DataLoader(disttorch.utils.data.TensorDataset(x), batch_size=2,
                                             pin_memory=True)
    batch, = next(iter(loader))
    assert batch.is_pinned()
    assert batch.cuda(non_blocking=True).is_cuda


def test_manual_seed_reaches_the_device_generator(device):
    def draw():
        disttorch.manual_seed(123)
        x = disttorch.ones(1000, device=device)
        return disttorch.nn.functional.dropout(x, 0.5).cpu().numpy()
    np.testing.assert_array_equal(draw(), draw())


def test_float_to_uint8_wraps_as_in_pytorch(device):
    # PyTorch converts through int64 on every device (c10's cast to uint8); a GPU converts
    # floats to unsigned integers with saturation, which the simulated device does too
    values = [-1.0, 300.0, -200.5, 255.9, 0.5, -0.5]
    want = [255, 44, 56, 255, 0, 0]
    x = disttorch.tensor(values, device=device)
    assert x.to(disttorch.uint8).tolist() == want
    assert x.byte().tolist() == want
    assert disttorch.tensor(values).byte().tolist() == want
    cp = _backend.cupy_module()
    assert cp.asarray(np.array([-1.0])).astype(np.uint8).tolist() == [0]   # CuPy's own cast
    y = disttorch.zeros(6, dtype=disttorch.uint8, device=device)
    assert y.copy_(x).tolist() == want
