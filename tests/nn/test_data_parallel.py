"""``nn.DataParallel`` and ``nn.parallel.{scatter, gather, replicate, parallel_apply,
data_parallel}`` on the simulated CUDA device with several devices, against the same module
on one device; and the CPU fallback."""
import warnings
from collections import namedtuple
from types import SimpleNamespace

import numpy as np
import pytest

import disttorch
from disttorch import nn
from disttorch.cuda import _simulated
from disttorch.nn.parallel import gather, parallel_apply, replicate, scatter


def _net(seed=0):
    disttorch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))


def _batch(rows=10):
    return np.random.default_rng(0).standard_normal((rows, 5)).astype(np.float32)


def _grads(module):
    return [p.grad.cpu().numpy() for p in module.parameters()]


@pytest.mark.parametrize("devices,rows", [(2, 10), (3, 10), (4, 10), (4, 3)])
def test_outputs_and_gradients_equal_one_device(devices, rows):
    x = _batch(rows)
    with _simulated.simulate(device_count=devices):
        single, parallel = _net().cuda(), _net().cuda()
        model = nn.DataParallel(parallel)
        xs = disttorch.tensor(x, device="cuda", requires_grad=True)
        xp = disttorch.tensor(x, device="cuda", requires_grad=True)
        out_s, out_p = single(xs), model(xp)
        assert out_p.device == disttorch.device("cuda:0") and out_p.shape == out_s.shape
        np.testing.assert_allclose(out_p.detach().cpu().numpy(), out_s.detach().cpu().numpy(),
                                   rtol=1e-6, atol=1e-6)
        (out_s ** 2).sum().backward()
        (out_p ** 2).sum().backward()
        np.testing.assert_allclose(xp.grad.cpu().numpy(), xs.grad.cpu().numpy(), rtol=1e-5,
                                   atol=1e-6)
        for got, expected, p in zip(_grads(parallel), _grads(single), parallel.parameters()):
            assert p.grad.device == disttorch.device("cuda:0")
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_replicas_are_spread_over_devices_and_differentiable():
    with _simulated.simulate(device_count=3):
        net = _net().cuda()
        replicas = replicate(net, [0, 1, 2])
        assert [next(r.parameters()).device.index for r in replicas] == [0, 1, 2]
        assert all(r is not net and type(r) is type(net) for r in replicas)
        # the copy on device 0 holds the original tensors; the others are graph copies
        assert next(replicas[0].parameters()) is next(net.parameters())
        assert next(replicas[2].parameters()).grad_fn is not None
        with disttorch.no_grad():
            detached = replicate(net, [0, 1], detach=True)
        assert next(detached[1].parameters()).grad_fn is None
        out = replicas[2](disttorch.ones(2, 5, device="cuda:2"))
        out.sum().backward()
        assert net[0].weight.grad.device == disttorch.device("cuda:0")


def test_scatter_gather_structures_and_gradients():
    Pair = namedtuple("Pair", "a b")
    with _simulated.simulate(device_count=3):
        x = disttorch.arange(14.0, device="cuda").reshape(7, 2).requires_grad_()
        parts = scatter((x, Pair(x, 5), {"k": x}, [x]), [0, 1, 2])
        assert len(parts) == 3                     # ceil(7 / 3) = 3 rows per chunk: 3, 3, 1
        assert [p[0].shape[0] for p in parts] == [3, 3, 1]
        assert [p[0].device.index for p in parts] == [0, 1, 2]
        assert parts[1][1].b == 5 and isinstance(parts[1][1], Pair)
        assert parts[2][2]["k"].device.index == 2 and parts[2][3][0].device.index == 2
        gathered = gather([p[0] * (i + 1) for i, p in enumerate(parts)], "cuda:1")
        assert gathered.device.index == 1
        gathered.sum().backward()
        np.testing.assert_array_equal(x.grad.cpu().numpy()[:, 0], [1, 1, 1, 2, 2, 2, 3])
        on_cpu = gather([{"y": p[0]} for p in parts], -1)["y"]
        assert on_cpu.device.type == "cpu" and on_cpu.shape == (7, 2)
        with pytest.warns(UserWarning, match="all input tensors were scalars"):
            assert gather([p[0].sum() for p in parts], 0).shape == (3,)
        with pytest.raises(ValueError, match="All dicts must have the same number of keys"):
            gather([{"a": parts[0][0]}, {"a": parts[1][0], "b": parts[1][0]}], 0)


