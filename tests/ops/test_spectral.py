"""``stft``/``istft`` (forward only: no complex autograd), ``svd_lowrank``, ``pca_lowrank``
and ``lobpcg`` (random: checked by properties, and gradients against torch)."""
import warnings

import numpy as np
import pytest

import disttorch
from .harness import requires_torch, torch


def _window(n):
    return 0.5 + np.hanning(n)


def _both(fn, *arrays):
    out = []
    for lib in (torch, disttorch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out.append(fn(lib, *[lib.tensor(a) for a in arrays]))
    return out


@requires_torch
@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("normalized", [False, True])
@pytest.mark.parametrize("onesided", [None, False])
def test_stft_istft_match_torch(center, normalized, onesided):
    rng = np.random.default_rng(0)
    x, xb = rng.standard_normal(40), rng.standard_normal((2, 37)).astype(np.float32)
    calls = [
        (lambda L, s, w: L.stft(s, 8, 2, None, w, center, "reflect", normalized, onesided, True),
         x, _window(8)),
        (lambda L, s, w: L.stft(s, 8, 2, 6, w, center, "constant", normalized, onesided, True),
         xb, _window(6).astype(np.float32)),
        (lambda L, s, w: L.istft(L.stft(s, 8, 2, None, w, center, "reflect", normalized,
                                        onesided, True), 8, 2, None, w, center, normalized,
                                 onesided, 30), x, _window(8)),
        (lambda L, s, w: s.stft(8, 2, None, w, center, return_complex=True, onesided=onesided,
                                normalized=normalized).istft(8, 2, None, w, center, normalized,
                                                             onesided), xb,
         _window(8).astype(np.float32)),
    ]
    for fn, *arrays in calls:
        t, d = _both(fn, *arrays)
        assert tuple(d.shape) == tuple(t.shape) and str(d.dtype)[10:] == str(t.dtype)[6:]
        np.testing.assert_allclose(d.numpy(), t.numpy(), atol=1e-4, rtol=1e-4)


@requires_torch
def test_stft_options_match_torch():
    x = np.random.default_rng(1).standard_normal(40)
    calls = [
        lambda L, s: L.stft(s, 8, 3, 6, L.ones(6, dtype=L.float64), False, align_to_window=True,
                            return_complex=True),
        lambda L, s: L.stft(s, 8, return_complex=False),
        lambda L, s: L.stft(s.to(L.complex128), 8),
        lambda L, s: L.stft(s, 8, 3, return_complex=True, pad_mode="replicate"),
        lambda L, s: L.istft(L.stft(s, 8, 2, return_complex=True, onesided=False), 8, 2,
                             return_complex=True),
    ]
    for fn in calls:
        t, d = _both(fn, x)
        np.testing.assert_allclose(d.numpy(), t.numpy(), atol=1e-6)


@requires_torch
@pytest.mark.parametrize("call", [
    lambda L, s: L.stft(s, 8),
    lambda L, s: L.stft(s, 8, center=True, align_to_window=True, return_complex=True),
    lambda L, s: L.stft(s.to(L.complex128), 8, onesided=True),
    lambda L, s: L.istft(s, 8),
    lambda L, s: L.istft(L.stft(s, 8, return_complex=True)[..., :0], 8),
    lambda L, s: L.istft(L.stft(s, 8, 8, window=L.hann_window(8, dtype=L.float64),
                                return_complex=True), 8, 8, window=L.hann_window(8,
                                                                                 dtype=L.float64)),
], ids=lambda f: "")
def test_stft_errors_match_torch(call):
    x = np.random.default_rng(2).standard_normal(40)
    kinds = []
    for lib in (torch, disttorch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError) as info:
                call(lib, lib.tensor(x))
        kinds.append(str(info.value).split(":")[-1].strip()[:30])
    assert kinds[0] == kinds[1] or "window overlap add min" in str(info.value)


def test_stft_refuses_backward():
    x = disttorch.randn(32, requires_grad=True)
    with pytest.raises(RuntimeError, match="complex"):
        disttorch.stft(x, 8, window=disttorch.ones(8), return_complex=True)
    spec = disttorch.stft(x.detach(), 8, window=disttorch.ones(8), return_complex=True)
    with pytest.raises(RuntimeError, match="complex"):
        disttorch.istft(spec.requires_grad_(), 8, window=disttorch.ones(8))
    with pytest.warns(UserWarning, match="A window was not provided"):
        disttorch.stft(x.detach(), 8, return_complex=True)


def _low_rank(rng, m, n, r, batch=()):
    return rng.standard_normal(batch + (m, r)) @ rng.standard_normal(batch + (r, n))


@pytest.mark.parametrize("shape", [(20, 12), (9, 25), (3, 15, 10)])
def test_svd_lowrank_reconstructs_low_rank_matrices(shape):
    rng = np.random.default_rng(3)
    A = _low_rank(rng, shape[-2], shape[-1], 3, shape[:-2])
    U, S, V = disttorch.svd_lowrank(disttorch.tensor(A), q=5)
    assert U.shape == shape[:-2] + (shape[-2], 5) and S.shape == shape[:-2] + (5,)
    assert V.shape == shape[:-2] + (shape[-1], 5)
    rebuilt = (U.numpy() * S.numpy()[..., None, :]) @ np.swapaxes(V.numpy(), -1, -2)
    np.testing.assert_allclose(rebuilt, A, atol=1e-8)
    np.testing.assert_allclose(S.numpy()[..., :3], np.linalg.svd(A, compute_uv=False)[..., :3])
    M = rng.standard_normal(shape[-1:])
    U, S, V = disttorch.svd_lowrank(disttorch.tensor(A + M), q=5, M=disttorch.tensor(M))
    rebuilt = (U.numpy() * S.numpy()[..., None, :]) @ np.swapaxes(V.numpy(), -1, -2)
    np.testing.assert_allclose(rebuilt, A, atol=1e-8)


def test_pca_lowrank_centres_and_checks_arguments():
    rng = np.random.default_rng(4)
    A = _low_rank(rng, 30, 8, 2) + 5.0
    U, S, V = disttorch.pca_lowrank(disttorch.tensor(A, dtype=disttorch.float32))
    assert U.shape == (30, 6) and S.dtype == disttorch.float32
    centred = A - A.mean(0)
    np.testing.assert_allclose(S.numpy()[:2], np.linalg.svd(centred, compute_uv=False)[:2],
                               rtol=1e-4)
    with pytest.raises(ValueError, match=r"q\(=9\) must be non-negative integer"):
        disttorch.pca_lowrank(disttorch.tensor(A), q=9)
    with pytest.raises(ValueError, match=r"niter\(=-1\)"):
        disttorch.pca_lowrank(disttorch.tensor(A), niter=-1)


def test_svd_lowrank_gradient_flows():
    rng = np.random.default_rng(5)
    A = disttorch.tensor(_low_rank(rng, 12, 9, 3), requires_grad=True)
    disttorch.manual_seed(0)
    U, S, V = disttorch.svd_lowrank(A, q=3)
    S.sum().backward()
    # d(sum of the top singular values) = U V^T for an exact rank-3 matrix
    np.testing.assert_allclose(A.grad.numpy(), U.detach().numpy() @ V.detach().numpy().T,
                               atol=1e-8)


def _spd(rng, m, batch=()):
    Q, _ = np.linalg.qr(rng.standard_normal(batch + (m, m)))
    lam = np.arange(1, m + 1, dtype=float) ** 1.5
    return (Q * lam[..., None, :]) @ np.swapaxes(Q, -1, -2)


@pytest.mark.parametrize("largest", [True, False])
def test_lobpcg_eigenpairs(largest):
    rng = np.random.default_rng(6)
    A = _spd(rng, 15, (2,))
    E, X = disttorch.lobpcg(disttorch.tensor(A), k=3, largest=largest)
    exact = np.linalg.eigvalsh(A)
    want = exact[..., ::-1][..., :3] if largest else exact[..., :3]
    np.testing.assert_allclose(E.numpy(), want, rtol=1e-6)
    X = X.numpy()
    np.testing.assert_allclose(A @ X, X * E.numpy()[..., None, :], atol=1e-5)
    B = np.eye(15) + np.diag(rng.uniform(size=15))
    E, X = disttorch.lobpcg(disttorch.tensor(A[0]), k=2, B=disttorch.tensor(B), n=3)
    chol = np.linalg.inv(np.linalg.cholesky(B))
    np.testing.assert_allclose(E.numpy(), np.linalg.eigvalsh(chol @ A[0] @ chol.T)[::-1][:2],
                               rtol=1e-6)
    with pytest.raises(ValueError, match="smaller than 3 x the number"):
        disttorch.lobpcg(disttorch.tensor(A[0]), k=6)


@requires_torch
def test_lobpcg_gradient_matches_torch():
    rng = np.random.default_rng(7)
    A, X0 = _spd(rng, 12), rng.standard_normal((12, 3))
    wE, wX = rng.standard_normal(2), rng.standard_normal((12, 2))
    grads = []
    for lib in (torch, disttorch):
        a = lib.tensor(A, requires_grad=True)
        E, X = lib.lobpcg(a, k=2, X=lib.tensor(X0))
        signs = np.sign(X.detach().numpy()[0])
        ((E * lib.tensor(wE)).sum() + (X * lib.tensor(wX * signs)).sum()).backward()
        grads.append(a.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], atol=1e-6)
    a = disttorch.tensor(A, requires_grad=True)
    E, _ = disttorch.lobpcg(a, k=1, B=disttorch.eye(12, dtype=disttorch.float64))
    with pytest.raises(ValueError, match="B != I"):
        E.sum().backward()
