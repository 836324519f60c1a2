"""``out=`` on the functions whose bodies do not handle it themselves (factories, random draws,
fft, linalg decompositions, a few pointwise ops): the result is written into ``out`` (resized
as needed) and ``out`` is returned, with PyTorch's dtype rules and errors; compared with
torch."""
import warnings

import numpy as np
import pytest

import disttorch
from tests.ops.harness import requires_torch, torch

SQUARE = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])
VALUES = np.array([[0.5, -1.5, 2.0, 3.0], [1.0, 0.25, -4.0, 8.0]])

# name: (call(lib, x, out) -> result, out factory(lib)); x is a float64 tensor (SQUARE or VALUES)
CASES = {
    "zeros_int": (lambda L, x, o: L.zeros(3, out=o), lambda L: L.empty(3, dtype=L.int64)),
    "ones_float64": (lambda L, x, o: L.ones(2, 3, out=o), lambda L: L.empty(0, dtype=L.float64)),
    "full": (lambda L, x, o: L.full((2,), 7, out=o), lambda L: L.empty(2, dtype=L.int32)),
    "arange_float": (lambda L, x, o: L.arange(5, out=o), lambda L: L.empty(5)),
    "arange_step": (lambda L, x, o: L.arange(0, 1, 0.25, out=o),
                    lambda L: L.empty(4, dtype=L.float64)),
    "linspace_int": (lambda L, x, o: L.linspace(0, 10, 4, out=o),
                     lambda L: L.empty(4, dtype=L.int64)),
    "linspace_float64": (lambda L, x, o: L.linspace(-1, 1, 7, out=o),
                         lambda L: L.empty(7, dtype=L.float64)),
    "eye": (lambda L, x, o: L.eye(3, out=o), lambda L: L.empty(0)),
    "fftfreq": (lambda L, x, o: L.fft.fftfreq(5, out=o), lambda L: L.empty(5, dtype=L.float64)),
    "rfftfreq": (lambda L, x, o: L.fft.rfftfreq(6, 0.5, out=o), lambda L: L.empty(4)),
    "fmax": (lambda L, x, o: L.fmax(x, -x, out=o), lambda L: L.empty(2, 4, dtype=L.float64)),
    "fmin": (lambda L, x, o: L.fmin(x, -x, out=o), lambda L: L.empty(0, dtype=L.float64)),
    "left_shift": (lambda L, x, o: L.bitwise_left_shift(x.long(), 2, out=o),
                   lambda L: L.empty(2, 4, dtype=L.int64)),
    "right_shift": (lambda L, x, o: L.bitwise_right_shift((x * 8).long(), 1, out=o),
                    lambda L: L.empty(2, 4, dtype=L.int64)),
    "frexp": (lambda L, x, o: L.frexp(x, out=o),
              lambda L: (L.empty(2, 4, dtype=L.float64), L.empty(2, 4, dtype=L.int32))),
    "fft": (lambda L, x, o: L.fft.fft(x, out=o), lambda L: L.empty(2, 4, dtype=L.complex128)),
    "rfft": (lambda L, x, o: L.fft.rfft(x, out=o), lambda L: L.empty(0, dtype=L.complex128)),
    "fft2": (lambda L, x, o: L.fft.fft2(x, out=o), lambda L: L.empty(0, dtype=L.complex128)),
    "irfft": (lambda L, x, o: L.fft.irfft(L.fft.rfft(x), out=o),
              lambda L: L.empty(2, 4, dtype=L.float64)),
    "hfft": (lambda L, x, o: L.fft.hfft(L.fft.ihfft(x), out=o),
             lambda L: L.empty(0, dtype=L.float64)),
    "ihfftn": (lambda L, x, o: L.fft.ihfftn(x, out=o), lambda L: L.empty(0, dtype=L.complex128)),
    "histogram": (lambda L, x, o: L.histogram(x.flatten(), 3, out=o),
                  lambda L: (L.empty(0, dtype=L.float64), L.empty(0, dtype=L.float64))),
    "frobenius_norm": (lambda L, x, o: L.frobenius_norm(x, (0, 1), out=o),
                       lambda L: L.empty((), dtype=L.float64)),
    "nuclear_norm": (lambda L, x, o: L.nuclear_norm(x, out=o),
                     lambda L: L.empty((), dtype=L.float64)),
    "slogdet": (lambda L, x, o: L.linalg.slogdet(x, out=o),
                lambda L: (L.empty((), dtype=L.float64), L.empty((), dtype=L.float64))),
    "qr": (lambda L, x, o: L.linalg.qr(x, out=o),
           lambda L: (L.empty(0, dtype=L.float64), L.empty(0, dtype=L.float64))),
    "eigh": (lambda L, x, o: L.linalg.eigh(x, out=o),
             lambda L: (L.empty(3, dtype=L.float64), L.empty(3, 3, dtype=L.float64))),
    "lu_factor": (lambda L, x, o: L.linalg.lu_factor(x, out=o),
                  lambda L: (L.empty(0, dtype=L.float64), L.empty(0, dtype=L.int32))),
    "lu_factor_ex": (lambda L, x, o: L.linalg.lu_factor_ex(x, out=o),
                     lambda L: (L.empty(0, dtype=L.float64), L.empty(0, dtype=L.int32),
                                L.empty(0, dtype=L.int32))),
    "lu": (lambda L, x, o: L.linalg.lu(x, out=o),
           lambda L: tuple(L.empty(0, dtype=L.float64) for _ in range(3))),
    "ldl_factor": (lambda L, x, o: L.linalg.ldl_factor(x, out=o),
                   lambda L: (L.empty(0, dtype=L.float64), L.empty(0, dtype=L.int32))),
    "linalg_svd": (lambda L, x, o: L.linalg.svd(x, out=o),
                   lambda L: tuple(L.empty(0, dtype=L.float64) for _ in range(3))),
    "svd": (lambda L, x, o: L.svd(x, out=o),
            lambda L: tuple(L.empty(0, dtype=L.float64) for _ in range(3))),
    "triangular_solve": (lambda L, x, o: L.triangular_solve(x[:, :2], x.triu(), out=o),
                         lambda L: (L.empty(0, dtype=L.float64), L.empty(0, dtype=L.float64))),
}
SQUARE_CASES = {"frobenius_norm", "nuclear_norm", "slogdet", "qr", "eigh", "lu_factor",
                "lu_factor_ex", "lu", "ldl_factor", "linalg_svd", "svd", "triangular_solve"}


