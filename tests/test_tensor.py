"""Tensor creation, dtypes, devices, conversions, repr and random number generation."""
import pickle

import numpy as np
import pytest

import disttorch
from tests.ops.harness import requires_torch, torch


def _name(dtype):
    return str(dtype).split(".")[-1]


@requires_torch
@pytest.mark.parametrize("data", [[1, 2, 3], [1.0, 2], [True, False], 3.5, 7, [[1, 2], [3, 4]],
                                  [], np.float64(2.0), np.array([1, 2], np.int32),
                                  np.array([1.5], np.float64), [np.float32(1.0)], 1 + 2j])
def test_tensor_infers_pytorchs_dtype(data):
    ours, theirs = disttorch.tensor(data), torch.tensor(data)
    assert _name(ours.dtype) == _name(theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_tensor_copies_and_from_numpy_shares():
    array = np.zeros(3, np.float32)
    copied, shared, as_t = disttorch.tensor(array), disttorch.from_numpy(array), disttorch.as_tensor(array)
    array[0] = 5
    assert copied[0].item() == 0 if hasattr(disttorch.Tensor, "__getitem__") else copied.tolist()[0] == 0
    assert shared.tolist()[0] == 5 and as_t.tolist()[0] == 5
    shared.numpy()[1] = 7
    assert array[1] == 7


@requires_torch
@pytest.mark.parametrize("fn,args,kwargs", [
    ("zeros", (2, 3), {}), ("ones", ((2, 3),), {}), ("empty", ([4],), {}),
    ("full", ((2,), 7), {}), ("full", ((2,), 7.5), {}), ("full", ((2,), True), {}),
    ("arange", (5,), {}), ("arange", (1, 4, 0.5), {}), ("arange", (0, 10, 3), {}),
    ("arange", (10, 0, -3), {}), ("linspace", (0, 1, 5), {}), ("logspace", (0, 2, 3), {}),
    ("eye", (3,), {}), ("eye", (2, 4), {}), ("zeros", (2,), {"dtype": "int32"}),
    ("ones", (2,), {"dtype": "float64"}),
])
def test_factories_match_torch(fn, args, kwargs):
    kw = {k: (getattr(disttorch, v) if k == "dtype" else v) for k, v in kwargs.items()}
    kt = {k: (getattr(torch, v) if k == "dtype" else v) for k, v in kwargs.items()}
    ours, theirs = getattr(disttorch, fn)(*args, **kw), getattr(torch, fn)(*args, **kt)
    assert _name(ours.dtype) == _name(theirs.dtype) and tuple(ours.shape) == tuple(theirs.shape)
    if fn != "empty":
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_like_and_new_factories():
    x = disttorch.ones(2, 3, dtype=disttorch.float64)
    for y in (disttorch.zeros_like(x), disttorch.ones_like(x), disttorch.empty_like(x),
              disttorch.full_like(x, 4), disttorch.rand_like(x), disttorch.randn_like(x),
              x.new_zeros(2, 3), x.new_ones((2, 3)), x.new_full((2, 3), 1.5), x.new_empty(2, 3)):
        assert y.shape == (2, 3) and y.dtype == disttorch.float64
    assert x.new_tensor([1, 2]).dtype == disttorch.float64
    assert disttorch.zeros_like(x, dtype=disttorch.int64).dtype == disttorch.int64


def test_negative_size_error():
    with pytest.raises(RuntimeError, match="Trying to create tensor with negative dimension -1"):
        disttorch.zeros(2, -1)


def test_default_dtype():
    assert disttorch.get_default_dtype() == disttorch.float32
    disttorch.set_default_dtype(disttorch.float64)
    try:
        assert disttorch.tensor([1.0]).dtype == disttorch.float64
        assert disttorch.zeros(1).dtype == disttorch.float64
        assert (disttorch.tensor([1, 2]) / 2).dtype == disttorch.float64
    finally:
        disttorch.set_default_dtype(disttorch.float32)
    with pytest.raises(TypeError, match="only floating-point types are supported"):
        disttorch.set_default_dtype(disttorch.int64)


@requires_torch
def test_promote_types_table():
    names = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
    for a in names:
        for b in names:
            ours = disttorch.promote_types(getattr(disttorch, a), getattr(disttorch, b))
            assert _name(ours) == _name(torch.promote_types(getattr(torch, a), getattr(torch, b)))


@requires_torch
def test_result_type():
    assert disttorch.result_type(disttorch.tensor([1]), 1.0) == disttorch.float32
    assert disttorch.result_type(disttorch.tensor([1.0]), disttorch.tensor(1.0, dtype=disttorch.float64)) \
        == disttorch.float32
    assert disttorch.result_type(disttorch.tensor([1], dtype=disttorch.int32),
                                 disttorch.tensor(1.0, dtype=disttorch.float64)) == disttorch.float64


def test_dtype_conversions_and_properties():
    x = disttorch.tensor([1.7, -2.2])
    assert x.long().tolist() == [1, -2] and x.long().dtype == disttorch.int64
    assert x.int().dtype == disttorch.int32 and x.double().dtype == disttorch.float64
    assert x.half().dtype == disttorch.float16 and x.bool().tolist() == [True, True]
    assert x.to(disttorch.float64).dtype == disttorch.float64
    assert x.to(disttorch.float32) is x
    assert x.to(x) is x and x.to("cpu") is x
    assert x.is_floating_point() and not x.long().is_floating_point()
    assert x.float().type() == "torch.FloatTensor"
    assert disttorch.float32.is_floating_point and not disttorch.int64.is_floating_point
    assert disttorch.finfo(disttorch.float32).eps == np.finfo(np.float32).eps
    assert disttorch.iinfo(disttorch.int8).max == 127


def test_cast_is_differentiable():
    x = disttorch.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    y.backward(disttorch.ones(2, dtype=disttorch.float64))
    assert x.grad.dtype == disttorch.float32 and x.grad.tolist() == [3.0, 3.0]


def test_devices():
    assert disttorch.device("cpu") == disttorch.device("cpu") == "cpu"
    d = disttorch.device("cuda:1")
    assert d.type == "cuda" and d.index == 1 and str(d) == "cuda:1"
    assert repr(disttorch.device("cuda", 0)) == "device(type='cuda', index=0)"
    assert disttorch.ones(1).device == disttorch.device("cpu")
    assert not disttorch.ones(1).is_cuda
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        disttorch.device("tpu")
    with pytest.raises(RuntimeError, match="Invalid device string"):
        disttorch.device("cuda:x")


@pytest.mark.skipif(disttorch.cuda.is_available(), reason="checks the error without a GPU")
def test_cuda_without_gpu_is_a_clear_error():
    assert disttorch.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        disttorch.ones(2).cuda()
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        disttorch.zeros(2, device="cuda")


def test_python_conversions():
    x = disttorch.tensor([[1.5, 2.0], [3.0, 4.0]])
    assert x.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert disttorch.tensor(2.5).item() == 2.5 and float(disttorch.tensor([2.5])) == 2.5
    assert int(disttorch.tensor(3)) == 3
    assert len(x) == 2 and x.size() == (2, 2) and x.size(-1) == 2 and x.dim() == 2
    assert x.numel() == 4 and x.ndim == 2 and x.shape == disttorch.Size([2, 2])
    assert repr(x.shape) == "disttorch.Size([2, 2])"
    assert np.asarray(x).shape == (2, 2)
    with pytest.raises(RuntimeError, match="a Tensor with 4 elements cannot be converted to Scalar"):
        x.item()
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is "
                                           "ambiguous"):
        bool(x)
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(disttorch.tensor(1.0))
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        disttorch.ones(1, requires_grad=True).numpy()
    assert [float(v) for v in disttorch.tensor([1.0, 2.0])] == [1.0, 2.0]
    assert f"{disttorch.tensor(0.5):.2f}" == "0.50"


