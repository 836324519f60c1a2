"""``autograd.graph``: saved-tensor hooks (gradients unchanged through pack/unpack, nesting,
errors, retained graphs, double backward, custom Functions), ``save_on_cpu`` actually moving
activations off the device, ``disable_saved_tensors_hooks``, ``register_multi_grad_hook`` and
``increment_version`` against torch."""
import numpy as np
import pytest

import disttorch
from disttorch.autograd.graph import (disable_saved_tensors_hooks, register_multi_grad_hook,
                                      save_on_cpu, saved_tensors_hooks)
from disttorch.cuda import _simulated

from tests.ops.harness import requires_torch, torch


def _models():
    disttorch.manual_seed(0)
    nn = disttorch.nn
    return {
        "mlp": (nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.LayerNorm(8), nn.Linear(8, 3)),
                (5, 6)),
        "cnn": (nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 3)), (2, 2, 4, 4)),
        "lstm": (nn.LSTM(4, 5, num_layers=2), (3, 2, 4)),
        "attention": (nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), (3, 2, 8)),
    }


def _loss(model, x):
    out = model(x)
    out = out[0] if isinstance(out, tuple) else out
    return (out * out).sum()


def _grads(model, x, context):
    model.zero_grad()
    x = x.detach().requires_grad_()
    with context:
        loss = _loss(model, x)
    loss.backward()
    return [x.grad.numpy()] + [p.grad.numpy() for p in model.parameters()]


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm", "attention"])
def test_gradients_unchanged_through_pack_and_unpack(name):
    model, shape = _models()[name]
    x = disttorch.randn(*shape)
    plain = _grads(model, x, disttorch.enable_grad())
    packed, unpacked = [], []

    def pack(t):
        packed.append(t)
        return ("boxed", t.double())       # a different object and dtype: nothing leaks through

    def unpack(box):
        unpacked.append(box)
        return box[1].to(disttorch.float32)

    hooked = _grads(model, x, saved_tensors_hooks(pack, unpack))
    assert packed and len(unpacked) == len(packed)
    for a, b in zip(plain, hooked):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_innermost_hooks_apply_and_retained_graphs_unpack_again():
    calls = []
    x = disttorch.randn(3, requires_grad=True)
    with saved_tensors_hooks(lambda t: calls.append("outer") or t, lambda t: t):
        with saved_tensors_hooks(lambda t: calls.append("inner") or t,
                                 lambda t: calls.append("unpack") or t):
            y = (x * x.exp()).sum()
    assert set(calls) == {"inner"}
    y.backward(retain_graph=True)
    first = calls.count("unpack")
    y.backward()
    assert first > 0 and calls.count("unpack") == 2 * first
    np.testing.assert_allclose(x.grad.numpy(),
                               2 * (x * x.exp() + x.exp()).detach().numpy(), rtol=1e-6)


def test_double_backward_through_hooked_values():
    x = disttorch.randn(4, dtype=disttorch.float64, requires_grad=True)
    with saved_tensors_hooks(lambda t: t.clone(), lambda t: t):
        y = (x.sin() * x).sum()
    g, = disttorch.autograd.grad(y, x, create_graph=True)
    gg, = disttorch.autograd.grad(g.sum(), x)
    xv = x.detach().numpy()
    np.testing.assert_allclose(gg.numpy(), 2 * np.cos(xv) - xv * np.sin(xv), rtol=1e-12)


@requires_torch
def test_custom_function_values_reach_the_hooks_as_the_saved_tensors():
    for lib in (disttorch, torch):
        class Square(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                ctx.save_for_backward(a)
                return a * a

            @staticmethod
            def backward(ctx, g):
                a, = ctx.saved_tensors
                return 2 * a * g

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        seen = []
        with lib.autograd.graph.saved_tensors_hooks(lambda t: seen.append(t) or t.clone(),
                                                    lambda t: t):
            Square.apply(x).sum().backward()
        assert seen[0] is x
        assert x.grad.tolist() == [2.0, 4.0]


@requires_torch
def test_errors_match_torch():
    for lib in (disttorch, torch):
        graph = lib.autograd.graph
        with pytest.raises(RuntimeError, match="no hooks here"):
            with graph.disable_saved_tensors_hooks("no hooks here"):
                with graph.saved_tensors_hooks(lambda t: t, lambda t: t):
                    pass
        with graph.saved_tensors_hooks(lambda t: t, lambda t: t):
            with pytest.raises(RuntimeError, match="no hooks here"):
                with graph.disable_saved_tensors_hooks("no hooks here"):
                    pass
        x = lib.randn(3, requires_grad=True)
        with graph.saved_tensors_hooks(lambda t: t, lambda t: 5):
            y = (x * x).sum()
        with pytest.raises(TypeError, match="Output of saved tensor unpack_hook expected to be a "
                                            "Tensor but got result of type int"):
            y.backward()
        with graph.saved_tensors_hooks(lambda t: t, lambda t: t):
            y = (x * x).sum()
        y.backward()
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second "
                                               "time"):
            y.backward()
    assert disable_saved_tensors_hooks is disttorch.autograd.graph.disable_saved_tensors_hooks


