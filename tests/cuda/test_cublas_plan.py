"""The direct cuBLAS matmul's plan, checked on the CPU against an emulation of what cuBLAS does
with it (column-major operands at the given leading dims and batch strides)."""
import numpy as np
import pytest

from disttorch.cuda._cublas import plan_gemm


def _offset(view, base):
    return (view.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // \
        base.itemsize


def _operand(buf, start, trans, ld, rows, cols):
    """``op(X)`` of a column-major operand stored at ``start`` (``rows x cols`` after op)."""
    r = np.arange(rows)[:, None]
    c = np.arange(cols)[None, :]
    return buf[start + (r + c * ld if trans == 0 else c + r * ld)]


def emulate(plan, a, a_base, b, b_base):
    """Run ``plan`` the way cuBLAS would, on the flat buffers behind ``a`` and ``b``."""
    p = plan
    a_buf, b_buf = a_base.reshape(-1), b_base.reshape(-1)
    a0, b0 = _offset(a, a_base), _offset(b, b_base)
    out = np.zeros(p.count * p.m * p.n)
    for i in range(p.count):
        first = _operand(b_buf, b0 + i * p.stride_b, p.trans_b, p.ld_b, p.m, p.k)
        second = _operand(a_buf, a0 + i * p.stride_a, p.trans_a, p.ld_a, p.k, p.n)
        result = first @ second                      # (m, n) column-major
        rows, cols = np.meshgrid(np.arange(p.m), np.arange(p.n), indexing="ij")
        out[i * p.stride_c + rows + cols * p.ld_c] = result
    return out.reshape(p.out_shape)


def _strides(x):
    return tuple(s // x.itemsize for s in x.strides)


def _base(*shape):
    return np.random.default_rng(sum(shape)).standard_normal(shape)


CASES = {
    "contiguous": lambda: ((A := _base(5, 7)), A, (B := _base(7, 3)), B),
    "both_transposed": lambda: ((A := _base(7, 5)).T, A, (B := _base(3, 7)).T, B),
    "row_slices": lambda: ((A := _base(5, 10))[:, :7], A, (B := _base(7, 6))[:, 1:4], B),
    "batched": lambda: ((A := _base(4, 5, 7)), A, (B := _base(4, 7, 3)), B),
    "broadcast_matrix": lambda: ((A := _base(4, 5, 7)), A, (B := _base(7, 3)), B),
    "broadcast_batch": lambda: ((A := _base(1, 5, 7)), A, (B := _base(4, 7, 3)), B),
    "four_d": lambda: ((A := _base(2, 3, 5, 7)), A, (B := _base(2, 3, 7, 3)), B),
    "attention_keys": lambda: ((A := _base(2, 3, 6, 7)), A,
                               (B := _base(2, 3, 6, 7)).swapaxes(-1, -2), B),
    "attention_grad": lambda: ((A := _base(2, 3, 6, 5)).swapaxes(-1, -2), A,
                               (B := _base(2, 3, 6, 4)), B),
    "single_row": lambda: ((A := _base(1, 7)), A, (B := _base(7, 3)), B),
    "single_column": lambda: ((A := _base(5, 7)), A, (B := _base(7, 1)), B),
    "column_of_transposed": lambda: ((A := _base(5, 7)), A, (B := _base(1, 7)).T, B),
    "interleaved_batch": lambda: ((A := _base(4, 5, 7)).transpose(1, 0, 2), A,
                                  (B := _base(5, 7, 3)), B),
    "sliced_batch": lambda: ((A := _base(4, 6, 7))[:, :5], A, (B := _base(4, 7, 3)), B),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_plan_computes_matmul(case):
    a, a_base, b, b_base = CASES[case]()
    plan = plan_gemm(a.shape, _strides(a), b.shape, _strides(b))
    assert plan is not None, case
    np.testing.assert_allclose(emulate(plan, a, a_base, b, b_base), a @ b, rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("a,b", [
    (_base(5, 14)[:, ::2], _base(7, 3)),                       # strided columns
    (_base(3, 1, 5, 7), _base(1, 4, 7, 3)),                    # batch needs two strides
    (_base(4, 5, 7)[::-1], _base(4, 7, 3)),                    # negative batch stride
    (_base(7), _base(7, 3)),                                   # 1-D operand
    (_base(5, 0), _base(0, 3)),                                # empty
    (_base(5, 7), _base(6, 3)),                                # sizes disagree
], ids=["strided_columns", "two_batch_strides", "negative_stride", "vector", "empty",
        "mismatch"])
def test_uncovered_layouts_fall_back(a, b):
    assert plan_gemm(a.shape, _strides(a), b.shape, _strides(b)) is None
