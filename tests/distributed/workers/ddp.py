"""DDP on N ranks equals single-process training on the concatenated batch (run under mpiexec).

    ddp.py CASE [gloo|nccl|nccl-to-rank]     nccl: on simulated GPUs with the stand-in NCCL
                                             (nccl_sim.py); nccl-to-rank: on cuda:RANK
                                             with device 0 current
"""
import sys

import numpy as np

import disttorch as torch
import disttorch.distributed as dist
import nccl_sim
from disttorch import nn
from disttorch.nn.parallel import DistributedDataParallel as DDP

BACKEND = sys.argv[2] if len(sys.argv) > 2 else "gloo"
DEVICE = nccl_sim.prepare(BACKEND)
BACKEND = BACKEND.split("-")[0]
dist.init_process_group(BACKEND)
rank, world = dist.get_rank(), dist.get_world_size()
case = sys.argv[1]


def host(t):
    """A tensor's values as a numpy array (the reference runs on the CPU)."""
    assert str(t.device) in (DEVICE, "cpu") or t.device.type == DEVICE, t.device
    return t.detach().cpu().numpy()
LOCAL = 4


class Net(nn.Module):
    def __init__(self, unused_branch=False):
        super().__init__()
        self.fc1 = nn.Linear(6, 16)
        self.fc2 = nn.Linear(16, 3)
        self.extra = nn.Linear(16, 3) if unused_branch else None

    def forward(self, x):
        return self.fc2(self.fc1(x).tanh())


def data(step):
    rng = np.random.default_rng(100 + step)
    x = rng.standard_normal((LOCAL * world, 6)).astype(np.float32)
    y = rng.standard_normal((LOCAL * world, 3)).astype(np.float32)
    return x, y


def make(opt_name, unused=False):
    torch.manual_seed(0)
    model = Net(unused)
    if rank != 0:  # DDP must broadcast rank 0's weights
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
    return model.to(DEVICE)


def optimizer(name, params):
    if name == "adam":
        return torch.optim.Adam(params, lr=0.01)
    return torch.optim.SGD(params, lr=0.1, momentum=0.9)


def reference(opt_name, steps, micro=1, unused=False):
    torch.manual_seed(0)
    model = Net(unused)
    opt = optimizer(opt_name, model.parameters())
    for step in range(steps):
        for m in range(micro):
            x, y = data(step * micro + m)
            loss = ((model(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean() / micro
            loss.backward()
        opt.step()
        opt.zero_grad()
    return [p.detach().numpy().copy() for p in model.parameters()]


def local_batch(step):
    x, y = data(step)
    sl = slice(rank * LOCAL, (rank + 1) * LOCAL)
    return torch.from_numpy(x[sl].copy()).to(DEVICE), torch.from_numpy(y[sl].copy()).to(DEVICE)


def train_ddp(opt_name, steps, micro=1, unused=False, **ddp_kwargs):
    ddp = DDP(make(opt_name, unused), **ddp_kwargs)
    opt = optimizer(opt_name, ddp.parameters())
    for step in range(steps):
        for m in range(micro):
            x, y = local_batch(step * micro + m)
            if m < micro - 1:
                with ddp.no_sync():
                    (((ddp(x) - y) ** 2).mean() / micro).backward()
            else:
                (((ddp(x) - y) ** 2).mean() / micro).backward()
        opt.step()
        opt.zero_grad()
    return ddp, [host(p).copy() for p in ddp.module.parameters()]


def compare(got, want, tol, what):
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=what)


if case in ("sgd", "adam"):
    _, got = train_ddp(case, 5)
    compare(got, reference(case, 5), 1e-6, case)
elif case == "no_sync":
    _, got = train_ddp("sgd", 3, micro=3)
    compare(got, reference("sgd", 3, micro=3), 1e-6, "no_sync")
elif case == "unused":
    _, got = train_ddp("sgd", 3, unused=True, find_unused_parameters=True)
    compare(got[:4], reference("sgd", 3, unused=True)[:4], 1e-6, "unused")
elif case == "unused_error":
    ddp = DDP(make("sgd", True))
    x, y = local_batch(0)
    ((ddp(x) - y) ** 2).mean().backward()
    try:
        ddp(x)
    except RuntimeError as exc:
        assert "extra.weight, extra.bias" in str(exc) and "find_unused_parameters=True" in str(exc)
        print("unused parameters reported")
elif case == "fp16":
    from disttorch.distributed.algorithms.ddp_comm_hooks import default_hooks
    ddp = DDP(make("sgd"))
    ddp.register_comm_hook(None, default_hooks.fp16_compress_hook)
    opt = optimizer("sgd", ddp.parameters())
    for step in range(3):
        x, y = local_batch(step)
        ((ddp(x) - y) ** 2).mean().backward()
        opt.step()
        opt.zero_grad()
    compare([host(p) for p in ddp.module.parameters()], reference("sgd", 3), 2e-3, "fp16")
elif case == "overlap":
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Linear(64, 64) for _ in range(6)]).to(DEVICE)
    ddp = DDP(model, bucket_cap_mb=0.02)
    x = torch.randn(8, 64, device=DEVICE)
    ddp(x).sum().backward()
    launches = [t for _, t in ddp.bucket_log]
    assert len(launches) == len(ddp._buckets) >= 4, (len(launches), len(ddp._buckets))
    early = sum(t < ddp.backward_finished_at for t in launches)
    print(f"overlap: {early} of {len(launches)} buckets launched before backward ended")
    assert early >= len(launches) - 1