@requires_torch
@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True to a scalar")
@pytest.mark.parametrize("convert", [float, int, complex])
@pytest.mark.parametrize("make", [lambda L: L.ones(2), lambda L: L.ones(0),
                                  lambda L: L.ones(2, dtype=L.int64),
                                  lambda L: L.ones(3, requires_grad=True)])
def test_number_protocols_on_several_elements_raise_value_error(convert, make):
    # Python's float()/int()/complex() raise ValueError (item() keeps its RuntimeError)
    with pytest.raises(ValueError) as expected:
        convert(make(torch))
    with pytest.raises(ValueError) as actual:
        convert(make(disttorch))
    assert str(actual.value) == str(expected.value) == \
        "only one element tensors can be converted to Python scalars"
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted to "
                                           "Scalar"):
        disttorch.ones(2).item()
    assert float(disttorch.ones(1, 1)) == 1.0 and int(disttorch.tensor([[7]])) == 7


def test_bool_of_an_empty_tensor_raises_torchs_error():
    with pytest.raises(RuntimeError, match="^Boolean value of Tensor with no values is "
                                           "ambiguous$"):
        bool(disttorch.ones(0))


def test_numpy_of_a_tensor_requiring_grad_under_no_grad():
    # PyTorch hands the array out when grad mode is off (no_grad, inference_mode)
    x = disttorch.ones(2, requires_grad=True)
    with disttorch.no_grad():
        array = x.numpy()
    assert array.tolist() == [1.0, 1.0]
    array[0] = 5.0   # it shares the tensor's memory, as PyTorch's
    assert x.tolist() == [5.0, 1.0]
    with disttorch.inference_mode():
        assert (x * 2).detach().numpy().tolist() == [10.0, 2.0]
        assert x.numpy().tolist() == [5.0, 1.0]
    with disttorch.no_grad():
        with disttorch.enable_grad():
            with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that "
                                                   "requires grad. Use tensor.detach\\(\\)"
                                                   ".numpy\\(\\) instead."):
                x.numpy()
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires "
                                           "grad"):
        x.numpy()


