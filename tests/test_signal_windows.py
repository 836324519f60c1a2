"""``disttorch.signal.windows`` against ``torch.signal.windows``: values for many lengths, both
``sym``, both dtypes; errors; autograd flags; CPU and the (simulated) CUDA device."""
import inspect

import numpy as np
import pytest

import disttorch
from disttorch.cuda import _simulated

torch = pytest.importorskip("torch", reason="torch is the oracle for these tests")

W = disttorch.signal.windows
TW = torch.signal.windows

# (name, extra keyword sets): each window's own parameters, defaults first
WINDOWS = [
    ("bartlett", [{}]),
    ("blackman", [{}]),
    ("cosine", [{}]),
    ("exponential", [{}, {"tau": 0.5}, {"tau": 3.0}]),
    ("gaussian", [{}, {"std": 0.3}, {"std": 7.5}]),
    ("general_cosine", [{"a": [0.46, 0.23, 0.31]}, {"a": (0.5, 0.5)}, {"a": [1.0]}]),
    ("general_hamming", [{}, {"alpha": 0.5}, {"alpha": 0.8}]),
    ("hamming", [{}]),
    ("hann", [{}]),
    ("kaiser", [{}, {"beta": 0.0}, {"beta": 4.5}]),
    ("nuttall", [{}]),
]
LENGTHS = [0, 1, 2, 3, 4, 7, 10, 51, 256]


def _close(name, dtype):
    # float32 I0 differs from torch's by a few ulps; elsewhere only the last bit of sin/cos/exp
    if dtype == "float64":
        return {"rtol": 1e-13, "atol": 1e-15}
    return {"rtol": 2e-6 if name == "kaiser" else 4e-7, "atol": 1e-7}


def test_public_names_and_signatures():
    assert sorted(W.__all__) == sorted(TW.__all__)
    for name in TW.__all__:
        ours = inspect.signature(getattr(W, name)).parameters
        theirs = inspect.signature(getattr(TW, name)).parameters
        assert list(ours) == list(theirs), name
        for p in theirs:
            assert ours[p].kind == theirs[p].kind, (name, p)
            default = theirs[p].default
            if p == "layout":
                assert ours[p].default is disttorch.strided
            elif default is not inspect.Parameter.empty:
                assert ours[p].default == default, (name, p)
    assert disttorch.signal.windows is W


@pytest.mark.parametrize("name,extras", WINDOWS, ids=[w[0] for w in WINDOWS])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_match_torch(name, extras, dtype):
    for kwargs in extras:
        for M in LENGTHS:
            for sym in (True, False):
                ours = getattr(W, name)(M, sym=sym, dtype=getattr(disttorch, dtype), **kwargs)
                theirs = getattr(TW, name)(M, sym=sym, dtype=getattr(torch, dtype), **kwargs)
                assert ours.dtype == getattr(disttorch, dtype)
                assert tuple(ours.shape) == tuple(theirs.shape) == (M,)
                np.testing.assert_allclose(ours.numpy(), theirs.numpy(),
                                           err_msg=f"{name} M={M} sym={sym} {kwargs}",
                                           **_close(name, dtype))


def test_exponential_center_and_default_dtype():
    for M in (1, 6, 9):
        for center in (0.0, 2.5, -1.0, 11.0):
            np.testing.assert_allclose(
                W.exponential(M, sym=False, center=center, tau=2.0).numpy(),
                TW.exponential(M, sym=False, center=center, tau=2.0).numpy(), rtol=4e-7)
    previous = disttorch.get_default_dtype()
    disttorch.set_default_dtype(disttorch.float64)
    try:
        assert W.hann(5).dtype == disttorch.float64
    finally:
        disttorch.set_default_dtype(previous)
    assert W.hann(5).dtype == disttorch.float32


def test_sampling_grid_is_torch_linspace():
    # the grid is what torch.linspace gives, bit for bit, in both dtypes
    for start, end, M in [(-353.2, 353.2, 1000), (0.1, 7.3, 77), (-1.0, 1.0, 2), (3.5, 3.5, 1)]:
        for dtype in ("float32", "float64"):
            ours = W._grid(start, end, M, getattr(disttorch, dtype), None, False).numpy()
            theirs = torch.linspace(start, end, M, dtype=getattr(torch, dtype)).numpy()
            np.testing.assert_array_equal(ours, theirs)


