"""The op-table harness: one table entry drives a torch comparison and a finite-difference check.

An ``OpInfo`` names an op, a function ``fn(lib, *tensors)`` written once for both libraries
(``lib`` is ``torch`` or ``disttorch``, so the API must agree), and sample inputs. For each
sample and dtype:

* ``check_against_torch``: same numpy data into both libraries; compare output shape, dtype,
  values, then the gradients of ``sum(out * w)`` for a random ``w`` w.r.t. each float input;
  inputs must be unchanged by the forward pass; non-contiguous variants of the inputs too.
* ``check_gradient``: float64 central differences along a random direction (two forward passes
  per check, whatever the size) against the analytic directional derivative.
"""
import dataclasses
from typing import Callable, Optional, Sequence

import numpy as np
import pytest

import disttorch

try:
    import torch
except ImportError:  # the oracle is optional: finite differences still run
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="torch (the test oracle) is not installed")
requires_bf16 = pytest.mark.skipif(disttorch.bfloat16 is None,
                                   reason="bfloat16 needs the ml_dtypes package (pip install ml_dtypes)")


@dataclasses.dataclass
class Sample:
    """Numpy arrays (or Python values) for one call; ``grad`` marks which may require grad."""

    args: Sequence
    grad: Optional[Sequence[bool]] = None
    kwargs: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class OpInfo:
    name: str
    fn: Callable
    samples: Callable  # rng -> list[Sample]
    dtypes: Sequence[str] = ("float32", "float64")
    grad: bool = True
    gradcheck: bool = True
    atol: float = 1e-5
    rtol: float = 1e-4
    grad_atol: float = 1e-4
    grad_rtol: float = 1e-3
    noncontig: bool = True
    compare_dtype: bool = True
    fd_eps: float = 1e-6
    fd_atol: float = 1e-5
    fd_rtol: float = 1e-4

    def __repr__(self):
        return self.name


def _cast(value, dtype):
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(dtype)
    return value


def _noncontig(array):
    # the same values in a transposed-then-transposed-back (non C-contiguous) layout
    if not isinstance(array, np.ndarray) or array.ndim < 1:
        return array
    big = np.empty(array.shape + (2,), array.dtype)
    big[..., 0] = array
    return big[..., 0]


def _to_lib(lib, value, requires_grad):
    if isinstance(value, np.ndarray):
        # a fresh copy with the same layout: non-contiguous samples stay non-contiguous
        value = value.copy() if value.flags.c_contiguous else _noncontig(value)
        if lib is torch:
            t = torch.from_numpy(value)
        else:
            t = disttorch.from_numpy(value)
        if requires_grad:
            t.requires_grad_(True)
        return t
    if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
        return [_to_lib(lib, v, requires_grad) for v in value]
    return value


def _outputs(out):
    if isinstance(out, (tuple, list)):
        return list(out)
    return [out]


def _np(t):
    if torch is not None and isinstance(t, torch.Tensor):
        return t.detach().numpy()
    if isinstance(t, disttorch.Tensor):
        return t.detach().numpy()
    return np.asarray(t)


def _dtype_name(t):
    return str(t.dtype).split(".")[-1]


def _grad_flags(sample):
    flags = sample.grad
    if flags is None:
        flags = [isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in sample.args]
    return flags


def _flat_inputs(tensors):
    out = []
    for t in tensors:
        if isinstance(t, list):
            out.extend(t)
        else:
            out.append(t)
    return out