def test_pickle_round_trip():
    x = disttorch.tensor([1.0, 2.0], requires_grad=True)
    y = pickle.loads(pickle.dumps(x))
    assert y.tolist() == [1.0, 2.0] and y.requires_grad


@requires_torch
@pytest.mark.parametrize("data", [[1.0, 2.0, 3.0], [[0.1, -2.5], [3.25, 4.0]], [1e-5, 1.0],
                                  [1e9, 1.0], [True, False], [1, -20, 300], [0.5], 2.0,
                                  [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]],
                                  [float("nan"), float("inf"), 1.5]])
def test_repr_matches_torch(data):
    ours = repr(disttorch.tensor(data))
    theirs = repr(torch.tensor(data)).replace("torch.", "disttorch.")
    assert ours == theirs
    assert repr(disttorch.tensor(data, dtype=disttorch.float64)) == \
        repr(torch.tensor(data, dtype=torch.float64)).replace("torch.", "disttorch.")


@requires_torch
@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
@pytest.mark.parametrize("default", ["float32", "float64", "float16"])
def test_repr_omits_the_default_complex_dtype(default):
    # like float32 (the default float), complex64 is not named; under a float64 default
    # complex128 is the one not named; empty tensors always name a non-default-float dtype
    def reprs(lib):
        lib.set_default_dtype(getattr(lib, default))
        try:
            return [repr(x).replace("disttorch.", "torch.") for x in (
                lib.tensor([1 + 2j]), lib.tensor(1 + 2j, dtype=lib.complex64),
                lib.tensor([1 + 2j], dtype=lib.complex128), lib.tensor([1 + 2j]) * 1,
                lib.tensor([3.0], dtype=lib.complex64), lib.zeros(0, dtype=lib.complex64),
                lib.zeros(0, dtype=lib.complex128), lib.zeros(2, 0, dtype=lib.complex64),
                lib.tensor([1.5]), lib.tensor([1.5], dtype=lib.float32))]
        finally:
            lib.set_default_dtype(lib.float32)
    expected = reprs(torch)
    if default == "float16":   # (torch.tensor(1j) is complex32 there; disttorch's is complex64)
        expected[0] = expected[3] = "tensor([1.+2.j])"
    assert reprs(disttorch) == expected


def test_repr_autograd_suffixes():
    x = disttorch.tensor([1.0], requires_grad=True)
    assert repr(x) == "tensor([1.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2.], grad_fn=<MulBackward0>)"


