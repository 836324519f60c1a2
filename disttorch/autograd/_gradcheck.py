"""``gradcheck`` / ``gradgradcheck``: backward against float64 finite differences."""
import warnings

import numpy as np

from .._backend import to_numpy
from ..tensor import Tensor, _new
from . import grad_mode

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when analytical and numerical gradients disagree."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _differentiable_outputs(func, inputs):
    outputs = _as_tuple(func(*inputs))
    return [o for o in outputs if isinstance(o, Tensor) and o._requires_grad]


def _numerical_jacobian(func, inputs, diff_inputs, n_out_elems, eps):
    """Central differences: one column per element of each differentiable input."""
    jacobians = []
    for t in diff_inputs:
        data = t._data
        jac = np.zeros((data.size, n_out_elems))
        # element by element in row-major order, written through the input's own strides (a
        # reshaped copy of a transposed input would take the perturbation away from it)
        for i, index in enumerate(np.ndindex(*data.shape)):
            orig = data[index].item()
            data[index] = orig + eps
            plus = _flat_outputs(func, inputs)
            data[index] = orig - eps
            minus = _flat_outputs(func, inputs)
            data[index] = orig
            jac[i] = (plus - minus) / (2 * eps)
        jacobians.append(jac)
    return jacobians


def _flat_outputs(func, inputs):
    with grad_mode.no_grad():
        outs = [o for o in _as_tuple(func(*inputs)) if isinstance(o, Tensor) and
                o.is_floating_point()]
    if not outs:
        return np.zeros(0)
    return np.concatenate([to_numpy(o._data).astype(np.float64).reshape(-1) for o in outs])


def _analytical_jacobian(func, inputs, diff_inputs):
    from . import grad as autograd_grad
    outputs = _differentiable_outputs(func, inputs)
    sizes = [o.numel() for o in outputs]
    total = sum(sizes)
    jacobians = [np.zeros((t.numel(), total)) for t in diff_inputs]
    column = 0
    for o, size in zip(outputs, sizes):
        for j in range(size):
            onehot = np.zeros(size, dtype=o._data.dtype)
            onehot[j] = 1
            grads = autograd_grad([o], diff_inputs, [_new(onehot.reshape(o._data.shape))],
                                  retain_graph=True, allow_unused=True)
            for k, g in enumerate(grads):
                if g is not None:
                    jacobians[k][:, column] = to_numpy(g._data).reshape(-1)
            column += 1
    return jacobians, total


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
              check_batched_grad=False, check_batched_forward_grad=False, check_forward_ad=False,
              check_backward_ad=True, fast_mode=False, masked=None):
    """Check the gradients of ``func`` at ``inputs`` against central finite differences.

    Inputs that require grad should be float64. Returns True, or raises ``GradcheckError``
    (returns False when ``raise_exception=False``) naming the output/input pair that disagrees.
    """
    inputs = _as_tuple(inputs)
    diff_inputs = [t for t in inputs if isinstance(t, Tensor) and t._requires_grad]
    if not diff_inputs:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none "
                         "of the them have requires_grad=True.")
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t._requires_grad and any(
                stride == 0 and size > 1 for stride, size in zip(t.stride(), t.shape)):
            # a perturbed element would move all the elements that alias it
            raise RuntimeError(f"The {i}th input has a dimension with stride 0. gradcheck only "
                               f"supports inputs that are non-overlapping to be able to compute "
                               f"the numerical gradients correctly. You should call .contiguous "
                               f"on the input before passing it to gradcheck.")
    for i, t in enumerate(diff_inputs):
        if t.dtype.name != "float64":
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating "
                          "point. This check will likely fail if all the inputs are not of double "
                          "precision floating point.")
    try:
        if fast_mode:
            _fast_check(func, inputs, diff_inputs, eps, atol, rtol)
        else:
            analytical, total = _analytical_jacobian(func, inputs, diff_inputs)
            numerical = _numerical_jacobian(func, inputs, diff_inputs, total, eps)
            for k, (a, n) in enumerate(zip(analytical, numerical)):
                if not np.allclose(a, n, rtol=rtol, atol=atol):
                    raise GradcheckError(
                        f"Jacobian mismatch for output 0 with respect to input {k},\n"
                        f"numerical:{n}\nanalytical:{a}\n")
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def _fast_check(func, inputs, diff_inputs, eps, atol, rtol):
    """Compare ``u^T J v`` for random u, v (two extra forward passes per input)."""
    from . import grad as autograd_grad
    rng = np.random.default_rng(0)
    outputs = _differentiable_outputs(func, inputs)
    us = [rng.standard_normal(o._data.shape) for o in outputs]
    grads = autograd_grad(outputs, diff_inputs, [_new(u.astype(o._data.dtype)) for u, o in
                                                 zip(us, outputs)], allow_unused=True)
    u_flat = np.concatenate([u.reshape(-1) for u in us])
    for k, (t, g) in enumerate(zip(diff_inputs, grads)):
        v = rng.standard_normal(t._data.shape)
        analytical = 0.0 if g is None else float(np.sum(to_numpy(g._data) * v))
        original = t._data.copy()
        t._data[...] = original + eps * v
        plus = _flat_outputs(func, inputs)
        t._data[...] = original - eps * v
        minus = _flat_outputs(func, inputs)
        t._data[...] = original
        numerical = float(np.dot(u_flat, (plus - minus) / (2 * eps)))
        if abs(analytical - numerical) > atol + rtol * abs(numerical):
            raise GradcheckError(f"Jacobian mismatch for output 0 with respect to input {k} "
                                 f"(fast mode): numerical {numerical}, analytical {analytical}")


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False, masked=False):
    """Check second derivatives: ``gradcheck`` of the gradient of ``func`` (built with
    ``create_graph=True``) with respect to the inputs and the output gradients."""
    from . import grad as autograd_grad
    inputs = _as_tuple(inputs)
    outputs = _differentiable_outputs(func, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [_new(rng.standard_normal(o._data.shape).astype(o._data.dtype))
                        .requires_grad_() for o in outputs]
    grad_outputs = list(_as_tuple(grad_outputs))
    n_in = len(inputs)

    def first_derivative(*args):
        ins, gos = args[:n_in], args[n_in:]
        with grad_mode.enable_grad():  # the numerical pass calls this under no_grad
            outs = _differentiable_outputs(func, ins)
            diff = [t for t in ins if isinstance(t, Tensor) and t._requires_grad]
            grads = autograd_grad(outs, diff, list(gos), create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivative, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception, fast_mode=fast_mode)
