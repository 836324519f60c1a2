"""Every ``torch.*`` function and ``Tensor`` method that takes one tensor, run on the simulated
CUDA device against disttorch's own CPU result, over the input sweep's inputs (0-d, empty,
NaN/inf, float16, ints, bool, non-contiguous): results stay on the device and equal the CPU's.
The simulated device refuses numpy-only calls and host/device mixing, so a GPU path that would
fail under CuPy fails here too, for ops the op table does not list."""
import inspect
import warnings

import numpy as np
import pytest

import disttorch
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
# CuPy does without peer access) and leave its results there
WHERE = ["cuda", "cuda:1"]


def _simulate(where):
    return _simulated.simulate(device_count=2 if where == "cuda:1" else None)


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
        with _simulate(where):
            for name, call, want in cases:
                _same(call(_tensor(disttorch, key).to(where)), want, f"{name}({key})",
                      where=where)
                checked += 1
    assert checked > 50


def _same(got, want, label, rtol=1e-5, where="cuda"):
    for a, b in zip(_flat(got), _flat(want)):
        if not isinstance(b, disttorch.Tensor):
            continue
        assert isinstance(a, disttorch.Tensor), label
        assert a.device.type == "cuda", f"{label} left the device"
        assert where == "cuda" or str(a.device) == where, f"{label} moved to {a.device}"
        assert tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype, label
        np.testing.assert_allclose(_host(a), _host(b), rtol=rtol, atol=1e-6, equal_nan=True,
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
        with _simulate(where):
            for name, want in cases:
                # looked up now: a second device wraps the namespace's functions when it first
                # holds an array (disttorch._device_guard)
                got = getattr(disttorch, name)(_arg(a, where), _arg(b, where))
                _same(got, want, f"{name}({key})", where=where)
                checked += 1
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
        with _simulate(where):
            for name, kwargs, want in cases:
                data = disttorch.from_numpy(x.copy()).to(where)
                got = getattr(functional, name)(data, **kwargs)
                _same(got, want, f"F.{name}({key})", rtol=1e-3, where=where)
                checked += 1
    assert checked > 30