def test_manual_seed_reproduces_and_state_restores():
    disttorch.manual_seed(123)
    a = disttorch.rand(5)
    disttorch.manual_seed(123)
    assert disttorch.rand(5).tolist() == a.tolist()
    state = disttorch.get_rng_state()
    b = disttorch.randn(4)
    disttorch.set_rng_state(state)
    assert disttorch.randn(4).tolist() == b.tolist()
    assert disttorch.initial_seed() == 123


def test_generator_objects_are_independent():
    g1 = disttorch.Generator().manual_seed(7)
    g2 = disttorch.Generator().manual_seed(7)
    assert disttorch.randn(3, generator=g1).tolist() == disttorch.randn(3, generator=g2).tolist()
    state = g1.get_state()
    x = disttorch.randperm(10, generator=g1)
    g1.set_state(state)
    assert disttorch.randperm(10, generator=g1).tolist() == x.tolist()
    assert sorted(x.tolist()) == list(range(10))
    with pytest.raises(RuntimeError, match="Invalid generator state"):
        g1.set_state(disttorch.tensor([1, 2, 3], dtype=disttorch.uint8))


def test_random_distributions():
    disttorch.manual_seed(0)
    u = disttorch.rand(20000)
    assert 0 <= u.numpy().min() and u.numpy().max() < 1 and abs(u.numpy().mean() - 0.5) < 0.01
    n = disttorch.randn(20000, dtype=disttorch.float64)
    assert n.dtype == disttorch.float64 and abs(n.numpy().std() - 1) < 0.03
    r = disttorch.randint(3, 7, (1000,))
    assert r.dtype == disttorch.int64 and set(r.tolist()) == {3, 4, 5, 6}
    assert disttorch.randint(5, (3,)).shape == (3,)
    m = disttorch.normal(2.0, 3.0, size=(20000,))
    assert abs(m.numpy().mean() - 2) < 0.1 and abs(m.numpy().std() - 3) < 0.1
    t = disttorch.normal(disttorch.zeros(3), disttorch.ones(3))
    assert t.shape == (3,)
    b = disttorch.bernoulli(disttorch.full((10000,), 0.3))
    assert abs(b.numpy().mean() - 0.3) < 0.02
    idx = disttorch.multinomial(disttorch.tensor([0.0, 1.0, 3.0]), 1000, replacement=True)
    assert set(idx.tolist()) == {1, 2}
    x = disttorch.empty(1000).uniform_(-2, 2)
    assert x.numpy().min() >= -2 and x.numpy().max() <= 2
    assert abs(disttorch.empty(5000).normal_(1.0, 0.5).numpy().mean() - 1.0) < 0.05
    with pytest.raises(RuntimeError, match="random_ expects 'from' to be less than 'to'"):
        disttorch.randint(5, 5, (2,))


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_random_draws_both_parts(dtype):
    # PyTorch: randn is a complex normal of unit variance (1/2 in each part), rand is uniform
    # in both parts; the imaginary part used to be zero
    disttorch.manual_seed(0)
    z = disttorch.randn(40000, dtype=getattr(disttorch, dtype))
    assert z.dtype == getattr(disttorch, dtype)
    a = z.numpy()
    assert abs(a.real.var() - 0.5) < 0.02 and abs(a.imag.var() - 0.5) < 0.02
    assert abs(np.corrcoef(a.real, a.imag)[0, 1]) < 0.03
    u = disttorch.rand(40000, dtype=getattr(disttorch, dtype)).numpy()
    for part in (u.real, u.imag):
        assert part.min() >= 0 and part.max() < 1 and abs(part.mean() - 0.5) < 0.01
    assert disttorch.randn_like(z).dtype == z.dtype


def test_blas_thread_pool_size_can_be_set():
    before = disttorch.get_num_threads()
    disttorch.set_num_threads(1)
    try:
        assert disttorch.get_num_threads() == 1
    finally:
        disttorch.set_num_threads(before)
    with pytest.raises(RuntimeError, match="positive integer"):
        disttorch.set_num_threads(0)


