"""The mistakes of a user's first hour raise PyTorch's error, naming what was wrong and what
was expected (torch is the oracle)."""
import warnings

import pytest

import disttorch

torch = pytest.importorskip("torch", reason="torch is the oracle: pip install torch==2.13.0")

CASES = {
    "linear fed the wrong number of features": lambda lib: lib.nn.Linear(10, 5)(lib.randn(4, 12)),
    "conv fed the wrong number of channels": lambda lib: lib.nn.Conv2d(1, 8, 3)(lib.randn(4, 3, 8, 8)),
    "conv fed an image without batch and channel": lambda lib: lib.nn.Conv2d(1, 4, 3)(lib.randn(8, 8)),
    "lstm fed the wrong feature size": lambda lib: lib.nn.LSTM(4, 8)(lib.randn(5, 3, 6)),
    "float64 data into a float32 layer": lambda lib: lib.nn.Linear(3, 2)(lib.randn(4, 3, dtype=lib.float64)),
    "integer data into a layer": lambda lib: lib.nn.Linear(3, 2)(lib.tensor([[1, 2, 3]])),
    "float labels for cross-entropy": lambda lib: lib.nn.functional.cross_entropy(
        lib.randn(4, 3), lib.tensor([0., 1., 2., 1.])),
    "labels and logits of different batch sizes": lambda lib: lib.nn.functional.cross_entropy(
        lib.randn(4, 3), lib.tensor([0, 1, 1])),
    "integer targets for BCE": lambda lib: lib.nn.functional.binary_cross_entropy_with_logits(
        lib.randn(4), lib.tensor([0, 1, 1, 0])),
    "BCE target of another shape": lambda lib: lib.nn.functional.binary_cross_entropy_with_logits(
        lib.randn(4, 1), lib.tensor([0., 1., 1., 0.])),
    "MSE target that does not broadcast": lambda lib: lib.nn.functional.mse_loss(
        lib.randn(4, 3), lib.randn(4)),
    "float indices into an embedding": lambda lib: lib.nn.Embedding(10, 3)(lib.tensor([1., 2.])),
}


def _error(lib, fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn(lib)
        except Exception as exc:  # the point is to compare whatever each raises
            return type(exc), str(exc).replace("disttorch", "torch")
    return None


@pytest.mark.parametrize("case", CASES)
def test_same_error_as_torch(case):
    expected = _error(torch, CASES[case])
    assert expected is not None
    assert _error(disttorch, CASES[case]) == expected


def test_cuda_tensor_without_a_gpu_says_how_to_get_one():
    if disttorch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        disttorch.nn.Linear(3, 2)(disttorch.randn(2, 3, device="cuda"))
