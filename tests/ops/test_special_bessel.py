"""torch.special's Bessel, modified Bessel and Airy functions (``ops/special_bessel.py``): values
against mpmath across each algorithm's ranges and their boundaries, PyTorch's edge values,
dtypes, errors and (lack of) gradients against torch, and every torch.special function on the
input sweep's awkward inputs."""
import inspect
import math

import numpy as np
import pytest

import disttorch
import disttorch.special
from disttorch.ops import special_bessel
from .harness import requires_torch, torch

mp = pytest.importorskip("mpmath")

INF, NAN = math.inf, math.nan
BESSEL = ["bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0",
          "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
          "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "airy_ai",
          "spherical_bessel_j0"]

REFERENCE = {
    "bessel_j0": lambda v: mp.besselj(0, v), "bessel_j1": lambda v: mp.besselj(1, v),
    "bessel_y0": lambda v: mp.bessely(0, v), "bessel_y1": lambda v: mp.bessely(1, v),
    "modified_bessel_i0": lambda v: mp.besseli(0, v),
    "modified_bessel_i1": lambda v: mp.besseli(1, v),
    "modified_bessel_k0": lambda v: mp.besselk(0, v),
    "modified_bessel_k1": lambda v: mp.besselk(1, v),
    "scaled_modified_bessel_k0": lambda v: mp.besselk(0, v) * mp.exp(v),
    "scaled_modified_bessel_k1": lambda v: mp.besselk(1, v) * mp.exp(v),
    "airy_ai": mp.airyai,
    "spherical_bessel_j0": lambda v: mp.sin(v) / v,
}


def _envelope(name, x):
    """The size of an oscillating function's swings at ``x`` (zero for the monotone ones):
    near its zeros the error is measured against it, not against the value."""
    ax = np.abs(x)
    if name.startswith("bessel"):
        return 1.0 / np.sqrt(np.maximum(ax, 1.0))
    if name == "airy_ai":
        return np.where(x < 0, 1.0 / np.maximum(ax, 1.0) ** 0.25, 0.0)
    if name == "spherical_bessel_j0":
        return 1.0 / np.maximum(ax, 1.0)
    return np.zeros_like(x)


def _grid(name):
    # each algorithm's range, the boundaries between them (J/Y at 5, K at 2, Ai at -4 and 2),
    # tiny and large arguments
    bounds = np.array([b + d for b in (2.0, 4.0, 5.0) for d in (-1e-12, 0.0, 1e-12, 1e-3)])
    x = np.concatenate([np.linspace(0.01, 12, 97), bounds, [1e-300, 1e-20, 1e-8, 0.3, 18.5],
                        np.geomspace(12, 3e4, 23)])
    if name in ("bessel_j0", "bessel_j1", "modified_bessel_i0", "modified_bessel_i1",
                "spherical_bessel_j0"):
        x = np.concatenate([x, -x[::3]])
    if name == "airy_ai":
        x = np.concatenate([x[x < 105], -x])
    if name.startswith("modified_bessel_i") or (name.startswith("modified_bessel_k")):
        x = x[np.abs(x) < 700]   # beyond, the result overflows (I) or underflows (K)
    return x


@pytest.mark.parametrize("name", BESSEL)
def test_float64_accuracy_against_mpmath(name):
    mp.mp.dps = 25
    x = _grid(name)
    ours = getattr(disttorch.special, name)(disttorch.from_numpy(x.copy())).numpy()
    exact = np.array([float(REFERENCE[name](mp.mpf(float(v)))) for v in x])
    error = np.abs(ours - exact)
    # relative error, or absolute (against the envelope) near a zero of an oscillating function
    bound = np.maximum(np.abs(exact), _envelope(name, x)) * 2e-14
    worst = np.argmax(error / bound)
    assert np.all(error <= bound), (f"{name}({x[worst]!r}) = {ours[worst]!r}, "
                                    f"mpmath {exact[worst]!r}")


