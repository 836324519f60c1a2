"""Normalization functions and modules against torch: outputs, gradients, running statistics
over several training steps then evaluation, double backward, state_dict and errors."""
import collections

import numpy as np
import pytest

import disttorch
import disttorch.nn as nn
from tests.ops.harness import OpInfo, S, op_tests, randn, positive, requires_torch, torch


def _bn_samples(shape, with_stats):
    def samples(rng):
        c = shape[1]
        args = [randn(rng, *shape)]
        grad = [True]
        if with_stats:
            args += [randn(rng, c), positive(rng, c)]
            grad += [False, False]
        args += [randn(rng, c), randn(rng, c)]
        grad += [True, True]
        return [S(*args, grad=grad)]
    return samples


def _affine(shape):
    return lambda rng: [S(randn(rng, *shape[0]), randn(rng, *shape[1]), randn(rng, *shape[1]))]


OPS = [
    OpInfo("batch_norm_train", lambda lib, x, w, b: lib.nn.functional.batch_norm(
        x, None, None, w, b, training=True), _bn_samples((4, 3, 5, 2), False)),
    OpInfo("batch_norm_train_stats", lambda lib, x, m, v, w, b: lib.nn.functional.batch_norm(
        x, m, v, w, b, training=True, momentum=0.3), _bn_samples((5, 3), True)),
    OpInfo("batch_norm_eval", lambda lib, x, m, v, w, b: lib.nn.functional.batch_norm(
        x, m, v, w, b, training=False, eps=1e-3), _bn_samples((4, 3, 6), True)),
    OpInfo("batch_norm_no_affine", lambda lib, x: lib.nn.functional.batch_norm(
        x, None, None, training=True), lambda rng: [S(randn(rng, 3, 4, 2, 2, 2))]),
    OpInfo("instance_norm", lambda lib, x, w, b: lib.nn.functional.instance_norm(
        x, weight=w, bias=b), _bn_samples((3, 4, 5, 3), False)),
    OpInfo("instance_norm_stats", lambda lib, x, m, v, w, b: lib.nn.functional.instance_norm(
        x, m, v, w, b, use_input_stats=False), _bn_samples((3, 4, 5), True)),
    OpInfo("layer_norm", lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (5, 3), w, b),
           _affine(((4, 2, 5, 3), (5, 3)))),
    OpInfo("layer_norm_plain", lambda lib, x: lib.nn.functional.layer_norm(x, [6], eps=1e-3),
           lambda rng: [S(randn(rng, 3, 6)), S(randn(rng, 6))]),
    OpInfo("group_norm", lambda lib, x, w, b: lib.nn.functional.group_norm(x, 3, w, b),
           _affine(((2, 6, 4, 3), (6,)))),
    OpInfo("group_norm_plain", lambda lib, x: lib.nn.functional.group_norm(x, 2),
           lambda rng: [S(randn(rng, 3, 4, 5)), S(randn(rng, 2, 4))]),
    OpInfo("rms_norm", lambda lib, x, w: lib.nn.functional.rms_norm(x, (5, 3), w),
           lambda rng: [S(randn(rng, 4, 2, 5, 3), randn(rng, 5, 3))]),
    OpInfo("rms_norm_eps", lambda lib, x: lib.nn.functional.rms_norm(x, [6], eps=1e-3),
           lambda rng: [S(randn(rng, 3, 6)), S(randn(rng, 6))]),
    OpInfo("local_response_norm", lambda lib, x: lib.nn.functional.local_response_norm(
        x, 3, alpha=0.1, beta=0.7, k=2.0), lambda rng: [S(randn(rng, 2, 6, 4, 3))]),
    OpInfo("local_response_norm_even", lambda lib, x: lib.nn.functional.local_response_norm(
        x, 4, alpha=0.5), lambda rng: [S(randn(rng, 2, 5, 7))]),
]

test_matches_torch, test_finite_differences = op_tests(OPS)


