"""Several GPUs in one process: every op runs on its inputs' device, as in PyTorch, whichever
device is current. CuPy launches kernels on the current device and refuses (or, with peer
access, silently reads across) arrays of another; the simulated devices refuse, so each case
here fails if any step of it ran on the wrong device. The op table, kernels, amp and training
tests also run on the second device (``cuda-sim-second`` in conftest.py)."""
import numpy as np
import pytest

import disttorch
from disttorch import _backend, _device_guard
from disttorch.cuda import _simulated


@pytest.fixture
def two_devices():
    with _simulated.simulate(device_count=2):
        yield


def _host(t):
    return t.detach().cpu().numpy()


def test_the_simulated_devices_refuse_arrays_of_another_device(two_devices):
    cp = _backend.cupy_module()
    with cp.cuda.Device(1):
        a = cp.ones(3)
    with pytest.raises(ValueError, match=r"resides \(1\) is different from the current device "
                                         r"\(0\)"):
        a + 1
    with cp.cuda.Device(1):
        assert float((a + 1).sum()) == 6.0
    b = a.copy()   # CuPy's copy() is the one call that takes an array to the current device
    assert b.device.id == 0 and float(b.sum()) == 3.0


def test_ops_and_gradients_stay_on_the_inputs_device(two_devices):
    data = np.random.default_rng(0).standard_normal((4, 3))
    results = []
    for where in ("cpu", "cuda:1"):
        x = disttorch.tensor(data, device=where, requires_grad=True)
        y = (x * 2 + x.exp()).sin().sum(dim=1).logsumexp(0)
        assert str(y.device) == where
        y.backward()
        assert str(x.grad.device) == where
        results.append((_host(y), _host(x.grad)))
    assert disttorch.cuda.current_device() == 0
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12)


def test_a_gradient_on_another_device_is_refused(two_devices):
    x = disttorch.ones(3, device="cuda:1", requires_grad=True)
    with pytest.raises(RuntimeError, match="invalid gradient at index 0 - expected device "
                                           "cuda:1 but got cuda:0"):
        (x * 2).backward(disttorch.ones(3, device="cuda:0"))


def test_tensors_on_two_devices_do_not_mix(two_devices):
    a = disttorch.ones(3, device="cuda:0")
    b = disttorch.ones(3, device="cuda:1")
    message = "Expected all tensors to be on the same device, but found at least two devices"
    for op in (lambda: a + b, lambda: b * a, lambda: disttorch.cat([b, a]),
               lambda: disttorch.matmul(b, a), lambda: disttorch.where(b > 0, b, a)):
        with pytest.raises(RuntimeError, match=message):
            op()
    b.copy_(a * 3)   # copy_ crosses devices, as in PyTorch
    assert str(b.device) == "cuda:1" and _host(b).tolist() == [3.0, 3.0, 3.0]


def test_to_copies_between_devices_without_the_host(two_devices):
    x = disttorch.arange(12.0, device="cuda:0").reshape(3, 4)[:, 1:]   # not contiguous
    with _simulated.count_host_syncs() as syncs:
        y = x.to("cuda:1")
    assert syncs["count"] == 0, syncs["where"]
    assert str(y.device) == "cuda:1"
    np.testing.assert_array_equal(_host(y), _host(x))