def _flat(value):
    return list(value) if isinstance(value, (tuple, list)) else [value]


@requires_torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_out_is_written_and_returned_as_in_torch(name):
    call, make_out = CASES[name]
    data = SQUARE if name in SQUARE_CASES else VALUES
    results = {}
    for lib in (disttorch, torch):
        out = make_out(lib)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # resizing a non-empty out warns in both
            result = call(lib, lib.tensor(data), out)
        assert all(r is o for r, o in zip(_flat(result), _flat(out))), name
        results[lib.__name__] = [np.asarray(o.numpy()) for o in _flat(out)]
    for got, want in zip(results["disttorch"], results["torch"]):
        assert got.dtype == want.dtype and got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=name)


def test_random_draws_fill_out_in_its_dtype():
    disttorch.manual_seed(0)
    for make, out in ((lambda o: disttorch.rand(4, out=o), disttorch.empty(4, dtype=disttorch.float64)),
                      (lambda o: disttorch.randn(2, 2, out=o), disttorch.empty(0)),
                      (lambda o: disttorch.randint(0, 5, (6,), out=o),
                       disttorch.empty(6, dtype=disttorch.int32)),
                      (lambda o: disttorch.randperm(5, out=o), disttorch.empty(5, dtype=disttorch.int64)),
                      (lambda o: disttorch.bernoulli(disttorch.full((5,), 0.5), out=o),
                       disttorch.empty(5)),
                      (lambda o: disttorch.multinomial(disttorch.ones(4), 2, out=o),
                       disttorch.empty(2, dtype=disttorch.int64)),
                      (lambda o: disttorch.normal(disttorch.zeros(3), 1.0, out=o), disttorch.empty(3))):
        dtype = out.dtype
        assert make(out) is out and out.dtype == dtype
    assert sorted(disttorch.randperm(5, out=disttorch.empty(5, dtype=disttorch.int64)).tolist()) == \
        [0, 1, 2, 3, 4]


@requires_torch
def test_out_errors_match_torch():
    def errors(lib):
        x = lib.ones(3)
        messages = []
        for call in (lambda: lib.zeros(3, dtype=lib.float32, out=lib.empty(3, dtype=lib.int64)),
                     lambda: lib.fmax(x, x, out=lib.empty(3, dtype=lib.int64)),
                     lambda: lib.fmax(x.requires_grad_(), x, out=lib.empty(3)),
                     lambda: lib.linalg.qr(lib.eye(3), out=lib.empty(3))):
            try:
                call()
                messages.append(None)
            except (RuntimeError, TypeError) as exc:
                messages.append(type(exc).__name__)
        return messages
    assert errors(disttorch) == errors(torch)


def test_out_messages():
    with pytest.raises(RuntimeError, match=r"dtype Float does not match dtype of out parameter "
                                           r"\(Long\)"):
        disttorch.zeros(3, dtype=disttorch.float32, out=disttorch.empty(3, dtype=disttorch.int64))
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        disttorch.fmax(disttorch.ones(3), disttorch.ones(3),
                       out=disttorch.empty(3, dtype=disttorch.int64))
    with pytest.warns(UserWarning, match=r"An output with one or more elements was resized since "
                                         r"it had shape \[2\]"):
        disttorch.linspace(0, 1, 3, out=disttorch.empty(2))