@requires_torch
@pytest.mark.parametrize("fn,x_shape,p_shape", [
    (lambda lib, x, w, b: lib.nn.functional.batch_norm(x, None, None, w, b, training=True),
     (3, 4, 2), (4,)),
    (lambda lib, x, w, b: lib.nn.functional.batch_norm(
        x, lib.zeros(4, dtype=lib.float64), lib.ones(4, dtype=lib.float64) * 2, w, b),
     (3, 4, 2), (4,)),
    (lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (4, 3), w, b), (2, 4, 3), (4, 3)),
    (lambda lib, x, w, b: lib.nn.functional.group_norm(x, 2, w, b), (2, 4, 3), (4,)),
    (lambda lib, x, w, b: lib.nn.functional.instance_norm(x, weight=w, bias=b), (2, 4, 3), (4,)),
    (lambda lib, x, w, b: lib.nn.functional.rms_norm(x, (3,), w) + b, (2, 4, 3), (3,)),
    (lambda lib, x, w, b: lib.nn.functional.local_response_norm(x * w[0], 3, alpha=0.5) + b[0],
     (2, 4, 3), (1,)),
], ids=["batch_norm", "batch_norm_eval", "layer_norm", "group_norm", "instance_norm", "rms_norm",
        "local_response_norm"])
def test_double_backward(fn, x_shape, p_shape):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(p_shape),
              rng.standard_normal(p_shape)]
    results = []
    for lib in (disttorch, torch):
        x, w, b = (lib.tensor(a, requires_grad=True) for a in arrays)
        out = fn(lib, x, w, b)
        grads = lib.autograd.grad((out * out * out).sum(), (x, w), create_graph=True)
        sum((g * g).sum() for g in grads).backward()
        results.append([t.grad.numpy() for t in (x, w, b)])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8)


def _copy_state(d_module, t_module):
    state = {k: disttorch.from_numpy(v.detach().numpy().copy())
             for k, v in t_module.state_dict().items()}
    d_module.load_state_dict(state)