def test_model_parallel_training_equals_the_cpu(two_devices):
    def train(first, second):
        disttorch.manual_seed(0)
        a = disttorch.nn.Sequential(disttorch.nn.Linear(6, 16), disttorch.nn.ReLU()).to(first)
        b = disttorch.nn.Sequential(disttorch.nn.LayerNorm(16), disttorch.nn.Linear(16, 3)
                                    ).to(second)
        params = list(a.parameters()) + list(b.parameters())
        optimizer = disttorch.optim.AdamW(params, lr=0.01)
        rng = np.random.default_rng(1)
        losses = []
        for _ in range(4):
            x = disttorch.tensor(rng.standard_normal((8, 6)), dtype=disttorch.float32)
            target = disttorch.tensor(rng.integers(0, 3, 8))
            logits = b(a(x.to(first)).to(second))
            loss = disttorch.nn.functional.cross_entropy(logits, target.to(second))
            optimizer.zero_grad()
            loss.backward()
            disttorch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            losses.append(loss.item())
        for p, where in zip(params, [first] * 2 + [second] * 4):
            assert str(p.device) == where and str(p.grad.device) == where
            for value in optimizer.state[p].values():
                if value.dim():
                    assert str(value.device) == where
        return losses, [_host(p) for p in params]

    want = train("cpu", "cpu")
    got = train("cuda:0", "cuda:1")
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
    for g, w in zip(got[1], want[1]):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_multi_tensor_kernels_use_tables_on_their_own_device(name):
    """The fused optimizer steps pass pointer and size tables that live on the device; two
    models of one shape on two GPUs have equal size tables, and each needs its own copy."""
    if not _kernels_emulated():
        pytest.skip("needs the kernel emulator (a C++ compiler)")
    with _simulated.simulate(device_count=2, fused_kernels="run"):
        results = []
        for where in ("cuda:0", "cuda:1", "cuda:0"):
            disttorch.manual_seed(0)
            model = disttorch.nn.Linear(5, 4).to(where)
            kwargs = {"momentum": 0.9} if name == "SGD" else {}
            optimizer = getattr(disttorch.optim, name)(model.parameters(), lr=0.1, **kwargs)
            for _ in range(2):
                optimizer.zero_grad()
                model(disttorch.ones(3, 5, device=where)).square().sum().backward()
                optimizer.step()
            results.append([_host(p) for p in model.parameters()])
    for other in results[1:]:
        for got, want in zip(other, results[0]):
            np.testing.assert_array_equal(got, want)


def _kernels_emulated():
    from disttorch.cuda import _kernel_emulator
    return _kernel_emulator.available()


def test_grad_scaler_unscales_each_device_with_its_own_copy_of_the_scale(two_devices):
    a = disttorch.nn.Linear(3, 3).to("cuda:0")
    b = disttorch.nn.Linear(3, 1).to("cuda:1")
    optimizer = disttorch.optim.SGD(list(a.parameters()) + list(b.parameters()), lr=0.1)
    scaler = disttorch.amp.GradScaler("cuda", init_scale=1024.0)
    x = disttorch.ones(2, 3, device="cuda:0")
    loss = b(a(x).to("cuda:1")).sum()
    scaler.scale(loss).backward()
    unscaled = [_host(p.grad) / 1024.0 for p in optimizer.param_groups[0]["params"]]
    scaler.unscale_(optimizer)
    for p, want in zip(optimizer.param_groups[0]["params"], unscaled):
        np.testing.assert_allclose(_host(p.grad), want, rtol=1e-6)
    before = [_host(p) for p in a.parameters()]
    scaler.step(optimizer)
    scaler.update()
    assert scaler.get_scale() == 1024.0
    assert not np.array_equal(_host(a.weight), before[0])
    # an inf on one device skips the step for all and backs the scale off
    optimizer.zero_grad()
    scaler.scale(b(a(x).to("cuda:1")).sum()).backward()
    a.weight.grad[0, 0] = float("inf")
    weights = _host(b.weight)
    scaler.step(optimizer)
    scaler.update()
    assert scaler.get_scale() == 512.0
    np.testing.assert_array_equal(_host(b.weight), weights)


def test_manual_seed_reaches_every_devices_generator(two_devices):
    def draw():
        disttorch.manual_seed(7)
        x = disttorch.ones(64, device="cuda:1")
        return _host(disttorch.nn.functional.dropout(x, 0.5)), _host(
            disttorch.rand(5, device="cuda:1"))
    first, second = draw(), draw()
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_the_guards_cost_a_one_device_process_nothing():
    add = disttorch.Tensor.__add__
    with _simulated.simulate(device_count=2):
        disttorch.ones(2, device="cuda:0") + 1
        assert disttorch.Tensor.__add__ is add and not _backend.several_devices[0]
        disttorch.ones(2, device="cuda:1")
        assert disttorch.Tensor.__add__ is not add and _backend.several_devices[0]
        assert _device_guard.unguarded(disttorch.Tensor.__add__) is add
    assert disttorch.Tensor.__add__ is add and not _backend.several_devices[0]


def test_set_device_makes_ops_follow_tensors_on_device_0(two_devices):
    x = disttorch.ones(2, 2, device="cuda:0", requires_grad=True)
    disttorch.cuda.set_device(1)
    try:
        y = disttorch.nn.functional.softmax(x @ x, dim=1)
        y.sum().backward()
        assert str(y.device) == "cuda:0" and str(x.grad.device) == "cuda:0"
        assert str(disttorch.ones(1, device="cuda").device) == "cuda:1"
    finally:
        disttorch.cuda.set_device(0)