def test_allocator_tuning_respects_opt_out():
    import subprocess
    import sys
    code = "import disttorch._malloc as m; print(m.tune())"
    env = {k: v for k, v in __import__("os").environ.items()
           if not k.startswith("MALLOC_") and k != "DISTTORCH_MALLOC_TUNING"}
    on = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    off = subprocess.run([sys.executable, "-c", code], env=dict(env, DISTTORCH_MALLOC_TUNING="0"),
                         capture_output=True, text=True)
    mine = subprocess.run([sys.executable, "-c", code],
                          env=dict(env, MALLOC_TRIM_THRESHOLD_="1000000"),
                          capture_output=True, text=True)
    if sys.platform.startswith("linux"):
        assert on.stdout.strip() == "True", on.stderr
    assert off.stdout.strip() == "False" and mine.stdout.strip() == "False"


def test_random_module_and_out_of_memory_error_names():
    import torch
    assert set(torch.random.__all__) <= set(disttorch.random.__all__) | {"thread_safe_generator"}
    disttorch.random.manual_seed(3)
    state = disttorch.random.get_rng_state()
    with disttorch.random.fork_rng():
        inside = disttorch.rand(3)
    np.testing.assert_array_equal(disttorch.rand(3).numpy(), inside.numpy())
    disttorch.random.set_rng_state(state)
    np.testing.assert_array_equal(disttorch.rand(3).numpy(), inside.numpy())
    assert disttorch.OutOfMemoryError is disttorch.cuda.OutOfMemoryError
    assert issubclass(disttorch.OutOfMemoryError, RuntimeError)


def test_zero_dim_results_are_arrays():
    # numpy ufuncs answer 0-d inputs with scalars; comparisons, logical, bitwise and predicate
    # results used to hold one, whose .device then failed ('str' object has no attribute 'id')
    x = disttorch.tensor(1.5)
    results = [x < 2, x == 1.5, x >= disttorch.tensor(2.0), disttorch.isnan(x),
               disttorch.logical_not(x), disttorch.logical_and(x, x),
               disttorch.tensor(3) & 1, ~disttorch.tensor(True), disttorch.fmax(x, x)]
    for r in results:
        assert isinstance(r._data, np.ndarray) and r.shape == () and r.device.type == "cpu"
    assert ((x < 2) & (x > 0)).item() is True
    assert ((x < 2) | disttorch.tensor([False, True])).tolist() == [True, True]


def test_contains_reversed_and_dlpack_match_torch():
    torch = pytest.importorskip("torch")
    for lib in (torch, disttorch):
        t = lib.tensor([1, 2, 3])
        assert 2 in t and 5 not in t and lib.tensor(3) in t
        assert [x.item() for x in reversed(t)] == [3, 2, 1]
        assert reversed(lib.tensor(5)).item() == 5
        with pytest.raises(RuntimeError, match="only supports Tensor or scalar, but you passed "
                                               "in a <class 'str'>"):
            "a" in t
        with pytest.raises(AttributeError, match="Can't get __cuda_array_interface__ on "
                                                 "non-CUDA tensor type"):
            t.__cuda_array_interface__
    # DLPack both ways, sharing memory
    source = np.arange(4.0)
    shared = disttorch.from_dlpack(source)
    shared[0] = 7.0
    assert source[0] == 7.0
    np.testing.assert_array_equal(np.from_dlpack(shared), source)
    assert torch.from_dlpack(disttorch.tensor([1.5, 2.5])).tolist() == [1.5, 2.5]
    assert disttorch.from_dlpack(torch.arange(3.0)).tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(RuntimeError, match="Can't export tensors that require gradient"):
        disttorch.ones(2, requires_grad=True).__dlpack__()