elif case == "mismatch":
    torch.manual_seed(0)
    model = nn.Linear(4 + rank, 2).to(DEVICE)
    try:
        DDP(model)
    except RuntimeError as exc:
        assert "DDP expects same model across all ranks" in str(exc), exc
        print("model mismatch reported")
elif case == "join":
    ddp = DDP(make("sgd"))
    opt = optimizer("sgd", ddp.parameters())
    with ddp.join():
        for step in range(rank + 2):  # uneven number of batches per rank
            x, y = local_batch(step)
            ((ddp(x) - y) ** 2).mean().backward()
            opt.step()
            opt.zero_grad()
    params = [host(p) for p in ddp.module.parameters()]
    gathered = [None] * world
    dist.all_gather_object(gathered, [p.tolist() for p in params])
    for other in gathered:
        compare([np.array(o) for o in other], params, 1e-6, "join keeps ranks in sync")
    print("join models in sync")
elif case == "script":
    # a PyTorch-style script: DistributedSampler + DDP + all_reduce of the loss
    from disttorch.utils.data import DataLoader, TensorDataset
    from disttorch.utils.data.distributed import DistributedSampler
    torch.manual_seed(0)
    ds = TensorDataset(torch.randn(64, 6), torch.randn(64, 3))
    sampler = DistributedSampler(ds, shuffle=True, seed=1)
    loader = DataLoader(ds, batch_size=8, sampler=sampler)
    model = DDP(Net().to(DEVICE))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for epoch in range(2):
        sampler.set_epoch(epoch)
        for x, y in loader:
            x, y = x.to(DEVICE), y.to(DEVICE)
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
        total = loss.detach().clone()
        dist.all_reduce(total)
    print(f"script finished, loss {total.item() / world:.4f}")
elif case == "syncbn":
    class BNNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 8)
            self.bn = nn.BatchNorm1d(8)
            self.out = nn.Linear(8, 3)

        def forward(self, x):
            return self.out(self.bn(self.fc(x)).relu())

    def run_bn(model, batch_fn, steps=3):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for step in range(steps):
            x, y = batch_fn(step)
            ((model(x) - y) ** 2).mean().backward()
            opt.step()
            opt.zero_grad()
        return model

    torch.manual_seed(0)
    ref = run_bn(BNNet(), lambda s: tuple(torch.from_numpy(a) for a in data(s)))
    torch.manual_seed(0)
    sync = DDP(nn.SyncBatchNorm.convert_sync_batchnorm(BNNet()).to(DEVICE))
    assert isinstance(sync.module.bn, nn.SyncBatchNorm)
    run_bn(sync, local_batch)
    compare([host(p) for p in sync.module.parameters()],
            [host(p) for p in ref.parameters()], 1e-5, "syncbn params")
    compare([host(sync.module.bn.running_mean), host(sync.module.bn.running_var)],
            [host(ref.bn.running_mean), host(ref.bn.running_var)], 1e-5, "syncbn stats")
elif case == "zero":
    from disttorch.distributed.optim import ZeroRedundancyOptimizer
    ddp = DDP(make("adam"))
    opt = ZeroRedundancyOptimizer(ddp.parameters(), optimizer_class=torch.optim.Adam, lr=0.01)
    owned = sum(len(s) for s in opt.optim.state.values()) if opt.optim else 0
    for step in range(4):
        x, y = local_batch(step)
        ((ddp(x) - y) ** 2).mean().backward()
        opt.step()
        opt.zero_grad()
    compare([host(p) for p in ddp.module.parameters()], reference("adam", 4), 1e-6,
            "zero params")
    local_states = len(opt.optim.state) if opt.optim else 0
    assert local_states < len(list(ddp.parameters())), "state must be sharded"
    opt.consolidate_state_dict(to=0)
    if rank == 0:
        full = opt.state_dict()
        torch.manual_seed(0)
        ref_model = Net()
        ref_opt = torch.optim.Adam(ref_model.parameters(), lr=0.01)
        for step in range(4):
            x, y = data(step)
            ((ref_model(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean().backward()
            ref_opt.step()
            ref_opt.zero_grad()
        want = ref_opt.state_dict()
        assert sorted(full["state"]) == sorted(want["state"])
        for k in want["state"]:
            compare([host(full["state"][k]["exp_avg"])], [host(want["state"][k]["exp_avg"])],
                    1e-6, "consolidated exp_avg")
        assert full["param_groups"][0]["params"] == want["param_groups"][0]["params"]
dist.destroy_process_group()
if BACKEND == "nccl" and world > 1 and case not in ("unused_error", "mismatch"):
    assert any(name == "allReduce" for name, _ in nccl_sim.calls()), "no NCCL all-reduce ran"
print(f"rank {rank} {case} ok")
