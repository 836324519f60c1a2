"""Tensor printing against torch: notation (fixed, integer, scientific), column widths with
inf/nan/zeros, line filling at each nesting depth, summarization, and where the suffixes
(``requires_grad=True``...) wrap. Names differ (``disttorch.float64``), so cases whose suffix
names a dtype compare the layout with the names made equal."""
import numpy as np
import pytest

import disttorch
from tests.ops.harness import requires_torch, torch

INF, NAN = float("inf"), float("nan")


def _case(rng):
    shape = tuple(int(s) for s in rng.integers(1, 7, size=rng.integers(0, 4)))
    x = rng.standard_normal(shape) * 10.0 ** int(rng.integers(-6, 9))
    if x.ndim:
        x[rng.random(x.shape) < 0.2] = rng.choice([INF, -INF, NAN, 0.0])
    if rng.random() < 0.3:
        x = np.round(x)
    return x


@requires_torch
def test_random_tensors_print_like_torch():
    rng = np.random.default_rng(1)
    for _ in range(400):
        x = _case(rng)
        kind = rng.choice(["f", "i", "b"])
        requires_grad = bool(rng.random() < 0.5) and kind == "f"
        if kind == "f":
            pair = [lib.tensor(x, dtype=lib.float32, requires_grad=requires_grad)
                    for lib in (disttorch, torch)]
        elif kind == "i":
            xi = np.nan_to_num(x, nan=0, posinf=7, neginf=-7).astype(np.int64)
            pair = [lib.tensor(xi) for lib in (disttorch, torch)]
        else:
            pair = [lib.tensor(x > 0) for lib in (disttorch, torch)]
        assert str(pair[0]) == str(pair[1])


@requires_torch
@pytest.mark.parametrize("values", [[INF, -INF], [NAN, 1.0], [-INF, 1.0, 2.0], [0.0, 100.0],
                                    [10.0, 19500.0, NAN], [1.5, INF], [1e-5, 1e5, INF]])
def test_nonfinite_and_zero_values_do_not_widen_columns(values):
    assert str(disttorch.tensor(values)) == str(torch.tensor(values))


@requires_torch
@pytest.mark.parametrize("shape", [(2000,), (40, 50), (3, 400), (11, 11, 11), (2, 3, 200)])
def test_summarized_tensors_print_like_torch(shape):
    x = np.random.default_rng(0).standard_normal(shape)
    for values in (x, np.round(x * 100)):
        assert str(disttorch.tensor(values, dtype=disttorch.float32)) == \
            str(torch.tensor(values, dtype=torch.float32))
    assert str(disttorch.tensor((x * 100).astype(np.int64))) == \
        str(torch.tensor((x * 100).astype(np.int64)))


def test_suffixes_wrap_at_the_line_width():
    # the dtype name is disttorch's own, so the layout is checked against the rule itself
    row = disttorch.full((4, 5), -0.0706, dtype=disttorch.float64, requires_grad=True)
    lines = str(row).split("\n")
    assert lines[-1] == "       dtype=disttorch.float64, requires_grad=True)"
    assert all(len(line) <= 80 for line in lines)
    assert str(disttorch.tensor([1.0, 2.0], dtype=disttorch.float64, requires_grad=True)) == \
        "tensor([1., 2.], dtype=disttorch.float64, requires_grad=True)"