@requires_torch
def test_increment_version_invalidates_saved_values_like_torch():
    for lib in (disttorch, torch):
        x = lib.randn(3, requires_grad=True)
        y = x.exp()
        z = (y * y).sum()
        lib.autograd.graph.increment_version(y)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.backward()


@requires_torch
def test_multi_grad_hook_matches_torch():
    logs = []
    for lib in (disttorch, torch):
        a = lib.randn(2, requires_grad=True)
        b = lib.randn(2, requires_grad=True)
        log = []
        handle = lib.autograd.graph.register_multi_grad_hook(
            (a, b), lambda grads: log.append(tuple(g is None for g in grads)))
        (a * 2).sum().backward()
        (a * b).sum().backward()
        handle.remove()
        (a * b).sum().backward()
        any_log = []
        lib.autograd.graph.register_multi_grad_hook((a, b), lambda g: any_log.append(
            tuple(g.shape)), mode="any")
        (a * b).sum().backward()
        logs.append((log, any_log))
    assert logs[0] == logs[1] == ([(False, True), (False, False)], [(2,)])
    assert register_multi_grad_hook is disttorch.autograd.graph.register_multi_grad_hook


def test_save_on_cpu_moves_the_activations_off_the_device():
    with _simulated.simulate():
        disttorch.manual_seed(0)
        nn = disttorch.nn
        model = nn.Sequential(*[m for _ in range(4) for m in (nn.Linear(256, 256), nn.GELU(),
                                                             nn.LayerNorm(256))]).cuda()
        x = disttorch.randn(512, 256, device="cuda")
        held = {}
        grads = {}
        for name, context in (("plain", disttorch.enable_grad()), ("offload", save_on_cpu())):
            model.zero_grad()
            base = disttorch.cuda.memory_allocated()
            with context:
                loss = model(x).pow(2).mean()
            held[name] = disttorch.cuda.memory_allocated() - base
            loss.backward()
            grads[name] = [p.grad.cpu().numpy() for p in model.parameters()]
            del loss
        # 4 layers x (input, GELU input, LayerNorm input...) of 512 KiB each stay on the
        # device without offloading; with it only a few device buffers remain
        assert held["offload"] < held["plain"] / 4, held
        for a, b in zip(grads["plain"], grads["offload"]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@requires_torch
def test_gradient_edges_match_torch():
    results = []
    for lib in (disttorch, torch):
        graph = lib.autograd.graph
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        h = x.exp()
        edge = graph.get_gradient_edge(h)
        y = (h * h).sum()
        # as inputs: the gradient flowing into the intermediate, and into a leaf
        gh, gx = lib.autograd.grad(y, (edge, graph.get_gradient_edge(x)), retain_graph=True)
        # as an output: a backward pass that starts at the edge
        start, = lib.autograd.grad(edge, x, grad_outputs=lib.ones(3, dtype=lib.float64))
        other = graph.get_gradient_edge(lib.zeros(3, requires_grad=True))
        assert lib.autograd.grad(y, (edge, other), allow_unused=True,
                                 retain_graph=True)[1] is None
        with pytest.raises(RuntimeError, match="materialize_grads cannot be used when the given "
                                               "input is a GradientEdge"):
            lib.autograd.grad(y, (edge, other), materialize_grads=True, retain_graph=True)
        results.append([v.detach().numpy() for v in (gh, gx, start)])
        with pytest.raises(RuntimeError, match="not possible to get the gradient edge"):
            graph.get_gradient_edge(lib.ones(2))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@requires_torch
def test_grad_of_an_intermediate_leaves_the_graph_below_it_untouched():
    for lib in (disttorch, torch):
        x = lib.tensor([0.5, 1.0], requires_grad=True)
        h = x.exp()
        y = (h * h).sum()
        gh, = lib.autograd.grad(y, h)           # exp's backward is not needed, nor run
        h.sum().backward()                       # so its saved output is still there
        np.testing.assert_allclose(x.grad.numpy(), np.exp([0.5, 1.0]), rtol=1e-6)
        np.testing.assert_allclose(gh.numpy(), 2 * np.exp([0.5, 1.0]), rtol=1e-6)