def test_airy_phase_far_out():
    # Ai(-x)'s phase is zeta = 2/3 x^1.5 (~6.7e9 at x = 5e6): a rounded zeta would leave only
    # six digits; its double-double form keeps them all
    mp.mp.dps = 40
    x = np.array([-5e6, -123456.789, -1e4 - 0.5])
    ours = disttorch.special.airy_ai(disttorch.from_numpy(x.copy())).numpy()
    exact = np.array([float(mp.airyai(mp.mpf(float(v)))) for v in x])
    assert np.all(np.abs(ours - exact) < 2e-14 * np.abs(x) ** -0.25), (ours, exact)


def test_small_arguments_do_not_underflow():
    # x / 2 rounds to 0 at the smallest subnormal: log(x) - log(2) keeps Y0 and K0 finite
    tiny = disttorch.tensor([5e-324], dtype=disttorch.float64)
    assert disttorch.special.bessel_y0(tiny).item() == pytest.approx(
        float(mp.bessely(0, mp.mpf(5e-324))), rel=1e-14)
    assert disttorch.special.modified_bessel_k0(tiny).item() == pytest.approx(
        float(mp.besselk(0, mp.mpf(5e-324))), rel=1e-14)
    assert disttorch.special.bessel_y1(tiny).item() == -INF


def test_tables_are_the_derivation():
    # the Chebyshev tables are what _derive_tables computes with mpmath, digit for digit
    derived = special_bessel._derive_tables()
    for name, coeffs in derived.items():
        assert getattr(special_bessel, name) == coeffs, name


EDGES = np.array([0.0, -0.0, INF, -INF, NAN, 1e-300, -1e-300, 5e-324, 1e-5, -1e-5, -2.5, 3.0,
                  -1.0, 2.0, -4.0, 5.0, 8.0, 1e10, -1e10, 700.0, 750.0, -750.0, 1e300, -1e300])


@requires_torch
@pytest.mark.parametrize("name", BESSEL)
def test_edge_values_match_torch(name):
    ours = getattr(disttorch.special, name)(disttorch.from_numpy(EDGES.copy())).numpy()
    want = getattr(torch.special, name)(torch.from_numpy(EDGES.copy())).numpy()
    if "bessel_k" in name:
        # K at 5e-324: PyTorch's log(x / 2) underflows to -inf and K0 is inf; it is 744.44
        # (K1 = 1/x overflows in both)
        exact = float(mp.besselk(0, mp.mpf(5e-324))) if name.endswith("k0") else INF
        assert ours[7] == pytest.approx(exact, rel=1e-14)
        ours, want = ours[EDGES != 5e-324], want[EDGES != 5e-324]
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(want), err_msg=name)
    np.testing.assert_array_equal(np.isposinf(ours), np.isposinf(want), err_msg=name)
    np.testing.assert_array_equal(np.isneginf(ours), np.isneginf(want), err_msg=name)
    # the phase at |x| >= 1e10 is rounding (both libraries, differently); Ai(x) for x > 103.9
    # is below 1e-300, where PyTorch returns 0; PyTorch's J, Y and Ai are off by up to 1e-7
    # absolute in float64 (ours agree with mpmath, above)
    edges = EDGES[EDGES != 5e-324] if "bessel_k" in name else EDGES
    keep = (np.abs(edges) < 1e10) & np.isfinite(ours) & (np.abs(ours) > 1e-290)
    np.testing.assert_allclose(ours[keep], want[keep], rtol=1e-6, atol=1e-6, err_msg=name)