def test_kwargs_non_tensor_arguments_and_tuple_outputs():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(5, 2)

        def forward(self, x, scale=1.0, shift=None):
            y = self.linear(x) * scale
            return {"y": y + shift, "pair": (y, None)}

    x = _batch(8)
    with _simulated.simulate(device_count=4):
        module = Scaled().cuda()
        shift = disttorch.ones(8, 1, device="cuda")
        out = nn.DataParallel(module)(disttorch.tensor(x, device="cuda"), scale=2.0, shift=shift)
        expected = module(disttorch.tensor(x, device="cuda"), 2.0, shift)
        np.testing.assert_allclose(out["y"].detach().cpu().numpy(),
                                   expected["y"].detach().cpu().numpy(), rtol=1e-6)
        assert out["pair"][1] is None


def test_functional_form_and_cpu_output_device():
    x = _batch()
    with _simulated.simulate(device_count=2):
        net = _net().cuda()
        xc = disttorch.tensor(x, requires_grad=True)    # inputs may live on the host
        out = nn.parallel.data_parallel(net, xc, [0, 1], output_device=-1)
        assert out.device.type == "cpu"
        np.testing.assert_allclose(out.detach().numpy(),
                                   net(disttorch.tensor(x, device="cuda")).detach().cpu().numpy(),
                                   rtol=1e-6)
        out.sum().backward()
        assert xc.grad.device.type == "cpu" and xc.grad.shape == xc.shape
        with pytest.raises(ValueError, match="Expected a non cpu device, but got: cpu"):
            nn.parallel.data_parallel(net, xc, [0, 1], output_device="cpu")


def test_parameters_must_live_on_device_ids_0():
    with _simulated.simulate(device_count=2):
        with pytest.raises(RuntimeError) as info:
            nn.DataParallel(_net())(disttorch.ones(4, 5, device="cuda"))
        assert str(info.value) == ("module must have its parameters and buffers on device "
                                   "cuda:0 (device_ids[0]) but found one of them on device: cpu")
        with pytest.raises(RuntimeError, match=r"on device cuda:1 \(device_ids\[0\]\)"):
            nn.parallel.data_parallel(_net().cuda(), disttorch.ones(4, 5), device_ids=[1, 0])
        # one device: the module is moved there at construction, as in PyTorch
        single = nn.DataParallel(_net(), device_ids=[1])
        assert next(single.parameters()).device == disttorch.device("cuda:1")


def test_replica_exception_is_reraised_with_its_replica():
    class Fails(nn.Module):
        def forward(self, x):
            if x.device.index == 1:
                raise ValueError("bad shard")
            return x

    with _simulated.simulate(device_count=2):
        with pytest.raises(ValueError, match="Caught ValueError in replica 1 on device 1"):
            nn.DataParallel(Fails())(disttorch.ones(4, 5, device="cuda"))


def test_grad_mode_reaches_worker_threads():
    with _simulated.simulate(device_count=2):
        model = nn.DataParallel(_net().cuda())
        with disttorch.no_grad():
            out = model(disttorch.ones(4, 5, device="cuda"))
        assert not out.requires_grad
        outs = parallel_apply(replicate(model.module, [0, 1]),
                              [(disttorch.ones(2, 5, device="cuda:0"),),
                               (disttorch.ones(2, 5, device="cuda:1"),)])
        assert [o.device.index for o in outs] == [0, 1] and all(o.requires_grad for o in outs)


def test_without_cuda_the_module_runs_directly(monkeypatch):
    monkeypatch.setattr(disttorch.cuda, "is_available", lambda: False)
    net = _net()
    model = nn.DataParallel(net)
    assert model.device_ids == [] and model.module is net
    x = disttorch.tensor(_batch())
    np.testing.assert_array_equal(model(x).detach().numpy(), net(x).detach().numpy())
    assert set(model.state_dict()) == {"module." + k for k in net.state_dict()}
    with pytest.raises(RuntimeError, match="device type could not be determined"):
        nn.parallel.data_parallel(net, x)


def test_imbalanced_devices_warn(monkeypatch):
    real = disttorch.cuda.get_device_properties

    def props(index):
        p = real(index)
        return SimpleNamespace(total_memory=p.total_memory // (2 if index == 1 else 1),
                               multi_processor_count=p.multi_processor_count)

    with _simulated.simulate(device_count=2):
        monkeypatch.setattr(disttorch.cuda, "get_device_properties", props)
        with pytest.warns(UserWarning, match="You may want to exclude GPU 1 which"):
            nn.DataParallel(_net().cuda())
        monkeypatch.undo()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            nn.DataParallel(_net().cuda())