def check_against_torch(op, sample, dtype, noncontig=False):
    args = [_cast(a, dtype) for a in sample.args]
    if noncontig:
        args = [_noncontig(a) for a in args]
    flags = _grad_flags(sample)
    originals = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    want_grad = op.grad
    t_in = [_to_lib(torch, a, want_grad and f) for a, f in zip(args, flags)]
    d_in = [_to_lib(disttorch, a, want_grad and f) for a, f in zip(args, flags)]
    expected = _outputs(op.fn(torch, *t_in, **sample.kwargs))
    actual = _outputs(op.fn(disttorch, *d_in, **sample.kwargs))
    for a, o in zip(args, originals):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, o, err_msg=f"{op.name}: forward modified its input")
    assert len(actual) == len(expected), f"{op.name}: {len(actual)} outputs, torch gives {len(expected)}"
    for k, (e, a) in enumerate(zip(expected, actual)):
        if not isinstance(e, torch.Tensor):
            assert a == e, f"{op.name} output {k}: {a!r} != {e!r}"
            continue
        assert isinstance(a, disttorch.Tensor), f"{op.name} output {k} is {type(a).__name__}"
        assert tuple(a.shape) == tuple(e.shape), f"{op.name} output {k}: shape {tuple(a.shape)} != " \
                                                 f"{tuple(e.shape)}"
        if op.compare_dtype:
            assert _dtype_name(a) == _dtype_name(e), f"{op.name} output {k}: dtype {a.dtype} != {e.dtype}"
        np.testing.assert_allclose(_np(a).astype(np.float64) if _np(a).dtype.kind != "b" else _np(a),
                                   _np(e).astype(np.float64) if _np(e).dtype.kind != "b" else _np(e),
                                   rtol=op.rtol, atol=op.atol, equal_nan=True,
                                   err_msg=f"{op.name} output {k} ({dtype})")
    if not want_grad:
        return
    rng = np.random.default_rng(1)
    t_outs = [e for e in expected if isinstance(e, torch.Tensor) and e.requires_grad]
    d_outs = [a for a, e in zip(actual, expected) if isinstance(e, torch.Tensor) and e.requires_grad]
    if not t_outs:
        return
    weights = [rng.standard_normal(e.shape).astype(_np(e).dtype) for e in t_outs]
    torch.autograd.backward(t_outs, [torch.from_numpy(w) for w in weights])
    disttorch.autograd.backward(d_outs, [disttorch.from_numpy(w.copy()) for w in weights])
    for i, (tt, dt) in enumerate(zip(_flat_inputs(t_in), _flat_inputs(d_in))):
        if not (torch is not None and isinstance(tt, torch.Tensor) and tt.requires_grad):
            continue
        if tt.grad is None:
            assert dt.grad is None or np.all(_np(dt.grad) == 0), f"{op.name}: grad for input {i}"
            continue
        assert dt.grad is not None, f"{op.name}: no gradient for input {i}"
        assert tuple(dt.grad.shape) == tuple(tt.grad.shape), f"{op.name}: grad shape of input {i}"
        assert _dtype_name(dt.grad) == _dtype_name(tt.grad), f"{op.name}: grad dtype of input {i}"
        np.testing.assert_allclose(_np(dt.grad), _np(tt.grad), rtol=op.grad_rtol,
                                   atol=op.grad_atol, equal_nan=True,
                                   err_msg=f"{op.name}: gradient of input {i} ({dtype})")


def check_gradient(op, sample):
    """Central differences in float64 along one random direction per input."""
    args = [_cast(a, np.float64) for a in sample.args]
    flags = _grad_flags(sample)
    rng = np.random.default_rng(2)
    inputs = [_to_lib(disttorch, a, f) for a, f in zip(args, flags)]
    outs = [o for o in _outputs(op.fn(disttorch, *inputs, **sample.kwargs))
            if isinstance(o, disttorch.Tensor) and o.requires_grad]
    if not outs:
        return
    weights = [rng.standard_normal(tuple(o.shape)) for o in outs]
    disttorch.autograd.backward(outs, [disttorch.from_numpy(w.copy()) for w in weights])
    leaves = _flat_inputs(inputs)
    raw = []
    for a in args:
        raw.extend(a if isinstance(a, list) else [a])
    diff_idx = [i for i, t in enumerate(leaves) if isinstance(t, disttorch.Tensor) and t.requires_grad]
    directions = {i: rng.standard_normal(raw[i].shape) for i in diff_idx}
    analytic = 0.0
    for i in diff_idx:
        g = leaves[i].grad
        analytic += 0.0 if g is None else float(np.sum(_np(g) * directions[i]))

    def value(sign):
        shifted = list(raw)
        for i in diff_idx:
            shifted[i] = raw[i] + sign * op.fd_eps * directions[i]
        rebuilt, pos = [], 0
        for a in args:
            if isinstance(a, list):
                rebuilt.append([disttorch.from_numpy(np.array(s)) for s in shifted[pos:pos + len(a)]])
                pos += len(a)
            elif isinstance(a, np.ndarray):
                rebuilt.append(disttorch.from_numpy(np.array(shifted[pos])))
                pos += 1
            else:
                rebuilt.append(a)
                pos += 1
        with disttorch.no_grad():
            o = [x for x in _outputs(op.fn(disttorch, *rebuilt, **sample.kwargs))
                 if isinstance(x, disttorch.Tensor) and x.is_floating_point()]
        return sum(float(np.sum(_np(x) * w)) for x, w in zip(o, weights))

    numeric = (value(1) - value(-1)) / (2 * op.fd_eps)
    assert abs(numeric - analytic) <= op.fd_atol + op.fd_rtol * abs(numeric), (
        f"{op.name}: finite differences {numeric!r} vs backward {analytic!r} "
        f"(eps={op.fd_eps}, atol={op.fd_atol}, rtol={op.fd_rtol}); inputs: "
        f"{[np.shape(a) for a in args]}")


