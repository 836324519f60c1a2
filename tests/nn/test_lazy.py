"""Lazy modules against torch: shape inference on the first forward, the class they become,
initialization (same draws as the eager layer under one seed), state dicts before and after,
moves and casts before the dry run, optimizers built early, and the uninitialized tensors'
errors."""
import copy

import numpy as np
import pytest

import disttorch
from disttorch.cuda import _simulated

from tests.ops.harness import requires_torch, torch

# (lazy class, constructor args, input shape, eager class)
CASES = [
    ("LazyLinear", (4,), (2, 3), "Linear"),
    ("LazyLinear", (4,), (3,), "Linear"),
    ("LazyLinear", (4,), (2, 5, 3), "Linear"),
    ("LazyConv1d", (4, 3), (2, 3, 9), "Conv1d"),
    ("LazyConv1d", (4, 3), (3, 9), "Conv1d"),
    ("LazyConv2d", (6, 3), (2, 4, 7, 7), "Conv2d"),
    ("LazyConv3d", (2, 2), (1, 2, 4, 4, 4), "Conv3d"),
    ("LazyConvTranspose1d", (4, 3), (2, 3, 5), "ConvTranspose1d"),
    ("LazyConvTranspose2d", (6, 3), (2, 4, 5, 5), "ConvTranspose2d"),
    ("LazyConvTranspose3d", (2, 2), (1, 2, 3, 3, 3), "ConvTranspose3d"),
    ("LazyBatchNorm1d", (), (4, 3), "BatchNorm1d"),
    ("LazyBatchNorm2d", (), (2, 3, 4, 4), "BatchNorm2d"),
    ("LazyBatchNorm3d", (), (2, 3, 2, 2, 2), "BatchNorm3d"),
    ("LazyInstanceNorm1d", (), (2, 3, 7), "InstanceNorm1d"),
    ("LazyInstanceNorm2d", (), (2, 3, 4, 4), "InstanceNorm2d"),
    ("LazyInstanceNorm3d", (), (2, 3, 2, 2, 2), "InstanceNorm3d"),
]
KWARGS = {
    "LazyConv2d": {"padding": 1, "groups": 2, "stride": 2},
    "LazyConvTranspose2d": {"groups": 2, "output_padding": 1, "stride": 2},
    "LazyInstanceNorm2d": {"affine": True, "track_running_stats": True},
}


def _run(lib, name, args, shape):
    lib.manual_seed(0)
    module = getattr(lib.nn, name)(*args, **KWARGS.get(name, {}))
    before = (repr(module), sorted(module.state_dict()), module.has_uninitialized_params())
    x = lib.from_numpy(np.random.default_rng(1).standard_normal(shape).astype(np.float32))
    module(x)
    return module, before, x


def _eager_twin(name, args, shape, eager):
    """The eager layer our lazy one should equal: in_features/in_channels/num_features given,
    made under the same seed (the lazy layer draws its initialization on its first forward)."""
    kwargs = dict(KWARGS.get(name, {}))
    if eager == "Linear":
        full = (shape[-1],) + args
    elif eager.startswith("Conv"):
        batched = len(shape) == int(eager[-2]) + 2
        full = (shape[1] if batched else shape[0],) + args
    else:
        full = (shape[1],) + args
        if eager.startswith("Instance"):  # the lazy instance norms default both to True
            kwargs = {"affine": True, "track_running_stats": True, **kwargs}
    disttorch.manual_seed(0)
    return getattr(disttorch.nn, eager)(*full, **kwargs)


@requires_torch
@pytest.mark.parametrize("name, args, shape, eager", CASES,
                         ids=[f"{c[0]}-{len(c[2])}d" for c in CASES])
def test_first_forward_matches_torch(name, args, shape, eager):
    ours, ours_before, x = _run(disttorch, name, args, shape)
    theirs, theirs_before, _ = _run(torch, name, args, shape)
    assert ours_before == theirs_before  # repr, state-dict keys and status before
    assert type(ours).__name__ == type(theirs).__name__ == eager
    assert repr(ours) == repr(theirs)
    state = ours.state_dict()
    assert list(state) == list(theirs.state_dict())
    twin = _eager_twin(name, args, shape, eager).state_dict()
    for key, value in state.items():
        assert value.shape == twin[key].shape and value.dtype == twin[key].dtype, key
        if key not in ("running_mean", "running_var", "num_batches_tracked"):  # updated by it
            np.testing.assert_array_equal(value.numpy(), twin[key].numpy(), err_msg=key)
    # the same materialized weights give torch's output
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in state.items()})
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(x).detach().numpy(),
                               theirs(torch.from_numpy(x.numpy())).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_optimizer_built_before_the_dry_run_trains_the_materialized_weights():
    disttorch.manual_seed(0)
    model = disttorch.nn.Sequential(disttorch.nn.LazyLinear(8), disttorch.nn.ReLU(),
                                    disttorch.nn.LazyLinear(1))
    opt = disttorch.optim.Adam(model.parameters(), lr=0.01)
    x, y = disttorch.randn(32, 5), disttorch.randn(32, 1)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = disttorch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    assert opt.param_groups[0]["params"][0] is model[0].weight
    assert losses[-1] < 0.8 * losses[0]


