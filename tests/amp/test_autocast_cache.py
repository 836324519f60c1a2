"""Autocast's cast cache and its state functions against torch: one low-precision copy per
parameter per outermost region, dropped on exit, ``cache_enabled``, and the
``set_autocast_*``/nesting API."""
import numpy as np
import pytest

import disttorch
from disttorch.cuda import _simulated

from tests.ops.harness import requires_bf16, requires_torch, torch

_RNG = np.random.default_rng(0)
W = _RNG.standard_normal((3, 3)).astype(np.float32)
X = _RNG.standard_normal((2, 3)).astype(np.float32)


def _weight_cast_node(out):
    """The cast node behind the weight operand of ``mm(x, w)``."""
    return out.grad_fn.next_functions[1][0]


def _uses(lib, inner_cache=None):
    """Node identities of the weight's cast across the uses of the module docstring's cases."""
    w = lib.nn.Parameter(lib.from_numpy(W.copy()))
    x = lib.from_numpy(X.copy())
    nodes = {}
    with lib.autocast("cpu", dtype=lib.bfloat16):
        nodes["first"] = _weight_cast_node(lib.mm(x, w))
        nodes["second"] = _weight_cast_node(lib.mm(x, w))
        kwargs = {} if inner_cache is None else {"cache_enabled": inner_cache}
        with lib.autocast("cpu", dtype=lib.bfloat16, **kwargs):
            nodes["inner"] = _weight_cast_node(lib.mm(x, w))
        nodes["after_inner"] = _weight_cast_node(lib.mm(x, w))
        nonleaf = w * 1
        nodes["nonleaf_1"] = _weight_cast_node(lib.mm(x, nonleaf))
        nodes["nonleaf_2"] = _weight_cast_node(lib.mm(x, nonleaf))
    with lib.autocast("cpu", dtype=lib.bfloat16):
        nodes["next_region"] = _weight_cast_node(lib.mm(x, w))
    return nodes


def _sharing(nodes):
    names = list(nodes)
    return {(a, b): nodes[a] is nodes[b] for i, a in enumerate(names) for b in names[i + 1:]}


@requires_torch
@requires_bf16
@pytest.mark.parametrize("inner_cache", [None, True, False])
def test_cache_shares_casts_like_torch(inner_cache):
    ours, theirs = _sharing(_uses(disttorch, inner_cache)), _sharing(_uses(torch, inner_cache))
    assert ours == theirs
    # the cases really distinguish caching from not caching
    assert ours[("first", "second")] and not ours[("first", "next_region")]
    assert not ours[("nonleaf_1", "nonleaf_2")]


@requires_torch
@requires_bf16
def test_weight_used_twice_has_torchs_gradient_and_accumulates():
    grads = {}
    for lib in (disttorch, torch):
        w = lib.nn.Parameter(lib.from_numpy(W.copy()))
        x = lib.from_numpy(X.copy())
        with lib.autocast("cpu", dtype=lib.bfloat16):
            for _ in range(2):  # two backward passes through the same cached cast
                out = lib.mm(lib.relu(lib.mm(x, w)), w)
                out.float().pow(2).sum().backward()
        grads[lib] = w.grad.numpy()
    np.testing.assert_allclose(grads[disttorch], grads[torch], rtol=2e-2, atol=1e-2)


@requires_bf16
def test_cache_recasts_a_weight_changed_in_place():
    # PyTorch would reuse the stale copy; the cache keys on the version counter instead
    w = disttorch.nn.Parameter(disttorch.from_numpy(W.copy()))
    x = disttorch.from_numpy(X.copy())
    with disttorch.autocast("cpu", dtype=disttorch.bfloat16):
        before = disttorch.mm(x, w)
        with disttorch.no_grad():
            w.mul_(2)
        after = disttorch.mm(x, w)
    np.testing.assert_allclose(after.detach().float().numpy(), 2 * before.detach().float().numpy(),
                               rtol=2e-2)


@requires_bf16
def test_no_grad_casts_are_not_cached_for_later_grad_uses():
    w = disttorch.nn.Parameter(disttorch.from_numpy(W.copy()))
    x = disttorch.from_numpy(X.copy())
    with disttorch.autocast("cpu", dtype=disttorch.bfloat16):
        with disttorch.no_grad():
            disttorch.mm(x, w)
        out = disttorch.mm(x, w)
    assert out.requires_grad
    out.float().sum().backward()
    assert w.grad is not None


def test_cuda_region_caches_on_the_device():
    with _simulated.simulate():
        w = disttorch.nn.Parameter(disttorch.from_numpy(W.copy()).cuda())
        x = disttorch.from_numpy(X.copy()).cuda()
        with disttorch.autocast("cuda"):
            a, b = disttorch.mm(x, w), disttorch.mm(x, w)
            assert a.dtype == disttorch.float16
            assert _weight_cast_node(a) is _weight_cast_node(b)
        (a.float().sum() + b.float().sum()).backward()
        assert w.grad.device.type == "cuda" and w.grad.dtype == disttorch.float32
        np.testing.assert_allclose(w.grad.cpu().numpy(),
                                   np.repeat(2 * X.sum(0)[:, None], 3, axis=1), rtol=1e-2)


@requires_torch
@requires_bf16
def test_state_functions_match_torch():
    def trace(lib):
        out = [lib.get_autocast_dtype("cuda"), lib.get_autocast_dtype("cpu"),
               lib.is_autocast_cache_enabled()]
        lib.set_autocast_dtype("cpu", lib.float16)
        lib.set_autocast_enabled("cpu", True)
        x = lib.ones(2, 2)
        out += [lib.get_autocast_dtype("cpu"), lib.is_autocast_enabled("cpu"),
                lib.is_autocast_cpu_enabled(), (x @ x).dtype]
        with lib.autocast("cpu", enabled=False):
            out.append((x @ x).dtype)
        out.append((x @ x).dtype)
        lib.set_autocast_enabled("cpu", False)
        lib.set_autocast_dtype("cpu", lib.bfloat16)
        out += [(x @ x).dtype, lib.is_autocast_enabled("cpu")]
        with lib.autocast("cpu"):
            out.append(lib.get_autocast_dtype("cpu"))
            lib.set_autocast_cache_enabled(False)
            out.append(lib.is_autocast_cache_enabled())
        out.append(lib.is_autocast_cache_enabled())  # the region restores it
        out += [lib.autocast_increment_nesting(), lib.autocast_increment_nesting(),
                lib.autocast_decrement_nesting(), lib.autocast_decrement_nesting()]
        with pytest.raises(TypeError, match="enabled must be a bool"):
            lib.set_autocast_cache_enabled(1)
        return [str(v).replace("disttorch.", "").replace("torch.", "") for v in out]

    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch's is_autocast_cpu_enabled
        assert trace(disttorch) == trace(torch)