def op_tests(ops):
    """Generate the standard test functions for a table of ops (use in a test module's globals)."""

    @requires_torch
    @pytest.mark.parametrize("dtype", ["float32", "float64"])
    @pytest.mark.parametrize("op", ops, ids=lambda o: o.name)
    def test_matches_torch(op, dtype):
        if dtype not in op.dtypes:
            pytest.skip(f"{op.name} is not defined for {dtype}")
        rng = np.random.default_rng(0)
        for sample in op.samples(rng):
            check_against_torch(op, sample, dtype)
            if op.noncontig:
                check_against_torch(op, sample, dtype, noncontig=True)

    grad_ops = [o for o in ops if o.grad and o.gradcheck]

    @pytest.mark.parametrize("op", grad_ops, ids=lambda o: o.name)
    def test_finite_differences(op):
        rng = np.random.default_rng(0)
        for sample in op.samples(rng):
            check_gradient(op, sample)

    return test_matches_torch, test_finite_differences


def S(*args, grad=None, **kwargs):
    return Sample(args=args, grad=grad, kwargs=kwargs)


def randn(rng, *shape):
    return np.asarray(rng.standard_normal(shape))


def positive(rng, *shape, low=0.5, high=2.0):
    return np.asarray(rng.uniform(low, high, shape))


# ------------------------------------------------------------------ dtype sweeps
SWEEP_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
                "float32", "float64"]
SWEEP_ERRORS = (RuntimeError, TypeError, NotImplementedError)


def dtype_tensor(lib, dtype, values):
    """``values`` as a ``lib`` tensor of the dtype named ``dtype`` ("bool": their truth)."""
    if dtype == "bool":
        return lib.tensor(values) != 0
    return lib.tensor(values, dtype=getattr(lib, dtype))


def summary(lib, t, *extra):
    """``(dtype name, values as float64, *extra)`` of the ``lib`` tensor ``t``, for
    :func:`record_mismatch`."""
    values = t.tolist() if t.dtype == lib.bool else t.float().tolist()
    return (str(t.dtype).split(".")[-1], np.asarray(values, dtype=float)) + extra


def record_mismatch(failures, label, expected, actual, rtol=1e-2):
    """Append to ``failures`` when two outcomes differ: exception names must be equal; summaries
    must agree in dtype and extras, and in values to ``rtol`` (NaN equal to NaN)."""
    if isinstance(expected, str) or isinstance(actual, str):
        same = expected == actual
    else:
        same = (expected[0] == actual[0] and expected[2:] == actual[2:]
                and np.allclose(actual[1], expected[1], rtol=rtol, equal_nan=True))
    if not same:
        failures.append(f"{label}: {actual}, torch {expected}")


def assert_same_outcomes(cases, rtol=1e-2, show=20):
    """For each ``(label, outcome_of)`` case compare ``outcome_of(torch)`` with
    ``outcome_of(disttorch)`` (see :func:`record_mismatch`); one assertion lists the first
    ``show`` cases that differ."""
    failures = []
    for label, outcome_of in cases:
        record_mismatch(failures, label, outcome_of(torch), outcome_of(disttorch), rtol)
    assert not failures, "\n".join(failures[:show])


def outcome(lib, produce, errors=SWEEP_ERRORS, shape=False):
    """:func:`summary` of the tensor ``produce()`` returns (and its shape, with ``shape``), or the
    name of the exception (of ``errors``) it raised."""
    try:
        t = produce()
    except errors as exc:
        return type(exc).__name__
    return summary(lib, t, tuple(t.shape)) if shape else summary(lib, t)
