"""``nn.utils.parametrize``, ``parametrizations.weight_norm/spectral_norm``, the legacy
hook-based ``weight_norm``/``spectral_norm`` against torch, and the batch-norm fusion helpers."""
import warnings

import numpy as np
import pytest

import disttorch
import disttorch.nn as nn
from disttorch.nn.utils import parametrize
from tests.ops.harness import requires_torch, torch

pytestmark = requires_torch


def _pair(make):
    """The same module in both libraries, with torch's initial values."""
    ref = make(torch.nn)
    ours = make(nn)
    with disttorch.no_grad():
        for (name, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters()):
            p.copy_(disttorch.from_numpy(q.detach().numpy().copy()))
    return ours, ref


def _close(a, b, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)


def _run(ours, ref, x):
    out_d = ours(disttorch.from_numpy(x.copy()))
    out_t = ref(torch.from_numpy(x.copy()))
    (out_d ** 2).sum().backward()
    (out_t ** 2).sum().backward()
    _close(out_d, out_t)
    grads_d = {n: p.grad for n, p in ours.named_parameters()}
    grads_t = {n: p.grad for n, p in ref.named_parameters()}
    assert sorted(grads_d) == sorted(grads_t)
    for name in grads_t:
        _close(grads_d[name], grads_t[name], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_parametrization_matches_torch(dim):
    ours, ref = _pair(lambda lib: lib.Linear(4, 3))
    disttorch.nn.utils.parametrizations.weight_norm(ours, dim=dim)
    torch.nn.utils.parametrizations.weight_norm(ref, dim=dim)
    assert type(ours).__name__ == "ParametrizedLinear"
    assert list(ours.state_dict()) == list(ref.state_dict())
    _run(ours, ref, np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))


def test_spectral_norm_parametrization_matches_torch():
    ours, ref = _pair(lambda lib: lib.Conv2d(2, 3, 3))
    disttorch.nn.utils.parametrizations.spectral_norm(ours)
    torch.nn.utils.parametrizations.spectral_norm(ref)
    assert list(ours.state_dict()) == list(ref.state_dict())
    with disttorch.no_grad():
        for name in ("_u", "_v"):
            buffer = getattr(ref.parametrizations.weight[0], name).numpy().copy()
            getattr(ours.parametrizations.weight[0], name).copy_(disttorch.from_numpy(buffer))
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 5)).astype(np.float32)
    _run(ours, ref, x)
    _close(ours.parametrizations.weight[0]._u, ref.parametrizations.weight[0]._u)
    ours.eval()
    ref.eval()
    _close(ours.weight, ref.weight)