@requires_torch
@pytest.mark.parametrize("name", BESSEL)
def test_dtypes_errors_and_gradients_match_torch(name):
    ours, theirs = getattr(disttorch.special, name), getattr(torch.special, name)
    values = [[0.5, 1.5], [2.0, 3.25]]
    for dtype in ("float32", "float64", "int64", "int32", "uint8", "bool"):
        got = ours(disttorch.tensor(values, dtype=getattr(disttorch, dtype)))
        want = theirs(torch.tensor(values, dtype=getattr(torch, dtype)))
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], dtype
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=2e-5, atol=1e-6)
    for dtype in ("float16", "bfloat16"):
        with pytest.raises(NotImplementedError) as want:
            theirs(torch.tensor(values, dtype=getattr(torch, dtype)))
        with pytest.raises(NotImplementedError) as got:
            ours(disttorch.tensor(values, dtype=getattr(disttorch, dtype)))
        assert str(got.value) == str(want.value)
    # PyTorch defines no derivative: the result does not require grad, backward finds no graph
    x = disttorch.tensor([0.5, 1.5], requires_grad=True)
    y = ours(x)
    tx = torch.tensor([0.5, 1.5], requires_grad=True)
    ty = theirs(tx)
    assert y.requires_grad == ty.requires_grad and y.grad_fn is None
    with pytest.raises(RuntimeError) as want:
        ty.sum().backward()
    with pytest.raises(RuntimeError) as got:
        y.sum().backward()
    assert str(got.value) == str(want.value)


@requires_torch
def test_default_dtype_out_and_layouts():
    x = np.linspace(0.25, 9.0, 12).reshape(3, 4)
    try:
        disttorch.set_default_dtype(disttorch.float64)
        assert disttorch.special.bessel_y0(disttorch.tensor([1, 2])).dtype == disttorch.float64
    finally:
        disttorch.set_default_dtype(disttorch.float32)
    for name in BESSEL:
        fn = getattr(disttorch.special, name)
        want = getattr(torch.special, name)(torch.from_numpy(x.copy()).T).numpy()
        np.testing.assert_allclose(fn(disttorch.from_numpy(x.copy()).T).numpy(), want,
                                   rtol=1e-6, atol=1e-6, err_msg=name)
        out = disttorch.empty(4, 3, dtype=disttorch.float64)
        result = fn(disttorch.from_numpy(x.copy()).T, out=out)
        assert result is out
        np.testing.assert_array_equal(out.numpy(), fn(disttorch.from_numpy(x.copy()).T).numpy())
        zero_dim = fn(disttorch.tensor(1.5, dtype=disttorch.float64))
        assert zero_dim.shape == () and isinstance(zero_dim._data, np.ndarray)
        assert fn(disttorch.zeros(0, 3)).shape == (0, 3)
    with pytest.raises(TypeError, match="must be Tensor"):
        disttorch.special.bessel_j0(1.5)


def _special_names():
    if torch is None:
        return []
    return sorted(n for n in dir(torch.special) if not n.startswith("_")
                  and callable(getattr(torch.special, n)) and hasattr(disttorch.special, n)
                  and not inspect.isclass(getattr(torch.special, n))
                  and n not in ("softmax", "log_softmax", "logsumexp", "polygamma",
                                "multigammaln"))


@requires_torch
def test_every_special_function_on_the_sweep_inputs():
    # the input sweep (tests/test_input_sweep.py) covers torch.* only: torch.special here, one
    # argument for the unary functions, the pairs for the two-argument ones (the orthogonal
    # polynomials among them)
    from tests.test_input_sweep import INPUTS, PAIRS, _compare, _tensor
    checked = 0
    for name in _special_names():
        ours, theirs = getattr(disttorch.special, name), getattr(torch.special, name)
        for key in INPUTS:
            for args in ([key], [key, key]):
                try:
                    want = theirs(*[_tensor(torch, k) for k in args])
                except Exception as exc:
                    # (the functions PyTorch has no half-precision kernel for refuse it too)
                    if isinstance(exc, NotImplementedError):
                        with pytest.raises(NotImplementedError):
                            ours(*[_tensor(disttorch, k) for k in args])
                    continue
                got = ours(*[_tensor(disttorch, k) for k in args])
                _compare(f"special.{name}({key})", got, want, rtol=2e-3 if key == "float16"
                         else 1e-5)
                checked += 1
        for key, (a, b) in PAIRS.items():
            def make(lib, value):
                return lib.from_numpy(np.array(value)) if isinstance(value, np.ndarray) else value
            try:
                want = theirs(make(torch, a), make(torch, b))
            except Exception:
                continue
            _compare(f"special.{name}({key})", ours(make(disttorch, a), make(disttorch, b)),
                     want, rtol=1e-5)
            checked += 1
    assert checked > 300
