"""Every ``torch.*`` function and ``Tensor`` method that takes one tensor, run on the simulated
CUDA device against disttorch's own CPU result, over the input sweep's inputs (0-d, empty,
NaN/inf, float16, ints, bool, non-contiguous): results stay on the device and equal the CPU's.
The simulated device refuses numpy-only calls and host/device mixing, so a GPU path that would
fail under CuPy fails here too, for ops the op table does not list."""
import contextlib
import inspect
import warnings

import numpy as np
import pytest

import disttorch
from disttorch import _backend
from disttorch.cuda import _simulated
from tests.test_input_sweep import (F_INPUTS, INPUTS, PAIRS, SKIP_FUNCTIONS, SKIP_METHODS, _flat,
                                   _tensor, functional_names)

torch = pytest.importorskip("torch")  # (only for the list of names to sweep)

# random draws, factories whose tensor argument is a value (their result is on the default
# device, the CPU), and from_dlpack (the simulated device has no DLPack; tests/cuda/
# test_interop.py checks it on a GPU)
SKIP = {"dropout", "dropout_", "scalar_tensor", "from_dlpack", "feature_dropout", "alpha_dropout",
        "feature_alpha_dropout", "rrelu", "rrelu_", "resize_as_", "empty_strided",
        "bartlett_window", "blackman_window", "hamming_window", "hann_window", "kaiser_window"}
HOST_METHODS = {"numpy", "cpu", "cuda", "to", "pin_memory", "is_pinned", "tolist", "item"}

# "cuda:1": the second of two simulated devices while device 0 is current, where every op
# must run on its inputs' device (the simulated devices refuse arrays of another device, as
# CuPy does without peer access) and leave its results there. "gpu": the real GPU through
# CuPy, where the inputs' NaN, inf, empty and float16 cases meet CuPy's own kernels (skipped
# without one)
WHERE = ["cuda", "cuda:1", "gpu"]


def _simulate(where):
    if where == "gpu":
        if not (disttorch.cuda.is_available()
                and _backend.is_real_cupy(_backend.cupy_module())):
            pytest.skip("needs a GPU (the simulated-device cases run the same sweep)")
        return contextlib.nullcontext()
    return _simulated.simulate(device_count=2 if where == "cuda:1" else None)


# Left out on the real GPU only. Casting NaN or an infinity to an integer type is undefined in
# C++, and PyTorch's CPU and CUDA builds differ there too (x86 gives the most negative value or
# 0, a GPU saturates); the simulated device keeps the CPU's cast and is compared.
_CASTS = ("byte", "char", "short", "int", "long")
UNDEFINED_ON_GPU = {(name, "specials") for name in _CASTS}
# singular vectors are unique up to the sign of each pair (cuSOLVER and LAPACK choose
# differently, as in PyTorch): compared after aligning the signs
SIGN_FREE = {"svd"}


def _device(where):
    return "cuda" if where == "gpu" else where


def _calls(kind):
    if kind == "function":
        names = [n for n in dir(torch) if not n.startswith("_") and n not in SKIP_FUNCTIONS
                 and n not in SKIP and callable(getattr(torch, n))
                 and not inspect.isclass(getattr(torch, n)) and hasattr(disttorch, n)]
        return [(n, lambda t, n=n: getattr(disttorch, n)(t)) for n in names]
    names = [n for n in dir(torch.Tensor) if not n.startswith("_") and n not in SKIP_METHODS
             and n not in HOST_METHODS and n not in SKIP and callable(getattr(torch.Tensor, n))
             and hasattr(disttorch.Tensor, n)]
    return [(n, lambda t, n=n: getattr(t, n)()) for n in names]


def _host(t):
    array = t.cpu()
    return (array.float() if str(array.dtype).endswith("bfloat16") else array).numpy()


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("kind", ["function", "method"])
@pytest.mark.parametrize("key", list(INPUTS))
def test_device_results_equal_the_cpu(kind, key, where):
    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = []
        for name, call in _calls(kind):
            try:
                cases.append((name, call, call(_tensor(disttorch, key))))
            except Exception:
                continue  # not defined for this input on the CPU either
        failures = []
        with _simulate(where):
            for name, call, want in cases:
                if where == "gpu" and (name, key) in UNDEFINED_ON_GPU:
                    continue
                _check(failures, f"{name}({key})", lambda: _same(
                    call(_tensor(disttorch, key).to(_device(where))), want, f"{name}({key})",
                    where=_device(where), name=name))
                checked += 1
    assert not failures, "\n".join(failures)
    assert checked > 50


