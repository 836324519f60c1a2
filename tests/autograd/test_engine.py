"""The autograd engine: accumulation, retain_graph, autograd.grad, hooks, grad modes, memory."""
import gc
import weakref
import warnings

import numpy as np
import pytest

import disttorch
from disttorch import autograd
from tests.ops.harness import requires_torch, torch


def test_grad_accumulates_across_backward_calls():
    x = disttorch.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).backward(disttorch.ones(2))
    (x * x).backward(disttorch.ones(2))
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0])


def test_backward_with_gradient_argument():
    x = disttorch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(gradient=disttorch.tensor([1.0, 0.5, 0.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, 0.0])


def test_backward_on_non_scalar_needs_gradient():
    x = disttorch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad and does not "
                                           "have a grad_fn"):
        disttorch.ones(1).backward()


def test_second_backward_through_freed_graph_raises():
    x = disttorch.tensor([2.0], requires_grad=True)
    y = x.exp()
    y.backward(disttorch.ones(1))
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward(disttorch.ones(1))


def test_retain_graph_allows_second_backward():
    x = disttorch.tensor([2.0], requires_grad=True)
    y = x.exp()
    y.backward(disttorch.ones(1), retain_graph=True)
    y.backward(disttorch.ones(1))
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([2.0]), rtol=1e-6)


def test_shared_subexpression_gradient_is_summed():
    x = disttorch.tensor([1.5], requires_grad=True)
    y = x * x
    z = y * y + y  # dz/dx = (2y + 1) * 2x
    z.backward(disttorch.ones(1))
    np.testing.assert_allclose(x.grad.numpy(), [(2 * 2.25 + 1) * 3.0])


def test_grads_of_two_leaves_never_alias():
    a = disttorch.ones(3, requires_grad=True)
    b = disttorch.ones(3, requires_grad=True)
    (a + b).backward(disttorch.ones(3))
    with disttorch.no_grad():
        a.grad.mul_(10)
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0, 1.0])


def test_user_gradient_is_not_adopted():
    x = disttorch.ones(2, requires_grad=True)
    g = disttorch.tensor([1.0, 2.0])
    (x + 0).backward(g)
    x.grad.mul_(5) if not x.grad.requires_grad else None
    np.testing.assert_allclose(g.numpy(), [1.0, 2.0])


def test_autograd_grad_does_not_touch_dot_grad():
    x = disttorch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x * x)
    (gx,) = autograd.grad(y, x, disttorch.ones(2))
    np.testing.assert_allclose(gx.numpy(), [3.0, 12.0])
    assert x.grad is None


def test_autograd_grad_unused_input():
    x = disttorch.ones(2, requires_grad=True)
    z = disttorch.ones(2, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="^The differentiated Tensor at index 1 appears to not have been used in the graph"):
        autograd.grad(y, [x, z], disttorch.ones(2), retain_graph=True)
    gx, gz = autograd.grad(y, [x, z], disttorch.ones(2), allow_unused=True, retain_graph=True)
    assert gz is None
    gx, gz = autograd.grad(y * 1, [x, z], disttorch.ones(2), materialize_grads=True)
    np.testing.assert_allclose(gz.numpy(), [0.0, 0.0])


def test_autograd_grad_of_intermediate():
    x = disttorch.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = h.exp()
    (gh,) = autograd.grad(y, h, disttorch.ones(2))
    np.testing.assert_allclose(gh.numpy(), np.exp([3.0, 6.0]), rtol=1e-6)


@requires_torch
def test_hessian_vector_product_matches_torch():
    data = np.array([0.3, -1.2, 0.8])
    v = np.array([1.0, 0.5, -2.0])

    def hvp(lib):
        x = lib.tensor(data, requires_grad=True)
        y = (x.sin() * x.exp() + x * x * x).tanh()
        (g,) = lib.autograd.grad(y, x, lib.ones(3, dtype=lib.float64), create_graph=True)
        (h,) = lib.autograd.grad(g, x, lib.tensor(v))
        return h.detach().numpy()

    np.testing.assert_allclose(hvp(disttorch), hvp(torch), rtol=1e-10)


def test_create_graph_leaves_grad_with_history():
    x = disttorch.tensor([2.0], requires_grad=True)
    (x * x * x).backward(disttorch.ones(1), create_graph=True)
    assert x.grad.grad_fn is not None
    (g2,) = autograd.grad(x.grad, x, disttorch.ones(1))
    np.testing.assert_allclose(g2.numpy(), [12.0])


