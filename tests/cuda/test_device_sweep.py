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
from tests.test_input_sweep import INPUTS, SKIP_FUNCTIONS, SKIP_METHODS, _flat, _tensor

torch = pytest.importorskip("torch")  # (only for the list of names to sweep)

# random draws, and factories whose tensor argument is a value (their result is on the
# default device, the CPU)
SKIP = {"dropout", "dropout_", "scalar_tensor", "feature_dropout", "alpha_dropout",
        "feature_alpha_dropout", "rrelu", "rrelu_"}
HOST_METHODS = {"numpy", "cpu", "cuda", "to", "pin_memory", "is_pinned", "tolist", "item"}


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


@pytest.mark.parametrize("kind", ["function", "method"])
@pytest.mark.parametrize("key", list(INPUTS))
def test_device_results_equal_the_cpu(kind, key):
    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, call in _calls(kind):
            try:
                want = call(_tensor(disttorch, key))
            except Exception:
                continue  # not defined for this input on the CPU either
            with _simulated.simulate():
                got = call(_tensor(disttorch, key).to("cuda"))
                pairs = [(a, b) for a, b in zip(_flat(got), _flat(want))
                         if isinstance(b, disttorch.Tensor)]
                for a, b in pairs:
                    assert isinstance(a, disttorch.Tensor), name
                    assert a.device.type == "cuda", f"{name}({key}) left the device"
                    assert tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype, name
                    np.testing.assert_allclose(_host(a), _host(b), rtol=1e-5, atol=1e-6,
                                               equal_nan=True, err_msg=f"{name}({key})")
            checked += 1
    assert checked > 50
