"""Version counters and the errors autograd raises for unsafe in-place ops."""
import numpy as np
import pytest

import disttorch
from tests.ops.harness import requires_torch, torch


def test_version_counter_bumps_on_inplace():
    x = disttorch.zeros(3)
    assert x._version == 0
    x.add_(1)
    x.mul_(2)
    x.zero_()
    assert x._version == 3


def test_modified_saved_tensor_raises():
    a = disttorch.ones(3, requires_grad=True)
    h = a * 2
    y = h.exp()          # saves its output
    y.add_(1)            # modifies what ExpBackward saved
    with pytest.raises(RuntimeError, match="one of the variables needed for gradient computation "
                                           "has been modified by an inplace operation"):
        y.backward(disttorch.ones(3))


def test_modified_input_raises():
    a = disttorch.ones(3, requires_grad=True)
    h = a * 1
    y = h * h           # saves h
    h.mul_(2)
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0 instead"):
        y.backward(disttorch.ones(3))


def test_inplace_not_needed_by_backward_is_fine():
    a = disttorch.ones(3, requires_grad=True)
    h = a * 1
    y = h + 1           # add saves nothing
    h.mul_(2)
    y.backward(disttorch.ones(3))
    np.testing.assert_allclose(a.grad.numpy(), [1.0, 1.0, 1.0])


@requires_torch
def test_inplace_on_intermediate_matches_torch():
    def run(lib):
        a = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        h = a * 3
        h.mul_(a)
        h.add_(a.exp())
        h.tanh_()
        h.backward(lib.ones(3))
        return a.grad.numpy()
    np.testing.assert_allclose(run(disttorch), run(torch), rtol=1e-5)


def test_inplace_on_leaf_requiring_grad():
    w = disttorch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an "
                                           "in-place operation."):
        w.mul_(2)


def test_zero_and_fill_on_intermediate_cut_gradient():
    a = disttorch.ones(2, requires_grad=True)
    h = a * 3
    h.zero_()
    (h + a).backward(disttorch.ones(2))
    np.testing.assert_allclose(a.grad.numpy(), [1.0, 1.0])
    b = disttorch.ones(2, requires_grad=True)
    k = b * 3
    k.fill_(7.0)
    (k * b).backward(disttorch.ones(2))
    np.testing.assert_allclose(b.grad.numpy(), [7.0, 7.0])