def test_backward_inputs_argument_limits_accumulation():
    a = disttorch.ones(2, requires_grad=True)
    b = disttorch.ones(2, requires_grad=True)
    (a * b).backward(disttorch.ones(2), inputs=[a])
    assert a.grad is not None and b.grad is None


def test_leaf_and_non_leaf():
    x = disttorch.ones(2, requires_grad=True)
    y = x * 2
    assert x.is_leaf and not y.is_leaf
    assert disttorch.ones(2).is_leaf
    y.backward(disttorch.ones(2))
    with pytest.warns(UserWarning, match="The .grad attribute of a Tensor that is not a leaf"):
        assert y.grad is None   # with PyTorch's warning
    y.retain_grad()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert y.grad is None and x.grad is not None


def test_retain_grad():
    x = disttorch.ones(2, requires_grad=True)
    y = x * 2
    y.retain_grad()
    (y * y).backward(disttorch.ones(2))
    np.testing.assert_allclose(y.grad.numpy(), [4.0, 4.0])
    assert y.retains_grad


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can "
                                           "require gradients"):
        disttorch.tensor([1, 2]).requires_grad_()
    y = disttorch.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf"):
        y.requires_grad_(False)
    assert not (disttorch.ones(2, requires_grad=True) > 0).requires_grad


def test_detach_shares_memory_and_stops_gradient():
    x = disttorch.ones(2, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    y = x * 2
    y.detach_()
    assert y.grad_fn is None and not y.requires_grad
    base = disttorch.zeros(3)
    view = base.detach()
    view.add_(1)
    np.testing.assert_allclose(base.numpy(), [1.0, 1.0, 1.0])


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode", "set_grad_enabled"])
def test_grad_modes_as_context_and_decorator(mode):
    x = disttorch.ones(2, requires_grad=True)
    ctx = {"no_grad": disttorch.no_grad, "inference_mode": disttorch.inference_mode,
           "set_grad_enabled": lambda: disttorch.set_grad_enabled(False)}[mode]
    with ctx():
        assert not (x * 2).requires_grad
        with disttorch.enable_grad():
            assert (x * 2).requires_grad
    assert (x * 2).requires_grad

    @ctx()
    def f():
        return x * 2
    assert not f().requires_grad
    assert disttorch.is_grad_enabled()


def test_set_grad_enabled_as_function():
    disttorch.set_grad_enabled(False)
    try:
        assert not disttorch.is_grad_enabled()
    finally:
        disttorch.set_grad_enabled(True)
    assert disttorch.is_grad_enabled()


def test_no_grad_decorates_generators():
    x = disttorch.ones(1, requires_grad=True)

    @disttorch.no_grad()
    def gen():
        for _ in range(2):
            yield x * 2
    assert all(not t.requires_grad for t in gen())


def test_tensor_hooks_on_leaf_and_intermediate():
    x = disttorch.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    y = x * 3
    handle = y.register_hook(lambda g: g * 10)
    (y * 1).backward(disttorch.ones(2))
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])
    np.testing.assert_allclose(seen[0], [30.0, 30.0])
    handle.remove()
    x.grad = None
    y = x * 3
    y.backward(disttorch.ones(2))
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_post_accumulate_grad_hook():
    w = disttorch.ones(2, requires_grad=True)
    calls = []
    w.register_post_accumulate_grad_hook(lambda p: calls.append(p.grad.numpy().copy()))
    (w * 4).backward(disttorch.ones(2))
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], [4.0, 4.0])
    with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda p: None)


def test_grad_fn_introspection():
    x = disttorch.ones(2, requires_grad=True)
    y = x * 2 + 1
    assert y.grad_fn.name() == "AddBackward0"
    (mul_fn, _), _ = y.grad_fn.next_functions
    assert mul_fn.name() == "MulBackward0"
    acc = mul_fn.next_functions[0][0]
    assert acc.name() == "AccumulateGrad" and acc.variable is x
    assert "grad_fn=<AddBackward0>" in repr(y)


def test_ten_thousand_op_chain_backprops_without_recursion():
    x = disttorch.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0
    y.backward(disttorch.ones(1))
    np.testing.assert_allclose(x.grad.numpy(), [1.0])