def _check(failures, label, run):
    """Run one comparison, noting a mismatch or an error instead of stopping at the first: a
    GPU run reports every op that differs from the CPU in one go."""
    try:
        run()
    except Exception as exc:   # (AssertionError included)
        text = str(exc).strip().splitlines()
        failures.append(f"{label}: {type(exc).__name__}: {' '.join(text[:6])[:400]}")


def _align_signs(got, want):
    """``svd``'s ``(U, S, V)`` with each singular pair's sign turned to agree with ``want``'s."""
    u, s, v = got
    flip = np.where(np.sum(_host(u) * _host(want[0]), axis=-2, keepdims=True) < 0, -1.0, 1.0)
    flip = disttorch.from_numpy(flip.astype(_host(u).dtype)).to(u.device)
    return u * flip, s, v * flip


def _same(got, want, label, rtol=1e-5, where="cuda", name=None):
    if name in SIGN_FREE and isinstance(got, tuple) and len(got) == 3:
        got = _align_signs(got, want)
    for a, b in zip(_flat(got), _flat(want)):
        if not isinstance(b, disttorch.Tensor):
            continue
        assert isinstance(a, disttorch.Tensor), label
        assert a.device.type == "cuda", f"{label} left the device"
        assert where == "cuda" or str(a.device) == where, f"{label} moved to {a.device}"
        assert tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype, label
        # half precision: a GPU accumulates in float32 in another order (two ulps)
        tolerance = max(rtol, 2e-3) if b.dtype in (disttorch.float16, disttorch.bfloat16) \
            else rtol
        np.testing.assert_allclose(_host(a), _host(b), rtol=tolerance, atol=1e-6, equal_nan=True,
                                   err_msg=label)


def _arg(value, device):
    if isinstance(value, np.ndarray):
        return disttorch.from_numpy(np.array(value, copy=True)).to(device)
    return value


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("key", list(PAIRS))
def test_two_argument_device_results_equal_the_cpu(key, where):
    a, b = PAIRS[key]
    names = [n for n in dir(torch) if not n.startswith("_") and n not in SKIP_FUNCTIONS
             and n not in SKIP and callable(getattr(torch, n))
             and not inspect.isclass(getattr(torch, n)) and hasattr(disttorch, n)]
    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = []
        for name in names:
            try:
                cases.append((name, getattr(disttorch, name)(_arg(a, "cpu"), _arg(b, "cpu"))))
            except Exception:
                continue
        failures = []
        with _simulate(where):
            for name, want in cases:
                # looked up at the call: a second device wraps the namespace's functions when it
                # first holds an array (disttorch._device_guard)
                _check(failures, f"{name}({key})", lambda: _same(
                    getattr(disttorch, name)(_arg(a, _device(where)), _arg(b, _device(where))),
                    want, f"{name}({key})", where=_device(where), name=name))
                checked += 1
    assert not failures, "\n".join(failures)
    assert checked > 20


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("key", list(F_INPUTS))
def test_functional_device_results_equal_the_cpu(key, where):
    x = F_INPUTS[key]
    functional = disttorch.nn.functional
    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = []
        for name in functional_names():
            for kwargs in ({}, {"dim": -1}):
                try:
                    want = getattr(functional, name)(disttorch.from_numpy(x.copy()), **kwargs)
                except Exception:
                    continue
                cases.append((name, kwargs, want))
                break
        failures = []
        with _simulate(where):
            for name, kwargs, want in cases:
                _check(failures, f"F.{name}({key})", lambda: _same(
                    getattr(functional, name)(
                        disttorch.from_numpy(x.copy()).to(_device(where)), **kwargs),
                    want, f"F.{name}({key})", rtol=1e-3, where=_device(where)))
                checked += 1
    assert not failures, "\n".join(failures)
    assert checked > 30