def test_legacy_hooks_match_torch():
    ours, ref = _pair(lambda lib: lib.Linear(4, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        disttorch.nn.utils.weight_norm(ours)
        torch.nn.utils.weight_norm(ref)
    assert list(ours.state_dict()) == list(ref.state_dict())
    x = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    _run(ours, ref, x)
    disttorch.nn.utils.remove_weight_norm(ours)
    torch.nn.utils.remove_weight_norm(ref)
    assert list(ours.state_dict()) == list(ref.state_dict())
    _close(ours.weight, ref.weight)

    ours, ref = _pair(lambda lib: lib.Linear(4, 3))
    disttorch.nn.utils.spectral_norm(ours)
    torch.nn.utils.spectral_norm(ref)
    assert list(ours.state_dict()) == list(ref.state_dict())
    with disttorch.no_grad():
        ours.weight_u.copy_(disttorch.from_numpy(ref.weight_u.numpy().copy()))
        ours.weight_v.copy_(disttorch.from_numpy(ref.weight_v.numpy().copy()))
    _run(ours, ref, x)
    disttorch.nn.utils.remove_spectral_norm(ours)
    torch.nn.utils.remove_spectral_norm(ref)
    _close(ours.weight, ref.weight)


def test_legacy_weight_norm_warns_like_torch():
    with pytest.warns(FutureWarning, match="parametrizations.weight_norm"):
        disttorch.nn.utils.weight_norm(nn.Linear(2, 2))


class Symmetric(nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).transpose(-1, -2)

    def right_inverse(self, A):
        return A.triu()


def test_custom_parametrization_assignment_cache_and_removal():
    m = nn.Linear(4, 4)
    parametrize.register_parametrization(m, "weight", Symmetric())
    assert parametrize.is_parametrized(m) and parametrize.is_parametrized(m, "weight")
    assert not parametrize.is_parametrized(m, "bias")
    assert parametrize.type_before_parametrizations(m) is nn.Linear
    assert disttorch.allclose(m.weight, m.weight.transpose(0, 1))
    target = disttorch.randn(4, 4)
    target = target + target.transpose(0, 1)
    m.weight = target
    assert disttorch.allclose(m.weight, target)
    m(disttorch.randn(2, 4)).sum().backward()
    assert m.parametrizations.weight.original.grad is not None
    with parametrize.cached():
        assert m.weight is m.weight
    assert m.weight is not m.weight
    parametrize.register_parametrization(m, "weight", nn.Identity())
    assert len(m.parametrizations.weight) == 2
    parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
    assert type(m) is nn.Linear and "parametrizations" not in dict(m.named_children())
    assert disttorch.allclose(m.weight, target.triu())
    assert isinstance(m.weight, nn.Parameter)


def test_parametrization_errors():
    m = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="does not have a parameter"):
        parametrize.register_parametrization(m, "nope", Symmetric())

    class Shrink(nn.Module):
        def forward(self, X):
            return X[:1]

    with pytest.raises(ValueError, match="may not change the shape"):
        parametrize.register_parametrization(m, "weight", Shrink())
    with pytest.raises(ValueError, match="does not have a parametrization"):
        parametrize.remove_parametrizations(m, "weight")
    disttorch.nn.utils.parametrizations.weight_norm(m)
    with pytest.raises(ValueError, match="sequence of tensors"):
        parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)


@pytest.mark.parametrize("transpose", [False, True])
def test_fuse_conv_bn_eval_matches_the_pair(transpose):
    rng = np.random.default_rng(3)
    conv = nn.ConvTranspose2d(3, 4, 3) if transpose else nn.Conv2d(3, 4, 3)
    bn = nn.BatchNorm2d(4)
    with disttorch.no_grad():
        bn.running_mean.copy_(disttorch.from_numpy(rng.standard_normal(4).astype(np.float32)))
        bn.running_var.copy_(disttorch.from_numpy(rng.uniform(0.5, 2, 4).astype(np.float32)))
        bn.weight.copy_(disttorch.from_numpy(rng.standard_normal(4).astype(np.float32)))
        bn.bias.copy_(disttorch.from_numpy(rng.standard_normal(4).astype(np.float32)))
    conv.eval()
    bn.eval()
    fused = disttorch.nn.utils.fuse_conv_bn_eval(conv, bn, transpose=transpose)
    x = disttorch.randn(2, 3, 6, 6)
    _close(fused(x), bn(conv(x)), rtol=1e-4, atol=1e-5)
    with pytest.raises(AssertionError, match="Fusion only for eval"):
        disttorch.nn.utils.fuse_conv_bn_eval(conv.train(), bn)


def test_fuse_linear_bn_eval_and_module_utils():
    linear, bn = nn.Linear(3, 4).eval(), nn.BatchNorm1d(4).eval()
    with disttorch.no_grad():
        bn.running_var.fill_(2.0)
        bn.running_mean.fill_(0.5)
    fused = disttorch.nn.utils.fuse_linear_bn_eval(linear, bn)
    x = disttorch.randn(5, 3)
    _close(fused(x), bn(linear(x)), rtol=1e-5, atol=1e-6)
    made = disttorch.nn.utils.skip_init(nn.Linear, 3, 2)
    assert isinstance(made, nn.Linear) and made.weight.shape == (2, 3)
    with pytest.raises(RuntimeError, match="'device' arg"):
        disttorch.nn.utils.skip_init(nn.Identity)
    assert disttorch.nn.utils.convert_conv2d_weight_memory_format(
        fused, disttorch.channels_last) is fused