@requires_torch
def test_state_dict_round_trips_like_torch():
    for lib in (disttorch, torch):
        lib.manual_seed(0)
        trained = lib.nn.Linear(3, 4)
        lazy = lib.nn.LazyLinear(4)
        lazy.load_state_dict(trained.state_dict())
        # loading materializes the tensors but the module stays lazy until its forward
        assert type(lazy).__name__ == "LazyLinear"
        assert tuple(lazy.weight.shape) == (4, 3) and lazy.in_features == 0
        np.testing.assert_array_equal(lazy.weight.detach().numpy(),
                                      trained.weight.detach().numpy())
        lazy(lib.ones(2, 3))
        assert type(lazy).__name__ == "Linear" and lazy.in_features == 3
        np.testing.assert_array_equal(lazy.weight.detach().numpy(),
                                      trained.weight.detach().numpy())
        loaded = lib.nn.LazyLinear(4)
        loaded.load_state_dict(trained.state_dict())
        with pytest.raises(AssertionError, match="The in_features inferred from input: 5 is not "
                                                 "equal to in_features from self.weight: 3"):
            loaded(lib.ones(2, 5))
        # the lazy convolutions and norms keep 0 there, as PyTorch's
        conv = lib.nn.LazyConv2d(4, 3)
        conv.load_state_dict(lib.nn.Conv2d(2, 4, 3).state_dict())
        conv(lib.ones(1, 2, 5, 5))
        assert conv.in_channels == 0
        # an uninitialized lazy module's state dict loads into another one
        fresh, other = lib.nn.LazyBatchNorm1d(), lib.nn.LazyBatchNorm1d()
        other.load_state_dict(fresh.state_dict())
        assert other.has_uninitialized_params()


@requires_torch
def test_moves_and_casts_before_the_dry_run():
    for lib in (disttorch, torch):
        lazy = lib.nn.LazyConv2d(4, 3).double()
        assert lazy.weight.dtype == lib.float64
        lazy(lib.ones(1, 2, 5, 5, dtype=lib.float64))
        assert lazy.weight.dtype == lib.float64 and tuple(lazy.weight.shape) == (4, 2, 3, 3)
        assert lib.nn.LazyLinear(2, dtype=lib.float64).weight.dtype == lib.float64


def test_lazy_module_on_the_simulated_device():
    with _simulated.simulate():
        lazy = disttorch.nn.LazyBatchNorm2d().cuda()
        assert lazy.running_mean.device.type == "cuda"
        out = lazy(disttorch.randn(2, 3, 4, 4, device="cuda"))
        assert out.device.type == "cuda" and lazy.weight.device.type == "cuda"
        assert tuple(lazy.running_var.shape) == (3,)


def test_deepcopy_and_pickle_keep_uninitialized():
    import pickle
    lazy = disttorch.nn.LazyLinear(3)
    for clone in (copy.deepcopy(lazy), pickle.loads(pickle.dumps(lazy))):
        assert isinstance(clone.weight, disttorch.nn.UninitializedParameter)
        assert clone.weight is not lazy.weight
        clone(disttorch.ones(1, 2))
        assert tuple(clone.weight.shape) == (3, 2)
    assert lazy.has_uninitialized_params()


@requires_torch
def test_uninitialized_tensors_refuse_ops_like_torch():
    for lib in (disttorch, torch):
        p = lib.nn.UninitializedParameter()
        assert repr(p) == "<UninitializedParameter>"
        assert (p.dtype, p.requires_grad, p.is_floating_point()) == (lib.float32, True, True)
        with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter"):
            p.numel()
        with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter"):
            p + 1
        with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
            p.shape
        with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter"):
            lib.nn.init.normal_(lib.nn.LazyLinear(2).weight)
        p.materialize((2, 3))
        assert type(p) is lib.nn.Parameter and tuple(p.shape) == (2, 3)
        b = lib.nn.UninitializedBuffer()
        assert repr(b) == "<UninitializedBuffer>" and not b.requires_grad
        b.materialize((4,), dtype=lib.float64)
        assert type(b) is lib.Tensor and b.dtype == lib.float64


@requires_torch
def test_input_errors_match_torch():
    for lib in (disttorch, torch):
        with pytest.raises(RuntimeError, match=r"Expected 2D \(unbatched\) or 3D \(batched\) "
                                               r"input to LazyConv1d, but got input of size"):
            lib.nn.LazyConv1d(4, 3)(lib.ones(3))
        with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
            lib.nn.LazyConv2d(4, 3, groups=2)(lib.ones(1, 3, 5, 5))


def test_distributed_data_parallel_refuses_uninitialized_modules(monkeypatch):
    import disttorch.distributed as dist
    # the check comes right after the process group lookup, before anything uses the group
    monkeypatch.setattr(dist, "get_default_group", lambda: object())
    with pytest.raises(RuntimeError, match="Modules with uninitialized parameters can't be used "
                                           "with `DistributedDataParallel`"):
        disttorch.nn.parallel.DistributedDataParallel(disttorch.nn.LazyLinear(3))


def test_saving_an_uninitialized_state_dict_says_why_it_cannot():
    import io
    lazy = disttorch.nn.LazyLinear(3)
    with pytest.raises(TypeError, match=r"cannot save the uninitialized UninitializedParameter "
                                        r"at .*weight.*: run a forward pass"):
        disttorch.save(lazy.state_dict(), io.BytesIO())
    lazy(disttorch.ones(1, 2))
    buffer = io.BytesIO()
    disttorch.save(lazy.state_dict(), buffer)
    buffer.seek(0)
    assert tuple(disttorch.load(buffer)["weight"].shape) == (3, 2)
