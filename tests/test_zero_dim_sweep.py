"""Every ``torch.*`` function and ``Tensor`` method that takes one 0-d tensor (float64, int64,
bool), called the same way in disttorch: same shape, dtype and values, and results that hold
arrays. A sweep, so that a function added later is covered too (0-d inputs are where numpy
hands back scalars instead of arrays)."""
import inspect
import warnings

import numpy as np
import pytest

import disttorch

torch = pytest.importorskip("torch")

VALUES = {"float64": 0.7, "int64": 3, "bool": True}
# random draws, uninitialized memory and process state: nothing to compare
SKIP_FUNCTIONS = {
    "manual_seed", "seed", "set_default_dtype", "set_printoptions", "use_deterministic_algorithms",
    "set_num_threads", "set_grad_enabled", "compile", "load", "save", "set_rng_state", "empty",
    "empty_like", "set_default_device", "set_flush_denormal", "set_float32_matmul_precision",
    "set_warn_always", "set_default_tensor_type", "set_deterministic_debug_mode",
    "set_num_interop_threads", "normal", "rand", "randn", "rand_like", "randn_like", "randint",
    "randint_like", "bernoulli", "multinomial", "poisson", "randperm"}
SKIP_METHODS = {
    "share_memory_", "set_", "storage", "untyped_storage", "data_ptr", "pin_memory", "cuda",
    "register_hook", "backward", "retain_grad", "requires_grad_", "new_empty",
    "new_empty_strided", "random_", "uniform_", "normal_", "exponential_", "geometric_",
    "cauchy_", "log_normal_", "bernoulli_", "bernoulli", "multinomial", "apply_", "map_",
    "record_stream", "resize_", "tolist", "item", "numpy", "element_size", "dim_order",
    "is_set_to", "is_pinned", "is_shared", "get_device", "storage_offset", "type", "cpu", "to",
    "detach_", "detach", "clone", "copy_", "exponential", "sum_to_size", "zero_", "data_ptr"}


def _flat(x):
    if isinstance(x, (tuple, list)):
        return [y for z in x for y in _flat(z)]
    return [x]


def _as_float64(t, lib):
    return (t.double() if t.dtype.is_floating_point else t).numpy().astype(np.float64)


def _compare(name, got, want):
    for a, b in zip(_flat(got), _flat(want)):
        if not isinstance(b, torch.Tensor):
            continue
        assert isinstance(a, disttorch.Tensor), name
        assert isinstance(a._data, np.ndarray), f"{name}: holds a {type(a._data).__name__}"
        assert tuple(a.shape) == tuple(b.shape), name
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1], name
        if not b.dtype.is_complex:
            np.testing.assert_allclose(_as_float64(a, disttorch), _as_float64(b, torch),
                                       rtol=1e-6, atol=1e-7, equal_nan=True, err_msg=name)


def _calls(kind):
    if kind == "function":
        names = [n for n in dir(torch) if not n.startswith("_") and n not in SKIP_FUNCTIONS
                 and callable(getattr(torch, n)) and not inspect.isclass(getattr(torch, n))
                 and hasattr(disttorch, n)]
        return [(n, lambda lib, t, n=n: getattr(lib, n)(t)) for n in names]
    names = [n for n in dir(torch.Tensor) if not n.startswith("_") and n not in SKIP_METHODS
             and callable(getattr(torch.Tensor, n)) and hasattr(disttorch.Tensor, n)]
    return [(n, lambda lib, t, n=n: getattr(t, n)()) for n in names]


@pytest.mark.parametrize("kind", ["function", "method"])
@pytest.mark.parametrize("dtype", list(VALUES))
def test_zero_dim_inputs_match_torch(kind, dtype):
    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, call in _calls(kind):
            try:
                want = call(torch, torch.tensor(VALUES[dtype], dtype=getattr(torch, dtype)))
            except Exception:
                continue  # not defined for this input in torch: nothing to match
            got = call(disttorch, disttorch.tensor(VALUES[dtype], dtype=getattr(disttorch, dtype)))
            _compare(f"{name}({dtype})", got, want)
            checked += 1
    assert checked > 100  # the sweep did reach the library