def _error(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - compared with the oracle's
        return type(exc), str(exc).replace("disttorch.", "torch.")
    raise AssertionError("no error raised")


@pytest.mark.parametrize("call", [
    lambda w, lib: w.hann(-1),
    lambda w, lib: w.nuttall(-3),
    lambda w, lib: w.blackman(-1),
    lambda w, lib: w.kaiser(-2),
    lambda w, lib: w.cosine(-1, dtype=lib.float16),
    lambda w, lib: w.blackman(3, dtype=lib.float16),
    lambda w, lib: w.hann(3, dtype=lib.int64),
    lambda w, lib: w.gaussian(3, dtype=lib.complex64),
    lambda w, lib: w.bartlett(3, layout=lib.sparse_coo),
    lambda w, lib: w.exponential(3, tau=0),
    lambda w, lib: w.exponential(0, tau=-1.0),
    lambda w, lib: w.exponential(3, center=1.0),
    lambda w, lib: w.gaussian(3, std=0),
    lambda w, lib: w.gaussian(0, std=-1.0),
    lambda w, lib: w.kaiser(3, beta=-1),
    lambda w, lib: w.general_cosine(3, a=[]),
    lambda w, lib: w.general_cosine(3, a=1),
    lambda w, lib: w.general_cosine(3),
    lambda w, lib: w.hann(3, 1),
])
def test_errors_match_torch(call):
    assert _error(lambda: call(W, disttorch)) == _error(lambda: call(TW, torch))


def test_degenerate_arguments_match_torch():
    # checks after the short cuts for M = 0 or 1, as in torch
    for call in (lambda w: w.general_cosine(1, a=[]), lambda w: w.general_cosine(0, a=5),
                 lambda w: w.kaiser(1, beta=1e3), lambda w: w.kaiser(4, beta=1e3),
                 lambda w: w.general_cosine(4, a=(x for x in (0.5, 0.5))),
                 lambda w: w.general_cosine(4, a=iter(())),
                 lambda w: w.exponential(4, tau=float("inf"))):
        np.testing.assert_array_equal(call(W).numpy(), call(TW).numpy())
    np.testing.assert_array_equal(W.hann(disttorch.tensor(4)).numpy(),
                                  TW.hann(torch.tensor(4)).numpy())


@pytest.mark.parametrize("name,extras", WINDOWS, ids=[w[0] for w in WINDOWS])
def test_requires_grad_like_torch(name, extras):
    for M in (0, 1, 5):
        ours = getattr(W, name)(M, requires_grad=True, **extras[0])
        theirs = getattr(TW, name)(M, requires_grad=True, **extras[0])
        assert ours.requires_grad and theirs.requires_grad
        assert ours.is_leaf == theirs.is_leaf, (name, M)
        assert not getattr(W, name)(M, **extras[0]).requires_grad


def test_on_simulated_cuda_device():
    with _simulated.simulate(device_count=2):
        for name, extras in WINDOWS:
            for M in (0, 1, 6, 9):
                for device in ("cuda", "cuda:1", disttorch.device("cuda", 1)):
                    for dtype in (disttorch.float32, disttorch.float64):
                        w = getattr(W, name)(M, sym=M != 6, dtype=dtype, device=device,
                                             requires_grad=M == 9, **extras[-1])
                        expected = disttorch.device(device) if not isinstance(device, str) \
                            or ":" in device else disttorch.device("cuda", 0)
                        assert w.device == expected, (name, device, w.device)
                        assert type(w._data).__module__ == _simulated.__name__
                        assert w.requires_grad == (M == 9)
                        cpu = getattr(W, name)(M, sym=M != 6, dtype=dtype, **extras[-1])
                        np.testing.assert_array_equal(w.detach().cpu().numpy(), cpu.numpy())
            assert disttorch.cuda.current_device() == 0