def test_cuda_without_an_index_still_means_the_current_device(two_devices):
    x = disttorch.ones(2, device="cuda:1")
    for make in (lambda: x.to("cuda"), lambda: x.cuda(),
                 lambda: disttorch.zeros_like(x, device="cuda"),
                 lambda: disttorch.ones(2, device="cuda"),
                 lambda: x.new_zeros(3, device="cuda")):
        assert str(make().device) == "cuda:0"
    assert str(x.new_zeros(3).device) == "cuda:1"
    assert str(disttorch.zeros_like(x).device) == "cuda:1"


def test_checkpoints_load_onto_the_second_device(two_devices, tmp_path):
    def make(where):
        disttorch.manual_seed(3)
        return disttorch.nn.Sequential(disttorch.nn.Linear(3, 4), disttorch.nn.BatchNorm1d(4)
                                       ).to(where)
    model = make("cuda:1")
    optimizer = disttorch.optim.Adam(model.parameters())
    model(disttorch.randn(5, 3, device="cuda:1")).sum().backward()
    optimizer.step()
    path = tmp_path / "ckpt.pt"
    disttorch.save({"model": model.state_dict(), "optim": optimizer.state_dict()}, path)
    for where, map_location in (("cuda:1", None), ("cuda:1", "cpu"), ("cuda:0", None),
                                ("cuda:0", {"cuda:1": "cuda:0"})):
        state = disttorch.load(path, map_location=map_location)
        other = make(where)
        other.load_state_dict(state["model"])        # copies across devices as needed
        assert {str(t.device) for t in other.state_dict().values()} == {where}
        for name, value in model.state_dict().items():
            np.testing.assert_array_equal(_host(other.state_dict()[name]), _host(value))
        resumed = disttorch.optim.Adam(other.parameters())
        resumed.load_state_dict(state["optim"])
        assert {str(v.device) for s in resumed.state.values() for k, v in s.items()
                if k != "step"} == {where}
        other(disttorch.randn(5, 3, device=where)).sum().backward()
        resumed.step()


nn = disttorch.nn
# (module factory, input shapes or index inputs): each runs forward and backward on the CPU
# and on cuda:1 (device 0 current), from the same weights
MODULES = {
    "linear": (lambda: nn.Linear(5, 3), [(4, 5)]),
    "bilinear": (lambda: nn.Bilinear(3, 4, 2), [(5, 3), (5, 4)]),
    "conv1d": (lambda: nn.Conv1d(2, 3, 3, padding=1), [(2, 2, 7)]),
    "conv2d": (lambda: nn.Conv2d(2, 4, 3, stride=2), [(2, 2, 9, 9)]),
    "conv3d": (lambda: nn.Conv3d(1, 2, 2), [(1, 1, 4, 4, 4)]),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2), [(1, 3, 4, 4)]),
    "batch_norm": (lambda: nn.BatchNorm2d(3), [(4, 3, 5, 5)]),
    "layer_norm": (lambda: nn.LayerNorm(6), [(3, 4, 6)]),
    "group_norm": (lambda: nn.GroupNorm(2, 4), [(3, 4, 5)]),
    "instance_norm": (lambda: nn.InstanceNorm1d(3, affine=True), [(2, 3, 8)]),
    "rms_norm": (lambda: nn.RMSNorm(6), [(3, 6)]),
    "prelu": (lambda: nn.PReLU(3), [(2, 3, 4)]),
    "lstm": (lambda: nn.LSTM(4, 5, num_layers=2, batch_first=True), [(2, 3, 4)]),
    "gru": (lambda: nn.GRU(4, 5, bidirectional=True), [(3, 2, 4)]),
    "rnn_cell": (lambda: nn.RNNCell(4, 3), [(2, 4)]),
    "attention": (lambda: nn.MultiheadAttention(8, 2, batch_first=True), [(2, 5, 8)] * 3),
    "encoder": (lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True),
                [(2, 5, 8)]),
    "decoder": (lambda: nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0), [(4, 2, 8),
                                                                            (5, 2, 8)]),
    "max_pool": (lambda: nn.MaxPool2d(2), [(1, 2, 6, 6)]),
    "adaptive_avg_pool": (lambda: nn.AdaptiveAvgPool2d(3), [(1, 2, 7, 5)]),
    "upsample": (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), [(1, 2, 3, 3)]),
    "pixel_shuffle": (lambda: nn.PixelShuffle(2), [(1, 8, 2, 2)]),
    "log_softmax": (lambda: nn.LogSoftmax(dim=1), [(3, 5)]),
    "mse": (lambda: nn.MSELoss(), [(3, 4), (3, 4)]),
    "smooth_l1": (lambda: nn.SmoothL1Loss(), [(3, 4), (3, 4)]),
    "bce_logits": (lambda: nn.BCEWithLogitsLoss(), [(3, 4), "probabilities"]),
    "kl_div": (lambda: nn.KLDivLoss(reduction="batchmean", log_target=True), [(3, 4), (3, 4)]),
    "cross_entropy": (lambda: nn.CrossEntropyLoss(label_smoothing=0.1), [(6, 5), "classes"]),
    "nll": (lambda: nn.NLLLoss(), [(6, 5), "classes"]),
    "embedding": (lambda: nn.Embedding(10, 4), ["indices"]),
    "embedding_bag": (lambda: nn.EmbeddingBag(10, 4, mode="mean"), ["bags"]),
}