def _run_steps(d_module, t_module, shape, dtype, steps=3, train=True):
    rng = np.random.default_rng(5)
    for _ in range(steps):
        x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
        dx = disttorch.from_numpy(x.copy()).requires_grad_()
        tx = torch.from_numpy(x.copy()).requires_grad_()
        d_module.train(train)
        t_module.train(train)
        d_out, t_out = d_module(dx), t_module(tx)
        tol = 1e-4 if dtype == "float32" else 1e-10
        np.testing.assert_allclose(d_out.detach().numpy(), t_out.detach().numpy(), rtol=tol,
                                   atol=tol)
        w = rng.standard_normal(shape).astype(dtype)
        d_out.backward(disttorch.from_numpy(w.copy()))
        t_out.backward(torch.from_numpy(w))
        np.testing.assert_allclose(dx.grad.numpy(), tx.grad.numpy(), rtol=tol * 10, atol=tol * 10)
        t_params = dict(t_module.named_parameters())
        for name, p in d_module.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), rtol=tol * 10,
                                       atol=tol * 10, err_msg=name)
    t_state = t_module.state_dict()
    d_state = d_module.state_dict()
    assert list(d_state) == list(t_state)
    for key, value in t_state.items():
        np.testing.assert_allclose(d_state[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=key)


NORM_MODULES = [
    ("BatchNorm1d", (3,), {}, (6, 3)),
    ("BatchNorm1d", (3,), dict(momentum=None), (4, 3, 5)),
    ("BatchNorm2d", (3,), dict(momentum=0.3, eps=1e-3), (4, 3, 5, 2)),
    ("BatchNorm2d", (3,), dict(affine=False), (4, 3, 2, 2)),
    ("BatchNorm1d", (3,), dict(bias=False), (4, 3)),
    ("BatchNorm2d", (3,), dict(track_running_stats=False), (4, 3, 2, 3)),
    ("BatchNorm3d", (2,), {}, (2, 2, 3, 2, 2)),
    ("InstanceNorm1d", (3,), dict(affine=True), (4, 3, 5)),
    ("InstanceNorm2d", (3,), dict(track_running_stats=True, momentum=0.2), (4, 3, 5, 2)),
    ("InstanceNorm2d", (3,), dict(affine=True, track_running_stats=True), (3, 5, 4)),
    ("InstanceNorm3d", (2,), {}, (2, 2, 3, 2, 2)),
    ("LayerNorm", ((5, 2),), {}, (4, 3, 5, 2)),
    ("LayerNorm", (6,), dict(bias=False, eps=1e-3), (4, 6)),
    ("LayerNorm", (6,), dict(elementwise_affine=False), (2, 3, 6)),
    ("GroupNorm", (2, 6), {}, (3, 6, 4)),
    ("GroupNorm", (2, 4), dict(bias=False), (3, 4, 3)),
    ("GroupNorm", (3, 6), dict(affine=False, eps=1e-4), (3, 6, 2, 2)),
    ("RMSNorm", ((5, 2),), {}, (4, 3, 5, 2)),
    ("RMSNorm", (6,), dict(eps=1e-3, elementwise_affine=False), (2, 3, 6)),
    ("LocalResponseNorm", (3,), dict(alpha=0.1, k=2.0), (2, 5, 3, 3)),
]


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,args,kwargs,shape", NORM_MODULES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(NORM_MODULES)])
def test_norm_module_train_then_eval(name, args, kwargs, shape, dtype):
    torch.manual_seed(0)
    t_module = getattr(torch.nn, name)(*args, **kwargs).to(getattr(torch, dtype))
    d_module = getattr(nn, name)(*args, **kwargs).to(getattr(disttorch, dtype))
    assert repr(d_module) == repr(t_module)
    with torch.no_grad():
        for p in t_module.parameters():
            p.uniform_(0.5, 1.5)
    _copy_state(d_module, t_module)
    _run_steps(d_module, t_module, shape, dtype, steps=3, train=True)
    _run_steps(d_module, t_module, shape, dtype, steps=1, train=False)


def test_batch_norm_buffers_and_state_dict():
    bn = nn.BatchNorm2d(4)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    assert bn.num_batches_tracked.dtype == disttorch.int64
    bn(disttorch.randn(3, 4, 2, 2))
    bn(disttorch.randn(3, 4, 2, 2))
    assert int(bn.num_batches_tracked.item()) == 2
    state = bn.state_dict()
    del state["num_batches_tracked"]
    fresh = nn.BatchNorm2d(4)
    # a state dict saved by this version must have the count (as in torch) ...
    with pytest.raises(RuntimeError, match='Missing key.*"num_batches_tracked"'):
        fresh.load_state_dict(state)
    # ... one without version metadata (an old checkpoint) keeps the current count
    fresh.load_state_dict(collections.OrderedDict(state))
    np.testing.assert_array_equal(fresh.running_mean.numpy(), bn.running_mean.numpy())
    bn.reset_running_stats()
    assert int(bn.num_batches_tracked.item()) == 0
    np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(4, np.float32))
    assert list(nn.BatchNorm1d(3, track_running_stats=False).state_dict()) == ["weight", "bias"]


def test_running_stats_not_recorded_in_graph():
    bn = nn.BatchNorm1d(3)
    x = disttorch.randn(5, 3, requires_grad=True)
    bn(x).sum().backward()
    assert not bn.running_mean.requires_grad and bn.running_mean.grad_fn is None


