"""``Tensor.grad_dtype``: the dtype a leaf's gradient is cast to (or None: any), and the checks
on assigning ``.grad``, each outcome and message compared with PyTorch's."""
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