def _inputs(specs, rng):
    out = []
    for spec in specs:
        if spec == "classes":
            out.append(disttorch.tensor(rng.integers(0, 5, 6)))
        elif spec == "probabilities":
            out.append(disttorch.tensor(rng.random((3, 4)), dtype=disttorch.float32))
        elif spec == "indices":
            out.append(disttorch.tensor(rng.integers(0, 10, (3, 4))))
        elif spec == "bags":
            out.append(disttorch.tensor(rng.integers(0, 10, (4, 3))))
        else:
            out.append(disttorch.tensor(rng.standard_normal(spec), dtype=disttorch.float32,
                                        requires_grad=True))
    return out


def _run(module, inputs):
    out = module(*inputs)
    outs = [o for o in (out if isinstance(out, tuple) else (out,))
            if isinstance(o, disttorch.Tensor) and o.is_floating_point()]
    if isinstance(outs[-1], disttorch.Tensor) and outs[0].requires_grad:
        sum(o.float().pow(2).sum() for o in outs if o.requires_grad).backward()
    return outs


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_on_the_second_device_equal_the_cpu(two_devices, name):
    make, specs = MODULES[name]
    disttorch.manual_seed(0)
    cpu = make()
    device = make().to("cuda:1")
    device.load_state_dict(cpu.state_dict())
    rng = np.random.default_rng(0)
    host_inputs = _inputs(specs, rng)
    device_inputs = [t.detach().to("cuda:1").requires_grad_(t.requires_grad)
                     for t in host_inputs]
    want, got = _run(cpu, host_inputs), _run(device, device_inputs)
    for g, w in zip(got, want):
        assert str(g.device) == "cuda:1", name
        np.testing.assert_allclose(_host(g), _host(w), rtol=1e-4, atol=1e-5, err_msg=name)
    for g, w in zip(device_inputs, host_inputs):
        if w.grad is not None:
            assert str(g.grad.device) == "cuda:1"
            np.testing.assert_allclose(_host(g.grad), _host(w.grad), rtol=1e-4, atol=1e-5)
    for (key, g), (_, w) in zip(device.named_parameters(), cpu.named_parameters()):
        assert str(g.device) == "cuda:1" and (g.grad is None) == (w.grad is None), key
        if w.grad is not None:
            assert str(g.grad.device) == "cuda:1", key
            np.testing.assert_allclose(_host(g.grad), _host(w.grad), rtol=1e-4, atol=1e-5,
                                       err_msg=f"{name}: {key}")
    for (key, g), (_, w) in zip(device.named_buffers(), cpu.named_buffers()):
        assert str(g.device) == "cuda:1", key
        np.testing.assert_allclose(_host(g), _host(w), rtol=1e-5, atol=1e-6, err_msg=key)


def test_one_gpu_at_any_index_installs_no_guards(two_devices):
    # a DDP rank: set_device(local_rank), then everything on that GPU
    add = disttorch.Tensor.__add__
    disttorch.cuda.set_device(1)
    try:
        x = disttorch.ones(3, device="cuda", requires_grad=True)
        (x * 2).sum().backward()
        assert str(x.grad.device) == "cuda:1"
        assert disttorch.Tensor.__add__ is add and not _backend.several_devices[0]
        disttorch.ones(1, device="cuda:0")   # a second device in play
        assert disttorch.Tensor.__add__ is not add and _backend.several_devices[0]
    finally:
        disttorch.cuda.set_device(0)
