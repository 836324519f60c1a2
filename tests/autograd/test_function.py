"""Custom autograd.Function, gradcheck/gradgradcheck and anomaly detection."""
import numpy as np
import pytest

import disttorch
from disttorch import autograd
from disttorch.autograd import Function


class Cube(Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x * x * x * scale

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * 3 * x * x * ctx.scale, None


class SplitSign(Function):
    @staticmethod
    def forward(ctx, x):
        mask = x > 0
        ctx.mark_non_differentiable(mask)
        ctx.save_for_backward(mask)
        return x.abs(), mask

    @staticmethod
    def backward(ctx, grad, grad_mask):
        mask, = ctx.saved_tensors
        return grad * (mask.float() * 2 - 1)


class SetupStyle(Function):
    @staticmethod
    def forward(x, y):
        return x * y

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return grad * y if ctx.needs_input_grad[0] else None, grad * x if ctx.needs_input_grad[1] \
            else None


def test_custom_function_forward_backward():
    x = disttorch.tensor([1.0, -2.0], requires_grad=True)
    y = Cube.apply(x, 2.0)
    np.testing.assert_allclose(y.numpy(force=True), [2.0, -16.0])
    assert y.grad_fn.name() == "CubeBackward"
    y.backward(disttorch.ones(2))
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 24.0])


def test_non_differentiable_output_and_needs_input_grad():
    x = disttorch.tensor([1.0, -2.0], requires_grad=True)
    y, mask = SplitSign.apply(x)
    assert y.requires_grad and not mask.requires_grad
    y.backward(disttorch.ones(2))
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0])


def test_setup_context_style():
    x = disttorch.tensor([2.0], requires_grad=True)
    y = disttorch.tensor([5.0])
    out = SetupStyle.apply(x, y)
    out.backward(disttorch.ones(1))
    np.testing.assert_allclose(x.grad.numpy(), [5.0])


def test_custom_function_wrong_grad_count_and_shape():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad[:1] if False else disttorch.ones(5)

    x = disttorch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="returned an invalid gradient at index 0"):
        Bad.apply(x).backward(disttorch.ones(2))


def test_custom_function_double_backward():
    x = disttorch.tensor([1.5], dtype=disttorch.float64, requires_grad=True)
    y = Cube.apply(x, 1.0)
    (g,) = autograd.grad(y, x, disttorch.ones(1, dtype=disttorch.float64), create_graph=True)
    (h,) = autograd.grad(g, x, disttorch.ones(1, dtype=disttorch.float64))
    np.testing.assert_allclose(h.numpy(), [6 * 1.5])


def test_gradcheck_passes_and_detects_wrong_backward():
    x = disttorch.randn(4, dtype=disttorch.float64, requires_grad=True)
    assert autograd.gradcheck(lambda t: Cube.apply(t, 1.5), (x,))
    assert autograd.gradgradcheck(lambda t: (t * t).tanh(), (x,))

    class Wrong(Function):
        @staticmethod
        def forward(ctx, t):
            return t * t

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(autograd._gradcheck.GradcheckError, match="Jacobian mismatch"):
        autograd.gradcheck(Wrong.apply, (x,))
    assert autograd.gradcheck(Wrong.apply, (x,), raise_exception=False) is False
    with pytest.raises(autograd._gradcheck.GradcheckError):
        autograd.gradcheck(Wrong.apply, (x,), fast_mode=True)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradcheck_perturbs_inputs_through_their_strides(fast_mode):
    # a transposed input: a reshaped copy of it used to take the perturbation, so every
    # numerical derivative came out 0 and correct gradients failed
    x = disttorch.randn(4, 3, dtype=disttorch.float64).t().requires_grad_()
    assert not x.is_contiguous()
    assert autograd.gradcheck(lambda t: (t * t).sum(0) * t[0], (x,), fast_mode=fast_mode)
    assert autograd.gradcheck(lambda t: Cube.apply(t, 1.0), (x,), fast_mode=fast_mode)


def test_gradcheck_refuses_inputs_with_aliased_elements():
    x = disttorch.randn(4, 1, dtype=disttorch.float64).expand(4, 3).requires_grad_()
    with pytest.raises(RuntimeError, match="The 0th input has a dimension with stride 0"):
        autograd.gradcheck(lambda t: t * t, (x,))


def test_detect_anomaly_names_the_op():
    x = disttorch.tensor([0.0, 1.0], requires_grad=True)
    with autograd.detect_anomaly():
        y = x.sqrt() * 0   # sqrt's backward divides by 0: inf * 0 = nan
        with pytest.raises(RuntimeError, match="Function 'SqrtBackward0' returned nan values in its "
                                               "0th output"):
            y.backward(disttorch.ones(2))