def test_graph_and_saved_arrays_are_freed_after_backward():
    x = disttorch.ones(1000, requires_grad=True)
    y = (x * 2).exp()
    node_ref = weakref.ref(y.grad_fn)
    y.backward(disttorch.ones(1000))
    assert y.grad_fn._saved is not None
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.grad_fn.saved_tensors
    del y
    gc.collect()
    assert node_ref() is None


def test_memory_stays_flat_across_training_steps():
    import tracemalloc
    w = disttorch.randn(64, 64, requires_grad=True)
    x = disttorch.randn(64, 64)

    def step():
        y = ((x * w).tanh() * w).sigmoid()
        y.backward(disttorch.ones(64, 64))
        with disttorch.no_grad():
            w.sub_(w.grad * 0.01)
        w.grad = None

    for _ in range(5):
        step()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    for _ in range(50):
        step()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert current - base < 200_000, f"memory grew by {current - base} bytes over 50 steps"


def test_gradient_dtype_matches_leaf():
    x = disttorch.ones(2, dtype=disttorch.float64, requires_grad=True)
    (x.float() * 2).backward(disttorch.ones(2))
    assert x.grad.dtype == disttorch.float64


def test_mixed_dtype_promotion_backward():
    a = disttorch.ones(2, requires_grad=True)
    b = disttorch.ones(2, dtype=disttorch.float64, requires_grad=True)
    (a * b).backward(disttorch.ones(2, dtype=disttorch.float64))
    assert a.grad.dtype == disttorch.float32 and b.grad.dtype == disttorch.float64


def test_adopted_gradients_never_alias_each_other_or_the_callers_gradient():
    a = disttorch.ones(2, 3, requires_grad=True)
    b = disttorch.ones(3, 2, requires_grad=True)
    c = disttorch.ones(6, requires_grad=True)
    # a and the view of b both receive Add's single gradient array; c receives a view of it too
    y = a + b.t() + c.reshape(2, 3)
    g = disttorch.ones(2, 3)
    y.backward(g)
    with disttorch.no_grad():
        a.grad.mul_(2)
        b.grad.mul_(3)
    np.testing.assert_allclose(c.grad.numpy(), np.ones(6))
    np.testing.assert_allclose(b.grad.numpy(), np.full((3, 2), 3.0))
    np.testing.assert_allclose(g.numpy(), np.ones((2, 3)))
    x = disttorch.ones(4, requires_grad=True)
    x.view(2, 2).backward(g[:, :2].contiguous())
    with disttorch.no_grad():
        x.grad.add_(1)
    np.testing.assert_allclose(g.numpy(), np.ones((2, 3)))


def test_transposed_weight_gradient_is_adopted_without_copy():
    w = disttorch.randn(4, 3, requires_grad=True)
    x = disttorch.randn(5, 3)
    (x @ w.t()).backward(disttorch.ones(5, 4))
    np.testing.assert_allclose(w.grad.numpy(), np.ones((5, 4)).T @ x.numpy(), rtol=1e-5)


def test_complex_autograd_is_refused_not_silently_wrong():
    x = disttorch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="autograd through complex tensors is not supported"):
        x.to(disttorch.complex64) * (1 + 1j)
    with pytest.raises(RuntimeError, match="autograd on complex tensors is not supported"):
        disttorch.ones(2, dtype=disttorch.complex64).requires_grad_()
    with disttorch.no_grad():
        assert (x.to(disttorch.complex64) * (1 + 1j)).abs().tolist() == pytest.approx([2 ** 0.5] * 3)


@requires_torch
def test_integer_tensors_refuse_gradients_in_torchs_words():
    # PyTorch words it three ways: requires_grad_(), the attribute, a factory's argument
    def refusals(t):
        x = t.ones(2, dtype=t.int64)
        messages = []
        for call in (x.requires_grad_, lambda: setattr(x, "requires_grad", True),
                     lambda: t.ones(2, dtype=t.int64, requires_grad=True),
                     lambda: t.tensor([1, 2], requires_grad=True),
                     lambda: t.randint(0, 5, (3,), requires_grad=True),
                     lambda: t.randint_like(t.ones(3, dtype=t.int64), 5, requires_grad=True),
                     lambda: t.nn.Parameter(x)):
            with pytest.raises(RuntimeError) as info:
                call()
            messages.append(str(info.value))
        like = t.randint_like(t.ones(3), 5, requires_grad=True)
        messages.append((str(like.dtype).split(".")[1], like.requires_grad))
        return messages
    assert refusals(disttorch) == refusals(torch)
