"""``autograd.graph.allow_mutation_on_saved_tensors``: saved tensors modified in place (by
Tensor methods, functional in-place ops, ``out=``, indexing, ``nn.init``, optimizers) are
copied first, so backward sees the values they were saved with; compared with PyTorch."""
import numpy as np
import pytest

import disttorch
from tests.ops.harness import requires_torch, torch


def _scenario(t):
    amst = t.autograd.graph.allow_mutation_on_saved_tensors
    results = []
    with amst():
        a = t.tensor([1.0, 2.0, 3.0], requires_grad=True)

        def grad_of(make_and_mutate):
            a.grad = None
            out = make_and_mutate()
            out.backward()
            return a.grad.tolist()

        def method():
            b = a.clone()
            out = (b ** 2).sum()
            b.sin_()
            return out

        def view_of_mutated_base():
            c = a.clone()
            v = c[:2]
            out = (v * v).sum()
            c.mul_(10)
            return out

        def twice():
            d = a.clone()
            out = d.exp().sum()
            d.add_(1)
            d.add_(1)
            return out

        def setitem_and_zero():
            e = a.clone()
            out = (e * e).sum()
            e[0] = 100.0
            e.zero_()
            return out

        def functional_inplace():
            f = a.clone()
            out = t.relu(f).sum() + (f * f).sum()
            t.nn.functional.relu(f, inplace=True)
            f.fill_(3)
            return out

        def out_argument():
            g = a.clone()
            out = (g * g).sum()
            with t.no_grad():
                t.add(g, 1, out=g)
            return out

        for case in (method, view_of_mutated_base, twice, setitem_and_zero, functional_inplace,
                     out_argument):
            results.append(grad_of(case))
        w = t.nn.Parameter(t.ones(2))
        optimizer = t.optim.SGD([w], lr=0.5)
        y = (w * w * 3).sum()
        y.backward(retain_graph=True)
        optimizer.step()                       # the saved w changes under the graph
        optimizer.zero_grad()
        y.backward()
        results.append(w.grad.tolist())
        layer = t.nn.Linear(2, 1)
        x = t.ones(1, 2, requires_grad=True)
        before = layer.weight.detach().clone()
        y = layer(x).sum()
        t.nn.init.normal_(layer.weight)
        y.backward()
        results.append(np.allclose(x.grad.numpy(), before.numpy()))
        b = a.clone()
        out = (b ** 2).sum()
        b.zero_()
        out.backward(retain_graph=True)
        out.backward()
        results.append(a.grad.tolist())
    a = t.tensor([1.0, 2.0], requires_grad=True)
    with amst():
        out = (a.clone() ** 2).sum()
    with pytest.raises(AssertionError, match="Trying to backward outside of the "
                                             "'allow_mutation_on_saved_tensors' context"):
        out.backward()
    with amst():
        with pytest.raises(RuntimeError, match="cannot be nested"):
            with amst():
                pass
    return results


@requires_torch
def test_mutation_on_saved_tensors_matches_torch():
    got, want = _scenario(disttorch), _scenario(torch)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)


def test_a_write_the_context_cannot_see_is_refused():
    a = disttorch.ones(3, requires_grad=True)
    with disttorch.autograd.graph.allow_mutation_on_saved_tensors():
        b = a.clone()
        out = (b * b).sum()
        b._data[...] = 5.0                     # behind autograd's back, then declared
        disttorch.autograd.graph.increment_version(b)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.backward()


def test_hooks_skip_the_version_check_as_in_torch():
    # values that went through saved-tensor hooks are the hooks' responsibility
    a = disttorch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with disttorch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
        b = a.clone()
        out = (b ** 2).sum()
    b.mul_(10)
    out.backward()
    assert a.grad.tolist() == [20.0, 40.0, 60.0]
