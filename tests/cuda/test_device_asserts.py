"""Out-of-range indices on the device: PyTorch's CUDA kernels assert, and the error surfaces at
the next host synchronisation ("device-side assert triggered"). CuPy would wrap the index around
and carry on; disttorch checks on the device (``cuda/kernels/bounds.py``) without reading the
indices back, and raises at the next copy to the host or ``cuda.synchronize()``."""
import pytest

import disttorch
import disttorch.nn.functional as F
from disttorch import _backend
from disttorch.cuda import _simulated

from .conftest import WITH_SECOND_DEVICE, on_device


@pytest.fixture(params=WITH_SECOND_DEVICE)
def device(request):
    """The GPU; the simulated device (the check made on its host copy); the simulated device
    with the check kernel run by the CPU emulator; the second of two simulated devices."""
    yield from on_device(request.param)


def _on(device, values, dtype=disttorch.int64):
    return disttorch.tensor(values, dtype=dtype, device=device)


CASES = {
    "index_select": (lambda d, i: disttorch.randn(5, 3, device=d).index_select(0, i),
                     [1, 9], "index_select: index 9 is out of range for size 5"),
    "embedding": (lambda d, i: F.embedding(i, disttorch.randn(5, 3, device=d)),
                  [[0, 7]], "embedding: index 7 is out of range for size 5"),
    "gather": (lambda d, i: disttorch.randn(2, 4, device=d).gather(1, i),
               [[0, -4], [3, 4]], "gather: index 4 is out of bounds for dimension 1 with size 4"),
    "scatter_add": (lambda d, i: disttorch.zeros(3, device=d).scatter_add(
        0, i, disttorch.ones(2, device=d)), [-4, 0],
        "scatter_add: index -4 is out of bounds for dimension 0 with size 3"),
    "getitem": (lambda d, i: disttorch.randn(4, 6, device=d)[:, i],
                [5, 6], "index: index 6 is out of bounds for dimension 1 with size 6"),
    "cross_entropy": (lambda d, i: F.cross_entropy(disttorch.randn(2, 3, device=d), i),
                      [2, 3], "cross_entropy: Target 3 is out of bounds"),
    "nll_loss": (lambda d, i: F.nll_loss(disttorch.randn(2, 3, device=d), i),
                 [-1, 0], "nll_loss: Target -1 is out of bounds"),
    "take": (lambda d, i: disttorch.take(disttorch.randn(2, 3, device=d), i),
             [5, -7], "take: out of range: tried to access index -7 on a tensor of 6 elements"),
    "put": (lambda d, i: disttorch.zeros(2, 3, device=d).put(i, disttorch.ones(2, device=d)),
            [0, 6], "put: out of range: tried to access index 6 on a tensor of 6 elements"),
    "index_add": (lambda d, i: disttorch.zeros(3, 2, device=d).index_add(
        0, i, disttorch.ones(2, 2, device=d)), [2, 3],
        "index_add: index 3 is out of range for size 3 in self"),
    "embedding_bag": (lambda d, i: F.embedding_bag(i, disttorch.randn(4, 2, device=d),
                                                   disttorch.tensor([0], device=d)),
                      [0, 4], "embedding_bag: index 4 is out of range for size 4 in self"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_out_of_range_index_raises_at_the_next_host_read(device, name):
    op, index, message = CASES[name]
    result = op(device, _on(device, index))   # no error yet: the check runs on the device
    with pytest.raises(RuntimeError, match="CUDA error: device-side assert triggered: "
                                           + message.replace("(", r"\(")):
        result.sum().item()
    float(result.sum().item()) if result.numel() else None   # reported once


@pytest.mark.parametrize("name", sorted(CASES))
def test_in_range_and_ignored_indices_pass(device, name):
    op, _, _ = CASES[name]
    good = {"gather": [[0, -4], [3, 1]], "scatter_add": [-3, 2], "getitem": [5, -6],
            "embedding": [[0, 4]], "nll_loss": [-100, 2], "cross_entropy": [-100, 2],
            "index_select": [0, 4], "take": [5, -6], "put": [0, -6], "index_add": [2, 0],
            "embedding_bag": [0, 3]}[name]
    op(device, _on(device, good)).sum().item()
    disttorch.cuda.synchronize()


def test_synchronize_and_cpu_report_it_too(device):
    weight = disttorch.randn(4, 2, device=device)
    weight.index_select(0, _on(device, [4], disttorch.int32))
    with pytest.raises(RuntimeError, match="index_select: index 4 is out of range for size 4"):
        disttorch.cuda.synchronize()
    bad = F.embedding(_on(device, [0, 5]), weight)
    with pytest.raises(RuntimeError, match="embedding: index 5"):
        bad.cpu()
    disttorch.cuda.synchronize()   # cleared
    weight.index_select(0, _on(device, [-1]))
    with pytest.raises(RuntimeError, match="index_select: index -1 is out of range"):
        disttorch.cuda.current_stream().synchronize()
    weight.index_select(0, _on(device, [7]))
    event = disttorch.cuda.Event()
    event.record()
    with pytest.raises(RuntimeError, match="index_select: index 7 is out of range"):
        event.synchronize()


def test_setitem_and_index_put(device):
    x = disttorch.zeros(3, device=device)
    x[_on(device, [0, 3])] = 1.0
    with pytest.raises(RuntimeError, match="index: index 3 is out of bounds for dimension 0"):
        x.sum().item()
    x.index_put_((_on(device, [-4]),), disttorch.ones(1, device=device), accumulate=True)
    with pytest.raises(RuntimeError, match="index -4 is out of bounds for dimension 0 with size 3"):
        x.cpu()


def test_the_check_reads_nothing_back(device):
    if _backend.cupy_module() is not _simulated:
        pytest.skip("host reads are counted on the simulated device only: a GPU has no such "
                    "counter")
    index = _on(device, [0, 1, 2])
    weight = disttorch.randn(5, 3, device=device)
    with _simulated.count_host_syncs() as syncs:
        F.embedding(index, weight)
        weight.index_select(0, index)
    assert syncs["count"] == 0, syncs["where"]


def test_a_violation_left_unread_ends_with_its_simulation():
    from disttorch.cuda.kernels import bounds
    with _simulated.simulate():
        disttorch.randn(3, device="cuda").index_select(0, disttorch.tensor([5], device="cuda"))
        assert bounds._simulated_errors
    assert not bounds._simulated_errors
    with _simulated.simulate():
        disttorch.cuda.synchronize()   # nothing left to raise


@pytest.mark.parametrize("bad", [1.5, -0.25, float("nan")])
@pytest.mark.parametrize("dtype", [disttorch.float32, disttorch.float64, disttorch.float16])
def test_binary_cross_entropy_checks_its_input_on_the_device(device, bad, dtype):
    # PyTorch's CPU check raises at once and its CUDA kernel asserts; on a GPU the check runs
    # there (no host synchronisation inside the loss) and is raised at the next host read
    target = disttorch.tensor([0.0, 1.0, 1.0], dtype=dtype, device=device)
    good = disttorch.tensor([0.25, 1.0, 0.0], dtype=dtype, device=device)
    F.binary_cross_entropy(good, target).item()
    loss = F.binary_cross_entropy(disttorch.tensor([0.5, bad, 0.5], dtype=dtype, device=device),
                                  target)
    with pytest.raises(RuntimeError, match="device-side assert triggered: binary_cross_entropy: "
                                           "all elements of input should be between 0 and 1"):
        loss.item()
    disttorch.cuda.synchronize()   # reported once


@pytest.mark.parametrize("bad", [1.5, float("nan")])
def test_binary_cross_entropy_checks_its_input_on_the_cpu(bad):
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(disttorch.tensor([0.5, bad]), disttorch.tensor([0.0, 1.0]))
