"""``disttorch.utils.hooks``: the shared hook handle (extra dicts, pickling, context manager),
``unserializable_hook``, ``warn_if_has_hooks`` and ``BackwardHook``, against torch."""
import pickle
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import disttorch
from disttorch.autograd.hooks import RemovableHandle as AutogradHandle

H = disttorch.utils.hooks


def _named_hook(grad):
    return grad


def _pre_hook_with_kwargs(module, args, kwargs):
    return None


def test_names():
    assert H.RemovableHandle is AutogradHandle
    assert set(H.__all__) == {"RemovableHandle", "unserializable_hook", "warn_if_has_hooks",
                              "BackwardHook"}
    from disttorch.nn.modules._hooks import _BackwardHook
    assert H.BackwardHook is _BackwardHook
    with pytest.raises(AttributeError):
        H.missing  # noqa: B018


@pytest.mark.parametrize("lib", ["disttorch", "torch"])
def test_handle_torch_protocol(lib):
    # the caller stores the hook under handle.id; extra dicts lose the entry on remove
    hooks_module = H if lib == "disttorch" else pytest.importorskip("torch").utils.hooks
    hooks, extra_a, extra_b = OrderedDict(), OrderedDict(), OrderedDict()
    handle = hooks_module.RemovableHandle(hooks, extra_dict=[extra_a, extra_b])
    hooks[handle.id] = _named_hook
    extra_a[handle.id] = True
    extra_b[handle.id] = "x"
    other = hooks_module.RemovableHandle(hooks, extra_dict=extra_a)
    hooks[other.id], extra_a[other.id] = print, False
    assert other.id != handle.id
    handle.remove()
    assert list(hooks) == [other.id] and list(extra_a) == [other.id] and not extra_b
    handle.remove()  # twice is harmless
    with other:
        assert other.id in hooks
    assert not hooks and not extra_a


@pytest.mark.parametrize("lib", ["disttorch", "torch"])
def test_handle_pickles(lib):
    hooks_module = H if lib == "disttorch" else pytest.importorskip("torch").utils.hooks
    hooks, extra = OrderedDict(), OrderedDict()
    handle = hooks_module.RemovableHandle(hooks, extra_dict=extra)
    hooks[handle.id], extra[handle.id] = _named_hook, 1
    # pickled together, the handle and the dicts stay linked
    handle2, hooks2, extra2 = pickle.loads(pickle.dumps((handle, hooks, extra)))
    assert handle2.id == handle.id and hooks2[handle.id] is _named_hook
    fresh = hooks_module.RemovableHandle(OrderedDict())
    assert fresh.id > handle2.id
    handle2.remove()
    assert not hooks2 and not extra2
    assert hooks and extra  # the originals are untouched


def test_handle_pickle_moves_id_counter_past_restored_ids():
    state = (OrderedDict({10 ** 9: print}), 10 ** 9, ())
    restored = H.RemovableHandle.__new__(H.RemovableHandle)
    restored.__setstate__(state)
    assert H.RemovableHandle(OrderedDict()).id > 10 ** 9
    restored.remove()
    assert not state[0]


def test_module_handles_still_work_and_pickle():
    layer = disttorch.nn.Linear(2, 2)
    calls = []
    handle = layer.register_forward_hook(lambda m, i, o: calls.append(1), with_kwargs=False)
    layer(disttorch.ones(1, 2))
    assert calls == [1]
    with handle:
        pass
    layer(disttorch.ones(1, 2))
    assert calls == [1]
    kw_handle = layer.register_forward_pre_hook(_pre_hook_with_kwargs, with_kwargs=True)
    kw_handle2 = pickle.loads(pickle.dumps(kw_handle))
    assert kw_handle2.id == kw_handle.id and len(kw_handle2.extra_dicts) == 1
    kw_handle.remove()
    assert not layer._forward_pre_hooks


def test_tensor_hook_handle_as_context_manager():
    x = disttorch.ones(3, requires_grad=True)
    with x.register_hook(lambda g: g * 2):
        (x * 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2, 2])
    x.grad = None
    (x * 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 1, 1])


def _warnings(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in caught]


def test_warn_if_has_hooks_like_torch():
    torch = pytest.importorskip("torch")

    def quiet(grad):
        return grad

    results = {}
    for name, lib, hooks in (("disttorch", disttorch, H), ("torch", torch, torch.utils.hooks)):
        assert hooks.unserializable_hook(quiet) is quiet
        leaf = lib.ones(2, requires_grad=True)
        inner = leaf * 2
        messages = [_warnings(lambda: hooks.warn_if_has_hooks(leaf))]
        leaf.register_hook(quiet)
        messages.append(_warnings(lambda: hooks.warn_if_has_hooks(leaf)))
        leaf.register_hook(_named_hook)
        inner.register_hook(_named_hook)
        messages.append(_warnings(lambda: hooks.warn_if_has_hooks(leaf)))
        messages.append(_warnings(lambda: hooks.warn_if_has_hooks(inner)))
        messages.append(_warnings(lambda: hooks.warn_if_has_hooks(inner * 3)))
        results[name] = messages
    assert results["disttorch"] == results["torch"]
    assert len(results["torch"][2]) == 1 and "will not be serialized" in results["torch"][2][0]


def test_backward_hook_like_torch():
    torch = pytest.importorskip("torch")
    seen = {}
    for name, lib, hooks in (("disttorch", disttorch, H), ("torch", torch, torch.utils.hooks)):
        log = []

        def post(module, grad_input, grad_output):
            log.append(("post", [None if g is None else g.detach().numpy().tolist()
                                 for g in grad_input],
                        [g.detach().numpy().tolist() for g in grad_output]))
            return (grad_input[0] * 10, grad_input[1], grad_input[2])

        def pre(module, grad_output):
            log.append(("pre", [g.detach().numpy().tolist() for g in grad_output]))
            return (grad_output[0] + 1,)

        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0], requires_grad=True)
        # (all inputs need gradients: for a non-tensor input or one without gradient torch's
        # grad_input holds None or zeros, disttorch's module hooks differ there)
        scale = lib.tensor([5.0, 6.0], requires_grad=True)
        runner = hooks.BackwardHook("module", [post], [pre])
        a2, scale, b2 = runner.setup_input_hook((a, scale, b))
        out = runner.setup_output_hook(a2 * b2 * scale)
        out.sum().backward()
        seen[name] = (log, a.grad.numpy().tolist(), b.grad.numpy().tolist())
    assert seen["disttorch"] == seen["torch"]
