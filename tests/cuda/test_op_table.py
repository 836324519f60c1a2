"""The op table on CUDA: every op's values and gradients on the device equal those on the CPU.

The CPU results are themselves checked against torch by ``tests/ops``; here each sample runs
twice, on the CPU and on the device, and outputs and gradients must agree, stay on the device
and keep their dtype. Besides the GPU and the simulated device, ``cuda-emu`` runs the table with
the fused kernels (pooling, GELU, layer norm, cross-entropy, attention softmax, special
functions) computed by the CPU emulator.
"""
import numpy as np
import pytest

import disttorch
from tests.ops import harness
from tests.ops import (test_arithmetic, test_indexing, test_linalg, test_misc_ops, test_pointwise,
                       test_reduction, test_shape, test_sorting, test_special)
from tests.linalg import test_extras
from tests.nn import (test_attention, test_conv, test_linear_activation, test_loss,
                      test_misc_functional, test_norm, test_pool, test_upsample)

from .conftest import WITH_SECOND_DEVICE, on_device


@pytest.fixture(params=WITH_SECOND_DEVICE)
def device(request):
    yield from on_device(request.param)

# entries whose lambda builds a CPU tensor of its own (a device mismatch on CUDA, as in torch)
_HOST_BUILT = {"cat_legacy_empty", "logdet", "triangular_solve", "triangular_solve_method",
               "fractional_max_pool2d"}

TABLE = [op for table in (
    test_arithmetic.OPS, test_indexing.OPS, test_linalg.OPS, test_misc_ops.OPS,
    test_pointwise.OPS, test_reduction.OPS, test_shape.OPS, test_sorting.OPS, test_special.OPS,
    test_extras.OPS, test_attention.SDPA_OPS, test_conv.OPS, test_linear_activation.ACTIVATIONS,
    test_loss.LOSSES, test_misc_functional.MISC, test_norm.OPS, test_pool.OPS, test_upsample.OPS)
    for op in table if op.name not in _HOST_BUILT]


def _place(value, device, requires_grad):
    if isinstance(value, np.ndarray):
        t = disttorch.from_numpy(value.copy())
        if device != "cpu":
            t = t.to(device)
        if requires_grad:
            t.requires_grad_(True)
        return t
    if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
        return [_place(v, device, requires_grad) for v in value]
    return value


def _run(op, sample, args, device):
    flags = harness._grad_flags(sample)
    inputs = [_place(a, device, op.grad and f) for a, f in zip(args, flags)]
    outputs = harness._outputs(op.fn(disttorch, *inputs, **sample.kwargs))
    graded = [o for o in outputs if isinstance(o, disttorch.Tensor) and o.requires_grad]
    if graded:
        rng = np.random.default_rng(1)
        weights = [rng.standard_normal(tuple(o.shape)).astype(_host(o).dtype) for o in graded]
        disttorch.autograd.backward(graded, [_place(w, device, False) for w in weights])
    return outputs, harness._flat_inputs(inputs)


def _host(t):
    return t.detach().cpu().numpy()


def check_device_parity(op, sample, dtype, device):
    args = [harness._cast(a, dtype) for a in sample.args] if dtype else list(sample.args)
    cpu_out, cpu_in = _run(op, sample, args, "cpu")
    dev_out, dev_in = _run(op, sample, args, device)
    for k, (c, d) in enumerate(zip(cpu_out, dev_out)):
        if not isinstance(c, disttorch.Tensor):
            assert d == c, f"{op.name} output {k}: {d!r} != {c!r}"
            continue
        assert d.is_cuda, f"{op.name} output {k} left the device: {d.device}"
        assert d.dtype == c.dtype, f"{op.name} output {k}: dtype {d.dtype} on {device}, {c.dtype} on cpu"
        np.testing.assert_allclose(_host(d), _host(c), rtol=op.rtol, atol=op.atol, equal_nan=True,
                                   err_msg=f"{op.name} output {k} ({dtype}) on {device}")
    for i, (c, d) in enumerate(zip(cpu_in, dev_in)):
        if not isinstance(c, disttorch.Tensor) or c.grad is None:
            continue
        assert d.grad is not None, f"{op.name}: no gradient for input {i} on {device}"
        assert d.grad.is_cuda, f"{op.name}: gradient of input {i} is on {d.grad.device}"
        np.testing.assert_allclose(_host(d.grad), _host(c.grad), rtol=op.grad_rtol,
                                   atol=op.grad_atol, equal_nan=True,
                                   err_msg=f"{op.name}: gradient of input {i} ({dtype}) on {device}")


@pytest.mark.parametrize("op", TABLE, ids=lambda o: o.name)
def test_op_matches_cpu(op, device):
    rng = np.random.default_rng(0)
    # an empty dtypes tuple: the sample's own dtypes
    dtype = "float32" if "float32" in op.dtypes else (op.dtypes[0] if op.dtypes else None)
    for sample in op.samples(rng):
        check_device_parity(op, sample, dtype, device)


def _other_dtype(op, kind):
    """float64, or the first integer dtype, where the op's table lists one besides float32."""
    if kind == "float64":
        return "float64" if "float64" in op.dtypes and "float32" in op.dtypes else None
    return next((d for d in op.dtypes if d.startswith(("int", "uint"))), None)


OTHER_DTYPES = [pytest.param(op, kind, id=f"{op.name}-{kind}") for kind in ("float64", "int")
                for op in TABLE if _other_dtype(op, kind)]


@pytest.mark.parametrize("op,kind", OTHER_DTYPES)
def test_op_matches_cpu_in_other_dtypes(op, kind, device):
    """The same parity in float64 (CuPy's double kernels) and in an integer dtype."""
    rng = np.random.default_rng(0)
    for sample in op.samples(rng):
        check_device_parity(op, sample, _other_dtype(op, kind), device)
