"""``Tensor.grad_dtype``: the dtype a leaf's gradient is cast to (or None: any), the checks on
assigning ``.grad``, and ``autograd.grad(..., is_grads_batched=True)``; each outcome and message
compared with PyTorch's."""
import numpy as np

import disttorch
from tests.ops.harness import requires_torch, torch


def _scenario(t):
    out = []
    x = t.tensor([1.0, 2.0], requires_grad=True)
    out.append(str(x.grad_dtype))
    x.grad_dtype = t.float16
    (x.double() * 3).sum().backward()          # cast to float16 on arrival
    out.append((x.grad.tolist(), str(x.grad.dtype)))
    x.grad = None
    x.grad_dtype = None
    out.append(str(x.grad_dtype))
    (x * 3).sum().backward()
    out.append(str(x.grad.dtype))
    y = x * 2
    for action in (lambda: y.grad_dtype, lambda: setattr(y, "grad_dtype", t.float64),
                   lambda: setattr(x, "grad_dtype", "float64")):
        try:
            action()
        except RuntimeError as exc:
            out.append(str(exc))
    z = t.ones(2, dtype=t.int64)
    out.append(str(z.grad_dtype))
    w = t.ones(2, requires_grad=True)
    for g in (t.ones(2, dtype=t.float64), t.ones(3), t.ones(3, dtype=t.float64),
              t.ones(2, dtype=t.float16), t.ones(2, 3), t.ones(2, dtype=t.bfloat16)):
        try:
            w.grad = g
        except RuntimeError as exc:
            out.append(str(exc))
    w.grad_dtype = t.float64
    w.grad = t.ones(2, dtype=t.float64)
    w.grad_dtype = None
    w.grad = t.ones(2, dtype=t.float16)
    out.append(str(w.grad.dtype))
    (w * 3).sum().backward()                   # accumulates into the float16 grad it has
    out.append((w.grad.tolist(), str(w.grad.dtype)))
    v = t.ones(2, requires_grad=True)
    v.grad_dtype = t.float64
    seen = []
    v.register_hook(lambda g: seen.append(str(g.dtype)))
    (v * 3).sum().backward()
    (v * 3).sum().backward()
    out.append((v.grad.tolist(), str(v.grad.dtype), seen))
    out.append(str(t.autograd.grad((v * 3).sum(), v)[0].dtype))
    g2, = t.autograd.grad((v ** 2).sum(), v, create_graph=True)
    out.append(str(g2.dtype))
    out.append(str(v.detach().grad_dtype))
    return [str(o).replace("disttorch", "torch") for o in out]


@requires_torch
def test_grad_dtype_matches_torch():
    assert _scenario(disttorch) == _scenario(torch)


def test_grad_dtype_casts_incoming_gradients():
    x = disttorch.ones(3, requires_grad=True)
    x.grad_dtype = disttorch.float64
    (x * 2).sum().backward()
    assert x.grad.dtype == disttorch.float64 and x.grad.tolist() == [2.0, 2.0, 2.0]


@requires_torch
def test_is_grads_batched_matches_torch():
    def run(t):
        x = t.tensor([1.0, -2.0, 3.0], dtype=t.float64, requires_grad=True)
        w = t.tensor([[0.5, 1.0, -1.0], [2.0, 0.0, 1.5]], dtype=t.float64, requires_grad=True)
        y = (w @ x.sin()) ** 2
        vectors = t.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, -2.0]], dtype=t.float64)
        gx, gw = t.autograd.grad(y, (x, w), vectors, is_grads_batched=True, create_graph=True)
        hx, = t.autograd.grad(gx.sum(), x)               # through the batched gradients
        summed, = t.autograd.grad((x * x).sum(), x, t.ones(4, dtype=t.float64),
                                  is_grads_batched=True)
        messages = []
        for call in (lambda: t.autograd.grad(x * 2, x, t.ones(3), is_grads_batched=True),
                     lambda: t.autograd.grad(x * 2, x, None, is_grads_batched=True)):
            try:
                call()
            except RuntimeError as exc:
                messages.append(str(exc).split(":")[0])
        return [a.detach().numpy() for a in (gx, gw, hx, summed)], messages
    (ours, our_errors), (theirs, their_errors) = run(disttorch), run(torch)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert our_errors == their_errors