@pytest.mark.parametrize("fn,error,message", [
    (lambda lib: lib.nn.functional.batch_norm(lib.zeros(2, 4, 8, 8), lib.zeros(3), lib.ones(3)),
     RuntimeError, "running_mean should contain 4 elements not 3"),
    (lambda lib: lib.nn.functional.batch_norm(lib.zeros(1, 4), None, None, training=True),
     ValueError, "Expected more than 1 value per channel when training, got input size "
     "{lib}.Size([1, 4])"),
    (lambda lib: lib.nn.functional.batch_norm(lib.zeros(3, 4, 5), None, None),
     RuntimeError, "running_mean must be defined in evaluation mode"),
    (lambda lib: lib.nn.functional.layer_norm(lib.zeros(2, 4), (3,)),
     RuntimeError, "Given normalized_shape=[3], expected input with shape [*, 3], but got input "
     "of size[2, 4]"),
    (lambda lib: lib.nn.functional.rms_norm(lib.zeros(2, 4), (3,)),
     RuntimeError, "Given normalized_shape=[3], expected input with shape [*3], but got input "
     "of size[2, 4]"),
    (lambda lib: lib.nn.functional.layer_norm(lib.zeros(3, 4, 5), (4, 5), lib.zeros(5)),
     RuntimeError, "Expected weight to be of same shape as normalized_shape, but got weight of "
     "shape [5] and normalized_shape = [4, 5]"),
    (lambda lib: lib.nn.functional.group_norm(lib.zeros(2, 4, 3), 3),
     RuntimeError, "Expected number of channels in input to be divisible by num_groups, but got "
     "input of shape [2, 4, 3] and num_groups=3"),
    (lambda lib: lib.nn.functional.group_norm(lib.zeros(3, 4, 5), 2, lib.zeros(3)),
     RuntimeError, "Expected weight to be a vector of size equal to the number of channels in "
     "input, but got weight of shape [3] and input of shape [3, 4, 5]"),
    (lambda lib: lib.nn.functional.instance_norm(lib.zeros(4, 5, 1)),
     ValueError, "Expected more than 1 spatial element when training, got input size "
     "{lib}.Size([4, 5, 1])"),
    (lambda lib: lib.nn.BatchNorm2d(3)(lib.zeros(2, 3, 4)),
     ValueError, "expected 4D input (got 3D input)"),
    (lambda lib: lib.nn.BatchNorm1d(3)(lib.zeros(2, 3, 4, 5)),
     ValueError, "expected 2D or 3D input (got 4D input)"),
    (lambda lib: lib.nn.InstanceNorm1d(3, affine=True)(lib.zeros(2, 4, 5)),
     ValueError, "expected input's size at dim=1 to match num_features (3), but got: 4."),
    (lambda lib: lib.nn.GroupNorm(4, 6), ValueError,
     "num_channels (6) must be divisible by num_groups (4)"),
], ids=["running_size", "one_value", "eval_without_stats", "layer_shape", "rms_shape",
        "layer_weight",
        "groups", "group_weight", "instance_spatial", "bn2d_rank", "bn1d_rank", "instance_features",
        "groupnorm_module"])
def test_errors(fn, error, message):
    with pytest.raises(error) as err:
        fn(disttorch)
    assert str(err.value) == message.format(lib="disttorch")
    if torch is not None:
        with pytest.raises(error) as t_err:
            fn(torch)
        assert str(t_err.value) == message.format(lib="torch")


@pytest.mark.parametrize("fn,message", [
    (lambda lib, x: lib.nn.functional.batch_norm(x, None, None, training=True),
     "\"batch_norm\" not implemented for 'Long'"),
    (lambda lib, x: lib.nn.functional.layer_norm(x, (4,)),
     "\"LayerNormKernelImpl\" not implemented for 'Long'"),
    (lambda lib, x: lib.nn.functional.group_norm(x, 1),
     "\"GroupNormKernelImpl\" not implemented for 'Long'"),
], ids=["batch_norm", "layer_norm", "group_norm"])
def test_integer_input_errors(fn, message):
    for lib in (disttorch,) if torch is None else (disttorch, torch):
        with pytest.raises(NotImplementedError) as err:
            fn(lib, lib.arange(16).reshape(1, 1, 4, 4))
        assert str(err.value) == message


def test_instance_norm_old_checkpoint_with_running_stats_is_reported_like_torch():
    import torch
    messages = []
    for lib in (torch, disttorch):
        state = collections.OrderedDict(running_mean=lib.zeros(3), running_var=lib.ones(3))
        with pytest.raises(RuntimeError) as err:
            lib.nn.InstanceNorm1d(3).load_state_dict(state)   # unversioned: pre-0.4 checkpoint
        messages.append(str(err.value).split(":", 1)[1])
        # an error message, not a strictness check: strict=False raises too
        with pytest.raises(RuntimeError, match="Unexpected running stats buffer"):
            lib.nn.InstanceNorm1d(3).load_state_dict(state, strict=False)
        # a versioned state dict with the keys is plain "unexpected keys"
        state._metadata = {"": {"version": 2}}
        result = lib.nn.InstanceNorm1d(3).load_state_dict(state, strict=False)
        assert result.unexpected_keys == ["running_mean", "running_var"]
    assert messages[0] == messages[1]