def test_cpu_generator_has_no_offset_like_torch():
    # torch's message: Philox offsets belong to counter-based (CUDA) generators
    with pytest.raises(RuntimeError, match="CPU Generator does not use offset"):
        disttorch.Generator().get_offset()
    with pytest.raises(RuntimeError, match="CPU Generator does not use offset"):
        disttorch.Generator().set_offset(3)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_linspace_equals_torch_bit_for_bit(dtype):
    torch = pytest.importorskip("torch")
    pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(3)
    for _ in range(60):
        a, b = rng.uniform(-100, 100, 2) * 10.0 ** rng.integers(-3, 3)
        steps = int(rng.integers(1, 3000))
        ours = disttorch.linspace(a, b, steps, dtype=getattr(disttorch, dtype)).float().numpy()
        theirs = torch.linspace(a, b, steps, dtype=getattr(torch, dtype)).float().numpy()
        np.testing.assert_array_equal(ours, theirs, err_msg=f"{a}, {b}, {steps}")


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int64", "int32"])
def test_logspace_equals_torch_bit_for_bit(dtype):
    torch = pytest.importorskip("torch")
    pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(4)
    integer = dtype.startswith("int")
    for _ in range(80):
        if integer:
            start, end = (float(v) for v in rng.integers(-2, 7, 2))
        else:
            start, end = (float(v) for v in rng.uniform(-6, 6, 2))
        base = float(rng.choice([2.0, 10.0, np.e, 3.5, 0.5, -2.0, 0.0]))
        steps = int(rng.integers(0, 200))
        with np.errstate(all="ignore"):
            ours = disttorch.logspace(start, end, steps, base=base, dtype=getattr(disttorch, dtype))
            theirs = torch.logspace(start, end, steps, base=base, dtype=getattr(torch, dtype))
        ours, theirs = ours.double().numpy(), theirs.double().numpy()
        np.testing.assert_array_equal(ours, theirs, err_msg=f"{start}, {end}, {steps}, {base}")


def test_integer_ranges_refuse_bounds_the_dtype_cannot_hold():
    for fn in (disttorch.linspace, disttorch.logspace):
        with pytest.raises(RuntimeError, match="value cannot be converted to type uint8_t "
                                               "without overflow"):
            fn(-2.0, 2.0, 3, dtype=disttorch.uint8)


def test_dtype_checks_work_without_ml_dtypes():
    """bfloat16 is optional: without ml_dtypes the per-op dtype checks (which compare with a
    placeholder dtype no array has) still take float16 and the other dtypes as before."""
    import subprocess
    import sys
    code = (
        "import sys\n"
        "sys.modules['ml_dtypes'] = None\n"
        "import numpy as np, disttorch\n"
        "from disttorch._dtype import NP_BFLOAT16, NP_LOW_FLOATS\n"
        "assert disttorch.bfloat16 is None\n"
        "assert all(np.dtype(t) != NP_BFLOAT16 for t in (np.float16, np.float32, np.float64,\n"
        "                                               np.int64, np.bool_, np.complex64))\n"
        "assert np.dtype(np.float16) in NP_LOW_FLOATS\n"
        "x = disttorch.ones(3, 4, requires_grad=True)\n"
        "y = x.sum() + x.mean() + disttorch.relu(x).sum()\n"
        "y = y + disttorch.nn.functional.layer_norm(x, (4,)).sum()\n"
        "y.backward()\n"
        "h = disttorch.tensor([2048.0, 1.0, 1.0], dtype=disttorch.float16)\n"
        "print(float(y), x.is_floating_point(), float(h.sum()), h.sum().dtype)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    # a float16 sum keeps its dtype, with the float32-accumulated value
    assert run.stdout.split() == ["25.0", "True", "2050.0", "disttorch.float16"]


def test_numpy_asarray_follows_numpy():
    """``np.asarray(t)`` is ``t.numpy()``: refused for a tensor that requires grad (outside
    no_grad) and for a device tensor, as PyTorch's ``__array__``; dtype honoured."""
    x = disttorch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
        np.asarray(x)
    with disttorch.no_grad():
        assert np.asarray(x).tolist() == [1.0, 1.0]
    assert np.asarray(x.detach(), dtype=np.float64).dtype == np.float64
    from disttorch.cuda import _simulated
    with _simulated.simulate():
        with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
            np.asarray(disttorch.ones(2, device="cuda"))


@pytest.mark.parametrize("dtype,name", [("int64", "Long"), ("bool", "Bool"), ("uint8", "Byte")])
def test_multinomial_refuses_integer_weights(dtype, name):
    with pytest.raises(RuntimeError, match=f"multinomial only supports floating-point dtypes for "
                                           f"input, got: {name}"):
        disttorch.multinomial(disttorch.ones(3, dtype=getattr(disttorch, dtype)), 1)
    assert disttorch.multinomial(disttorch.ones(3, dtype=disttorch.float16), 1).shape == (1,)
