"""``torch.func.rearrange``, ``functionalize``, ``debug_unwrap`` and
``replace_all_batch_norm_modules_`` against torch."""
import numpy as np
import pytest

import disttorch
from tests.ops.harness import requires_torch, torch

X = np.random.default_rng(0).standard_normal((2, 6, 4))
PATTERNS = [("a b c -> a b c", {}), ("a b c -> c a b", {}), ("a b c -> (a b c)", {}),
            ("a b c -> a (c b)", {}), ("a (b1 b2) c -> a b1 b2 c", {"b1": 2}),
            ("a (b1 b2) c -> (a b2) b1 c", {"b1": 3}), ("a (b1 b2) c -> a b1 b2 c",
                                                         {"b1": 2, "b2": 3}),
            ("... c -> c ...", {}), ("a ... -> (...) a", {}), ("... -> ...", {}),
            ("a ... c -> c (a ...)", {}), ("a b c -> c () b a", {}),
            ("a b c -> a b c 1", {}), ("a ... -> a ... 1", {})]


@requires_torch
@pytest.mark.parametrize("pattern, lengths", PATTERNS, ids=[p for p, _ in PATTERNS])
def test_rearrange_matches_torch(pattern, lengths):
    ours = disttorch.tensor(X, requires_grad=True)
    theirs = torch.tensor(X, requires_grad=True)
    a = disttorch.func.rearrange(ours, pattern, **lengths)
    b = torch.func.rearrange(theirs, pattern, **lengths)
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    weights = np.arange(a.numel(), dtype=np.float64).reshape(tuple(a.shape))
    (a * disttorch.tensor(weights)).sum().backward()
    (b * torch.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


@requires_torch
def test_rearrange_stacks_sequences_and_reports_errors_like_torch():
    parts = [np.arange(3.0), np.arange(3.0) + 10]
    a = disttorch.func.rearrange([disttorch.tensor(p) for p in parts], "n c -> c n")
    b = torch.func.rearrange([torch.tensor(p) for p in parts], "n c -> c n")
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    for pattern, lengths, message in [
            ("a b c -> a c", {}, r"Identifiers only on one side of rearrange expression \(should "
                                 r"be on both\): \{'b'\}"),
            ("a b -> a b", {}, r"Number of dimensions in pattern \(2\) must be equal to the "
                               r"number of dimensions in the tensor \(3\)"),
            ("a b a -> a b", {}, "Indexing expression contains duplicate dimension 'a'"),
            ("a b c", {}, "Pattern must contain a single '->' separator"),
            ("a b c -> a b c", {"d": 3}, r"Identifiers not found in rearrange expression: "
                                         r"\{'d'\}")]:
        for lib in (disttorch, torch):
            with pytest.raises(ValueError, match=message):
                lib.func.rearrange(lib.tensor(X), pattern, **lengths)
    # the sizes of a split must be inferable and fit (torch raises its own error class here)
    with pytest.raises(ValueError, match="only one unknown axis"):
        disttorch.func.rearrange(disttorch.tensor(X), "a (b1 b2) c -> a b1 b2 c")
    with pytest.raises(ValueError, match="can't divide axis of length 6 in chunks of 4"):
        disttorch.func.rearrange(disttorch.tensor(X), "a (b1 b2) c -> a b1 b2 c", b1=4)


@requires_torch
def test_functionalize_debug_unwrap_and_batch_norm_replacement():
    def mutate(x, y):
        y.add_(x)
        return (x * 2).sin_()
    results = []
    for lib in (disttorch, torch):
        x, y = lib.tensor([0.5, 1.0]), lib.tensor([1.0, 2.0])
        out = lib.func.functionalize(mutate)(x, y)
        results.append((out.numpy(), y.numpy()))
        assert lib.func.debug_unwrap(x) is x
        with pytest.raises(RuntimeError, match="received invalid argument for remove=bogus"):
            lib.func.functionalize(mutate, remove="bogus")
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)

    outs = []
    for lib in (disttorch, torch):
        model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4))
        assert lib.func.replace_all_batch_norm_modules_(model) is model
        bn = model[1]
        assert bn.running_mean is None and bn.running_var is None
        assert bn.track_running_stats is False
        with lib.no_grad():
            model[0].weight.copy_(lib.tensor(np.linspace(-1, 1, 12).reshape(4, 3)))
        model.eval()
        outs.append(model(lib.tensor(X[0, :5, :3], dtype=lib.float32)).detach().numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-6)
